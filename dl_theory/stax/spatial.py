r"""Spatial helpers shared by convolution and pooling: padding and window sums on covariance arrays.

A window operation with filter :math:`w` of size :math:`f` and stride :math:`s` along one spatial axis maps a covariance
:math:`K[x, x']` of its inputs to

.. math:: K'[y, y'] = \sum_{i, j} w_i w_j\, K[s y + i, s y' + j]

(zero-padding for ``SAME``, wrap-around for ``CIRCULAR``). Independent weights per filter offset (``Conv``) make the
cross terms vanish in expectation, :math:`w_i w_j \to \delta_{ij}/f`: a *diagonal* 2-D window on the pair of axes.
Pooling keeps the full all-ones window. Both run as one 2-D ``lax.conv_general_dilated`` per spatial axis on the zipped
pair ``(X, X')`` (Novak et al., 2019, arXiv:1810.05148, Sec. 3).
"""

import enum

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["Padding", "pads_for", "pad_axes", "pair_window", "window_sum"]


class Padding(enum.Enum):
    """Padding of convolution and pooling windows: ``VALID`` (none), ``SAME`` (zeros), ``CIRCULAR`` (torus)."""

    CIRCULAR = "CIRCULAR"
    SAME = "SAME"
    VALID = "VALID"


def check_padding(padding: str | Padding) -> Padding:
    """``padding`` as a :class:`Padding`; ``ValueError`` naming the allowed values otherwise."""
    try:
        return Padding(padding.value if isinstance(padding, Padding) else str(padding).upper())
    except ValueError:
        raise ValueError(f"`padding` must be one of VALID, SAME, CIRCULAR; got {padding!r}.") from None


def pads_for(size: int, window: int, stride: int, padding: Padding) -> tuple[int, int]:
    """``(low, high)`` padding of one axis: lax's ``SAME`` rule for ``SAME``/``CIRCULAR``, zero for ``VALID``."""
    if padding == Padding.VALID:
        return 0, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return total // 2, total - total // 2


def pad_axes(
    x: jax.Array, axes: tuple[int, ...], windows: tuple[int, ...], strides: tuple[int, ...], padding: Padding
) -> jax.Array:
    """Pad ``axes`` of ``x`` so that a ``VALID`` window realises ``padding`` (zeros, or wrap for circular)."""
    if padding == Padding.VALID:
        return x
    pads = [(0, 0)] * x.ndim
    for a, w, s in zip(axes, windows, strides, strict=True):
        pads[a] = pads_for(x.shape[a], w, s, padding)
    return jnp.pad(x, pads, mode="wrap" if padding == Padding.CIRCULAR else "constant")


def window_sum(
    x: jax.Array, axes: tuple[int, ...], windows: tuple[int, ...], strides: tuple[int, ...], padding: Padding
) -> jax.Array:
    """Sum over windows along ``axes`` (with ``padding``), other axes untouched."""
    x = pad_axes(x, axes, windows, strides, padding)
    dims, strd = [1] * x.ndim, [1] * x.ndim
    for a, w, s in zip(axes, windows, strides, strict=True):
        dims[a], strd[a] = w, s
    return lax.reduce_window(x, jnp.zeros((), x.dtype), lax.add, tuple(dims), tuple(strd), "VALID")


def pair_window(
    mat: jax.Array, axis: int, window: int, stride: int, padding: Padding, diagonal: bool
) -> jax.Array:
    """Apply the 2-D window to the zipped axis pair ``(axis, axis + 1)`` of a covariance array.

    Args:
      mat: covariance array with the pair of spatial axes at ``axis, axis + 1``.
      axis: first axis of the pair.
      window: window size ``f`` along the spatial axis.
      stride: stride along the spatial axis.
      padding: how the activations were padded.
      diagonal: ``True`` for the filter ``eye(f) / f`` (convolution), ``False`` for all ones (sum pooling).

    Returns:
      The array with the pair of axes replaced by the output pair.
    """
    mat = pad_axes(mat, (axis, axis + 1), (window, window), (stride, stride), padding)
    moved = jnp.moveaxis(mat, (axis, axis + 1), (-2, -1))
    lead = moved.shape[:-2]
    flat = moved.reshape((-1, 1) + moved.shape[-2:])
    rhs = jnp.eye(window, dtype=mat.dtype) / window if diagonal else jnp.ones((window, window), mat.dtype)
    out = lax.conv_general_dilated(
        flat,
        rhs[None, None],
        (stride, stride),
        "VALID",
        dimension_numbers=("NCHW", "OIHW", "NCHW"),
        precision=lax.Precision.HIGHEST,
    )
    out = out.reshape(lead + out.shape[-2:])
    return jnp.moveaxis(out, (-2, -1), (axis, axis + 1))
