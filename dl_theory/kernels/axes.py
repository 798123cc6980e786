"""Output-axis layout of empirical kernels: ``trace_axes`` and ``diagonal_axes``.

An empirical kernel pairs two outputs :math:`y^1 = f(x_1)` and :math:`y^2 = f(x_2)` of equal rank :math:`d`
(neural-tangents convention, Novak et al., 2020, "Neural Tangents", ICLR). Each output axis :math:`i` is either

* traced (:math:`i \\in T`): the pair of axes is summed along its diagonal and divided by its size,
* diagonal (:math:`i \\in D`): only the diagonal of the pair is kept, so the axis appears once,
* free: the axis of :math:`y^1` and the axis of :math:`y^2` both appear, next to each other.

With an optional trailing "parameter" block :math:`p` shared by both operands (a Jacobian), the kernel is

.. math::
    K[\\dots, a_i, b_i, \\dots, c_j, \\dots]
      = \\frac{1}{\\prod_{t \\in T} n_t} \\sum_{t \\in T} \\sum_p y^1[\\dots, a_i, \\dots, c_j, \\dots, t, \\dots; p]\\,
        y^2[\\dots, b_i, \\dots, c_j, \\dots, t, \\dots; p],

with the output axes in their original order (:math:`i` free, :math:`j \\in D`). For ``trace_axes=(-1,)`` and outputs of
shape ``(N, C)`` this is the usual ``(N1, N2)`` kernel averaged over the ``C`` logits.

The pairs of free axes are *zipped*, ``(X, X', Y, Y')``, as in every kernel of the package (analytic ``stax`` kernels,
predictions); :func:`zip_axes` and :func:`unzip_axes` convert from and to the ``(X, Y, X', Y')`` order of an outer
product, and :func:`canonicalize_axes` is the one place where user axes are checked and made non-negative.
"""

import math
import operator
from collections.abc import Sequence

import jax
import jax.numpy as jnp

from dl_theory import checks
from dl_theory.typing import Axes

__all__ = [
    "Axes", "canonicalize_axes", "contract", "kernel_shape", "labels", "trace_and_diagonal", "unzip_axes",
    "validate_axes", "zip_axes",
]


def canonicalize_axes(axes: Axes, ndim: int, name: str) -> tuple[int, ...]:
    """Validate ``axes`` against an output of rank ``ndim``; return them sorted and non-negative.

    This is the one convention of the package: axes may be given negative (counting from the end) and come back as
    indices ``0 <= a < ndim``.

    Raises:
        TypeError: ``axes`` is not an int or a sequence of ints.
        ValueError: an axis is out of range or repeated.
    """
    seq = (axes,) if isinstance(axes, int) else axes
    try:
        seq = tuple(operator.index(a) for a in seq)
    except TypeError as err:
        raise TypeError(f"{name} must be an int or a sequence of ints, got {axes!r}") from err
    if any(not -ndim <= a < ndim for a in seq):
        raise checks.fail(name, f"axes of an output of rank {ndim} (each in [{-ndim}, {ndim}))", seq)
    out = [a % ndim for a in seq]
    if len(set(out)) != len(out):
        raise checks.fail(name, f"distinct axes of an output of rank {ndim}", seq)
    return tuple(sorted(out))


def zip_axes(x: jax.Array, start: int = 0) -> jax.Array:
    """``(..., X, Y, X', Y') -> (..., X, X', Y, Y')`` for the (even number of) axes from ``start`` on."""
    n = _half(x, start)
    order = [a for i in range(n) for a in (start + i, start + n + i)]
    return jnp.transpose(x, tuple(range(start)) + tuple(order))


def unzip_axes(x: jax.Array, start: int = 0) -> jax.Array:
    """Inverse of :func:`zip_axes`: ``(..., X, X', Y, Y') -> (..., X, Y, X', Y')``."""
    n = _half(x, start)
    order = [start + 2 * i for i in range(n)] + [start + 2 * i + 1 for i in range(n)]
    return jnp.transpose(x, tuple(range(start)) + tuple(order))


def _half(x: jax.Array, start: int) -> int:
    half, ragged = divmod(x.ndim - start, 2)
    if ragged or half < 0:
        raise checks.fail(f"the number of axes to zip (shape {x.shape} from axis {start})", "even and >= 0",
                          x.ndim - start)
    return half


def validate_axes(
    trace_axes: Axes, diagonal_axes: Axes, shape1: Sequence[int], shape2: Sequence[int]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Check ``trace_axes`` / ``diagonal_axes`` against output shapes ``shape1`` (of ``f(x1)``), ``shape2``.

    Returns:
        The canonical (sorted, non-negative) trace and diagonal axes.

    Raises:
        ValueError: ranks differ, axes out of range, repeated or overlapping, or ``shape1`` and ``shape2``
            differ on a traced or diagonal axis.
    """
    shape1, shape2 = tuple(shape1), tuple(shape2)
    if len(shape1) != len(shape2):
        raise ValueError(f"f(x1) and f(x2) must be of the same rank, got shapes {shape1} and {shape2}")
    ndim = len(shape1)
    trace = canonicalize_axes(trace_axes, ndim, "trace_axes")
    diag = canonicalize_axes(diagonal_axes, ndim, "diagonal_axes")
    overlap = sorted(set(trace) & set(diag))
    if overlap:
        raise ValueError(f"trace_axes and diagonal_axes must be disjoint axes of an output of rank {ndim}, got "
                         f"{trace} and {diag}, which share {overlap}")
    for i in trace + diag:
        if shape1[i] != shape2[i]:
            kind = "traced" if i in trace else "diagonal"
            raise ValueError(f"f(x1) and f(x2) must be of the same size on {kind} axis {i}, got shapes {shape1} "
                             f"and {shape2}")
    return trace, diag


def kernel_shape(
    shape1: Sequence[int], shape2: Sequence[int], trace: Sequence[int], diag: Sequence[int]
) -> tuple[int, ...]:
    """Shape of the kernel of outputs of shapes ``shape1`` and ``shape2`` (canonical axes)."""
    out: list[int] = []
    for i, (n1, n2) in enumerate(zip(shape1, shape2, strict=True)):
        if i in trace:
            continue
        out += [n1] if i in diag else [n1, n2]
    return tuple(out)


def labels(
    ndim: int, n_shared: int, trace: Sequence[int], diag: Sequence[int]
) -> tuple[list[int], list[int], list[int]]:
    """Einsum sublists for (operand 1, operand 2, result); ``n_shared`` trailing axes are summed."""
    shared = list(range(2 * ndim, 2 * ndim + n_shared))
    lhs = list(range(ndim)) + shared
    rhs = [i if (i in trace or i in diag) else ndim + i for i in range(ndim)] + shared
    out: list[int] = []
    for i in range(ndim):
        if i not in trace:
            out += [i] if i in diag else [i, ndim + i]
    return lhs, rhs, out


def contract(
    pairs: Sequence[tuple[jax.Array, jax.Array]], ndim: int, trace: Sequence[int], diag: Sequence[int]
) -> jax.Array:
    """Sum of kernel contractions of ``(a1, a2)`` pairs, normalized by the traced size.

    Each ``a1`` has shape ``shape1 + P`` and ``a2`` shape ``shape2 + P`` (``P`` the shared trailing block, e.g.
    a parameter's shape, possibly empty); all pairs share ``shape1`` and ``shape2``. Every pair is reshaped to
    ``(diagonal, free, traced + P)`` matrices and multiplied as one (batched) GEMM, which XLA runs faster than a
    ``dot_general`` with many contracting axes; when traced axes are trailing (the default ``(-1,)``) the
    reshape is free.
    """
    if not pairs:
        raise ValueError("`pairs` is empty: f has no parameters to differentiate.")
    free = [i for i in range(ndim) if i not in trace and i not in diag]
    shape1, shape2 = pairs[0][0].shape[:ndim], pairs[0][1].shape[:ndim]
    n_diag = math.prod(shape1[i] for i in diag)
    total = None
    for a1, a2 in pairs:
        order = list(diag) + free + list(trace) + list(range(ndim, a1.ndim))
        m1 = jnp.transpose(a1, order).reshape(n_diag, math.prod(shape1[i] for i in free), -1)
        m2 = jnp.transpose(a2, order).reshape(n_diag, math.prod(shape2[i] for i in free), -1)
        term = jnp.einsum("dik,djk->dij", m1, m2)
        total = term if total is None else total + term
    k = total.reshape([shape1[i] for i in diag] + [shape1[i] for i in free] + [shape2[i] for i in free])
    # current axes: diag..., free (side 1)..., free (side 2)...; target: original output order, pairs adjacent
    nd, nf = len(diag), len(free)
    target: list[int] = []
    for i in range(ndim):
        if i in diag:
            target.append(list(diag).index(i))
        elif i not in trace:
            j = free.index(i)
            target += [nd + j, nd + nf + j]
    return jnp.transpose(k, target) / math.prod(shape1[i] for i in trace)


def trace_and_diagonal(k_full: jax.Array, ndim: int, trace: Sequence[int], diag: Sequence[int]) -> jax.Array:
    """Reduce a full kernel of shape ``shape1 + shape2`` to the layout of the module docstring."""
    lhs, rhs, out = labels(ndim, 0, trace, diag)
    return jnp.einsum(k_full, lhs + rhs, out) / math.prod(k_full.shape[i] for i in trace)
