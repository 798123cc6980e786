r"""Elementwise nonlinearities with closed-form infinite-width kernels (neural-tangents' ``stax`` semantics).

A nonlinearity :math:`\phi` after an affine Gaussian layer sees, at every pair of points/positions, a centred bivariate
Gaussian :math:`(u, v)` with variances :math:`q_{11}, q_{22}` and covariance :math:`q_{12}`. Its output covariance is
the dual activation :math:`T(q_{12}) = \mathbb E[\phi(u)\phi(v)]` and its NTK is :math:`\dot T(q_{12})\,\Theta` with
:math:`\dot T = \mathbb E[\phi'(u)\phi'(v)]` (Lee et al. 2018; Jacot et al. 2018; Novak et al. 2020, *Neural Tangents*,
arXiv:1912.02803). The maps themselves, with their derivations and references, are in
:mod:`dl_theory.stax.dual_activations` and :mod:`dl_theory.stax.dual_polynomial`.

Every layer here returns ``(init_fn, apply_fn, kernel_fn)``; ``init_fn`` draws no parameters (``()``) and keeps the
shape, ``apply_fn`` applies :math:`\phi` elementwise. ``kernel_fn`` requires a Gaussian input (an affine layer such as
``Dense``/``Conv`` just before; otherwise ``ValueError``) and is position-wise, so it works with ``diagonal_spatial``
and ``diagonal_batch`` either way.
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory.stax import dual_activations as duals
from dl_theory.stax.dual_activations import DualFn
from dl_theory.stax.kernel import Kernel, dual_inputs
from dl_theory.stax.layer import SAME, layer, with_rule

__all__ = [
    "ABRelu", "Abs", "Cos", "Erf", "Exp", "Gaussian", "Gelu", "LeakyRelu", "Rbf", "Relu", "Sigmoid_like",
    "Sign", "Sin", "elementwise_triple",
]

Triple = tuple[Callable, Callable, Callable]


def elementwise_triple(
    name: str,
    fn: Callable[[jax.Array], jax.Array] | None,
    dual: DualFn | None,
    diag: Callable[[jax.Array], jax.Array] | None = None,
) -> Triple:
    r"""``(init_fn, apply_fn, kfn)`` of a parameter-free elementwise layer with dual map ``dual``.

    ``kfn`` maps ``nngp -> T(nngp; q11, q22)``, ``ntk -> T'(nngp; q11, q22) * ntk`` and each own covariance
    ``cov -> T(cov; q, q')`` with the variances of its two arguments, self-correlations exactly 1
    (:func:`~dl_theory.stax.kernel.dual_inputs`).
    When ``cov1`` holds only variances (``diagonal_batch`` and ``diagonal_spatial``) the map is
    :math:`T(q; q, q) = \mathbb E\phi(u)^2`, or ``diag(q)`` when given (a cheaper rule for the same value).

    Args:
      name: layer name used in error messages.
      fn: the activation for ``apply_fn``; ``None`` makes ``apply_fn`` raise ``NotImplementedError``.
      dual: ``dual(q12, q11, q22) -> (T, T')``; ``None`` makes ``kernel_fn`` raise ``NotImplementedError``.
      diag: optional ``q -> E[phi(u)^2]`` for ``u ~ N(0, q)``.
    """
    init_fn = lambda key, input_shape: (input_shape, ())

    def apply_fn(params: Any, inputs: ArrayLike, **kwargs: Any) -> jax.Array:
        if fn is None:
            raise NotImplementedError(f"`{name}` was built without `fn`; it has no finite-width apply_fn.")
        return fn(jnp.asarray(inputs))

    def own_cov(args: tuple[jax.Array, jax.Array, jax.Array] | None, k: Kernel) -> jax.Array | None:
        if args is None:
            return None
        if diag is not None and k.diagonal_batch and k.diagonal_spatial:
            return diag(args[0])
        return dual(*args)[0]

    def kfn(k: Kernel, **kwargs: Any) -> Kernel:
        if dual is None:
            raise NotImplementedError(f"`{name}` was built without `nngp_fn`; it has no kernel_fn.")
        if not isinstance(k, Kernel):
            raise TypeError(f"`{name}` takes a single input, got {type(k).__name__}.")
        if not k.is_gaussian:
            raise ValueError(
                f"The input to `{name}` must be Gaussian: put an affine layer with random weights (e.g. Dense, "
                "Conv) before the nonlinearity."
            )
        args = dual_inputs(k)
        nngp, t_dot = dual(*args.nngp)
        return k.replace(
            nngp=nngp,
            ntk=None if k.ntk is None else t_dot * k.ntk,
            cov1=own_cov(args.cov1, k),
            cov2=own_cov(args.cov2, k),
            is_gaussian=False,
        )

    return init_fn, apply_fn, with_rule(kfn, SAME)


@layer
def ABRelu(a: float, b: float, do_stabilize: bool = False) -> Triple:
    r""":math:`\phi(x) = a\min(x, 0) + b\max(x, 0)`; kernel :func:`~dl_theory.stax.dual_activations.ab_relu`.

    Args:
      a: slope for :math:`x < 0`.
      b: slope for :math:`x > 0`.
      do_stabilize: divide the covariances by :math:`\max|K|` before the map and multiply back after. The map
        is positively homogeneous (:math:`T(cq) = cT(q)`), so this changes nothing mathematically; it guards
        against overflow/underflow in very deep networks.
    """

    def dual(q12: jax.Array, q11: jax.Array, q22: jax.Array) -> tuple[jax.Array, jax.Array]:
        scale = jnp.maximum(jnp.max(jnp.abs(q12)), 1e-12) if do_stabilize else 1.0
        t, t_dot = duals.ab_relu(q12 / scale, q11 / scale, q22 / scale, a=a, b=b)
        return t * scale, t_dot

    fn = lambda x: a * jnp.minimum(x, 0) + b * jnp.maximum(x, 0)
    return elementwise_triple("ABRelu", fn, dual)


def Relu(do_stabilize: bool = False) -> Triple:
    r"""ReLU, :math:`\max(x, 0)`: ``ABRelu(0, 1)``; NNGP is the degree-1 arc-cosine kernel (Cho & Saul 2009)."""
    return ABRelu(0.0, 1.0, do_stabilize)


def LeakyRelu(alpha: float, do_stabilize: bool = False) -> Triple:
    r"""Leaky ReLU, :math:`\alpha\min(x, 0) + \max(x, 0)`: ``ABRelu(alpha, 1)``."""
    return ABRelu(alpha, 1.0, do_stabilize)


def Abs(do_stabilize: bool = False) -> Triple:
    r"""Absolute value :math:`|x|`: ``ABRelu(-1, 1)``."""
    return ABRelu(-1.0, 1.0, do_stabilize)


@layer
def Sign() -> Triple:
    r""":math:`\operatorname{sign}(x)`; NNGP :math:`1 - 2\theta/\pi`, NTK factor 0 (autodiff sees no delta).

    ``cov1``/``cov2`` go through the same map. (neural-tangents 0.6.5 instead sets every nonzero entry of them
    to 1, which is right only on their diagonal: off-diagonal entries of a full ``cov1`` then disagree with its
    own ``nngp`` for ``x2 = None``.)
    """
    return elementwise_triple("Sign", jnp.sign, duals.sign)


@layer
def Erf(a: float = 1.0, b: float = 1.0, c: float = 0.0) -> Triple:
    r""":math:`\phi(x) = a\,\mathrm{erf}(bx) + c`; Williams' (1997) arcsine kernel.

    Args:
      a: output scale.
      b: input scale.
      c: output shift.
    """
    fn = lambda x: a * jax.scipy.special.erf(b * x) + c
    return elementwise_triple("Erf", fn, lambda *q: duals.erf(*q, a=a, b=b, c=c))


def Sigmoid_like() -> Triple:
    r"""A sigmoid-shaped :math:`\tfrac12\mathrm{erf}(x / 2.4020563531719796) + \tfrac12` (``Erf(0.5, 1/2.40.., 0.5)``).

    The constant minimises the squared distance to the logistic sigmoid on :math:`[-5, 5]` (neural-tangents).
    """
    return Erf(a=0.5, b=1 / 2.4020563531719796, c=0.5)


@layer
def Gelu(approximate: bool = False) -> Triple:
    r"""GELU :math:`x\Phi(x)`; NNGP of Tsuchida et al. (2020, arXiv:2002.08517).

    Args:
      approximate: ``apply_fn`` uses the ``tanh`` approximation (:func:`jax.nn.gelu`); ``kernel_fn`` is always
        the exact GELU's.
    """
    fn = lambda x: jax.nn.gelu(x, approximate=approximate)
    return elementwise_triple("Gelu", fn, duals.gelu)


@layer
def Sin(a: float = 1.0, b: float = 1.0, c: float = 0.0) -> Triple:
    r""":math:`\phi(x) = a\sin(bx + c)`.

    Args:
      a: output scale.
      b: input scale.
      c: input phase shift.
    """
    fn = lambda x: a * jnp.sin(b * x + c)
    return elementwise_triple("Sin", fn, lambda *q: duals.sin(*q, a=a, b=b, c=c))


def Cos(a: float = 1.0, b: float = 1.0, c: float = 0.0) -> Triple:
    r""":math:`\phi(x) = a\cos(bx + c)`: ``Sin(a, b, c + pi/2)``."""
    return Sin(a=a, b=b, c=c + jnp.pi / 2)


@layer
def Rbf(gamma: float = 1.0) -> Triple:
    r""":math:`\phi(x) = \sqrt2\sin(\sqrt{2\gamma}x + \pi/4)`, whose NNGP is :math:`e^{-\gamma(q_{11}+q_{22}-2q_{12})}`.

    After ``Dense`` on inputs of dimension :math:`d` this is the RBF kernel :math:`e^{-\gamma\|x-x'\|^2/d}`.

    Args:
      gamma: inverse squared length-scale, :math:`\gamma = 1/(2\ell^2)`.
    """
    fn = lambda x: jnp.sqrt(2.0) * jnp.sin(jnp.sqrt(2.0 * gamma) * x + jnp.pi / 4)
    return elementwise_triple("Rbf", fn, lambda *q: duals.rbf(*q, gamma=gamma))


@layer
def Exp(a: float = 1.0, b: float = 1.0) -> Triple:
    r""":math:`\phi(x) = a e^{bx}`."""
    fn = lambda x: a * jnp.exp(b * x)
    return elementwise_triple("Exp", fn, lambda *q: duals.exp(*q, a=a, b=b))


@layer
def Gaussian(a: float = 1.0, b: float = -1.0) -> Triple:
    r""":math:`\phi(x) = a e^{bx^2}` (the kernel is finite while :math:`1 - 4bq > 0`, always for ``b < 0``)."""
    fn = lambda x: a * jnp.exp(b * x**2)
    return elementwise_triple("Gaussian", fn, lambda *q: duals.gaussian(*q, a=a, b=b))
