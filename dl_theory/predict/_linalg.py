"""Shared machinery of :mod:`dl_theory.predict`: output/kernel layouts and the two factorizations.

Layouts follow neural-tangents. Outputs ``y`` of shape ``(N, ..., K)`` are split into *trace axes* (default
the last, the logits) and the remaining *non-trace axes*. A kernel on outputs lacks the trace axes (it stands
for :math:`\\Theta \\otimes I` along them) and stores its non-trace axes *zipped*: for non-trace shape ``(N,
H)`` the kernel has shape ``(N1, N2, H1, H2)``. Internally every kernel is flattened to a matrix ``k_PxQ`` and
every output to a matrix ``y_PxC`` (``P`` = product of non-trace sizes, ``C`` = product of trace sizes), so
the closed forms are plain matrix algebra.
"""

from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

Axes = int | Sequence[int]

_NAMEDTUPLES: dict[tuple[str, tuple[str, ...]], Any] = {}


def canonicalize_trace_axes(trace_axes: Axes, ndim: int) -> tuple[int, ...]:
    """Sorted, unique trace axes as negative indices into an output of rank ``ndim``."""
    axes = [trace_axes] if isinstance(trace_axes, int) else list(trace_axes)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"trace_axes: expected axes of an output of rank {ndim}, got {trace_axes}.")
    return tuple(sorted({a % ndim - ndim for a in axes}))


def zip_axes(x: jax.Array, start: int = 0) -> jax.Array:
    """``[..., X, Y, X', Y'] -> [..., X, X', Y, Y']`` for the axes from ``start`` on."""
    half, ragged = divmod(x.ndim - start, 2)
    if ragged:
        raise ValueError(f"Need an even number of axes to zip, got {x.ndim - start}.")
    return jnp.moveaxis(x, range(x.ndim - half, x.ndim), range(start + 1, x.ndim, 2))


def make_2d(k: ArrayLike) -> jax.Array:
    """A zipped kernel ``(X1, X2, Y1, Y2, ...)`` as a matrix ``(X1*Y1*..., X2*Y2*...)``."""
    k = jnp.asarray(k)
    if k.ndim % 2:
        raise ValueError(f"kernel: expected an even rank (zipped pairs of axes), got shape {k.shape}.")
    k = jnp.moveaxis(k, range(1, k.ndim, 2), range(k.ndim // 2, k.ndim))
    return k.reshape(int(np.prod(k.shape[: k.ndim // 2])), -1)


def to_matrix(y: ArrayLike, trace_axes: tuple[int, ...]) -> jax.Array:
    """Outputs as ``y_PxC``: trace axes moved last and flattened into columns."""
    y = jnp.asarray(y)
    y = jnp.moveaxis(y, trace_axes, range(-len(trace_axes), 0))
    return y.reshape(-1, int(np.prod(y.shape[y.ndim - len(trace_axes) :])))


def from_matrix(
    m: jax.Array,
    lead_shape: tuple[int, ...],
    side_shape: tuple[int, ...],
    trace_axes: tuple[int, ...],
    trace_shape: tuple[int, ...],
) -> jax.Array:
    """Inverse of :func:`to_matrix` with leading (time) axes: ``(*lead, P, C) -> (*lead, *outputs)``."""
    m = m.reshape(lead_shape + side_shape + trace_shape)
    return jnp.moveaxis(m, range(-len(trace_axes), 0), trace_axes)


def output_shape(
    side_shape: tuple[int, ...], trace_axes: tuple[int, ...], trace_shape: tuple[int, ...]
) -> tuple:
    """Shape of outputs with non-trace axes ``side_shape`` and (negative) trace axes of ``trace_shape``."""
    shape = list(side_shape)
    ndim = len(side_shape) + len(trace_shape)
    for a, d in zip(trace_axes, trace_shape, strict=True):
        shape.insert(a + ndim, d)
    return tuple(shape)


def from_2d(k: jax.Array, lead_shape: tuple[int, ...], side_shape: tuple[int, ...]) -> jax.Array:
    """Inverse of :func:`make_2d` for a square covariance with leading (time) axes."""
    return zip_axes(k.reshape(lead_shape + side_shape + side_shape), len(lead_shape))


def add_diagonal_regularizer(k_PxP: jax.Array, diag_reg: float, diag_reg_absolute_scale: bool) -> jax.Array:
    r"""``K + \epsilon I``, :math:`\epsilon` = ``diag_reg`` or ``diag_reg * tr(K) / P`` (relative scale)."""
    if diag_reg < 0:
        raise ValueError(f"diag_reg: expected a non-negative float, got {diag_reg}.")
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


def canonicalize_get(
    get: str | Sequence[str] | None, default: tuple[str, ...]
) -> tuple[bool, tuple[str, ...]]:
    """``(single, names)``: whether ``get`` was one string, and the lower-cased unique names."""
    if get is None:
        return False, default
    single = isinstance(get, str)
    names = (get,) if single else tuple(get)
    if not names:
        raise ValueError("get: expected a non-empty string or tuple of strings, got ().")
    names = tuple(g.lower() for g in names)
    if len(set(names)) < len(names):
        raise ValueError(f"get: all entries must be unique, got {get}.")
    return single, names


def pack_output(name: str, out: dict[str, Any], single: bool) -> Any:
    """A single value when ``get`` was a string, else a namedtuple ``name`` with one field per entry."""
    if single:
        return next(iter(out.values()))
    key = (name, tuple(out))
    if key not in _NAMEDTUPLES:
        _NAMEDTUPLES[key] = namedtuple(name, tuple(out))
    return _NAMEDTUPLES[key](*out.values())


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
