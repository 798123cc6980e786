r"""Pairs of non-isomorphic graphs that the 1-WL test (and so every message-passing GNN) cannot tell apart.

Every :math:`d`-regular graph on :math:`n` nodes gets one stable 1-WL colour, so two such graphs with the same
:math:`(n, d)` are 1-WL equivalent (Xu et al., 2019, arXiv:1810.00826, §4; Morris et al., 2019):

* ``"two-triangles-vs-hexagon"``: :math:`2 K_3` against :math:`C_6` (2-regular on 6 nodes; 2 triangles against 0);
* ``"cube-vs-wagner"``: the cube graph :math:`Q_3` against the Wagner graph (Möbius ladder :math:`M_8`, the circulant
  graph on :math:`\mathbb Z_8` with jumps 1 and 4): 3-regular on 8 nodes, both triangle-free, 6 against 4 four-cycles,
  bipartite against not.

Also :func:`random_graphs`, seeded Erdős–Rényi :math:`G(n, m)` graphs with few edges, a batch in which isomorphic,
1-WL-equivalent and distinguishable pairs all occur. Adjacencies are dense float ``(N, N)`` NumPy arrays.
"""

import networkx as nx
import numpy as np

from dl_theory import checks

__all__ = ["WL_PAIRS", "random_graphs", "wl_pair", "wl_pair_graphs"]


def _two_triangles() -> nx.Graph:
    return nx.disjoint_union(nx.cycle_graph(3), nx.cycle_graph(3))


WL_PAIRS = {
    "two-triangles-vs-hexagon": (_two_triangles, lambda: nx.cycle_graph(6)),
    "cube-vs-wagner": (lambda: nx.convert_node_labels_to_integers(nx.hypercube_graph(3)),
                       lambda: nx.circulant_graph(8, [1, 4])),
}
"""Name -> the two graph builders (networkx) of a 1-WL-equivalent, non-isomorphic pair."""


def wl_pair_graphs(name: str) -> tuple[nx.Graph, nx.Graph]:
    """The two networkx graphs of the pair ``name`` (a key of :data:`WL_PAIRS`)."""
    checks.one_of(*WL_PAIRS)("name", name)
    first, second = WL_PAIRS[name]
    return first(), second()


def wl_pair(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The adjacencies ``(a1_NxN, a2_NxN)`` of the pair ``name`` (nodes in networkx's order)."""
    return tuple(nx.to_numpy_array(g, nodelist=sorted(g.nodes)) for g in wl_pair_graphs(name))


def random_graphs(seed: int, n_graphs: int, n_nodes: int, n_edges: int) -> np.ndarray:
    """``n_graphs`` uniformly random simple graphs with ``n_nodes`` nodes and ``n_edges`` edges, ``(G, N, N)``."""
    checks.at_least(0)("seed", seed)
    checks.count("n_graphs", n_graphs)
    n = checks.count("n_nodes", n_nodes)
    checks.in_interval(0, n * (n - 1) // 2, closed=True)("n_edges", checks.at_least(0)("n_edges", n_edges))
    rng = np.random.default_rng(seed)
    return np.stack([nx.to_numpy_array(nx.gnm_random_graph(n, n_edges, seed=int(rng.integers(2**31))),
                                       nodelist=range(n)) for _ in range(n_graphs)])
