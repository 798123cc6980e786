r"""The 1-dimensional Weisfeiler–Leman test (colour refinement) and the cycle counts it cannot see (§5).

Colour refinement (Weisfeiler & Leman, 1968; Shervashidze et al., 2011, "Weisfeiler-Lehman Graph Kernels", JMLR 12)
starts from one colour per node (or given node labels) and replaces every colour by the pair (own colour, multiset of
the neighbours' colours),

.. math:: c^{t+1}_v = \operatorname{relabel}\big(c^t_v, \{\!\{ c^t_u : u \in \mathcal N(v) \}\!\}\big),

until the partition of the nodes stops refining (after at most :math:`N - 1` rounds). Two graphs are *1-WL
equivalent* when the multisets of their stable colours agree; isomorphic graphs always are, but the converse fails:
every :math:`d`-regular graph on :math:`n` nodes gets a single colour, so two triangles and the 6-cycle, or the cube
and the Wagner graph, cannot be told apart. A message-passing GNN with sum aggregation is at most as powerful as
this test (Xu et al., 2019, "How Powerful are Graph Neural Networks?", arXiv:1810.00826; Morris et al., 2019), while
cycle counts (Bouritsas et al., 2022, "Improving Graph Neural Network Expressivity via Subgraph Isomorphism
Counting", arXiv:2006.09252) separate those pairs.

Here the multiset is the count vector :math:`A\,\mathrm{onehot}(c^t)` and the relabelling is the rank of the row
:math:`(c^t_v, A\,\mathrm{onehot}(c^t)_v)` among the distinct rows (``jnp.unique``), so colours are canonical: they
depend on the graphs only, not on the node order, and ``jax.jit`` compiles the refinement. Colours are comparable
across graphs that are refined together: :func:`wl_colors` refines the disjoint union of all graphs it is given.
"""

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.models.graph.adjacency import check_adjacency

__all__ = ["cycle_counts", "node_cycle_counts", "wl_colors", "wl_equivalent", "wl_refine"]


def _relabel(rows_NxK: jax.Array) -> jax.Array:
    """The rank of every row among the distinct rows (lexicographic order): canonical integer colours."""
    return jnp.unique(rows_NxK, axis=0, return_inverse=True, size=rows_NxK.shape[0])[1].reshape(-1)


@jax.jit
def wl_refine(a_NxN: jax.Array, colors_N: jax.Array, iterations: jax.Array) -> jax.Array:
    """``iterations`` rounds of colour refinement of the colouring ``colors_N`` (integers in ``[0, N)``) of one graph.

    Jitted, with a traced number of rounds; a stable colouring is a fixed point (the own colour leads the row, so
    the ranks of a partition that no longer refines do not change).
    """
    n = a_NxN.shape[-1]

    def step(_, c):
        counts = a_NxN @ jax.nn.one_hot(c, n, dtype=a_NxN.dtype)
        return _relabel(jnp.concatenate([c[:, None].astype(a_NxN.dtype), counts], axis=1))

    return jax.lax.fori_loop(0, iterations, step, colors_N)


def wl_colors(adjacency: ArrayLike | Sequence[ArrayLike], iterations: int | None = None,
              labels: ArrayLike | Sequence[ArrayLike] | None = None) -> jax.Array | list[jax.Array]:
    """1-WL colours of the nodes of one graph, or of several graphs refined together (so comparable across them).

    Args:
      adjacency: one ``(N, N)`` adjacency, a stack ``(G, N, N)`` of graphs of equal size, or a sequence of square
        adjacencies of any sizes. Entries are edge weights (0/1 for a simple graph; a weighted graph refines on
        weighted neighbour counts).
      iterations: rounds of refinement; ``None`` refines to the stable colouring (total node count rounds).
      labels: optional initial node labels (integers) of the same layout as the nodes; default one colour.

    Returns:
      Integer colours in ``[0, total nodes)``: shape ``(N,)``, ``(G, N)``, or a list of ``(N_g,)`` arrays, following
      the layout of ``adjacency``. Equal integers mean equal colours, within one graph and across the graphs given.
    """
    stacked = not isinstance(adjacency, (list, tuple))
    graphs = [check_adjacency("adjacency", a) for a in (
        (adjacency if jnp.ndim(adjacency) == 3 else [adjacency]) if stacked else adjacency)]
    if any(a.ndim != 2 for a in graphs):
        raise checks.fail("adjacency", "an (N, N) or (G, N, N) array or a sequence of (N, N) arrays",
                          f"shapes {[a.shape for a in graphs]}")
    sizes = [a.shape[0] for a in graphs]
    union = jax.scipy.linalg.block_diag(*graphs).astype(jnp.result_type(float, *graphs))
    total = union.shape[0]
    if labels is None:
        initial = jnp.zeros(total, jnp.int32)
    else:
        flat = jnp.concatenate([jnp.ravel(jnp.asarray(lab)) for lab in (
            labels if isinstance(labels, (list, tuple)) else [labels])])
        if flat.shape != (total,):
            raise checks.fail("labels", f"one integer label per node ({total} in all)", f"{flat.shape[0]} labels")
        initial = _relabel(flat[:, None])
    rounds = total if iterations is None else checks.at_least(0)("iterations", iterations)
    colors = wl_refine(union, initial, rounds)
    parts = jnp.split(colors, np.cumsum(sizes)[:-1])
    if not stacked:
        return parts
    return parts[0] if jnp.ndim(adjacency) == 2 else jnp.stack(parts)


def wl_equivalent(a1_NxN: ArrayLike, a2_MxM: ArrayLike, iterations: int | None = None) -> bool:
    """Whether 1-WL cannot tell the two graphs apart: equal node counts and equal multisets of (stable) colours.

    Refining the disjoint union makes the colours comparable; the colour after round ``t + 1`` determines the one
    after round ``t``, so equal final multisets mean equal multisets after every round.
    """
    c1, c2 = wl_colors([a1_NxN, a2_MxM], iterations)
    return c1.shape == c2.shape and bool(jnp.all(jnp.sort(c1) == jnp.sort(c2)))


def node_cycle_counts(a_NxN: ArrayLike) -> jax.Array:
    r"""Triangles and 4-cycles through every node of a simple undirected graph, shape ``(..., N, 2)``.

    From closed walks: :math:`t_v = (A^3)_{vv} / 2` and
    :math:`q_v = \big((A^4)_{vv} - d_v^2 - (A d)_v + d_v\big) / 2`, the closed 4-walks at :math:`v` that are not
    cycles being :math:`v u v u v` and :math:`v u v w v` (:math:`d_v^2` of them) and :math:`v u x u v` with
    :math:`x \ne v` (:math:`(Ad)_v - d_v`); each cycle is walked in two directions.
    """
    a = check_adjacency("a_NxN", a_NxN, symmetric=True)
    a2 = a @ a
    d = jnp.sum(a, axis=-1)
    walks3 = jnp.sum(a2 * a, axis=-1)  # diag(A^3) = sum_u (A^2)_{vu} A_{uv}
    walks4 = jnp.sum(a2 * a2, axis=-1)  # diag(A^4) = sum_u (A^2)_{vu}^2
    ad = jnp.sum(a * d[..., None, :], axis=-1)
    return jnp.stack([walks3 / 2, (walks4 - d**2 - ad + d) / 2], axis=-1)


def cycle_counts(a_NxN: ArrayLike) -> jax.Array:
    r"""Numbers of triangles :math:`\operatorname{tr}(A^3)/6` and of 4-cycles
    :math:`(\operatorname{tr}(A^4) - 2\sum_v d_v^2 + \sum_v d_v)/8` of a simple undirected graph, shape ``(..., 2)``.
    """
    per_node = node_cycle_counts(a_NxN)
    lengths = jnp.array([3.0, 4.0], per_node.dtype).reshape((1,) * (per_node.ndim - 2) + (2,))
    return jnp.sum(per_node, axis=-2) / lengths
