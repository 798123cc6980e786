"""Adjacency utilities and message passing against networkx, dense linear algebra and brute-force loops."""

import jax
import networkx as nx
import numpy as np
import pytest

from dl_theory.models.graph import adjacency as adj
from dl_theory.models.graph import message_passing as mp


def _random_graph(seed: int, n: int = 9, p: float = 0.35, weighted: bool = False) -> np.ndarray:
    g = nx.gnp_random_graph(n, p, seed=seed)
    g.add_node(n)  # an isolated node
    a = nx.to_numpy_array(g, nodelist=range(n + 1))
    if weighted:
        w = np.random.default_rng(seed).uniform(0.5, 2.0, a.shape)
        a = a * (w + w.T) / 2
    return a


def test_degree_matches_networkx():
    g = nx.karate_club_graph()
    a = nx.to_numpy_array(g, weight=None)
    np.testing.assert_array_equal(np.asarray(adj.degree(a)), [d for _, d in g.degree()])


def test_normalized_adjacency_matches_formula(x64):
    a = _random_graph(0, weighted=True)
    a_tilde = a + np.eye(len(a))
    d = a_tilde.sum(1)
    want = np.diag(d**-0.5) @ a_tilde @ np.diag(d**-0.5)
    np.testing.assert_allclose(np.asarray(adj.normalized_adjacency(a)), want, rtol=1e-13)
    # without self loops: D^{-1/2} A D^{-1/2} equals I - normalized Laplacian of networkx (isolated node: zero row)
    lap = nx.normalized_laplacian_matrix(nx.from_numpy_array(a), nodelist=range(len(a))).toarray()
    no_loops = np.asarray(adj.normalized_adjacency(a, self_loops=False))
    deg_pos = a.sum(1) > 0
    np.testing.assert_allclose(no_loops, np.diag(deg_pos.astype(float)) - lap, atol=1e-13)


def test_normalized_edges_match_dense(x64):
    a = _random_graph(5, weighted=True)
    for loops in (True, False):
        dense = np.asarray(adj.to_dense(adj.normalized_edges(adj.edge_list(a), self_loops=loops)))
        np.testing.assert_allclose(dense, np.asarray(adj.normalized_adjacency(a, self_loops=loops)), rtol=1e-13)


def test_edge_list_round_trip():
    a = _random_graph(1, weighted=True)
    e = adj.edge_list(a)
    assert e.n_nodes == len(a) and e.senders.shape == (int((a != 0).sum()),)
    np.testing.assert_allclose(np.asarray(adj.to_dense(e)), a, rtol=1e-6)


def test_permutation_helpers(key):
    a = _random_graph(2)
    x = np.random.default_rng(0).normal(size=(len(a), 3))
    perm = adj.random_permutation(key, len(a))
    p = np.asarray(adj.permutation_matrix(perm))
    xp, ap = adj.permute_graph(x, a, perm)
    np.testing.assert_allclose(np.asarray(xp), p @ x, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(ap), p @ a @ p.T)
    assert sorted(np.asarray(perm).tolist()) == list(range(len(a)))


def _brute_force(a: np.ndarray, m: np.ndarray, aggregation: str) -> np.ndarray:
    out = np.zeros_like(m)
    for v in range(len(a)):
        nbrs = np.flatnonzero(a[v])
        if nbrs.size == 0:
            continue
        if aggregation == "max":
            out[v] = m[nbrs].max(0)
        else:
            out[v] = (a[v, nbrs, None] * m[nbrs]).sum(0) / (a[v, nbrs].sum() if aggregation == "mean" else 1.0)
    return out


@pytest.mark.parametrize("aggregation", mp.AGGREGATIONS)
def test_dense_and_edge_list_agree_with_brute_force(x64, aggregation):
    a = _random_graph(3, weighted=True)
    m = np.random.default_rng(1).normal(size=(len(a), 4))
    want = _brute_force(a, m, aggregation)
    np.testing.assert_allclose(np.asarray(mp.aggregate_dense(a, m, aggregation)), want, rtol=1e-12, atol=1e-14)
    edges = adj.edge_list(a)
    np.testing.assert_allclose(np.asarray(mp.aggregate_edges(edges, m, aggregation)), want, rtol=1e-12, atol=1e-14)
    jitted = jax.jit(lambda e, m: mp.aggregate(e, m, aggregation))
    np.testing.assert_allclose(np.asarray(jitted(edges, m)), want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("readout_kind", [None, *mp.READOUTS])
def test_mpnn_equivariant_and_forms_agree(x64, key, readout_kind):
    a = _random_graph(4)
    x = np.random.default_rng(2).normal(size=(len(a), 3))
    init, apply = mp.mpnn((8, 8), 2, aggregation="mean", readout_kind=readout_kind)
    shape, params = init(key, x.shape)
    out = apply(params, x, graph=a)
    assert out.shape == shape
    np.testing.assert_allclose(np.asarray(apply(params, x, graph=adj.edge_list(a))), np.asarray(out), rtol=1e-12)
    perm = adj.random_permutation(jax.random.key(1), len(a))
    xp, ap = adj.permute_graph(x, a, perm)
    out_p = apply(params, xp, graph=ap)
    want = out if readout_kind else out[perm]
    np.testing.assert_allclose(np.asarray(out_p), np.asarray(want), rtol=1e-12, atol=1e-13)


def test_mpnn_layer_batched_graphs(key):
    a = np.stack([_random_graph(s) for s in range(3)])
    x = np.random.default_rng(3).normal(size=(3, a.shape[1], 2)).astype(np.float32)
    init, apply = mp.mpnn_layer(5, aggregation="max")
    _, params = init(key, x.shape)
    batched = apply(params, x, graph=a)
    for i in range(3):
        np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(apply(params, x[i], graph=a[i])), rtol=1e-6)


@pytest.mark.parametrize("call, match", [
    (lambda: adj.degree(np.ones((3, 4))), "a_NxN must be a square"),
    (lambda: adj.normalized_adjacency(np.triu(np.ones((3, 3)))), "a_NxN must be symmetric"),
    (lambda: adj.normalized_adjacency(-np.ones((3, 3))), "a_NxN must be >= 0"),
    (lambda: mp.aggregate_dense(np.ones((3, 3)), np.ones((4, 2))), "m_NxD must be node features"),
    (lambda: adj.permute_graph(np.ones((3, 2)), np.ones((3, 3)), np.arange(4)), "perm must be"),
    (lambda: mp.aggregate_dense(np.ones((3, 3)), np.ones((3, 2)), "median"), "aggregation must be one of"),
    (lambda: mp.mpnn((4,), 2, readout_kind="prod"), "readout_kind must be one of"),
])
def test_bad_input_raises_one_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
