"""The counting HMM and the shifted-token task: chain statistics, the Bayes references' ordering, validation."""

import jax
import numpy as np
import pytest

from dl_theory.data.feedback_tasks import counting_hmm, counting_transition, hmm_bayes_errors, shifted_tokens


def test_counting_chain_statistics(key):
    m, p = 4, 0.2
    x, y = counting_hmm(key, 2000, 10, m, p, amplitude=3.0)
    assert x.shape == (2000, 10, m) and y.shape == (2000, 11)
    counted = np.mean(np.asarray(y[:, 1:]) == (np.asarray(y[:, :-1]) + 1) % m)
    expected = counting_transition(m, p)[0, 1]  # 1 - p + p/m
    assert abs(counted - expected) < 5 * np.sqrt(expected * (1 - expected) / 20000)
    np.testing.assert_allclose(counting_transition(m, p).sum(axis=1), 1.0)
    residual = np.asarray(x) - 3.0 * np.eye(m)[np.asarray(y[:, 1:])]
    assert abs(residual.mean()) < 0.01 and abs(residual.std() - 1) < 0.01


def test_bayes_references_are_ordered(key):
    x, y = counting_hmm(key, 3000, 20, 4, 0.05, 1.0)
    e = {k: v.mean() for k, v in hmm_bayes_errors(np.asarray(x), np.asarray(y), 0.05, 1.0).items()}
    # fed the truth < best causal filter < the teacher-forced rule fed its own outputs
    assert e["teacher_forced"] < e["filter"] < e["free_running"]


def test_noiseless_limit_is_exact(key):
    x, y = counting_hmm(key, 50, 8, 3, 0.3, 50.0)
    e = hmm_bayes_errors(np.asarray(x), np.asarray(y), 0.3, 50.0)
    assert all(v.sum() == 0 for v in e.values())


def test_shifted_tokens(key):
    x, y = shifted_tokens(key, 5, 7, 3, shift=2)
    np.testing.assert_array_equal(y, x[:, 2:])


@pytest.mark.parametrize("call,match", [(lambda k: counting_hmm(k, 2, 3, 1, 0.1, 1.0), "n_states"),
                                        (lambda k: counting_hmm(k, 2, 3, 3, 1.5, 1.0), "jump_prob"),
                                        (lambda k: shifted_tokens(k, 2, 1, 3), "length")])
def test_validation(key, call, match):
    with pytest.raises(ValueError, match=match):
        call(jax.random.fold_in(key, 0))
