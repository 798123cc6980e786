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

from functools import partial

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.models.convolution.ops import Padding, pad_widths


def _offsets(n: int, k: int, padding: Padding) -> tuple[jax.Array, jax.Array]:
    """Kernel index ``j + P_left - i`` of input ``j`` in output ``i`` (stride 1) and whether it lies in ``[0, k)``;
    shapes ``(n_out, n)``."""
    ((lo, hi),) = pad_widths((k,), padding)
    offset_OxN = jnp.arange(n)[None, :] + lo - jnp.arange(n + lo + hi - k + 1)[:, None]
    return jnp.clip(offset_OxN, 0, k - 1), (offset_OxN >= 0) & (offset_OxN < k)


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
    _check_fits(checks.count("n", n), h_K.shape[0], padding)
    return _toeplitz(h_K, n, padding, flip)


def _check_fits(n: int, k: int, padding: Padding) -> None:
    ((lo, hi),) = pad_widths((k,), padding)
    if k > n + lo + hi:
        raise checks.fail("kernel", f"no longer than the padded input ({n} + {lo + hi} zeros)", k)


@partial(jax.jit, static_argnums=(1, 2, 3))
def _toeplitz(h_K: jax.Array, n: int, padding: Padding, flip: bool) -> jax.Array:
    index_OxN, inside_OxN = _offsets(n, h_K.shape[0], padding)
    return jnp.where(inside_OxN, (jnp.flip(h_K) if flip else h_K)[index_OxN], 0)


def doubly_block_toeplitz(h: ArrayLike, input_shape: tuple[int, int], *, padding: Padding = "valid",
                          flip: bool = False) -> jax.Array:
    r"""The matrix :math:`M` with :math:`M \operatorname{vec}(x)` = the row-major ``vec`` of the stride-1 2-D
    cross-correlation of :math:`x \in \mathbb{R}^{H \times W}` with ``h`` (convolution when ``flip``):
    :math:`M_{(i,j),(r,c)} = h_{r-i+P_r,\,c-j+P_c}` where the index lies in the kernel, i.e.
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
    rows, cols = (checks.count(f"input_shape[{i}]", n) for i, n in enumerate(input_shape))
    _check_fits(rows, h_KxK.shape[0], padding)
    _check_fits(cols, h_KxK.shape[1], padding)
    return _doubly_block(h_KxK, rows, cols, padding, flip)


@partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _doubly_block(h_KxK: jax.Array, rows: int, cols: int, padding: Padding, flip: bool) -> jax.Array:
    if flip:
        h_KxK = jnp.flip(h_KxK)
    row_index_OxH, row_inside_OxH = _offsets(rows, h_KxK.shape[0], padding)
    col_index_PxW, col_inside_PxW = _offsets(cols, h_KxK.shape[1], padding)
    entries_OxPxHxW = h_KxK[row_index_OxH[:, None, :, None], col_index_PxW[None, :, None, :]]
    inside_OxPxHxW = row_inside_OxH[:, None, :, None] & col_inside_PxW[None, :, None, :]
    matrix = jnp.where(inside_OxPxHxW, entries_OxPxHxW, 0)
    return matrix.reshape(row_index_OxH.shape[0] * col_index_PxW.shape[0], rows * cols)
