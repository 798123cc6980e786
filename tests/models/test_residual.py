"""Residual blocks and the path expansion against brute-force and closed-form references."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dl_theory.models.residual import linear_stack_matrix, path_expansion, path_length_counts, residual_mlp


@pytest.mark.parametrize("activation", ["identity", "relu", "tanh"])
def test_zero_parameters_give_the_identity(key, activation):
    x = jax.random.normal(key, (5, 3))
    zeros = [{"w": jnp.zeros((3, 3)), "b": jnp.zeros((3,))}] * 4
    np.testing.assert_array_equal(residual_mlp(4, activation=activation).apply(zeros, x), x)


def test_block_matches_a_hand_written_tanh_block(key, x64):
    model = residual_mlp(2, alpha=0.3, activation="tanh", b_std=0.5)
    _, params = model.init(key, (4,))
    x = np.random.default_rng(0).normal(size=(6, 4))
    y = x
    for p in params:
        y = y + 0.3 * (np.tanh(y @ np.asarray(p["w"]) + np.asarray(p["b"])) - np.tanh(0.0))
    np.testing.assert_allclose(model.apply(params, x), y, rtol=1e-12)


def test_expansion_sums_to_the_product_and_counts_paths():
    w = np.random.default_rng(1).normal(size=(5, 3, 3))
    terms, lengths = path_expansion(w, 0.4)
    np.testing.assert_allclose(terms.sum(axis=0), linear_stack_matrix(w, 0.4), rtol=1e-12, atol=1e-12)
    assert len(terms) == 2**5
    np.testing.assert_array_equal(path_length_counts(lengths, 5), [math.comb(5, k) for k in range(6)])
    # brute force: the term of subset S is alpha^|S| times the descending product of its W_k
    for p, bits in enumerate(itertools.product([0, 1], repeat=5)):
        chosen = [k for k in range(5) if bits[4 - k]]  # product() varies the last bit fastest: bit k = bits[4 - k]
        expected = np.linalg.multi_dot([np.eye(3)] * 2 + [0.4 * w[k] for k in reversed(chosen)])
        np.testing.assert_allclose(terms[p], expected, rtol=1e-12, atol=1e-14)


def test_linear_model_equals_the_product(key, x64):
    model = residual_mlp(3, alpha=0.5, activation="identity")
    _, params = model.init(key, (4,))
    x = np.random.default_rng(2).normal(size=(7, 4))
    m = linear_stack_matrix(np.stack([np.asarray(p["w"]).T for p in params]), 0.5)
    np.testing.assert_allclose(model.apply(params, x), x @ m.T, rtol=1e-12)


@pytest.mark.parametrize("kwargs, match", [({"depth": 0}, "depth"), ({"depth": 2, "activation": "gelu"}, "activation"),
                                           ({"depth": 2, "W_std": -1.0}, "W_std")])
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        residual_mlp(**kwargs)
