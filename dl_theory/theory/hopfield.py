r"""Storage capacity of the Hopfield network with Hebbian weights.

* Perfect recall (McEliece, Posner, Rodemich & Venkatesh, 1987): a given stored pattern is a fixed point with
  probability :math:`\to 1` for :math:`s \le n/(2\ln n)`; all patterns are, for :math:`s \le n/(4 \ln n)`. (The
  notes write :math:`\log_2`, which is smaller by a factor :math:`\ln 2`.)
* Approximate recall (Amit, Gutfreund & Sompolinsky, 1985): retrieval with overlap near 1 survives up to
  :math:`\alpha = s/n \approx 0.138` (:data:`ALPHA_C`) as :math:`n \to \infty`.
"""

import numpy as np
from jax.typing import ArrayLike
from scipy import stats

ALPHA_C = 0.138


def capacity_most(n: ArrayLike) -> np.ndarray:
    """:math:`n / (2 \\ln n)`: most stored patterns are exact fixed points below this."""
    n = np.asarray(n, float)
    return n / (2 * np.log(n))


def capacity_all(n: ArrayLike) -> np.ndarray:
    """:math:`n / (4 \\ln n)`: all stored patterns are exact fixed points below this."""
    n = np.asarray(n, float)
    return n / (4 * np.log(n))


def fixed_point_probability(n: ArrayLike, s: ArrayLike) -> np.ndarray:
    r"""Probability that a stored pattern is a fixed point, in the Gaussian crosstalk approximation.

    With :math:`w_{ij} = \frac1n\sum_\mu x^\mu_i x^\mu_j`, :math:`w_{ii} = 0`, the aligned local field of bit
    :math:`i` of pattern :math:`\mu` is :math:`\frac{n-1}{n}` plus a crosstalk sum of :math:`(s-1)(n-1)` terms
    :math:`\pm\frac1n`; treating it as Gaussian and the bits as independent,
    :math:`P = \Phi\big(\sqrt{(n-1)/(s-1)}\big)^n` (and 1 for :math:`s = 1`).
    """
    n, s = np.asarray(n, float), np.asarray(s, float)
    z = np.sqrt((n - 1) / np.maximum(s - 1, 1e-300))
    return np.where(s <= 1, 1.0, np.exp(n * stats.norm.logcdf(z)))
