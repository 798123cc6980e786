r"""DeepSets: permutation-invariant and permutation-equivariant networks on sets (§5.1).

A set of :math:`n` elements :math:`x_i \in \mathbb R^D` is a batch ``x_BxNxD`` whose rows are the elements, with an
optional boolean ``mask_BxN`` marking the real elements of sets smaller than ``N`` (padding rows are ignored), so that
sets of different sizes share one batch. Zaheer et al. (2017, "Deep Sets", arXiv:1703.06114) show that every
continuous invariant function of a set is of the form

.. math:: f(x_1, \dots, x_n) = \rho\Big(\bigoplus_{i=1}^n \varphi(x_i)\Big),

with :math:`\bigoplus` the sum (their theorem), the mean or the max (``pooling``), and that a linear map
:math:`\mathbb R^{n \times D} \to \mathbb R^{n \times K}` is permutation equivariant, :math:`f(PX) = P f(X)` for every
permutation matrix :math:`P`, if and only if it has the form

.. math:: f(X) = X \Lambda + \tfrac1n \mathbf 1 \mathbf 1^\top X \Gamma + \mathbf 1 b^\top

(the mean form; ``pooling='sum'`` drops the :math:`1/n`, ``'max'`` replaces the mean by the elementwise max, an
equivariant non-linear variant). :func:`equivariant_layer` is that map, :func:`equivariant_net` a stack of them with a
pointwise non-linearity in between, and :func:`deep_sets` the invariant model with MLPs :math:`\varphi` and
:math:`\rho` from :func:`~dl_theory.models.mlp.dense_mlp`. Invariance holds exactly in real arithmetic; in floating
point the pooled sum is re-associated by a permutation, so outputs agree up to rounding (``max`` pooling is exactly
invariant); :func:`rounding_bound` states how far.
"""

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.models.mlp import dense_mlp
from dl_theory.typing import Model, Params, Shape

__all__ = ["POOLINGS", "check_set_mask", "deep_sets", "equivariant_layer", "equivariant_net", "pool",
           "rounding_bound"]

POOLINGS = ("sum", "mean", "max")


def check_set_mask(mask_BxN: ArrayLike | None, x_BxNxD: jax.Array) -> jax.Array:
    """``mask_BxN`` as a boolean array of shape ``x_BxNxD.shape[:-1]`` (all ``True`` when ``None``)."""
    if mask_BxN is None:
        return jnp.ones(x_BxNxD.shape[:-1], bool)
    mask = jnp.asarray(mask_BxN)
    if mask.shape != x_BxNxD.shape[:-1]:
        raise checks.fail("mask_BxN", f"a mask of shape {x_BxNxD.shape[:-1]} (one entry per set element)",
                          f"shape {mask.shape}")
    return mask.astype(bool)


def _check_set(x_BxNxD: ArrayLike) -> jax.Array:
    x = jnp.asarray(x_BxNxD)
    if x.ndim < 2:
        raise checks.fail("x_BxNxD", "a set of shape (..., N, D): one row per element", f"shape {x.shape}")
    return x


def pool(h_BxNxK: ArrayLike, mask_BxN: ArrayLike | None = None, kind: str = "sum") -> jax.Array:
    r"""Invariant pooling over the element axis ``-2``: :math:`\sum_i h_i`, :math:`\frac1n\sum_i h_i` or
    :math:`\max_i h_i` over the elements with ``mask`` true; an empty set pools to zeros. Shape ``(..., K)``."""
    checks.one_of(*POOLINGS)("pooling", kind)
    h = _check_set(h_BxNxK)
    mask = check_set_mask(mask_BxN, h)[..., None]
    count = jnp.sum(mask, axis=-2).astype(h.dtype)
    if kind == "max":
        out = jnp.max(jnp.where(mask, h, -jnp.inf), axis=-2)
        return jnp.where(count > 0, out, 0.0)
    total = jnp.sum(jnp.where(mask, h, 0.0), axis=-2)
    return total if kind == "sum" else total / jnp.maximum(count, 1.0)


def deep_sets(phi_hidden: Sequence[int], latent_dim: int, rho_hidden: Sequence[int], out_dim: int, *,
              pooling: str = "sum", activation: Callable[[jax.Array], jax.Array] = jax.nn.relu) -> Model:
    r"""The invariant DeepSets model :math:`\rho(\bigoplus_i \varphi(x_i))` as ``(init_fn, apply_fn)``.

    Args:
      phi_hidden: hidden widths of the element encoder :math:`\varphi: \mathbb R^D \to \mathbb R^{L}`.
      latent_dim: :math:`L`, the width of the pooled representation.
      rho_hidden: hidden widths of the decoder :math:`\rho: \mathbb R^L \to \mathbb R^{\text{out}}`.
      out_dim: number of outputs.
      pooling: one of :data:`POOLINGS`.
      activation: the non-linearity of both MLPs (their last layers are linear).

    Returns:
      ``init_fn(key, (..., N, D)) -> ((..., out_dim), params)`` and ``apply_fn(params, x_BxNxD, mask=None)``.
    """
    checks.one_of(*POOLINGS)("pooling", pooling)
    phi = dense_mlp(phi_hidden, checks.count("latent_dim", latent_dim), activation=activation)
    rho = dense_mlp(rho_hidden, checks.count("out_dim", out_dim), activation=activation)

    def init_fn(key: jax.Array, input_shape: Shape) -> tuple[Shape, Params]:
        k_phi, k_rho = jax.random.split(key)
        latent_shape, p_phi = phi.init(k_phi, tuple(input_shape))
        out_shape, p_rho = rho.init(k_rho, (*latent_shape[:-2], latent_shape[-1]))
        return out_shape, {"phi": p_phi, "rho": p_rho}

    def apply_fn(params: Params, x_BxNxD: ArrayLike, *, mask: ArrayLike | None = None) -> jax.Array:
        x = _check_set(x_BxNxD)
        return rho.apply(params["rho"], pool(phi.apply(params["phi"], x), mask, pooling))

    return Model(init_fn, apply_fn)


def equivariant_layer(out_dim: int, *, pooling: str = "mean",
                      activation: Callable[[jax.Array], jax.Array] = lambda h: h) -> Model:
    r"""The equivariant layer :math:`X \mapsto \sigma(X\Lambda + \mathbf 1\, \mathrm{pool}(X)^\top \Gamma +
    \mathbf 1 b^\top)` (module docstring) as ``(init_fn, apply_fn)``.

    :math:`\Lambda, \Gamma \sim \mathcal N(0, 1/(2 d_\text{in}))` (so the output variance matches a dense layer),
    :math:`b = 0`. ``apply_fn(params, x_BxNxD, mask=None)`` pools over the masked elements only and returns zeros in
    the padding rows, shape ``(..., N, out_dim)``.
    """
    out_dim = checks.count("out_dim", out_dim)
    checks.one_of(*POOLINGS)("pooling", pooling)

    def init_fn(key: jax.Array, input_shape: Shape) -> tuple[Shape, Params]:
        d_in = int(input_shape[-1])
        k_lam, k_gam = jax.random.split(key)
        scale = 1.0 / jnp.sqrt(2.0 * d_in)
        params = {"lam": scale * jax.random.normal(k_lam, (d_in, out_dim)),
                  "gamma": scale * jax.random.normal(k_gam, (d_in, out_dim)), "b": jnp.zeros((out_dim,))}
        return (*input_shape[:-1], out_dim), params

    def apply_fn(params: Params, x_BxNxD: ArrayLike, *, mask: ArrayLike | None = None) -> jax.Array:
        x = _check_set(x_BxNxD)
        m = check_set_mask(mask, x)
        pooled = pool(x, m, pooling) @ params["gamma"] + params["b"].reshape((1,) * (x.ndim - 2) + (out_dim,))
        h = activation(x @ params["lam"] + jnp.expand_dims(pooled, -2))
        return jnp.where(m[..., None], h, 0.0)

    return Model(init_fn, apply_fn)


def equivariant_net(hidden: Sequence[int], out_dim: int, *, pooling: str = "mean",
                    activation: Callable[[jax.Array], jax.Array] = jax.nn.relu) -> Model:
    """:func:`equivariant_layer` with ``activation`` for every width in ``hidden``, then a linear equivariant layer to
    ``out_dim``: a permutation-equivariant map of sets, ``apply_fn(params, x_BxNxD, mask=None) -> (..., N, out)``."""
    checks.each(checks.count, min_length=0)("hidden", hidden)
    layers = [equivariant_layer(w, pooling=pooling, activation=activation) for w in hidden]
    layers.append(equivariant_layer(out_dim, pooling=pooling))

    def init_fn(key: jax.Array, input_shape: Shape) -> tuple[Shape, Params]:
        params, shape = [], tuple(input_shape)
        for layer, k in zip(layers, jax.random.split(key, len(layers)), strict=True):
            shape, p = layer.init(k, shape)
            params.append(p)
        return shape, params

    def apply_fn(params: Params, x_BxNxD: ArrayLike, *, mask: ArrayLike | None = None) -> jax.Array:
        h = _check_set(x_BxNxD)
        for layer, p in zip(layers, params, strict=True):
            h = layer.apply(p, h, mask=mask)
        return h

    return Model(init_fn, apply_fn)


def rounding_bound(apply_fn: Callable, params: Params, x: ArrayLike, n_terms: int, **apply_kwargs) -> jax.Array:
    r"""An a-priori bound on how far two floating-point evaluations of a ReLU network that differ only in the order
    of their sums (a permuted set, relabelled nodes) can be apart, elementwise:

    .. math:: |\operatorname{fl}(f(Px)) - P\operatorname{fl}(f(x))| \le 2\gamma_m\, |f|(|x|), \qquad
              \gamma_m = \frac{m u}{1 - m u},

    with :math:`u` the unit roundoff of ``x``'s dtype, :math:`m` (``n_terms``) the number of summands along the
    longest chain of reductions (fan-ins of the dense products plus pooled elements, plus the extra roundings of
    biases and divisions) and :math:`|f|` the same network with absolute parameters evaluated at :math:`|x|`. Each
    evaluation is within :math:`\gamma_m |f|(|x|)` of the exact value (Higham, 2002, "Accuracy and Stability of
    Numerical Algorithms", §3.5: :math:`|\operatorname{fl}(Wh) - Wh| \le \gamma_k |W||h|`, propagated through
    1-Lipschitz ReLUs, which are the identity on the nonnegative pre-activations of :math:`|f|`). Sum, mean and max
    pooling, message passing with nonnegative edge weights and linear layers all fit; ``apply_kwargs`` (a mask, a
    graph) are passed to both evaluations.
    """
    x = jnp.asarray(x)
    u = float(jnp.finfo(x.dtype).eps) / 2
    m = checks.count("n_terms", n_terms)
    if m * u >= 0.5:
        raise checks.fail("n_terms", f"< 1/(2u) = {0.5 / u:.3g} for the bound to mean anything", m)
    return 2 * (m * u / (1 - m * u)) * apply_fn(jax.tree_util.tree_map(jnp.abs, params), jnp.abs(x),
                                               **apply_kwargs)
