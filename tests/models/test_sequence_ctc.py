"""CTC against optax.ctc_loss, brute-force enumeration of alignments, and brute-force decoding."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dl_theory.models.sequence.ctc import (
    beam_search_decode,
    collapse,
    ctc_loss,
    edit_distance,
    greedy_decode,
    label_error_rate,
)


def _brute_force_nll(logits_TxK: np.ndarray, labels: list[int], blank_id: int = 0) -> float:
    """-log sum over every path pi with B(pi) = labels of prod_t y_{pi_t}."""
    logprobs = np.asarray(jax.nn.log_softmax(jnp.asarray(logits_TxK), axis=-1))
    t, k = logprobs.shape
    terms = [logprobs[np.arange(t), path].sum() for path in itertools.product(range(k), repeat=t)
             if collapse(path, blank_id) == labels]
    return -np.logaddexp.reduce(terms) if terms else np.inf


def _labelling_probs(logits_TxK: np.ndarray, blank_id: int = 0) -> dict[tuple[int, ...], float]:
    """p(l | x) of every labelling, by summing the probability of every path into its collapse."""
    probs = np.asarray(jax.nn.softmax(jnp.asarray(logits_TxK, jnp.float64), axis=-1))
    t, k = probs.shape
    out: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(k), repeat=t):
        label = tuple(collapse(path, blank_id))
        out[label] = out.get(label, 0.0) + float(np.prod(probs[np.arange(t), path]))
    return out


def _batch(key, b=3, t=6, k=4, n=3):
    k1, k2 = jax.random.split(key)
    logits = 2 * jax.random.normal(k1, (b, t, k))
    labels = jnp.array([[1, 1, 2], [3, 2, 3], [2, 0, 0]])[:b, :n]  # a repeat, no repeat, one label + padding
    label_pads = jnp.array([[0, 0, 0], [0, 0, 1], [0, 1, 1]], jnp.float32)[:b, :n]
    logit_pads = jnp.zeros((b, t)).at[1, -2:].set(1.0).at[2, 1].set(1.0)  # right padding and a hole
    return logits, logit_pads, labels, label_pads


def test_collapse_examples():
    assert collapse([1, 1, 0, 1, 2, 2, 0]) == [1, 1, 2]
    assert collapse([0, 0, 0]) == []
    assert collapse([3, 3, 3, 0, 3], blank_id=3) == [0]
    assert collapse([2, 2, 1, 1, 2]) == [2, 1, 2]


@pytest.mark.parametrize("blank_id", [0, 2])
def test_equals_optax_with_paddings_and_repeats(key, blank_id):
    logits, logit_pads, labels, label_pads = _batch(key)
    labels = jnp.where(labels == blank_id, 1, labels) if blank_id else labels
    labels = labels.at[2, 1:].set(blank_id)  # padded entries may hold any id
    ours = ctc_loss(logits, logit_pads, labels, label_pads, blank_id=blank_id)
    ref = optax.ctc_loss(logits, logit_pads, labels, label_pads, blank_id=blank_id)
    np.testing.assert_allclose(ours, ref, rtol=1e-5)
    jitted = jax.jit(ctc_loss, static_argnames="blank_id")(logits, logit_pads, labels, label_pads, blank_id=blank_id)
    np.testing.assert_allclose(jitted, ours, rtol=1e-6)


def test_gradients_equal_optax(key):
    logits, logit_pads, labels, label_pads = _batch(key)
    ours = jax.grad(lambda z: ctc_loss(z, logit_pads, labels, label_pads).sum())(logits)
    ref = jax.grad(lambda z: optax.ctc_loss(z, logit_pads, labels, label_pads).sum())(logits)
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, ref, atol=1e-5)


CASES = [([1, 2], 2), ([1, 1], 3), ([2, 2, 2], 5), ([1, 2, 1], 3), ([1], 4), ([], 3), ([2, 1, 1], 4), ([2, 1], 5)]
INFEASIBLE = [([1, 1], 2), ([1, 2, 2], 2), ([2, 2, 2], 4), ([1], 0)]


def _padded_case_batch(cases, t_max=5, n_max=3):
    labels = jnp.array([lab + [0] * (n_max - len(lab)) for lab, _ in cases])
    label_pads = jnp.array([[0.0] * len(lab) + [1.0] * (n_max - len(lab)) for lab, _ in cases])
    logit_pads = jnp.array([[0.0] * t + [1.0] * (t_max - t) for _, t in cases])
    return logit_pads, labels, label_pads


def test_equals_brute_force_at_and_above_minimum_length(key, x64):
    logit_pads, labels, label_pads = _padded_case_batch(CASES)
    logits = jax.random.normal(key, (len(CASES), 5, 3))
    ours = ctc_loss(logits, logit_pads, labels, label_pads)
    brute = [_brute_force_nll(np.asarray(logits[i, :t]), lab) for i, (lab, t) in enumerate(CASES)]
    np.testing.assert_allclose(ours, brute, rtol=1e-12)


def test_infeasible_target_is_plus_infinity(key):
    logit_pads, labels, label_pads = _padded_case_batch(INFEASIBLE)
    logits = jax.random.normal(key, (len(INFEASIBLE), 5, 4))
    ours = ctc_loss(logits, logit_pads, labels, label_pads)
    assert np.all(ours == np.inf)
    assert np.all(optax.ctc_loss(logits, logit_pads, labels, label_pads) > 1e4)  # optax: a large finite value
    grad = jax.grad(lambda z: ctc_loss(z, logit_pads, labels, label_pads).sum())(logits)
    assert not np.any(np.isnan(grad))


def test_padded_frames_are_skipped(key):
    logits = jax.random.normal(key, (1, 5, 3))
    pads = jnp.array([[0.0, 1.0, 0.0, 1.0, 0.0]])
    full = ctc_loss(logits, pads, jnp.array([[1, 2]]), jnp.zeros((1, 2)))
    kept = ctc_loss(logits[:, ::2], jnp.zeros((1, 3)), jnp.array([[1, 2]]), jnp.zeros((1, 2)))
    np.testing.assert_allclose(full, kept, rtol=1e-6)


def test_decoders_against_brute_force(key, x64):
    for i in range(6):
        logits = 1.5 * jax.random.normal(jax.random.fold_in(key, i), (2, 5, 3))
        pads = jnp.zeros((2, 5)).at[1, -1].set(1.0)
        beams = beam_search_decode(logits, pads, beam_width=10_000)
        greedy = greedy_decode(logits, pads)
        for b in range(2):
            frames = np.asarray(logits[b][pads[b] == 0])
            probs = _labelling_probs(frames)
            best = max(probs, key=probs.get)
            assert beams[b][0] == list(best)
            np.testing.assert_allclose(beams[b][1], np.log(probs[best]), rtol=1e-9)
            assert greedy[b] == collapse(np.argmax(frames, axis=1))


def test_best_path_is_not_always_the_best_labelling(x64):
    # Two frames: blank is the likeliest symbol at each, but label 1 collects more mass over its three paths.
    probs = jnp.log(jnp.array([[[0.4, 0.35, 0.25], [0.4, 0.35, 0.25]]]))
    assert greedy_decode(probs, jnp.zeros((1, 2))) == [[]]
    assert beam_search_decode(probs, jnp.zeros((1, 2)), beam_width=100)[0][0] == [1]


def test_edit_distance_and_label_error_rate():
    assert edit_distance([1, 2, 3], [1, 3]) == 1
    assert edit_distance([], [4, 4]) == 2
    assert edit_distance([1, 2, 3, 4], [2, 1, 3, 5]) == 3
    assert label_error_rate([[1, 2], [3]], [[1, 2, 3], [3]]) == 0.25


@pytest.mark.parametrize("bad,match", [
    ({"labels": [[0, 1]]}, "labels_BxN"),
    ({"labels": [[1, 4]]}, "labels_BxN"),
    ({"labels": [[-1, 2]]}, "labels_BxN"),
    ({"logit_pads": np.zeros((1, 5))}, "logit_paddings_BxT"),
    ({"label_pads": np.zeros((1, 3))}, "label_paddings_BxN"),
    ({"logits": np.zeros((1, 0, 4))}, "logits_BxTxK"),
    ({"blank_id": 4}, "blank_id"),
])
def test_bad_input_raises(bad, match):
    args = {"logits": np.zeros((1, 4, 4)), "logit_pads": np.zeros((1, 4)), "labels": [[1, 2]],
            "label_pads": np.zeros((1, 2)), "blank_id": 0} | bad
    if match == "logits_BxTxK":
        args["logit_pads"] = np.zeros((1, 0))
    with pytest.raises(ValueError, match=match):
        ctc_loss(args["logits"], args["logit_pads"], np.asarray(args["labels"]), args["label_pads"],
                 blank_id=args["blank_id"])
