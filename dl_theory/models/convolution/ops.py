r"""1-D and 2-D cross-correlation and convolution of one signal with one kernel, on ``lax.conv_general_dilated``.

Cross-correlation (what deep-learning frameworks call "convolution") and convolution of :math:`x` with :math:`h`:

.. math::
    (h \star x)[n] = \sum_t h[t]\, x[n S + t - P_\text{left}], \qquad (h * x) = (\operatorname{flip}(h) \star x),

with zero padding :math:`P` and stride :math:`S`; in 2-D the sums run over both axes. Padding ``'valid'`` (none),
``'full'`` (:math:`K-1` on each side) or ``'same'`` (the :math:`n` centre outputs of ``'full'``, as
``scipy.signal.convolve``/``correlate`` take them: :math:`\lceil (K-1)/2 \rceil` zeros on the left, which differs
from ``lax``'s ``'SAME'`` and from ``scipy.signal.correlate2d``'s ``'same'`` for even :math:`K`), or an integer
:math:`P` on every side. Along each axis the output has

.. math:: n_\text{out} = \left\lfloor \frac{n + 2P - K}{S} \right\rfloor + 1

entries (:func:`output_size`). Reference: Goodfellow, Bengio & Courville, *Deep Learning* (2016), ch. 9.1-9.5;
Dumoulin & Visin, *A guide to convolution arithmetic for deep learning* (2016).
"""

from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from dl_theory import checks

Padding = str | int
PADDINGS = ("valid", "same", "full")


def _pairs(name: str, value: int | Sequence[int], ndim: int) -> tuple[int, ...]:
    values = (value,) * ndim if np.ndim(value) == 0 else tuple(value)
    if len(values) != ndim:
        raise checks.fail(name, f"an integer or {ndim} integers", value)
    return values


def pad_widths(kernel_shape: Sequence[int], padding: Padding) -> tuple[tuple[int, int], ...]:
    """``(left, right)`` zeros per axis for ``padding`` ('valid', 'same', 'full' or an integer P >= 0)."""
    if isinstance(padding, str):
        checks.one_of(*PADDINGS)("padding", padding)
        full = {"valid": lambda k: (0, 0), "full": lambda k: (k - 1, k - 1),
                "same": lambda k: (k - 1 - (k - 1) // 2, (k - 1) // 2)}[padding]
        return tuple(full(k) for k in kernel_shape)
    p = checks.at_least(0)("padding", padding)
    return tuple((p, p) for _ in kernel_shape)


def output_size(n: int, kernel_size: int, padding: int = 0, stride: int = 1) -> int:
    r"""Outputs along one axis: :math:`\lfloor (n + 2P - K)/S \rfloor + 1`.

    Raises:
      ValueError: ``kernel_size`` larger than the padded input ``n + 2 padding``, or ``stride`` < 1.
    """
    n, k = checks.count("n", n), checks.count("kernel_size", kernel_size)
    p, s = checks.at_least(0)("padding", padding), checks.count("stride", stride)
    if k > n + 2 * p:
        raise checks.fail("kernel_size", f"<= the padded input size n + 2P = {n + 2 * p}", k)
    return (n + 2 * p - k) // s + 1


def conv_param_count(kernel_shape: Sequence[int], in_channels: int, out_channels: int, use_bias: bool = True) -> int:
    r"""Parameters of a convolution layer: :math:`C_\text{out} (C_\text{in} \prod_i K_i + 1)` with a bias per output
    channel, :math:`C_\text{out} C_\text{in} \prod_i K_i` without."""
    checks.each(checks.count)("kernel_shape", kernel_shape)
    c_in, c_out = checks.count("in_channels", in_channels), checks.count("out_channels", out_channels)
    return c_out * (c_in * int(np.prod(kernel_shape)) + int(use_bias))


def _check(x: jax.Array, h: jax.Array, padding: Padding, stride: int | Sequence[int]):
    if x.ndim not in (1, 2) or h.ndim != x.ndim:
        raise checks.fail("x and h", "both 1-D or both 2-D", f"shapes {x.shape} and {h.shape}")
    strides = _pairs("stride", stride, x.ndim)
    for s in strides:
        checks.count("stride", s)
    pads = pad_widths(h.shape, padding)
    for n, k, (lo, hi) in zip(x.shape, h.shape, pads, strict=True):
        if k < 1 or k > n + lo + hi:
            raise checks.fail("kernel", f"no larger than the (padded) input {tuple(x.shape)} with padding "
                              f"{padding!r}", f"shape {tuple(h.shape)}")
    return pads, strides


def correlate(x: ArrayLike, h: ArrayLike, *, padding: Padding = "valid", stride: int | Sequence[int] = 1) -> jax.Array:
    r"""Cross-correlation :math:`(h \star x)[n] = \sum_t h[t]\, x[nS + t - P_\text{left}]` of a 1-D or 2-D signal.

    Args:
      x: the signal, shape ``(D,)`` or ``(H, W)``.
      h: the kernel, same number of axes as ``x``.
      padding: ``'valid'``, ``'same'`` (scipy's centring), ``'full'`` or zeros ``P`` on every side.
      stride: one stride for every axis or one per axis.

    Returns:
      The output, of :func:`output_size` entries along each axis.

    Raises:
      ValueError: the kernel is larger than the padded input, or a stride is < 1.
    """
    x, h = jnp.asarray(x), jnp.asarray(h)
    pads, strides = _check(x, h, padding, stride)
    return _correlate(x, h, pads, strides)


@partial(jax.jit, static_argnums=(2, 3))
def _correlate(x: jax.Array, h: jax.Array, pads: tuple, strides: tuple) -> jax.Array:
    out = lax.conv_general_dilated(x[None, None], h[None, None].astype(x.dtype), strides, pads,
                                   precision=lax.Precision.HIGHEST)
    return out[0, 0]


def convolve(x: ArrayLike, h: ArrayLike, *, padding: Padding = "valid", stride: int | Sequence[int] = 1) -> jax.Array:
    r"""Convolution :math:`(h * x)[n] = \sum_t h[t]\, x[n - t]`: :func:`correlate` with the kernel flipped on every
    axis (arguments as there). With ``'full'`` padding it is :math:`\sum_t x[t]\,h[n-t]`, commutative in ``x, h``."""
    h = jnp.asarray(h)
    return correlate(x, jnp.flip(h), padding=padding, stride=stride)
