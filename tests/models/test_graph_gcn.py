"""GCN layers and models against the dense formula; equivariance, invariant readouts, and the linear-GCN NNGP."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dl_theory.data.graphs import karate_club
from dl_theory.models.graph import adjacency as adj
from dl_theory.models.graph.gcn import gcn, gcn_nngp_fn, node_loss


def _graph():
    a, labels = karate_club()
    x = np.random.default_rng(0).normal(size=(34, 4))
    return np.asarray(a, np.float64), x, labels


def test_gcn_matches_dense_formula(x64, key):
    a, x, _ = _graph()
    init, apply = gcn((6,), 3)
    shape, params = init(key, x.shape)
    params = jax.tree.map(lambda p: p + 0.1, params)  # nonzero biases
    a_tilde = a + np.eye(34)
    d = a_tilde.sum(1)
    a_hat = a_tilde / np.sqrt(d[:, None] * d[None, :])
    (w1, b1), (w2, b2) = [(np.asarray(p["w"]), np.asarray(p["b"])) for p in params]
    want = a_hat @ np.maximum(a_hat @ x @ w1 + b1, 0) @ w2 + b2
    out = apply(params, x, graph=a)
    assert shape == out.shape == (34, 3)
    np.testing.assert_allclose(np.asarray(out), want, rtol=1e-12)
    # the same network with the propagation matrix given as an edge list
    unnormalized = gcn((6,), 3, normalize=False)[1]
    np.testing.assert_allclose(np.asarray(unnormalized(params, x, graph=adj.edge_list(a_hat))), want, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(apply(params, x, graph=adj.edge_list(a))), want, rtol=1e-12)


@pytest.mark.parametrize("readout_kind", [None, "sum", "mean"])
def test_gcn_equivariant_readout_invariant(x64, key, readout_kind):
    a, x, _ = _graph()
    init, apply = gcn((8, 8), 2, readout_kind=readout_kind, activation="erf")
    _, params = init(key, x.shape)
    out = apply(params, x, graph=a)
    for seed in range(3):
        perm = adj.random_permutation(jax.random.key(seed), 34)
        xp, ap = adj.permute_graph(x, a, perm)
        want = out if readout_kind else out[perm]
        np.testing.assert_allclose(np.asarray(apply(params, xp, graph=ap)), np.asarray(want), rtol=1e-12, atol=1e-14)


def test_linear_gcn_nngp_closed_form(x64):
    a, x, _ = _graph()
    a_hat = np.asarray(adj.normalized_adjacency(a))
    k1 = 2.0 * a_hat @ x @ x.T @ a_hat / x.shape[1]
    nngp = gcn_nngp_fn((8,), activation="identity", W_std=2.0**0.5, last_W_std=1.5)(x, a_hat)
    np.testing.assert_allclose(np.asarray(nngp), 1.5**2 * a_hat @ k1 @ a_hat, rtol=1e-12)


def test_node_loss_matches_optax(key):
    a, x, labels = _graph()
    init, apply = gcn((16,), 2)
    _, params = init(key, x.shape)
    nodes = jnp.array([0, 1, 32, 33])
    loss = node_loss(apply, x.astype(np.float32), a.astype(np.float32))
    logits = apply(params, x.astype(np.float32), graph=a.astype(np.float32))[nodes]
    want = optax.softmax_cross_entropy_with_integer_labels(logits, labels[nodes]).mean()
    np.testing.assert_allclose(float(loss(params, (nodes, labels[nodes]))), float(want), rtol=1e-6)


@pytest.mark.parametrize("call, match", [
    (lambda: gcn((4,), 2, activation="tanh"), "activation must be one of"),
    (lambda: gcn((0,), 2), "hidden"),
    (lambda: gcn((4,), 2)[1]([], np.ones((3, 2)), graph=np.ones((3, 4))), "a_NxN must be a square"),
])
def test_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
