r"""Graph convolutional networks (Kipf & Welling, 2017, arXiv:1609.02907) and their infinite-width NNGP.

A GCN layer maps node features :math:`X \in \mathbb R^{N \times d_\text{in}}` to

.. math:: X^+ = \sigma(\hat A X W + b), \qquad W \in \mathbb R^{d_\text{in} \times d_\text{out}},
          \quad \hat A = \tilde D^{-1/2}(A + I)\tilde D^{-1/2}

(the notes' :math:`W \in \mathbb R^{M \times N}`, :math:`M` the node count, is a slip: :math:`W` acts on features).
Because :math:`\widehat{PAP^\top} = P \hat A P^\top`, every layer is permutation equivariant,
:math:`f(PX, PAP^\top) = P f(X, A)`, and a sum or mean readout over the nodes is invariant. The last layer is linear
(:math:`\hat A X W + b`, logits for node classification). Weights are drawn :math:`\mathcal N(0, W_\text{std}^2 /
d_\text{in})` and biases start at zero, so at initialization the network is ``Dense -> Aggregate(Â) -> σ -> ...`` of
:mod:`dl_theory.stax`, whose ``kernel_fn`` (:func:`gcn_nngp_fn`) gives the infinite-width NNGP (Du et al., 2019,
arXiv:1905.13192; Hu et al., 2020, "Infinitely Wide Graph Convolutional Networks", arXiv:2002.12168):

.. math:: K^{\ell+1} = \hat A\, \mathbb E_{z \sim \mathcal N(0, K^\ell)}[\sigma(z)\sigma(z)^\top]\, \hat A
          \cdot \sigma_W^2, \qquad K^1 = \sigma_W^2\, \hat A X X^\top \hat A / d_\text{in}.
"""

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory import checks, stax
from dl_theory.losses import softmax_cross_entropy
from dl_theory.models.graph.adjacency import EdgeList, normalized_adjacency, normalized_edges
from dl_theory.models.graph.message_passing import READOUTS, add_bias, aggregate, readout
from dl_theory.models.mlp import activation_layer
from dl_theory.typing import ApplyFn, LossFn, Params, Shape

__all__ = ["ACTIVATIONS", "gcn", "gcn_layer", "gcn_nngp_fn", "node_loss"]

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu, "erf": jax.scipy.special.erf, "identity": lambda h: h}


def gcn_layer(out_dim: int, *, activation: str = "relu", W_std: float = 2.0**0.5) -> tuple[Callable, Callable]:
    r"""One GCN layer :math:`\sigma(\hat A X W + b)` as ``(init_fn, apply_fn)``; ``apply_fn(params, x, graph=Â)``
    takes the propagation matrix :math:`\hat A` (dense ``(..., N, N)`` or an edge list)."""
    out_dim = checks.count("out_dim", out_dim)
    checks.one_of(*ACTIVATIONS)("activation", activation)
    checks.positive("W_std", W_std)
    sigma = ACTIVATIONS[activation]

    def init_fn(key: jax.Array, input_shape: Shape) -> tuple[Shape, Params]:
        d_in = int(input_shape[-1])
        w = W_std / jnp.sqrt(d_in) * jax.random.normal(key, (d_in, out_dim))
        return (*input_shape[:-1], out_dim), {"w": w, "b": jnp.zeros((out_dim,))}

    def apply_fn(params: Params, x_NxD: ArrayLike, *, graph: ArrayLike | EdgeList) -> jax.Array:
        return sigma(add_bias(aggregate(graph, jnp.asarray(x_NxD) @ params["w"], "sum"), params["b"]))

    return init_fn, apply_fn


def gcn(hidden: Sequence[int], out_dim: int, *, activation: str = "relu", W_std: float = 2.0**0.5,
        last_W_std: float = 1.0, readout_kind: str | None = None, normalize: bool = True) -> tuple[Callable, Callable]:
    """A GCN: :func:`gcn_layer` with ``activation`` for every width in ``hidden``, then a linear GCN layer to
    ``out_dim`` and optionally an invariant :func:`~dl_theory.models.graph.message_passing.readout` over the nodes.

    Args:
      hidden: hidden widths (empty: one linear GCN layer).
      out_dim: outputs per node (or per graph with a readout).
      activation: a key of :data:`ACTIVATIONS`.
      W_std, last_W_std: weight scales of the hidden and last layers.
      readout_kind: ``None`` (node outputs ``(..., N, out_dim)``) or one of ``'sum'``, ``'mean'``, ``'max'``.
      normalize: ``apply_fn(params, x, graph=A)`` builds :math:`\\hat A` from ``A`` (dense or an edge list); with
        ``False`` the ``graph`` is used as the propagation matrix itself (dense or an edge list).

    Returns:
      ``(init_fn, apply_fn)``.
    """
    checks.each(checks.count, min_length=0)("hidden", hidden)
    if readout_kind is not None:
        checks.one_of(*READOUTS)("readout_kind", readout_kind)
    layers = [gcn_layer(w, activation=activation, W_std=W_std) for w in hidden]
    layers.append(gcn_layer(out_dim, activation="identity", W_std=last_W_std))

    def init_fn(key: jax.Array, input_shape: Shape) -> tuple[Shape, Params]:
        params, shape = [], tuple(input_shape)
        for (init, _), k in zip(layers, jax.random.split(key, len(layers)), strict=True):
            shape, p = init(k, shape)
            params.append(p)
        return (shape[:-2] + shape[-1:] if readout_kind else shape), params

    def apply_fn(params: Params, x_NxD: ArrayLike, *, graph: ArrayLike | EdgeList) -> jax.Array:
        if normalize:
            graph = normalized_edges(graph) if isinstance(graph, EdgeList) else normalized_adjacency(graph)
        h = jnp.asarray(x_NxD)
        for (_, apply), p in zip(layers, params, strict=True):
            h = apply(p, h, graph=graph)
        return readout(h, readout_kind) if readout_kind else h

    return init_fn, apply_fn


def gcn_nngp_fn(hidden: Sequence[int], *, activation: str = "relu", W_std: float = 2.0**0.5,
                last_W_std: float = 1.0) -> Callable[[ArrayLike, ArrayLike], jax.Array]:
    r"""The infinite-width NNGP of :func:`gcn` (node outputs, at initialization) as ``nngp(x_NxD, a_hat_NxN)``.

    Built from :mod:`dl_theory.stax` as ``serial(Dense, Aggregate, σ, ..., Dense, Aggregate)`` without biases;
    returns the ``(N, N)`` covariance :math:`\mathbb E[f_u(X) f_v(X)]` of one output channel of a single graph.
    """
    checks.each(checks.count, min_length=0)("hidden", hidden)
    checks.one_of(*ACTIVATIONS)("activation", activation)
    layers = []
    for width in hidden:
        layers += [stax.Dense(width, W_std=W_std, b_std=None), stax.Aggregate(), activation_layer(activation)]
    layers += [stax.Dense(1, W_std=last_W_std, b_std=None), stax.Aggregate()]
    _, _, kernel_fn = stax.serial(*layers)

    def nngp(x_NxD: ArrayLike, a_hat_NxN: ArrayLike) -> jax.Array:
        x, a = jnp.asarray(x_NxD)[None], jnp.asarray(a_hat_NxN)[None]
        return kernel_fn(x, x, "nngp", pattern=(a, a))[0, 0]

    return jax.jit(nngp)


def node_loss(apply_fn: ApplyFn, x_NxD: ArrayLike, graph: ArrayLike | EdgeList,
              per_node: Callable[[jax.Array, jax.Array], jax.Array] = softmax_cross_entropy) -> LossFn:
    """Semi-supervised node loss ``loss(params, (nodes, labels))``: the mean of ``per_node(logits, labels)`` over the
    labelled ``nodes`` of one graph (the whole graph is propagated; only labelled nodes enter the loss)."""

    def loss(params: Params, batch: tuple[jax.Array, jax.Array]) -> jax.Array:
        nodes, labels = batch
        return jnp.mean(per_node(apply_fn(params, x_NxD, graph=graph)[nodes], labels))

    return loss
