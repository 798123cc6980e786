r"""A convolution as a matrix: the Toeplitz matrix of a 1-D kernel and the doubly block Toeplitz matrix of a 2-D one.

For :math:`h \in \mathbb{R}^K` and :math:`x \in \mathbb{R}^D` the valid cross-correlation is :math:`h \star x = W_h x`
with :math:`W_h \in \mathbb{R}^{(D-K+1) \times D}` and (1-based)

.. math:: (W_h)_{k,j} = h_{j-k+1} \text{ for } k \le j \le k+K-1, \text{ else } 0;

a convolution uses the flipped kernel (the notes' index is garbled). Padding keeps the columns of the real entries of
the padded input. In 2-D, with :math:`x` flattened row by row, the matrix is :math:`\sum_a T(e_a) \otimes T(h_{a,:})`:
block :math:`(i, r)` is the Toeplitz matrix of kernel row :math:`r - i` (a Toeplitz matrix of Toeplitz blocks).
Every entry of :math:`W` is one multiply-add of the direct algorithm, so its number of nonzeros (for a kernel without
zeros) counts them. Reference: Goodfellow, Bengio & Courville, *Deep Learning* (2016), sec. 9.1; Gray, *Toeplitz and
circulant matrices: a review* (2006).
"""

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.models.convolution.ops import Padding, pad_widths


def _valid_correlation_matrix(h_K: jax.Array, n: int) -> jax.Array:
    offset_OxN = jnp.arange(n)[None, :] - jnp.arange(n - h_K.shape[0] + 1)[:, None]
    inside = (offset_OxN >= 0) & (offset_OxN < h_K.shape[0])
    return jnp.where(inside, h_K[jnp.clip(offset_OxN, 0, h_K.shape[0] - 1)], 0)


def toeplitz_matrix(h: ArrayLike, n: int, *, padding: Padding = "valid", flip: bool = False) -> jax.Array:
    r"""The matrix :math:`W_h` with :math:`W_h x` = the stride-1 cross-correlation of :math:`x \in \mathbb{R}^n` with
    ``h`` (the convolution when ``flip``).

    Args:
      h: the kernel, shape ``(K,)``.
      n: the input length.
      padding: as in :func:`~dl_theory.models.convolution.ops.correlate`.
      flip: use the flipped kernel (a convolution instead of a cross-correlation).

    Returns:
      ``(n_out, n)`` matrix, ``n_out = n + P_left + P_right - K + 1``.

    Raises:
      ValueError: the kernel is longer than the padded input.
    """
    h_K = jnp.asarray(h)
    if h_K.ndim != 1:
        raise checks.fail("h", "a 1-D kernel", f"shape {h_K.shape}")
    n = checks.count("n", n)
    ((lo, hi),) = pad_widths(h_K.shape, padding)
    if h_K.shape[0] > n + lo + hi:
        raise checks.fail("kernel", f"no longer than the padded input ({n} + {lo + hi} zeros)", h_K.shape[0])
    full = _valid_correlation_matrix(jnp.flip(h_K) if flip else h_K, n + lo + hi)
    return full[:, lo:lo + n]


def doubly_block_toeplitz(h: ArrayLike, input_shape: tuple[int, int], *, padding: Padding = "valid",
                          flip: bool = False) -> jax.Array:
    r"""The matrix :math:`M` with :math:`M \operatorname{vec}(x)` = the row-major ``vec`` of the stride-1 2-D
    cross-correlation of :math:`x \in \mathbb{R}^{H \times W}` with ``h`` (convolution when ``flip``):
    :math:`M = \sum_a T(e_a) \otimes T(h_{a,:})`, :math:`T` the 1-D :func:`toeplitz_matrix`.

    Args:
      h: the kernel, shape ``(K_h, K_w)``.
      input_shape: ``(H, W)``.
      padding, flip: as in :func:`toeplitz_matrix`.

    Returns:
      ``(H_out * W_out, H * W)`` matrix.
    """
    h_KxK = jnp.asarray(h)
    if h_KxK.ndim != 2:
        raise checks.fail("h", "a 2-D kernel", f"shape {h_KxK.shape}")
    if flip:
        h_KxK = jnp.flip(h_KxK)
    rows, cols = input_shape
    blocks = [jnp.kron(toeplitz_matrix(jnp.eye(h_KxK.shape[0], dtype=h_KxK.dtype)[a], rows, padding=padding),
                       toeplitz_matrix(h_KxK[a], cols, padding=padding)) for a in range(h_KxK.shape[0])]
    return sum(blocks[1:], blocks[0])
