r"""Adjacency matrices: validation, degrees, the GCN normalization, edge lists and node permutations.

A graph on :math:`N` nodes is a dense adjacency ``a_NxN`` with ``a[v, u]`` the weight of the edge that carries a
message from sender :math:`u` to receiver :math:`v` (so aggregation is the product :math:`A H`), or an
:class:`EdgeList` of (sender, receiver, weight) triples. The GCN propagation matrix of Kipf & Welling (2017,
"Semi-Supervised Classification with Graph Convolutional Networks", arXiv:1609.02907) is

.. math:: \hat A = \tilde D^{-1/2} (A + I) \tilde D^{-1/2}, \qquad \tilde D = \operatorname{diag}((A + I)\mathbf 1).

A node permutation :math:`\pi` acts as the matrix :math:`P` with :math:`P_{i, \pi(i)} = 1`: :math:`PX` is
``x[perm]`` and :math:`PAP^\top` is ``a[perm][:, perm]``; equivariance of a node map reads
:math:`f(PX, PAP^\top) = P f(X, A)` (Bronstein et al., 2021, "Geometric Deep Learning", arXiv:2104.13478, §5).
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks

__all__ = ["EdgeList", "check_adjacency", "check_node_features", "degree", "edge_list", "normalized_adjacency",
           "normalized_edges",
           "permutation_matrix", "permute_graph", "random_permutation", "to_dense"]


@functools.partial(jax.tree_util.register_dataclass, data_fields=["senders", "receivers", "weights"],
                   meta_fields=["n_nodes"])
@dataclasses.dataclass(frozen=True)
class EdgeList:
    """A graph as edges ``senders[e] -> receivers[e]`` of weight ``weights[e]`` on ``n_nodes`` nodes.

    A pytree whose node count is static, so an edge list passes through ``jit`` and ``vmap`` as an argument.
    """

    senders: jax.Array
    receivers: jax.Array
    weights: jax.Array
    n_nodes: int


def check_adjacency(name: str, a: ArrayLike, *, symmetric: bool = False) -> jax.Array:
    """``a`` as an array of shape ``(..., N, N)``; raises a ``ValueError`` naming ``name`` otherwise.

    Args:
      name: the argument's name in the error message.
      a: adjacency, possibly with leading batch axes.
      symmetric: also require :math:`A = A^\\top` (checked on concrete values only; skipped under tracing).

    Returns:
      ``a`` as a ``jax.Array``.
    """
    a = jnp.asarray(a)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise checks.fail(name, "a square (..., N, N) adjacency matrix", f"shape {a.shape}")
    checks.finite(name, a)
    if symmetric:
        v = checks.concrete(a)
        if v is not None and not np.allclose(v, np.swapaxes(v, -1, -2)):
            raise checks.fail(name, "symmetric (an undirected graph)", f"max |A - A^T| = "
                              f"{float(np.max(np.abs(v - np.swapaxes(v, -1, -2)))):.3g}")
    return a


def check_node_features(name: str, x: ArrayLike, n_nodes: int) -> jax.Array:
    """``x`` as an array of shape ``(..., n_nodes, D)``: one feature row per node of the graph."""
    x = jnp.asarray(x)
    if x.ndim < 2 or x.shape[-2] != n_nodes:
        raise checks.fail(name, f"node features of shape (..., {n_nodes}, D) matching the graph's {n_nodes} nodes",
                          f"shape {x.shape}")
    return x


def degree(a_NxN: ArrayLike) -> jax.Array:
    r"""Weighted in-degrees :math:`d_v = \sum_u A_{vu}` (the degrees of an undirected graph), shape ``(..., N)``."""
    return jnp.sum(check_adjacency("a_NxN", a_NxN), axis=-1)


def normalized_adjacency(a_NxN: ArrayLike, *, self_loops: bool = True) -> jax.Array:
    r"""The symmetric normalization :math:`\tilde D^{-1/2} \tilde A \tilde D^{-1/2}`, :math:`\tilde A = A + I`.

    With ``self_loops=False``, :math:`D^{-1/2} A D^{-1/2}` (isolated nodes get a zero row and column). Requires a
    symmetric ``a_NxN`` with nonnegative weights.
    """
    a = check_adjacency("a_NxN", a_NxN, symmetric=True)
    checks.nonnegative("a_NxN", a)
    if self_loops:
        a = a + jnp.eye(a.shape[-1], dtype=a.dtype)
    d = jnp.sum(a, axis=-1)
    inv_sqrt = jnp.where(d > 0, 1.0 / jnp.sqrt(jnp.where(d > 0, d, 1.0)), 0.0)
    return inv_sqrt[..., :, None] * a * inv_sqrt[..., None, :]


def normalized_edges(edges: EdgeList, *, self_loops: bool = True) -> EdgeList:
    r""":func:`normalized_adjacency` in edge-list form: self loops appended (``self_loops``) and every weight
    :math:`w_{uv}` divided by :math:`\sqrt{d_u d_v}` (degrees from ``jax.ops.segment_sum``; an undirected graph
    lists each edge in both directions)."""
    senders, receivers, weights = edges.senders, edges.receivers, jnp.asarray(edges.weights)
    if self_loops:
        loops = jnp.arange(edges.n_nodes, dtype=jnp.result_type(senders))
        senders, receivers = jnp.concatenate([senders, loops]), jnp.concatenate([receivers, loops])
        weights = jnp.concatenate([weights, jnp.ones(edges.n_nodes, weights.dtype)])
    d = jax.ops.segment_sum(weights, receivers, num_segments=edges.n_nodes)
    inv_sqrt = jnp.where(d > 0, 1.0 / jnp.sqrt(jnp.where(d > 0, d, 1.0)), 0.0)
    return EdgeList(senders, receivers, weights * inv_sqrt[senders] * inv_sqrt[receivers], edges.n_nodes)


def edge_list(a_NxN: ArrayLike) -> EdgeList:
    """The nonzero entries ``a[v, u]`` of a concrete dense adjacency as edges ``u -> v`` (row-major order)."""
    a = np.asarray(check_adjacency("a_NxN", a_NxN))
    if a.ndim != 2:
        raise checks.fail("a_NxN", "a single (N, N) adjacency matrix", f"shape {a.shape}")
    receivers, senders = np.nonzero(a)
    return EdgeList(jnp.asarray(senders), jnp.asarray(receivers), jnp.asarray(a[receivers, senders]), a.shape[0])


def to_dense(edges: EdgeList) -> jax.Array:
    """The dense ``(N, N)`` adjacency of ``edges``; repeated edges add their weights."""
    a = jnp.zeros((edges.n_nodes, edges.n_nodes), jnp.result_type(edges.weights))
    return a.at[edges.receivers, edges.senders].add(edges.weights)


def random_permutation(key: jax.Array, n_nodes: int) -> jax.Array:
    """A uniformly random permutation ``perm`` of ``range(n_nodes)``."""
    return jax.random.permutation(key, checks.count("n_nodes", n_nodes))


def permutation_matrix(perm: ArrayLike, dtype=jnp.float32) -> jax.Array:
    r"""The matrix :math:`P` with :math:`P_{i, \pi(i)} = 1`, so that ``P @ x == x[perm]``."""
    perm = jnp.asarray(perm)
    return jax.nn.one_hot(perm, perm.shape[0], dtype=dtype)


def permute_graph(x_NxD: ArrayLike, a_NxN: ArrayLike, perm: ArrayLike) -> tuple[jax.Array, jax.Array]:
    r"""Relabels the nodes: returns :math:`(PX, PAP^\top)` = ``(x[perm], a[perm][:, perm])``."""
    a = check_adjacency("a_NxN", a_NxN)
    x = check_node_features("x_NxD", x_NxD, a.shape[-1])
    perm = jnp.asarray(perm)
    if perm.shape != (a.shape[-1],):
        raise checks.fail("perm", f"a permutation of shape ({a.shape[-1]},)", f"shape {perm.shape}")
    return x[..., perm, :], a[..., perm, :][..., :, perm]
