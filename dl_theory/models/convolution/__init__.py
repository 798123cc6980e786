"""Convolution arithmetic: 1-D/2-D cross-correlation and convolution, their Toeplitz matrices, FFT convolution,
separable kernels, output-shape and parameter-count formulas.

* :mod:`~dl_theory.models.convolution.ops` -- :func:`correlate`, :func:`convolve` (on ``lax.conv_general_dilated``),
  :func:`output_size`, :func:`conv_param_count`;
* :mod:`~dl_theory.models.convolution.toeplitz` -- :func:`toeplitz_matrix`, :func:`doubly_block_toeplitz`;
* :mod:`~dl_theory.models.convolution.fft` -- :func:`fft_convolve` (linear), :func:`circular_convolve`;
* :mod:`~dl_theory.models.convolution.separable` -- :func:`rank_one_factors`, :func:`separable_correlate` and the
  multiply-add counts :func:`direct_madds`, :func:`separable_madds`.

The CNN builder for training and kernels is :func:`dl_theory.models.conv.cnn`.
"""

from dl_theory.models.convolution.fft import circular_convolve, fft_convolve
from dl_theory.models.convolution.ops import PADDINGS, conv_param_count, convolve, correlate, output_size, pad_widths
from dl_theory.models.convolution.separable import (
                                                    RankOne,
                                                    direct_madds,
                                                    rank_one_factors,
                                                    separable_correlate,
                                                    separable_madds,
)
from dl_theory.models.convolution.toeplitz import doubly_block_toeplitz, toeplitz_matrix

__all__ = ["PADDINGS", "RankOne", "circular_convolve", "conv_param_count", "convolve", "correlate", "direct_madds",
           "doubly_block_toeplitz", "fft_convolve", "output_size", "pad_widths", "rank_one_factors",
           "separable_correlate", "separable_madds", "toeplitz_matrix"]
