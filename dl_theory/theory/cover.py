r"""Cover's function counting theorem (Cover, 1965).

``s`` points in general position in :math:`\mathbb{R}^n` admit

.. math::  C(s, n) = 2 \sum_{k=0}^{n-1} \binom{s-1}{k}

dichotomies realizable by a homogeneous linear classifier :math:`\mathrm{sign}(w \cdot x)`. The notes' recursion
:math:`C(s+1, n) = C(s, n) + C(s, n-1)` gives the same numbers; :math:`C(s, n) = 2^s` for :math:`s \le n`.
For uniformly random labels the probability of separability is

.. math::  P(s, n) = C(s, n) / 2^s = \Pr[\mathrm{Bin}(s-1, \tfrac12) \le n - 1],

which equals exactly 1/2 at :math:`s = 2n` (the capacity of the perceptron).
"""

import math

import numpy as np
from jax.typing import ArrayLike
from scipy import stats

from dl_theory import checks


def cover_count(s: int, n: int) -> int:
    """Number of homogeneously linearly separable dichotomies of ``s`` points in general position in R^n (exact)."""
    s, n = checks.at_least(0)("s", s), checks.count("n", n)
    if s == 0:
        return 1
    return 2 * sum(math.comb(s - 1, k) for k in range(n))


def separable_probability(s: ArrayLike, n: ArrayLike) -> np.ndarray:
    """:math:`C(s, n) / 2^s` (vectorized; exact up to float rounding via the binomial CDF)."""
    s, n = np.asarray(s), np.asarray(n)
    checks.positive("s", s)
    checks.positive("n", n)
    return stats.binom.cdf(n - 1, s - 1, 0.5)
