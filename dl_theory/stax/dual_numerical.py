r"""Dual activations by Gauss–Hermite quadrature, for activations without a closed form.

With nodes/weights :math:`(x_i, w_i)` of the physicists' Hermite rule
(:math:`\int e^{-x^2} g(x)\,dx \approx \sum_i w_i g(x_i)`) and the Cholesky factorisation of the covariance,
:math:`u = \sqrt{2q_{11}}\,x`, :math:`v = q_{12}\sqrt{2/q_{11}}\,x + \sqrt{2(q_{22} - q_{12}^2/q_{11})}\,y`,

.. math::
    \mathbb E[f(u) f(v)] \approx \frac{1}{\pi}\sum_{i,j} w_i w_j\, f(u(x_i))\, f(v(x_i, y_j)),

exact for polynomials of degree :math:`< 2\,\mathrm{deg}` in each variable (Abramowitz & Stegun 25.4.46). The NTK factor
is the same expectation with :math:`f'` in place of :math:`f` (Price's theorem). This is the scheme of neural-tangents'
``ElementwiseNumerical`` (Han et al. 2022, *Fast Neural Kernel Embeddings for General Activations*).
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.stax.dual_activations import DualFn, safe_sqrt

ScalarFn = Callable[[jax.Array], jax.Array]


def _as_float(q: ArrayLike) -> jax.Array:
    """``q`` as an array of a floating dtype (ints promote to the default float; float32 stays float32)."""
    return jnp.asarray(q) * 1.0


def _pair_expectation(f: ScalarFn, q12: jax.Array, q11: jax.Array, q22: jax.Array,
                      nodes_D: jax.Array, weights_D: jax.Array) -> jax.Array:
    """``E[f(u) f(v)]`` by the tensor-product rule, scanning the first node (memory ``deg * q12.size``)."""
    positive = q11 > 0
    q11_safe = jnp.where(positive, q11, 1.0)
    scale_u = safe_sqrt(2 * q11)
    slope_v = jnp.where(positive, q12 * jnp.sqrt(2 / q11_safe), 0.0)[None]
    scale_v = safe_sqrt(2 * (q22 - jnp.where(positive, q12**2 / q11_safe, 0.0)))[None]
    y_D = nodes_D.reshape((-1,) + (1,) * q12.ndim)

    def body(total: jax.Array, node_weight: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, None]:
        x, w = node_weight
        inner = jnp.tensordot(weights_D, f(slope_v * x + scale_v * y_D), axes=1)
        return total + w * f(scale_u * x) * inner, None

    total, _ = lax.scan(body, jnp.zeros_like(q12), (nodes_D, weights_D))
    return total / jnp.pi


def numerical(
    fn: ScalarFn, deg: int, df: ScalarFn | None = None
) -> tuple[DualFn, Callable[[ArrayLike], jax.Array]]:
    r"""Quadrature dual of an elementwise activation ``fn`` with ``deg`` nodes per dimension.

    Args:
      fn: the activation, applied elementwise to arrays.
      deg: number of Gauss–Hermite nodes per dimension, at least 1; cost and memory grow as ``deg**2``.
      df: derivative of ``fn``; ``jnp.vectorize(jax.grad(fn))`` when ``None``.

    Returns:
      ``(dual, diag)``: ``dual(q12, q11, q22) -> (t, t_dot)`` by the 2-D rule, and ``diag(q) -> E[fn(u)^2]``
      for :math:`u \sim \mathcal N(0, q)` by the 1-D rule :math:`\pi^{-1/2}\sum_i w_i f(\sqrt{2q}\,x_i)^2`.
    """
    deg = checks.count("deg", deg)
    nodes, weights = np.polynomial.hermite.hermgauss(deg)
    derivative = jnp.vectorize(jax.grad(fn)) if df is None else df

    def rule(q: jax.Array) -> tuple[jax.Array, jax.Array]:
        return jnp.asarray(nodes, dtype=q.dtype), jnp.asarray(weights, dtype=q.dtype)

    def dual(q12: ArrayLike, q11: ArrayLike, q22: ArrayLike) -> tuple[jax.Array, jax.Array]:
        q12, q11, q22 = jnp.broadcast_arrays(*(_as_float(q) for q in (q12, q11, q22)))
        nodes_D, weights_D = rule(q12)
        return (_pair_expectation(fn, q12, q11, q22, nodes_D, weights_D),
                _pair_expectation(derivative, q12, q11, q22, nodes_D, weights_D))

    def diag(q: ArrayLike) -> jax.Array:
        q = _as_float(q)
        nodes_D, weights_D = rule(q)
        x_D = nodes_D.reshape((-1,) + (1,) * q.ndim)
        return jnp.tensordot(weights_D, fn(safe_sqrt(2 * q)[None] * x_D) ** 2, axes=1) / jnp.sqrt(jnp.pi)

    return dual, diag
