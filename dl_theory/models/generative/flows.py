r"""Normalizing flows: bijectors with tractable Jacobians, composed and pushed through a standard-normal base.

A flow draws :math:`z \sim \mathcal N(0, I_D)` and returns :math:`x = T(z)` for an invertible, differentiable
:math:`T`. By the change of variables (with the absolute value, which the course notes drop),

.. math::
    \log p_x(x) = \log p_z(T^{-1}(x)) + \log\left|\det J_{T^{-1}}(x)\right|
               = \log p_z(z) - \log\left|\det J_T(z)\right|.

A :class:`Bijector` is a tuple of pure functions: ``forward(params, z) -> (x, log|det J_T(z)|)`` (the sampling
direction) and ``inverse(params, x) -> (z, log|det J_{T^{-1}}(x)|)`` (the density direction), acting on the last axis
of size ``dim``. Log-scales are soft-clamped (:func:`soft_clamp`). The layers here have triangular Jacobians, so the
log-determinant is a sum of :math:`D` terms instead of an :math:`O(D^3)` determinant:

* affine coupling (RealNVP, Dinh et al., 2017): with a binary mask :math:`b`,
  :math:`x = b \odot z + (1 - b) \odot (z \odot e^{s(b \odot z)} + t(b \odot z))`,
  :math:`\log|\det J| = \sum_i (1 - b_i) s_i`; both directions cost one pass of the conditioner;
* MAF (Papamakarios et al., 2017): :math:`x_i = z_i e^{\alpha_i(x_{<i})} + \mu_i(x_{<i})` with a MADE computing
  :math:`(\mu, \alpha)`: the density direction :math:`z = (x - \mu(x)) e^{-\alpha(x)}` is one pass; sampling is
  :math:`D` sequential passes;
* IAF (Kingma et al., 2016): :math:`x_i = z_i e^{\alpha_i(z_{<i})} + \mu_i(z_{<i})`: sampling is one pass, the
  density :math:`D` sequential passes (the MAF/IAF cost asymmetry).

The sequential direction solves the triangular system by the fixed-point iteration
:math:`u \leftarrow \text{one affine step with } (\mu, \alpha)(u)`; after :math:`t` passes every dimension of degree
:math:`\le t` is exact, so :math:`D` passes give the exact inverse.

:func:`spherical` is the change of variables :math:`(r, \theta, \varphi) \mapsto (r\cos\theta\cos\varphi,
r\cos\theta\sin\varphi, r\sin\theta)` with *latitude* :math:`\theta \in (-\pi/2, \pi/2)` (measured from the equator),
longitude :math:`\varphi \in (-\pi, \pi)` and :math:`r > 0`; the absolute value of its Jacobian determinant is
:math:`r^2\cos\theta`. The determinant itself is :math:`-r^2\cos\theta`: in the variable order
:math:`(r, \theta, \varphi)` the latitude reverses orientation (with the polar angle :math:`\vartheta = \pi/2 - \theta`
from the z axis it is :math:`+r^2\sin\vartheta`), one more reason the change of variables needs the absolute value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.models.generative.made import MADE, gaussian_outputs, made
from dl_theory.models.mlp import mlp
from dl_theory.typing import Params

Transform = Callable[[Params, ArrayLike], tuple[jax.Array, jax.Array]]
LOG_SCALE_BOUND = 5.0
"""Log-scales are soft-clamped to ``(-B, B)`` by ``B tanh(a / B)``: still a smooth bijection with the same triangular
structure, but a layer cannot map a point to infinity (an unbounded ``exp(alpha)`` sends the training loss to inf)."""


def soft_clamp(a: jax.Array, bound: float | None = LOG_SCALE_BOUND) -> jax.Array:
    """``bound * tanh(a / bound)`` (the identity for ``bound=None``); close to ``a`` for ``|a| << bound``."""
    return a if bound is None else bound * jnp.tanh(a / bound)


class Bijector(NamedTuple):
    """An invertible map of the last axis (size ``dim``) with its log-determinants; see the module docstring.

    Attributes:
      dim: event size ``D``.
      init: ``init(key) -> params``.
      forward: ``forward(params, z_ND) -> (x_ND, log|det J_T(z)|_N)``.
      inverse: ``inverse(params, x_ND) -> (z_ND, log|det J_{T^-1}(x)|_N)``.
    """

    dim: int
    init: Callable[[jax.Array], Params]
    forward: Transform
    inverse: Transform


def bijector(dim: int, init: Callable[[jax.Array], Params], forward: Transform, inverse: Transform,
             name: str = "bijector") -> Bijector:
    """A :class:`Bijector` whose ``forward``/``inverse`` raise ``ValueError`` on an input whose last axis is not
    ``dim`` (the event shape)."""
    checks.count("dim", dim)

    def checked(fn: Transform, arg: str) -> Transform:
        def call(params: Params, u: ArrayLike) -> tuple[jax.Array, jax.Array]:
            u = jnp.asarray(u)
            if u.ndim == 0 or u.shape[-1] != dim:
                raise checks.fail(arg, f"of shape (..., {dim}) for {name}", u.shape)
            return fn(params, u)

        return call

    return Bijector(dim, init, checked(forward, "z"), checked(inverse, "x"))


def _batched(fn: Callable[[jax.Array], jax.Array], u: jax.Array) -> jax.Array:
    """``fn`` on ``u`` flattened to ``(N, D)`` (stax layers want a batch axis), reshaped back to ``u``'s batch."""
    out = fn(u.reshape(-1, u.shape[-1]))
    return out.reshape(*u.shape[:-1], out.shape[-1])


def affine_coupling(mask_D: ArrayLike, hidden: Sequence[int] = (64, 64), *, out_scale: float = 0.01) -> Bijector:
    r"""RealNVP affine coupling: :math:`x = b z + (1 - b)(z e^{s(bz)} + t(bz))`, :math:`\log|\det J| = \sum_i (1 -
    b_i) s_i(bz)`, with :math:`(s, t)` an MLP (:func:`dl_theory.models.mlp.mlp`, ReLU) of the masked input.

    Args:
      mask_D: the binary mask :math:`b` (the dimensions passed through unchanged); alternate it between layers
        (:func:`coupling_masks`) so that every dimension gets transformed.
      hidden: the conditioner's hidden widths.
      out_scale: standard deviation of the conditioner's last layer (small: the layer starts near the identity).
    """
    b = np.asarray(mask_D, dtype=np.float32)
    if b.ndim != 1 or not np.all((b == 0) | (b == 1)) or b.all() or not b.any():
        raise checks.fail("mask_D", "a 1-D 0/1 vector with both values", mask_D)
    dim = b.size
    net_init, net_apply, _ = mlp(tuple(hidden), 2 * dim, parameterization="standard", last_W_std=out_scale,
                                 b_std=out_scale)

    def log_scale_shift(params: Params, u: jax.Array) -> tuple[jax.Array, jax.Array]:
        bb = jnp.broadcast_to(jnp.asarray(b, u.dtype), u.shape)
        out = _batched(lambda v: net_apply(params, v), u * bb)
        return soft_clamp(out[..., :dim]) * (1 - bb), out[..., dim:] * (1 - bb)

    def forward(params: Params, z: jax.Array) -> tuple[jax.Array, jax.Array]:
        s, t = log_scale_shift(params, z)
        return z * jnp.exp(s) + t, jnp.sum(s, axis=-1)

    def inverse(params: Params, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        s, t = log_scale_shift(params, x)  # b x = b z: the conditioner sees the same input in both directions
        return (x - t) * jnp.exp(-s), -jnp.sum(s, axis=-1)

    return bijector(dim, lambda key: net_init(key, (-1, dim))[1], forward, inverse, "affine_coupling")


def coupling_masks(dim: int, n_layers: int) -> list[np.ndarray]:
    """Alternating checkerboard masks ``[1, 0, 1, ...]``, ``[0, 1, 0, ...]``, ... for ``n_layers`` couplings."""
    checks.at_least(2)("dim", dim)
    checks.count("n_layers", n_layers)
    return [((np.arange(dim) + layer) % 2 == 0).astype(np.float32) for layer in range(n_layers)]


def _fixed_point(step: Callable[[jax.Array], tuple[jax.Array, jax.Array]], start: jax.Array, n_passes: int,
                 unroll: int | bool) -> tuple[jax.Array, jax.Array]:
    """``n_passes`` applications of ``u, alpha = step(u)`` from ``start`` under ``lax.scan`` (one MADE pass each);
    returns the last ``u`` and the log-scales of the last pass (exact too once the inputs they read are)."""
    checks.at_least(0)("n_passes", n_passes)

    def body(carry, _):
        return step(carry[0]), None

    return jax.lax.scan(body, (start, jnp.zeros_like(start)), None, length=n_passes, unroll=unroll)[0]


def maf_sample_passes(model: MADE, params: Params, z: jax.Array, n_passes: int, unroll: int | bool = 1,
                      start: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    r"""MAF's sampling direction after ``n_passes`` sequential MADE passes of :math:`x \leftarrow z e^{\alpha(x)} +
    \mu(x)` from :math:`x =` ``start`` (default 0): ``(x, alpha)`` with the log-scales of the last pass. Exact (the
    solution of the triangular system) for ``n_passes >= D``: pass :math:`t` makes the dimension of degree :math:`t`
    exact, and :math:`\alpha_i` reads only :math:`x_{<i}`, which are exact one pass earlier."""
    def step(x):
        mu, alpha = _shift_log_scale(model, params, x)
        return z * jnp.exp(alpha) + mu, alpha

    return _fixed_point(step, jnp.zeros_like(z) if start is None else start, n_passes, unroll)


def iaf_density_passes(model: MADE, params: Params, x: jax.Array, n_passes: int, unroll: int | bool = 1,
                       start: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    r"""IAF's density direction after ``n_passes`` sequential MADE passes of :math:`z \leftarrow (x - \mu(z))
    e^{-\alpha(z)}` from :math:`z =` ``start`` (default 0): ``(z, alpha)``; exact for ``n_passes >= D``."""
    def step(z):
        mu, alpha = _shift_log_scale(model, params, z)
        return (x - mu) * jnp.exp(-alpha), alpha

    return _fixed_point(step, jnp.zeros_like(x) if start is None else start, n_passes, unroll)


def _shift_log_scale(model: MADE, params: Params, u: jax.Array) -> tuple[jax.Array, jax.Array]:
    """MADE's shift and soft-clamped log-scale (:data:`LOG_SCALE_BOUND`)."""
    mu, alpha = gaussian_outputs(model, params, u)
    return mu, soft_clamp(alpha)


def _made(dim: int, hidden: Sequence[int], order: ArrayLike | None, out_scale: float) -> MADE:
    return made(dim, hidden, n_outputs=2, order=order, out_scale=out_scale)


def maf(dim: int, hidden: Sequence[int] = (64,), *, order: ArrayLike | None = None, out_scale: float = 0.01,
        unroll: int | bool = 1) -> Bijector:
    r"""Masked autoregressive flow layer: :math:`x_i = z_i e^{\alpha_i(x_{<i})} + \mu_i(x_{<i})`.

    ``inverse`` (density) is one MADE pass, :math:`\log|\det J_{T^{-1}}| = -\sum_i \alpha_i(x)`; ``forward``
    (sampling) is :func:`maf_sample_passes` with ``D`` passes (``unroll`` is handed to ``lax.scan``: ``True`` unrolls
    the passes so that XLA's cost analysis counts every one).
    """
    model = _made(dim, hidden, order, out_scale)

    def forward(params: Params, z: jax.Array) -> tuple[jax.Array, jax.Array]:
        x, alpha = maf_sample_passes(model, params, z, dim, unroll)
        return x, jnp.sum(alpha, axis=-1)

    def inverse(params: Params, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        mu, alpha = _shift_log_scale(model, params, x)
        return (x - mu) * jnp.exp(-alpha), -jnp.sum(alpha, axis=-1)

    return bijector(dim, model.init, forward, inverse, "maf")


def iaf(dim: int, hidden: Sequence[int] = (64,), *, order: ArrayLike | None = None, out_scale: float = 0.01,
        unroll: int | bool = 1) -> Bijector:
    r"""Inverse autoregressive flow layer: :math:`x_i = z_i e^{\alpha_i(z_{<i})} + \mu_i(z_{<i})`.

    ``forward`` (sampling) is one MADE pass, :math:`\log|\det J_T| = \sum_i \alpha_i(z)`; ``inverse`` (density) is
    :func:`iaf_density_passes` with ``D`` passes.
    """
    model = _made(dim, hidden, order, out_scale)

    def forward(params: Params, z: jax.Array) -> tuple[jax.Array, jax.Array]:
        mu, alpha = _shift_log_scale(model, params, z)
        return z * jnp.exp(alpha) + mu, jnp.sum(alpha, axis=-1)

    def inverse(params: Params, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        z, alpha = iaf_density_passes(model, params, x, dim, unroll)
        return z, -jnp.sum(alpha, axis=-1)

    return bijector(dim, model.init, forward, inverse, "iaf")


def permute(perm: ArrayLike) -> Bijector:
    """The permutation ``x = z[..., perm]`` (log-determinant 0); e.g. reverse the order between MAF layers."""
    perm = np.asarray(perm, dtype=int)
    if perm.ndim != 1 or sorted(perm.tolist()) != list(range(perm.size)):
        raise checks.fail("perm", "a permutation of 0..D-1", perm)
    inv = np.argsort(perm)

    def forward(params: Params, z: jax.Array) -> tuple[jax.Array, jax.Array]:
        return z[..., perm], jnp.zeros(z.shape[:-1], z.dtype)

    def inverse(params: Params, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        return x[..., inv], jnp.zeros(x.shape[:-1], x.dtype)

    return bijector(perm.size, lambda key: (), forward, inverse, "permute")


def chain(*bijectors: Bijector) -> Bijector:
    """The composition ``T = T_K ∘ ... ∘ T_1`` (``forward`` applies ``bijectors`` in order); log-determinants add.

    Params are a tuple, one entry per bijector."""
    if not bijectors:
        raise checks.fail("bijectors", "at least one Bijector", bijectors)
    dims = {b.dim for b in bijectors}
    if len(dims) != 1:
        raise checks.fail("bijectors", "of one event size dim", [b.dim for b in bijectors])

    def init(key: jax.Array) -> Params:
        return tuple(b.init(jax.random.fold_in(key, i)) for i, b in enumerate(bijectors))

    def run(params: Params, u: jax.Array, order: Sequence[int], direction: str) -> tuple[jax.Array, jax.Array]:
        total = jnp.zeros(u.shape[:-1], u.dtype)
        for i in order:
            u, log_det = getattr(bijectors[i], direction)(params[i], u)
            total = total + log_det
        return u, total

    n = len(bijectors)
    return bijector(dims.pop(), init, lambda p, z: run(p, z, range(n), "forward"),
                    lambda p, x: run(p, x, range(n - 1, -1, -1), "inverse"), "chain")


def spherical() -> Bijector:
    r""":math:`(r, \theta, \varphi) \mapsto (r\cos\theta\cos\varphi, r\cos\theta\sin\varphi, r\sin\theta)`, latitude
    :math:`\theta \in (-\pi/2, \pi/2)`, :math:`\varphi \in (-\pi, \pi)`, :math:`r > 0`; :math:`\log|\det J| = 2\log r +
    \log\cos\theta` (the volume element :math:`r^2\cos\theta\, dr\, d\theta\, d\varphi`; :math:`\det J` itself is
    negative). No parameters."""

    def forward(params: Params, rtp: jax.Array) -> tuple[jax.Array, jax.Array]:
        r, theta, phi = rtp[..., 0], rtp[..., 1], rtp[..., 2]
        xyz = jnp.stack([r * jnp.cos(theta) * jnp.cos(phi), r * jnp.cos(theta) * jnp.sin(phi), r * jnp.sin(theta)],
                        axis=-1)
        return xyz, spherical_log_jacobian(rtp)

    def inverse(params: Params, xyz: jax.Array) -> tuple[jax.Array, jax.Array]:
        x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
        rtp = jnp.stack([jnp.sqrt(x**2 + y**2 + z**2), jnp.arctan2(z, jnp.hypot(x, y)), jnp.arctan2(y, x)], axis=-1)
        return rtp, -spherical_log_jacobian(rtp)

    return bijector(3, lambda key: (), forward, inverse, "spherical")


def spherical_log_jacobian(rtp: ArrayLike) -> jax.Array:
    r""":math:`\log(r^2\cos\theta)` for latitude :math:`\theta`: the log-Jacobian of :func:`spherical`."""
    rtp = jnp.asarray(rtp)
    return 2 * jnp.log(rtp[..., 0]) + jnp.log(jnp.cos(rtp[..., 1]))


def log_prob(flow: Bijector, params: Params, x: ArrayLike) -> jax.Array:
    r""":math:`\log p_x(x) = \log\mathcal N(T^{-1}(x); 0, I) + \log|\det J_{T^{-1}}(x)|` per example."""
    z, log_det = flow.inverse(params, x)
    return jnp.sum(jax.scipy.stats.norm.logpdf(z), axis=-1) + log_det


def sample(flow: Bijector, params: Params, key: jax.Array, n: int) -> jax.Array:
    """``n`` samples ``T(z)``, ``z ~ N(0, I_D)``: shape ``(n, D)``."""
    checks.count("n", n)
    return flow.forward(params, jax.random.normal(key, (n, flow.dim)))[0]


def gaussian_fit_log_prob(x_train_NxD: ArrayLike, x: ArrayLike) -> jax.Array:
    """The baseline: log-density at ``x`` of the one Gaussian fitted to ``x_train`` by maximum likelihood (sample
    mean and the 1/N covariance)."""
    x_train_NxD = jnp.asarray(x_train_NxD)
    mean = jnp.mean(x_train_NxD, axis=0)
    centred = x_train_NxD - mean[None]
    chol = jnp.linalg.cholesky(centred.T @ centred / x_train_NxD.shape[0])
    x = jnp.asarray(x)
    white = jax.scipy.linalg.solve_triangular(chol, (x - jnp.broadcast_to(mean, x.shape)).T, lower=True)
    return (-0.5 * jnp.sum(white**2, axis=0) - jnp.sum(jnp.log(jnp.diag(chol)))
            - 0.5 * mean.size * jnp.log(2 * jnp.pi))
