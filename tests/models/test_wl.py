"""1-WL colour refinement against networkx's WL hash and a dictionary refinement; cycle counts against
networkx's cycle enumeration; the 1-WL-equivalent pairs."""


import jax
import networkx as nx
import numpy as np
import pytest

from dl_theory.data.wl_pairs import WL_PAIRS, random_graphs, wl_pair, wl_pair_graphs
from dl_theory.models.graph.wl import cycle_counts, node_cycle_counts, wl_colors, wl_equivalent


def _partition(colors):
    """The node partition of a colouring, as a set of frozensets."""
    return {frozenset(np.flatnonzero(np.asarray(colors) == c).tolist()) for c in np.unique(colors)}


def _dict_refinement(a, rounds):
    """Textbook colour refinement with Python tuples as signatures."""
    colors = [0] * len(a)
    for _ in range(rounds):
        sigs = [(colors[v], tuple(sorted(colors[u] for u in np.flatnonzero(a[v])))) for v in range(len(a))]
        index = {s: i for i, s in enumerate(sorted(set(sigs)))}
        colors = [index[s] for s in sigs]
    return colors


@pytest.mark.filterwarnings("ignore:The hashes produced")
def test_equivalence_matches_networkx_wl_hash_equality():
    graphs = random_graphs(0, 25, 6, 6)
    pairs = [wl_pair(name) for name in WL_PAIRS]
    hashes = [nx.weisfeiler_lehman_graph_hash(nx.from_numpy_array(a), iterations=6) for a in graphs]
    equal_hash = np.array([[h == g for g in hashes] for h in hashes])
    # one refinement of the union: colours comparable across graphs; networkx starts from degrees (one round ahead)
    colors = np.asarray(wl_colors(graphs, 7))
    histograms = np.sort(colors, axis=1)
    equal_colors = np.all(histograms[:, None, :] == histograms[None, :, :], axis=-1)
    np.testing.assert_array_equal(equal_colors, equal_hash)
    assert 25 < equal_hash.sum() < 25 * 25  # both outcomes occur
    for a1, a2 in pairs:
        h1, h2 = (nx.weisfeiler_lehman_graph_hash(nx.from_numpy_array(a), iterations=8) for a in (a1, a2))
        assert (h1 == h2) and wl_equivalent(a1, a2)


@pytest.mark.parametrize("rounds", [1, 2, 3, 10])
def test_partition_matches_dictionary_refinement(rounds):
    for a in random_graphs(1, 5, 9, 11):
        assert _partition(wl_colors(a, rounds)) == _partition(_dict_refinement(a, rounds))


def test_colors_are_canonical_and_jittable():
    a = random_graphs(2, 1, 10, 14)[0]
    perm = np.random.default_rng(0).permutation(10)
    np.testing.assert_array_equal(wl_colors(a[perm][:, perm]), np.asarray(wl_colors(a))[perm])
    np.testing.assert_array_equal(jax.jit(lambda m: wl_colors(m, 4))(a), wl_colors(a, 4))
    stable = wl_colors(a)
    np.testing.assert_array_equal(wl_colors(a, 2 * len(a)), stable)  # the stable colouring is a fixed point


def test_labels_start_the_refinement():
    a = nx.to_numpy_array(nx.cycle_graph(6))
    assert len(np.unique(wl_colors(a))) == 1
    colors = wl_colors(a, labels=np.array([1, 0, 0, 0, 0, 0]))
    assert len(np.unique(colors)) == 4  # distance 0, 1, 2, 3 from the labelled node


@pytest.mark.parametrize("name", list(WL_PAIRS))
def test_pairs_are_wl_equivalent_not_isomorphic_and_cycles_separate(name):
    g1, g2 = wl_pair_graphs(name)
    a1, a2 = wl_pair(name)
    assert not nx.is_isomorphic(g1, g2)
    assert wl_equivalent(a1, a2)
    assert not np.array_equal(cycle_counts(a1), cycle_counts(a2))
    perm = np.random.default_rng(1).permutation(len(a1))
    assert wl_equivalent(a1, a1[perm][:, perm])


def test_wl_separates_path_and_star():
    assert not wl_equivalent(nx.to_numpy_array(nx.path_graph(4)), nx.to_numpy_array(nx.star_graph(3)))
    assert not wl_equivalent(np.zeros((3, 3)), np.zeros((4, 4)))


def test_cycle_counts_match_networkx_enumeration():
    graphs = random_graphs(3, 6, 8, 13)
    for a in graphs:
        cycles = list(nx.simple_cycles(nx.from_numpy_array(a), length_bound=4))
        expected = [sum(len(c) == k for c in cycles) for k in (3, 4)]
        np.testing.assert_allclose(cycle_counts(a), expected)
        per_node = [[sum(len(c) == k and v in c for c in cycles) for k in (3, 4)] for v in range(len(a))]
        np.testing.assert_allclose(node_cycle_counts(a), per_node)
    np.testing.assert_allclose(cycle_counts(graphs)[2], cycle_counts(graphs[2]))


def test_bad_input_raises():
    with pytest.raises(ValueError, match="adjacency must be"):
        wl_colors(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="labels must be"):
        wl_colors(np.zeros((3, 3)), labels=np.zeros(4))
    with pytest.raises(ValueError, match="a_NxN must be symmetric"):
        cycle_counts(np.triu(np.ones((3, 3)), 1))
    with pytest.raises(ValueError, match="name must be"):
        wl_pair("petersen")
