r"""Binary KL divergence and its upper inverse.

The binary (Bernoulli) relative entropy

.. math:: \mathrm{kl}(q \,\|\, p) = q \ln\frac{q}{p} + (1-q) \ln\frac{1-q}{1-p}, \qquad 0 \ln 0 = 0,

is the divergence in the tightest PAC-Bayes bounds (Seeger, 2002; Maurer, 2004). Bounds are stated as
:math:`\mathrm{kl}(\hat R \| R) \le c` and turned into :math:`R \le \mathrm{kl}^{-1}(\hat R, c)` with the upper inverse

.. math:: \mathrm{kl}^{-1}(q, c) = \sup\{p \in [q, 1] : \mathrm{kl}(q \| p) \le c\}.

:func:`kl_inv_upper` computes it by bisection (always returning the upper end of the bracket, so the result is a valid
upper bound up to rounding), exact at the edges: :math:`q = 0` gives :math:`1 - e^{-c}`, :math:`q = 1` gives 1, and a
large :math:`c` gives 1. :func:`kl_inv_upper_diff` is the same value with gradients from the implicit-function theorem,
for training objectives (Pérez-Ortiz et al., 2021, "Tighter risk certificates for neural networks", JMLR 22).
"""

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory import checks


def binary_kl(q: ArrayLike, p: ArrayLike) -> jax.Array:
    r"""Bernoulli relative entropy :math:`\mathrm{kl}(q\|p)` (elementwise, broadcasting).

    Args:
      q: first Bernoulli mean(s) in [0, 1] (an empirical risk).
      p: second Bernoulli mean(s) in [0, 1] (a true risk).

    Returns:
      ``kl(q || p)`` in nats; ``+inf`` where ``p`` is 0 or 1 and ``q`` differs from it.
    """
    checks.unit_interval("q", q)
    checks.unit_interval("p", p)
    return _kl(*_as_float(q, p))


def _kl(q: jax.Array, p: jax.Array) -> jax.Array:
    # Near p = q the logs are log1p of the exact difference q - p over p (resp. 1 - p), which keeps kl's relative
    # precision where the naive form cancels; far from q the plain difference of logs is used.
    p_lo = jnp.where(q > 0, p, 1.0)  # placeholders keep the unused branches finite
    p_hi = jnp.where(q < 1, p, 0.0)
    log_q_over_p = jnp.where(
        jnp.abs(q - p_lo) < 0.5 * p_lo, jnp.log1p((q - p_lo) / p_lo), jnp.log(q) - jnp.log(p_lo)
    )
    log_1q_over_1p = jnp.where(
        jnp.abs(p_hi - q) < 0.5 * (1 - p_hi), jnp.log1p((p_hi - q) / (1 - p_hi)), jnp.log1p(-q) - jnp.log1p(-p_hi)
    )
    first = jnp.where(q > 0, q * log_q_over_p, 0.0)
    second = jnp.where(q < 1, (1 - q) * log_1q_over_1p, 0.0)
    return jnp.maximum(first + second, 0.0)


def _as_float(*xs: ArrayLike) -> tuple[jax.Array, ...]:
    dtype = jnp.result_type(*xs, float)
    return tuple(jnp.asarray(x, dtype) for x in xs)


def _default_iters(dtype: jnp.dtype) -> int:
    # Final bracket width 2**-k: full relative precision down to p ~ 1e-6 (float32) and 1e-12 (float64).
    return 64 if jnp.finfo(dtype).bits <= 32 else 128


@functools.partial(jax.jit, static_argnames="num_iters")
def _bisect_upper(q: jax.Array, c: jax.Array, num_iters: int) -> jax.Array:
    """Bisection on [q, 1] keeping kl(q||lo) <= c < kl(q||hi); returns hi (never below the true inverse)."""

    def step(_, bracket):
        lo, hi = bracket
        mid = lo + 0.5 * (hi - lo)
        above = _kl(q, mid) > c
        return jnp.where(above, lo, mid), jnp.where(above, mid, hi)

    q, c = jnp.broadcast_arrays(q, c)
    _, hi = jax.lax.fori_loop(0, num_iters, step, (q, jnp.ones_like(q)))
    return jnp.where(q == 0, -jnp.expm1(-c), jnp.where(c == 0, q, hi))


def kl_inv_upper(q: ArrayLike, c: ArrayLike, num_iters: int | None = None) -> jax.Array:
    r"""Upper inverse of the binary kl: :math:`\sup\{p \ge q : \mathrm{kl}(q\|p) \le c\}`.

    Args:
      q: empirical risk(s) in [0, 1].
      c: bound(s) on the kl, >= 0 (``inf`` allowed, giving 1).
      num_iters: bisection steps; default 64 in float32 and 128 in float64.

    Returns:
      The inverse, broadcast over ``q`` and ``c``. It is the upper end of the final bisection bracket, so
      ``kl(q || result) >= c`` unless the result is 1: it never understates a risk bound.

    Raises:
      ValueError: if ``q`` is outside [0, 1] or ``c`` is negative (checked when the values are concrete).
    """
    checks.unit_interval("q", q)
    checks.nonnegative("c", c)
    q, c = _as_float(q, c)
    return _bisect_upper(q, c, num_iters or _default_iters(q.dtype))


@jax.custom_jvp
def kl_inv_upper_diff(q: ArrayLike, c: ArrayLike) -> jax.Array:
    r""":func:`kl_inv_upper` with gradients, for minimizing the kl bound directly.

    Differentiating :math:`\mathrm{kl}(q\|p(q,c)) = c` (implicit-function theorem) gives

    .. math::
       \frac{\partial p}{\partial c} = \frac{p(1-p)}{p-q}, \qquad
       \frac{\partial p}{\partial q} = \frac{p(1-p)}{p-q}\,
         \Big(\ln\frac{p}{1-p} - \ln\frac{q}{1-q}\Big).

    Where the inverse saturates at 1 the derivatives are 0. At :math:`c = 0` (``p = q``) the slope in ``c`` is
    infinite; the tangent in ``q`` (which is 1 there) is used. ``q`` is clipped to ``[tiny, 1)`` inside the
    derivative, where the slope in ``q`` diverges like :math:`\ln q`.
    """
    q, c = _as_float(q, c)
    return _bisect_upper(q, c, _default_iters(q.dtype))


@kl_inv_upper_diff.defjvp
def _kl_inv_upper_diff_jvp(primals, tangents):
    q, c = _as_float(*primals)
    dq, dc = (jnp.asarray(t, q.dtype) for t in tangents)
    p = _bisect_upper(q, c, _default_iters(q.dtype))
    q, dq, dc = jnp.broadcast_arrays(q, dq, dc)
    tiny = jnp.finfo(q.dtype).tiny
    q_safe = jnp.clip(q, tiny, 1 - jnp.finfo(q.dtype).epsneg)
    interior = (p < 1) & (p > q)
    p_safe = jnp.where(interior, p, 0.5)
    gap = jnp.where(interior, p_safe - q_safe, 1.0)
    slope = p_safe * (1 - p_safe) / gap
    logit_gap = jnp.log(p_safe) - jnp.log1p(-p_safe) - jnp.log(q_safe) + jnp.log1p(-q_safe)
    dp_interior = slope * (dc + logit_gap * dq)
    dp = jnp.where(interior, dp_interior, jnp.where(p >= 1, 0.0, dq))
    return p, dp
