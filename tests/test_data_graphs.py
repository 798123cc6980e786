"""Graph generators: symmetric 0/1 adjacencies with the stated structure; the karate club matches networkx."""

import jax
import networkx as nx
import numpy as np
import pytest

from dl_theory.data import graphs


def _is_simple_undirected(a: np.ndarray) -> bool:
    return bool(np.all(a == a.T) and np.all(np.diag(a) == 0) and np.all((a == 0) | (a == 1)))


def test_erdos_renyi_density_and_seed(key):
    a = np.asarray(graphs.erdos_renyi(key, 200, 0.1))
    assert _is_simple_undirected(a)
    pairs = 200 * 199 / 2
    density = np.triu(a, 1).sum() / pairs
    assert abs(density - 0.1) < 5 * np.sqrt(0.1 * 0.9 / pairs)
    np.testing.assert_array_equal(a, np.asarray(graphs.erdos_renyi(key, 200, 0.1)))


def test_sbm_blocks(key):
    a, labels = graphs.stochastic_block_model(key, (30, 20), 0.5, 0.0)
    a, labels = np.asarray(a), np.asarray(labels)
    assert _is_simple_undirected(a) and labels.tolist() == [0] * 30 + [1] * 20
    assert a[:30, 30:].sum() == 0 and a[:30, :30].sum() > 0


def test_cycle_regular_union(key):
    c6 = np.asarray(graphs.cycle(6))
    assert nx.is_isomorphic(nx.from_numpy_array(c6), nx.cycle_graph(6))
    r = np.asarray(graphs.random_regular(key, 10, 3))
    assert _is_simple_undirected(r) and np.all(r.sum(1) == 3)
    two_triangles = np.asarray(graphs.disjoint_union(graphs.cycle(3), graphs.cycle(3)))
    assert two_triangles.shape == (6, 6) and nx.number_connected_components(nx.from_numpy_array(two_triangles)) == 2


def test_karate_club_matches_networkx():
    a, labels = graphs.karate_club()
    g = nx.karate_club_graph()
    assert a.shape == (34, 34) and _is_simple_undirected(np.asarray(a))
    assert np.asarray(a).sum() / 2 == g.number_of_edges() == 78
    assert np.bincount(np.asarray(labels)).tolist() == [17, 17]
    assert int(labels[0]) == 0 and int(labels[33]) == 1


@pytest.mark.parametrize("call, match", [
    (lambda: graphs.erdos_renyi(jax.random.key(0), 5, 1.5), "p must be in"),
    (lambda: graphs.random_regular(jax.random.key(0), 5, 3), "d must be"),
    (lambda: graphs.cycle(2), "n must be an integer >= 3"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
