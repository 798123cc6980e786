r"""Polynomial-type nonlinearities and user-defined ones: ``Monomial``, ``RectifiedMonomial``, ``Polynomial``,
``Hermite``, ``Elementwise`` (user NNGP map) and ``ElementwiseNumerical`` (Gauss–Hermite quadrature).

Same conventions as :mod:`dl_theory.stax.elementwise` (neural-tangents' public semantics); the kernel maps are in
:mod:`dl_theory.stax.dual_polynomial` and :mod:`dl_theory.stax.dual_numerical`. For ``Elementwise`` and
``ElementwiseNumerical`` see Han et al. (2022), *Fast Neural Kernel Embeddings for General Activations*.
"""

import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.stax import dual_activations as duals
from dl_theory.stax import dual_numerical, dual_polynomial
from dl_theory.stax.elementwise import Triple, elementwise_triple
from dl_theory.stax.layer import layer

__all__ = ["Elementwise", "ElementwiseNumerical", "Hermite", "Monomial", "Polynomial", "RectifiedMonomial"]

NngpFn = Callable[[float, float, float], float]


def _check_callable(value: object, name: str, optional: bool = True) -> None:
    if (value is not None or not optional) and not callable(value):
        raise TypeError(f"`{name}` must be a callable{' or None' if optional else ''}, got {type(value).__name__}.")


def _polyval(coef: Sequence[float], x: jax.Array) -> jax.Array:
    """``sum_k coef[k] x^k`` in ``x``'s floating dtype (integers promote to the default float)."""
    dtype = jnp.result_type(x.dtype, float)
    return jnp.polyval(jnp.asarray(coef[::-1], dtype=dtype), x.astype(dtype)) if len(coef) else jnp.zeros_like(x)


@layer
def Polynomial(coef: Sequence[float]) -> Triple:
    r""":math:`\phi(x) = \sum_k c_k x^k` (``coef[k]`` multiplies :math:`x^k`, as ``numpy.polynomial``).

    Args:
      coef: coefficients in increasing degree (empty: the zero function).
    """
    coef = [float(c) for c in coef]
    fn = lambda x: _polyval(coef, x)
    return elementwise_triple("Polynomial", fn, dual_polynomial.polynomial(coef))


@layer
def Monomial(degree: int) -> Triple:
    r""":math:`\phi(x) = x^n`; NNGP :math:`\mathbb E[u^n v^n]` (Isserlis), e.g. :math:`2q_{12}^2 + q_{11}q_{22}`.

    Args:
      degree: the power :math:`n \ge 0` (neural-tangents allows ``0..5``; any non-negative integer works here).
    """
    degree = checks.at_least(0)("degree", degree)
    fn = lambda x: x**degree
    return elementwise_triple("Monomial", fn, dual_polynomial.polynomial([0.0] * degree + [1.0]))


@layer
def RectifiedMonomial(degree: int) -> Triple:
    r""":math:`\phi(x) = \mathbb 1[x \ge 0]\, x^n`; NNGP is the arc-cosine kernel of degree :math:`n` (Cho & Saul).

    Unlike neural-tangents 0.6.5, whose autodiff-based formula gives NaN where :math:`\theta = 0` (the diagonal
    of ``cov1``, and of ``nngp`` when ``x2 is None``), the closed form here is finite there:
    :math:`T = (2n-1)!!\,q^n/2`.

    Args:
      degree: the power :math:`n \ge 0` (``0``: a step function, whose NTK factor is 0).
    """
    degree = checks.at_least(0)("degree", degree)
    fn = lambda x: (x >= 0) * x**degree
    return elementwise_triple("RectifiedMonomial", fn, dual_polynomial.rectified_monomial(degree))


@layer
def Hermite(degree: int) -> Triple:
    r"""Normalised Hermite polynomial :math:`h_n(x) = \mathrm{He}_n(x)/\sqrt{n!}`, NNGP :math:`q_{12}^n`.

    As in neural-tangents, the kernel assumes unit-variance pre-activations (e.g. after ``LayerNorm``); then
    :math:`\mathbb E[h_n(u)h_n(v)] = q_{12}^n` by Mehler's formula. For other variances the map is not
    :math:`\mathbb E[h_n(u)h_n(v)]`.

    Args:
      degree: :math:`n \ge 0`.
    """
    degree = checks.at_least(0)("degree", degree)
    coef = np.polynomial.hermite_e.herme2poly([0] * degree + [1]) / math.sqrt(math.factorial(degree))
    fn = lambda x: _polyval(coef, x)
    return elementwise_triple("Hermite", fn, lambda *q: duals.hermite(*q, degree=degree))


@layer
def Elementwise(
    fn: Callable[[float], float] | None = None,
    nngp_fn: NngpFn | None = None,
    d_nngp_fn: NngpFn | None = None,
) -> Triple:
    r"""Elementwise ``fn`` with a user-supplied dual ``nngp_fn``; the NTK comes from its derivative.

    ``nngp_fn(cov12, var1, var2)`` must return :math:`\mathbb E[\phi(u)\phi(v)]` for a centred bivariate Gaussian
    with variances ``var1``, ``var2`` and covariance ``cov12`` (scalars; it is vectorised). The NTK factor is
    ``d_nngp_fn``, :math:`\mathbb E[\phi'(u)\phi'(v)] = \partial\,\mathrm{nngp\_fn}/\partial\,\mathrm{cov12}`
    by Price's theorem, or that derivative by ``jax.grad`` when ``d_nngp_fn`` is ``None``.

    Args:
      fn: the activation for ``apply_fn`` (``None``: ``apply_fn`` raises ``NotImplementedError``).
      nngp_fn: the dual map (``None``: ``kernel_fn`` raises ``NotImplementedError``).
      d_nngp_fn: optional derivative of ``nngp_fn`` with respect to ``cov12``.

    Raises:
      ValueError: if both ``fn`` and ``nngp_fn`` are ``None``.
    """
    for value, name in ((fn, "fn"), (nngp_fn, "nngp_fn"), (d_nngp_fn, "d_nngp_fn")):
        _check_callable(value, name)
    if fn is None and nngp_fn is None:
        raise ValueError("Elementwise needs `fn` (finite width) or `nngp_fn` (infinite width); got neither.")
    dual = None
    if nngp_fn is not None:
        t_fn = jnp.vectorize(nngp_fn)
        t_dot_fn = jnp.vectorize(jax.grad(nngp_fn) if d_nngp_fn is None else d_nngp_fn)

        def dual(q12: ArrayLike, q11: ArrayLike, q22: ArrayLike) -> tuple[jax.Array, jax.Array]:
            return t_fn(q12, q11, q22), t_dot_fn(q12, q11, q22)

    return elementwise_triple("Elementwise", fn, dual)


@layer
def ElementwiseNumerical(
    fn: Callable[[jax.Array], jax.Array], deg: int, df: Callable[[jax.Array], jax.Array] | None = None
) -> Triple:
    r"""Elementwise ``fn`` with its kernel by ``deg``-point Gauss–Hermite quadrature in each dimension.

    Accurate for smooth activations (``deg=25`` is a good start); for kinks (ReLU, Abs) prefer the closed
    forms or Monte Carlo. Cost and memory grow as ``deg**2``.

    Args:
      fn: the activation (applied elementwise to arrays).
      deg: number of quadrature nodes per dimension, at least 1.
      df: derivative of ``fn`` for the NTK; ``jnp.vectorize(jax.grad(fn))`` when ``None``.
    """
    _check_callable(fn, "fn", optional=False)
    _check_callable(df, "df")
    dual, diag = dual_numerical.numerical(fn, deg, df)
    return elementwise_triple("ElementwiseNumerical", fn, dual, diag)
