r"""Provably powerful graph networks: invariant models on node-pair features, more expressive than 1-WL.

A message-passing network only ever combines a node's state with the multiset of its neighbours' states, so it is
bounded by 1-WL colour refinement and cannot count triangles (Xu et al., 2019; Morris et al., 2019). A *provably
powerful graph network* (PPGN; Maron, Ben-Hamu, Serviansky and Lipman, 2019, "Provably Powerful Graph Networks",
arXiv:1905.11136) works on the whole tensor of node-pair features :math:`X \in \mathbb R^{N \times N \times d}`,
starting from :math:`X^0_{ij} = (A_{ij}, \delta_{ij})`, with blocks

.. math:: X' = \sigma\big([X,\; m_1(X) \cdot m_2(X)]\, W_3 + b_3\big), \qquad
          (m_1(X) \cdot m_2(X))_{ik, c} = \frac1N \sum_j m_1(X)_{ij, c}\, m_2(X)_{jk, c},

where :math:`m_1, m_2` are per-pair maps :math:`\sigma(X W + b)` and :math:`\cdot` is one matrix product per channel.
Relabelling the nodes by :math:`P` maps every channel :math:`X_c` to :math:`P X_c P^\top`; per-pair maps commute with
that, and so does the product, :math:`(P X P^\top)(P Y P^\top) = P XY P^\top`. The invariant readout sums the
diagonal and the off-diagonal pairs separately (both unchanged by :math:`P`) and maps them with a linear head, so the
model is permutation invariant exactly.

Why more than 1-WL: the product of channels lets the network form walks. From :math:`X^0` one block can produce
:math:`A^2`, a second one :math:`A^2 \cdot A = A^3`, and the diagonal readout then gives
:math:`\operatorname{tr}(A^3) = 6 \times` the number of triangles (and :math:`\operatorname{tr}(A^4)`, the
4-cycles, likewise), polynomial invariants that differ on 1-WL-equivalent graphs such as two triangles and the
6-cycle. Maron et al. (Thm. 2) show that such blocks implement the 2-FWL test, which is as strong as 3-WL and
strictly stronger than 1-WL, at :math:`O(N^3)` cost per block instead of message passing's :math:`O(|E|)`.
"""

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.models.graph.adjacency import check_adjacency
from dl_theory.models.graph.message_passing import add_bias
from dl_theory.typing import Params, Shape

__all__ = ["pair_features", "ppgn", "ppgn_block", "pair_readout"]


def pair_features(a_NxN: ArrayLike) -> jax.Array:
    r"""The initial node-pair tensor :math:`X^0_{ij} = (A_{ij}, \delta_{ij})`, shape ``(..., N, N, 2)``."""
    a = check_adjacency("a_NxN", a_NxN)
    eye = jnp.broadcast_to(jnp.eye(a.shape[-1], dtype=a.dtype), a.shape)
    return jnp.stack([a, eye], axis=-1)


def pair_readout(x_NxNxD: jax.Array) -> jax.Array:
    """Invariant readout ``[sum of diagonal pairs, sum of off-diagonal pairs] / N``, shape ``(..., 2 D)``."""
    n = x_NxNxD.shape[-2]
    diagonal = jnp.sum(jnp.diagonal(x_NxNxD, axis1=-3, axis2=-2), axis=-1)
    return jnp.concatenate([diagonal, jnp.sum(x_NxNxD, axis=(-3, -2)) - diagonal], axis=-1) / n


def _dense(key: jax.Array, d_in: int, d_out: int, W_std: float) -> dict[str, jax.Array]:
    return {"w": W_std / jnp.sqrt(d_in) * jax.random.normal(key, (d_in, d_out)), "b": jnp.zeros((d_out,))}


def _affine(p: dict[str, jax.Array], x: jax.Array) -> jax.Array:
    return add_bias(x @ p["w"], p["b"])


def ppgn_block(out_dim: int, *, activation: Callable[[jax.Array], jax.Array] = jax.nn.relu,
               W_std: float = 2.0**0.5) -> tuple[Callable, Callable]:
    r"""One PPGN block (module docstring) as ``(init_fn, apply_fn)`` on ``(..., N, N, d)`` pair tensors.

    Args:
      out_dim: output channels (also the channels of :math:`m_1, m_2`).
      activation: :math:`\sigma`.
      W_std: weights are drawn :math:`\mathcal N(0, W_\text{std}^2 / d_\text{in})`; biases start at zero.
    """
    out_dim = checks.count("out_dim", out_dim)
    checks.positive("W_std", W_std)

    def init_fn(key: jax.Array, input_shape: Shape) -> tuple[Shape, Params]:
        d_in = int(input_shape[-1])
        k1, k2, k3 = jax.random.split(key, 3)
        params = {"m1": _dense(k1, d_in, out_dim, W_std), "m2": _dense(k2, d_in, out_dim, W_std),
                  "out": _dense(k3, d_in + out_dim, out_dim, W_std)}
        return (*input_shape[:-1], out_dim), params

    def apply_fn(params: Params, x_NxNxD: ArrayLike) -> jax.Array:
        x = jnp.asarray(x_NxNxD)
        m1, m2 = activation(_affine(params["m1"], x)), activation(_affine(params["m2"], x))
        product = jnp.einsum("...ijc,...jkc->...ikc", m1, m2) / x.shape[-2]
        return activation(_affine(params["out"], jnp.concatenate([x, product], axis=-1)))

    return init_fn, apply_fn


def ppgn(hidden: Sequence[int], out_dim: int, *, activation: Callable[[jax.Array], jax.Array] = jax.nn.relu,
         W_std: float = 2.0**0.5) -> tuple[Callable, Callable]:
    """A permutation-invariant PPGN: :func:`pair_features`, a :func:`ppgn_block` per width in ``hidden``,
    :func:`pair_readout` and a linear head to ``out_dim``.

    Returns:
      ``init_fn(key, adjacency_shape) -> (output_shape, params)`` for ``adjacency_shape = (..., N, N)`` and
      ``apply_fn(params, a_NxN) -> (..., out_dim)``, invariant under ``a -> P a Pᵀ``.
    """
    checks.each(checks.count)("hidden", hidden)
    out_dim = checks.count("out_dim", out_dim)
    blocks = [ppgn_block(w, activation=activation, W_std=W_std) for w in hidden]

    def init_fn(key: jax.Array, adjacency_shape: Shape) -> tuple[Shape, Params]:
        keys = jax.random.split(key, len(blocks) + 1)
        params, shape = [], (*adjacency_shape, 2)
        for (init, _), k in zip(blocks, keys[:-1], strict=True):
            shape, p = init(k, shape)
            params.append(p)
        head = _dense(keys[-1], 2 * int(shape[-1]), out_dim, 1.0)
        return (*adjacency_shape[:-2], out_dim), {"blocks": params, "head": head}

    def apply_fn(params: Params, a_NxN: ArrayLike) -> jax.Array:
        x = pair_features(a_NxN)
        for (_, apply), p in zip(blocks, params["blocks"], strict=True):
            x = apply(p, x)
        return _affine(params["head"], pair_readout(x))

    return init_fn, apply_fn
