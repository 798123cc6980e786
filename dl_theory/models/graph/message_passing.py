r"""Message passing on graphs: neighbourhood aggregation in dense and edge-list form, an MPNN layer and model.

A message-passing layer (Gilmer et al., 2017, "Neural Message Passing for Quantum Chemistry", arXiv:1704.01212)
updates every node from an aggregate of messages from its neighbours,

.. math:: h_v' = \sigma\Big(W_\text{self}^\top h_v + \bigoplus_{u \in \mathcal N(v)} A_{vu}\, W_\text{msg}^\top h_u
          + b\Big),

with :math:`\bigoplus` a permutation-invariant aggregation: ``'sum'`` (:math:`\sum_u A_{vu} m_u`), ``'mean'``
(the same divided by :math:`\sum_u A_{vu}`) or ``'max'`` (the elementwise maximum over the neighbours
:math:`\{u: A_{vu} \ne 0\}`, weights ignored); a node without neighbours receives zeros. The dense form is a matrix
product :math:`AM`; the edge-list form gathers ``m[senders]`` and reduces it per receiver with
``jax.ops.segment_sum`` / ``segment_max`` in :math:`O(|E| D)`. Both give the same result (tested).
Graphs are passed as ``graph=``: a dense ``(..., N, N)`` adjacency (leading axes batch graphs of equal size) or an
:class:`~dl_theory.models.graph.adjacency.EdgeList`. A graph-level output comes from an invariant :func:`readout`
over the nodes (Xu et al., 2019, "How Powerful are Graph Neural Networks?", arXiv:1810.00826).
"""

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.models.graph.adjacency import EdgeList, check_adjacency, check_node_features
from dl_theory.typing import Params, Shape

__all__ = ["AGGREGATIONS", "READOUTS", "add_bias", "aggregate", "aggregate_dense", "aggregate_edges", "mpnn",
           "mpnn_layer", "readout"]

AGGREGATIONS = ("sum", "mean", "max")
READOUTS = ("sum", "mean", "max")
Graph = ArrayLike | EdgeList


def aggregate_dense(a_NxN: ArrayLike, m_NxD: ArrayLike, aggregation: str = "sum") -> jax.Array:
    """Aggregates the messages ``m_NxD`` of every node's neighbours (``a[v, u] != 0``) into node ``v``."""
    checks.one_of(*AGGREGATIONS)("aggregation", aggregation)
    a = check_adjacency("a_NxN", a_NxN)
    m = check_node_features("m_NxD", m_NxD, a.shape[-1]).astype(jnp.result_type(a, m_NxD))
    a = a.astype(m.dtype)
    if aggregation == "max":
        masked = jnp.where(a[..., :, :, None] != 0, m[..., None, :, :], -jnp.inf)
        out = jnp.max(masked, axis=-2)
        return jnp.where(jnp.any(a != 0, axis=-1)[..., None], out, 0.0)
    total = a @ m
    if aggregation == "sum":
        return total
    deg = jnp.sum(a, axis=-1, keepdims=True)
    return jnp.where(deg != 0, total / jnp.where(deg != 0, deg, 1.0), 0.0)


def aggregate_edges(edges: EdgeList, m_NxD: ArrayLike, aggregation: str = "sum") -> jax.Array:
    """:func:`aggregate_dense` on an edge list with ``jax.ops.segment_sum`` / ``segment_max`` per receiver."""
    checks.one_of(*AGGREGATIONS)("aggregation", aggregation)
    m = check_node_features("m_NxD", m_NxD, edges.n_nodes)
    if m.ndim != 2:
        raise checks.fail("m_NxD", "messages of one graph, shape (N, D)", f"shape {m.shape}")
    n = edges.n_nodes
    w = jnp.asarray(edges.weights)
    m = m.astype(jnp.result_type(m, w))
    gathered = m[edges.senders]
    if aggregation == "max":
        out = jax.ops.segment_max(gathered, edges.receivers, num_segments=n)
        has = jax.ops.segment_sum(jnp.ones_like(w), edges.receivers, num_segments=n) > 0
        return jnp.where(has[:, None], out, 0.0)
    total = jax.ops.segment_sum(w[:, None] * gathered, edges.receivers, num_segments=n)
    if aggregation == "sum":
        return total
    deg = jax.ops.segment_sum(w, edges.receivers, num_segments=n)[:, None]
    return jnp.where(deg != 0, total / jnp.where(deg != 0, deg, 1.0), 0.0)


def aggregate(graph: Graph, m_NxD: ArrayLike, aggregation: str = "sum") -> jax.Array:
    """:func:`aggregate_edges` for an :class:`EdgeList`, :func:`aggregate_dense` for an adjacency array."""
    if isinstance(graph, EdgeList):
        return aggregate_edges(graph, m_NxD, aggregation)
    return aggregate_dense(graph, m_NxD, aggregation)


def readout(h_NxD: ArrayLike, kind: str = "sum") -> jax.Array:
    """Graph-level features: the sum, mean or max of the node features over the node axis ``-2``."""
    checks.one_of(*READOUTS)("readout", kind)
    return {"sum": jnp.sum, "mean": jnp.mean, "max": jnp.max}[kind](jnp.asarray(h_NxD), axis=-2)


def add_bias(h: jax.Array, b: jax.Array) -> jax.Array:
    """``h + b`` with the bias ``b`` of shape ``(D,)`` broadcast explicitly over the leading axes of ``h``."""
    return h + jnp.reshape(b, (1,) * (h.ndim - 1) + (-1,))


def _dense_init(key: jax.Array, d_in: int, d_out: int, W_std: float) -> jax.Array:
    return W_std / jnp.sqrt(d_in) * jax.random.normal(key, (d_in, d_out))


def mpnn_layer(out_dim: int, *, aggregation: str = "sum", activation: Callable[[jax.Array], jax.Array] = jax.nn.relu,
               W_std: float = 1.0) -> tuple[Callable, Callable]:
    r"""One message-passing layer (module docstring) as an ``(init_fn, apply_fn)`` pair.

    Args:
      out_dim: output features per node.
      aggregation: one of :data:`AGGREGATIONS`.
      activation: :math:`\sigma` (``lambda h: h`` for a linear layer).
      W_std: weights are drawn :math:`\mathcal N(0, W_\text{std}^2 / d_\text{in})`; the bias starts at zero.

    Returns:
      ``init_fn(key, input_shape) -> (output_shape, params)`` for ``input_shape = (..., N, d_in)`` and
      ``apply_fn(params, x_NxD, graph=...)``.
    """
    out_dim = checks.count("out_dim", out_dim)
    checks.one_of(*AGGREGATIONS)("aggregation", aggregation)
    checks.positive("W_std", W_std)

    def init_fn(key: jax.Array, input_shape: Shape) -> tuple[Shape, Params]:
        d_in = int(input_shape[-1])
        k_self, k_msg = jax.random.split(key)
        params = {"w_self": _dense_init(k_self, d_in, out_dim, W_std),
                  "w_msg": _dense_init(k_msg, d_in, out_dim, W_std), "b": jnp.zeros((out_dim,))}
        return (*input_shape[:-1], out_dim), params

    def apply_fn(params: Params, x_NxD: ArrayLike, *, graph: Graph) -> jax.Array:
        x = jnp.asarray(x_NxD)
        messages = aggregate(graph, x @ params["w_msg"], aggregation)
        return activation(add_bias(x @ params["w_self"] + messages, params["b"]))

    return init_fn, apply_fn


def mpnn(hidden: Sequence[int], out_dim: int, *, aggregation: str = "sum", readout_kind: str | None = None,
         activation: Callable[[jax.Array], jax.Array] = jax.nn.relu,
         W_std: float = 2.0**0.5) -> tuple[Callable, Callable]:
    """:func:`mpnn_layer` for every width in ``hidden``, a linear per-node head to ``out_dim``, then optionally an
    invariant :func:`readout` over the nodes (a graph-level output).

    ``apply_fn(params, x_NxD, graph=...)`` returns ``(..., N, out_dim)`` node outputs, or ``(..., out_dim)`` with a
    ``readout_kind`` (one of :data:`READOUTS`); node outputs are permutation equivariant, graph outputs invariant.
    """
    checks.each(checks.count, min_length=0)("hidden", hidden)
    out_dim = checks.count("out_dim", out_dim)
    if readout_kind is not None:
        checks.one_of(*READOUTS)("readout_kind", readout_kind)
    layers = [mpnn_layer(w, aggregation=aggregation, activation=activation, W_std=W_std) for w in hidden]

    def init_fn(key: jax.Array, input_shape: Shape) -> tuple[Shape, Params]:
        keys = jax.random.split(key, len(layers) + 1)
        params, shape = [], tuple(input_shape)
        for (init, _), k in zip(layers, keys[:-1], strict=True):
            shape, p = init(k, shape)
            params.append(p)
        head = {"w": _dense_init(keys[-1], int(shape[-1]), out_dim, 1.0), "b": jnp.zeros((out_dim,))}
        node_shape = (*shape[:-1], out_dim)
        return (node_shape[:-2] + (out_dim,) if readout_kind else node_shape), {"layers": params, "head": head}

    def apply_fn(params: Params, x_NxD: ArrayLike, *, graph: Graph) -> jax.Array:
        h = jnp.asarray(x_NxD)
        for (_, apply), p in zip(layers, params["layers"], strict=True):
            h = apply(p, h, graph=graph)
        h = add_bias(h @ params["head"]["w"], params["head"]["b"])
        return readout(h, readout_kind) if readout_kind else h

    return init_fn, apply_fn
