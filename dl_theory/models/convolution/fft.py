r"""Convolution by the FFT: linear with zero padding, circular without.

The discrete Fourier transform turns *circular* convolution into a product,
:math:`\mathcal{F}(x \circledast h) = \mathcal{F}(x) \cdot \mathcal{F}(h)` with
:math:`(x \circledast h)[n] = \sum_t h[t]\, x[(n - t) \bmod N]`. Zero-padding both signals to
:math:`N \ge D + K - 1` along each axis leaves no index to wrap around, so the circular convolution of the padded
signals is the linear ('full') convolution; 'same' and 'valid' are slices of it. Without padding the wrapped-around
terms remain. Cost :math:`O(N \log N)` per axis instead of :math:`O(DK)`. Reference: Oppenheim & Schafer,
*Discrete-Time Signal Processing* (3rd ed., 2010), sec. 8.7.
"""

from functools import partial

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.models.convolution.ops import PADDINGS


def circular_convolve(x: ArrayLike, h: ArrayLike) -> jax.Array:
    r""":math:`\mathcal{F}^{-1}(\mathcal{F}(x) \cdot \mathcal{F}(h))`, ``h`` zero-padded to the shape of ``x``:
    the circular convolution :math:`\sum_t h[t]\, x[(n-t) \bmod N]` (1-D or 2-D, shape of ``x``)."""
    x, h = jnp.asarray(x), jnp.asarray(h)
    if h.ndim != x.ndim or any(k > n for k, n in zip(h.shape, x.shape, strict=True)):
        raise checks.fail("h", f"a kernel no larger than x {x.shape} with as many axes", f"shape {h.shape}")
    return _circular(x, h)


@jax.jit
def _circular(x: jax.Array, h: jax.Array) -> jax.Array:
    return jnp.fft.irfftn(jnp.fft.rfftn(x) * jnp.fft.rfftn(h, s=x.shape), s=x.shape)


def fft_convolve(x: ArrayLike, h: ArrayLike, *, mode: str = "full") -> jax.Array:
    r"""Linear convolution of ``x`` and ``h`` (1-D or 2-D) through the FFT of both zero-padded to :math:`D + K - 1`
    per axis; ``mode`` ``'full'``, ``'same'`` (centred, shape of ``x``) or ``'valid'`` as in
    ``scipy.signal.fftconvolve``."""
    x, h = jnp.asarray(x), jnp.asarray(h)
    checks.one_of(*PADDINGS)("mode", mode)
    if h.ndim != x.ndim:
        raise checks.fail("h", f"a kernel with {x.ndim} axes like x", f"shape {h.shape}")
    if mode == "valid" and any(k > n for k, n in zip(h.shape, x.shape, strict=True)):
        raise checks.fail("kernel", f"no larger than x {x.shape} for mode 'valid'", f"shape {h.shape}")
    return _fft_convolve(x, h, mode)


@partial(jax.jit, static_argnums=2)
def _fft_convolve(x: jax.Array, h: jax.Array, mode: str) -> jax.Array:
    full_shape = tuple(n + k - 1 for n, k in zip(x.shape, h.shape, strict=True))
    full = jnp.fft.irfftn(jnp.fft.rfftn(x, s=full_shape) * jnp.fft.rfftn(h, s=full_shape), s=full_shape)
    if mode == "full":
        return full
    if mode == "same":
        starts, sizes = [(k - 1) // 2 for k in h.shape], x.shape
    else:
        starts, sizes = [k - 1 for k in h.shape], [n - k + 1 for n, k in zip(x.shape, h.shape, strict=True)]
    return full[tuple(slice(s, s + n) for s, n in zip(starts, sizes, strict=True))]
