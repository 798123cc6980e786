"""Shared machinery of :mod:`dl_theory.predict`: output/kernel layouts and the two factorizations.

Layouts follow neural-tangents. Outputs ``y`` of shape ``(N, ..., K)`` are split into *trace axes* (default the last,
the logits) and the remaining *side axes*. A kernel on outputs lacks the trace axes (it stands for
:math:`\\Theta \\otimes I` along them) and stores its side axes *zipped*: for side shape ``(N, H)`` the kernel has shape
``(N1, N2, H1, H2)``. Internally every kernel is flattened to a matrix ``k_PxQ`` and every output to a matrix ``y_PxC``
(``P`` = product of side sizes, ``C`` = product of trace sizes), so the closed forms are plain matrix algebra.
"""

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.kernels.axes import canonicalize_axes, unzip_axes, zip_axes
from dl_theory.typing import Axes


class Layout(NamedTuple):
    """Outputs shaped like ``y_train`` split into trace axes (sorted, non-negative) and the other, *side*, axes."""

    trace_axes: tuple[int, ...]
    trace_shape: tuple[int, ...]
    side_shape: tuple[int, ...]

    def to_matrix(self, y: ArrayLike) -> jax.Array:
        """Outputs as ``y_PxC``: trace axes moved last and flattened into columns."""
        y = jnp.moveaxis(jnp.asarray(y), self.trace_axes, range(-len(self.trace_axes), 0))
        return y.reshape(-1, math.prod(self.trace_shape))

    def from_matrix(self, m: jax.Array, lead_shape: tuple[int, ...], side_shape: tuple[int, ...]) -> jax.Array:
        """Inverse of :meth:`to_matrix` with leading (time) axes: ``(*lead, P, C) -> (*lead, *outputs)``."""
        m = m.reshape(lead_shape + side_shape + self.trace_shape)
        return jnp.moveaxis(m, range(-len(self.trace_axes), 0), [len(lead_shape) + a for a in self.trace_axes])

    def output_shape(self, side_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of outputs with side axes ``side_shape`` (e.g. a test set's)."""
        shape = list(side_shape)
        for a, d in zip(self.trace_axes, self.trace_shape, strict=True):
            shape.insert(a, d)
        return tuple(shape)


def layout(y_train: jax.Array, trace_axes: Axes) -> Layout:
    """The :class:`Layout` of outputs shaped like ``y_train`` with ``trace_axes`` (checked)."""
    trace = canonicalize_axes(trace_axes, y_train.ndim, "trace_axes")
    side = tuple(d for a, d in enumerate(y_train.shape) if a not in trace)
    return Layout(trace, tuple(y_train.shape[a] for a in trace), side)


def make_2d(k: ArrayLike) -> jax.Array:
    """A zipped kernel ``(X1, X2, Y1, Y2, ...)`` as a matrix ``(X1*Y1*..., X2*Y2*...)``."""
    k = unzip_axes(jnp.asarray(k))
    return k.reshape(math.prod(k.shape[: k.ndim // 2]), -1)


def kernel_matrix(name: str, k: ArrayLike, side_shape: tuple[int, ...]) -> tuple[jax.Array, tuple[int, ...]]:
    """``(k_QxP, side shape of its first argument)`` for a zipped kernel whose second argument has ``side_shape``.

    Raises:
        ValueError: ``k`` is not ``zip(y.shape, y_train.shape)`` without the trace axes.
    """
    k = jnp.asarray(k)
    if k.ndim != 2 * len(side_shape) or k.shape[1::2] != side_shape:
        raise ValueError(f"{name} must be a kernel of shape zip(y.shape, y_train.shape) without trace_axes, i.e. "
                         f"with every odd axis equal to {side_shape}, got shape {k.shape}")
    return make_2d(k), k.shape[::2]


def from_2d(k: jax.Array, lead_shape: tuple[int, ...], side_shape: tuple[int, ...]) -> jax.Array:
    """Inverse of :func:`make_2d` for a square covariance with leading (time) axes."""
    return zip_axes(k.reshape(lead_shape + side_shape + side_shape), len(lead_shape))


def add_diagonal_regularizer(k_PxP: jax.Array, diag_reg: float, diag_reg_absolute_scale: bool) -> jax.Array:
    r"""``K + \epsilon I``, :math:`\epsilon` = ``diag_reg`` or ``diag_reg * tr(K) / P`` (relative scale)."""
    checks.nonnegative("diag_reg", diag_reg)
    n = k_PxP.shape[0]
    scale = diag_reg if diag_reg_absolute_scale else diag_reg * jnp.trace(k_PxP) / n
    return k_PxP + scale * jnp.eye(n, dtype=k_PxP.dtype)


def _check_conditioning(name: str, chol_PxP: jax.Array, k_PxP: jax.Array, diag_reg: float) -> None:
    """Raise if a Cholesky factor shows the kernel is singular to working precision.

    Every squared pivot ``L_ii^2`` is a Schur complement, bounded below by :math:`\\lambda_{min}(K)`; a
    non-finite factor or a pivot below ``P * eps * max K_ii`` means the solve is meaningless in this
    precision.
    """
    eps = float(jnp.finfo(k_PxP.dtype).eps)
    pivots = jnp.diagonal(chol_PxP) ** 2
    try:
        bad = bool(
            ~jnp.all(jnp.isfinite(chol_PxP))
            | (jnp.min(pivots) <= k_PxP.shape[0] * eps * jnp.max(jnp.abs(jnp.diagonal(k_PxP))))
        )
    except jax.errors.ConcretizationTypeError:  # traced kernel: the check cannot run
        return
    if bad:
        hint = " or enable float64 (jax.enable_x64)" if jnp.finfo(k_PxP.dtype).bits < 64 else ""
        raise ValueError(
            f"{name} is singular or ill-conditioned to working precision ({k_PxP.dtype}, "
            f"diag_reg={diag_reg}): its Cholesky factorization failed. Pass a positive `diag_reg` (e.g. "
            f"diag_reg=1e-4, relative to the mean diagonal unless diag_reg_absolute_scale=True){hint}."
        )


def cho_solver(
    k_PxP: jax.Array, diag_reg: float, diag_reg_absolute_scale: bool, name: str = "k_train_train"
) -> Callable[[jax.Array], jax.Array]:
    """``b -> (K + eps I)^{-1} b`` by a Cholesky factorization computed (and checked) once, eagerly."""
    with jax.ensure_compile_time_eval():
        k_reg = add_diagonal_regularizer(k_PxP, diag_reg, diag_reg_absolute_scale)
        factor = jax.scipy.linalg.cho_factor(k_reg, lower=True)
        _check_conditioning(name, factor[0], k_reg, diag_reg)
    return lambda b: jax.scipy.linalg.cho_solve(factor, b)


def eigh_reg(k_PxP: jax.Array, diag_reg: float, diag_reg_absolute_scale: bool) -> tuple[jax.Array, jax.Array]:
    """Eigenvalues and eigenvectors of the regularized kernel, computed eagerly."""
    with jax.ensure_compile_time_eval():
        return jnp.linalg.eigh(add_diagonal_regularizer(k_PxP, diag_reg, diag_reg_absolute_scale))


def expm1_decay(evals_P: jax.Array, t_T: jax.Array, normalization: int) -> jax.Array:
    r""":math:`e^{-\lambda t / n} - 1`, negative (round-off) eigenvalues clipped to 0; shape ``(T, P)``."""
    return jnp.expm1(-jnp.maximum(evals_P, 0.0)[None, :] * t_T[:, None] / normalization)


def inv_expm1_decay(evals_P: jax.Array, t_T: jax.Array, normalization: int) -> jax.Array:
    r""":math:`(e^{-\lambda t / n} - 1) / |\lambda|`, continued by its limit :math:`-t/n` at 0."""
    safe = jnp.where(evals_P == 0, 1.0, jnp.abs(evals_P))
    out = expm1_decay(evals_P, t_T, normalization) / safe[None, :]
    return jnp.where(evals_P[None, :] == 0, -t_T[:, None] / normalization, out)


def get_kernel(k: Any, g: str) -> jax.Array:
    """The ``g`` (``'nngp'`` / ``'ntk'``) part of a kernel given as an array, a namedtuple or a ``Kernel``."""
    if isinstance(k, (np.ndarray, jax.Array)):
        return jnp.asarray(k)
    value = getattr(k, g, None)
    if value is None:
        raise ValueError(
            f"kernel: expected an array or an object with a `{g}` attribute, got {type(k).__name__}."
        )
    return jnp.asarray(value)


def first_kernel(k: Any) -> jax.Array:
    """The first non-``None`` of ``k`` itself (an array), ``k.nngp``, ``k.ntk``."""
    if isinstance(k, (np.ndarray, jax.Array)):
        return jnp.asarray(k)
    for g in ("nngp", "ntk"):
        if getattr(k, g, None) is not None:
            return jnp.asarray(getattr(k, g))
    raise ValueError(f"kernel: expected an array or an object with `nngp`/`ntk`, got {type(k).__name__}.")
