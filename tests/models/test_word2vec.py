"""Skip-gram losses, gradient and neighbours against independent references (optax, jax.grad, NumPy, brute force)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dl_theory.models.word2vec import (
    full_softmax_loss,
    init_embeddings,
    knn_topic_accuracy,
    nearest_neighbours,
    negative_sampling_loss,
    negative_sampling_nll,
    neighbour_purity,
    sgns_optimum,
    softmax_nll,
    softmax_nll_grad,
    unigram_noise,
)


@pytest.fixture
def setup(key):
    params = init_embeddings(key, 7, 3, scale=2.0)
    centers = jnp.array([0, 1, 1, 6, 3, 0])
    contexts = jnp.array([2, 2, 5, 0, 3, 2])
    return params, centers, contexts


def test_softmax_nll_equals_optax_and_grad_equals_autodiff(setup, x64):
    params, centers, contexts = setup
    params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)
    logits = params["x"][centers] @ params["y"].T
    np.testing.assert_allclose(softmax_nll(params, centers, contexts),
                               optax.softmax_cross_entropy_with_integer_labels(logits, contexts), rtol=1e-12)
    auto = jax.grad(lambda p: jnp.sum(softmax_nll(p, centers, contexts)))(params)
    closed = softmax_nll_grad(params, centers, contexts)
    for k in ("x", "y"):
        np.testing.assert_allclose(closed[k], auto[k], rtol=1e-10, atol=1e-12)


def test_count_loss_is_the_mean_over_pairs(setup, x64):
    params, centers, contexts = setup
    params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)
    counts = np.zeros((7, 7))
    np.add.at(counts, (np.asarray(centers), np.asarray(contexts)), 1.0)
    np.testing.assert_allclose(full_softmax_loss(params, counts), jnp.mean(softmax_nll(params, centers, contexts)),
                               rtol=1e-12)


def test_negative_sampling_nll_matches_definition(setup, x64):
    params, centers, contexts = setup
    params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)
    negatives = jnp.array([[1, 4], [0, 0], [6, 2], [5, 1], [2, 3], [4, 4]])
    x, y = np.asarray(params["x"], float), np.asarray(params["y"], float)
    sig = lambda s: 1 / (1 + np.exp(-s))  # noqa: E731
    ref = [-np.log(sig(x[c] @ y[o])) - sum(np.log(sig(-x[c] @ y[n])) for n in neg)
           for c, o, neg in zip(np.asarray(centers), np.asarray(contexts), np.asarray(negatives), strict=True)]
    np.testing.assert_allclose(negative_sampling_nll(params, centers, contexts, negatives), ref, rtol=1e-12)


def test_sampled_negative_sampling_loss_is_unbiased(setup, x64):
    """The stochastic loss (pairs and noise drawn every call) averages to its exact expectation."""
    params, centers, contexts = setup
    counts = jnp.zeros((7, 7)).at[centers, contexts].add(1.0)
    noise = unigram_noise(jnp.array([0, 0, 1, 2, 3, 3, 3, 4, 5, 6]), 7)
    loss = jax.jit(jax.vmap(negative_sampling_loss(noise, 2, 64), in_axes=(None, None, 0)))
    draws = loss(params, counts, jax.random.split(jax.random.key(1), 400))
    s = np.asarray(params["x"] @ params["y"].T)
    log_sig = lambda z: -np.logaddexp(0, -z)  # noqa: E731
    p_pair = np.asarray(counts) / np.sum(counts)
    exact = -np.sum(p_pair * log_sig(s)) - 2 * np.sum(p_pair.sum(1)[:, None] * np.asarray(noise)[None] * log_sig(-s))
    assert abs(float(draws.mean()) - exact) < 4 * float(draws.std()) / np.sqrt(len(draws))


def test_unigram_noise_and_sgns_optimum():
    noise = unigram_noise(jnp.array([0, 0, 0, 0, 1]), 3)
    np.testing.assert_allclose(noise, np.array([4**0.75, 1, 0]) / (4**0.75 + 1), rtol=1e-6)
    p = np.array([[0.5, 0.5, 0.0]] * 3)
    opt = sgns_optimum(p, np.asarray(noise), 2)
    np.testing.assert_allclose(opt[0, :2], np.log(0.5 / (2 * np.asarray(noise)[:2])), rtol=1e-6)
    assert np.isneginf(opt[0, 2])


def test_neighbours_purity_and_knn_on_planted_clusters():
    emb = np.array([[1, 0.1], [1, -0.1], [1, 0], [0, 1], [0.1, 1], [-0.1, 1], [5, 5]])
    topic = np.array([0, 0, 0, 1, 1, 1, -1])
    brute = np.argsort(-(emb / np.linalg.norm(emb, axis=1, keepdims=True)) @ (
        emb / np.linalg.norm(emb, axis=1, keepdims=True)).T + 10 * np.eye(7), axis=1)[:, :2]
    np.testing.assert_array_equal(np.sort(nearest_neighbours(emb, 2), axis=1), np.sort(brute, axis=1))
    assert neighbour_purity(emb, topic, 2) == 1.0
    assert knn_topic_accuracy(emb, topic, 2) == 1.0
    assert knn_topic_accuracy(emb[[0, 3, 1, 4, 2, 5]], np.array([0, 0, 0, 1, 1, 1]), 1) < 1.0


@pytest.mark.parametrize("call, match", [
    (lambda: init_embeddings(jax.random.key(0), 1, 3), "vocab_size"),
    (lambda: nearest_neighbours(np.eye(3), 3), "k"),
    (lambda: negative_sampling_loss(jnp.ones(3) / 3, 0, 8), "n_negative"),
    (lambda: knn_topic_accuracy(np.eye(3), np.array([0, 1]), 1), "topic_V"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
