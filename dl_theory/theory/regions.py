r"""Closed-form counts for piecewise-linear networks: hyperplane arrangements and residual paths.

Zaslavsky's theorem: :math:`m` affine hyperplanes in general position in :math:`\mathbb{R}^n` cut it into

.. math:: r(m, n) = \sum_{i=0}^{n} \binom{m}{i}

regions, so a one-hidden-layer ReLU net with :math:`m` generic units on :math:`\mathbb{R}^n` has exactly that many
activation regions. A depth-:math:`L` composition of the two-unit tent map has :math:`2^L` linear pieces on
:math:`[0, 1]` (Telgarsky, *Benefits of depth in neural networks*, COLT 2016; Montúfar et al., *On the number of
linear regions of deep neural networks*, NeurIPS 2014). Expanding :math:`\prod_{k=1}^L (I + \alpha W_k)` gives
:math:`2^L` paths, :math:`\binom{L}{k}` of which pass through :math:`k` branches (Veit, Wilber & Belongie, *Residual
networks behave like ensembles of relatively shallow networks*, NeurIPS 2016).
"""

import math

from dl_theory import checks


def zaslavsky_count(m: int, n: int) -> int:
    r""":math:`\sum_{i=0}^{n} \binom{m}{i}`: regions of :math:`m` generic affine hyperplanes in :math:`\mathbb{R}^n`."""
    m, n = checks.at_least(0)("m", m), checks.count("n", n)
    return sum(math.comb(m, i) for i in range(n + 1))


def tent_pieces(depth: int) -> int:
    """:math:`2^L`: linear pieces of the depth-``L`` tent map on [0, 1]."""
    return 2 ** checks.count("depth", depth)


def residual_path_counts(depth: int) -> list[int]:
    r""":math:`\binom{L}{k}` for :math:`k = 0..L`: paths through exactly :math:`k` of :math:`L` residual branches."""
    depth = checks.count("depth", depth)
    return [math.comb(depth, k) for k in range(depth + 1)]


def montufar_count(widths: tuple[int, ...], n_in: int) -> int:
    r"""Linear regions a deep ReLU net with hidden ``widths`` :math:`n_1..n_L` can reach on :math:`\mathbb{R}^{n_0}`.

    Montúfar et al. (2014, Thm. 5) construct nets with
    :math:`\prod_{l=1}^{L-1} \lfloor n_l / n_0 \rfloor^{n_0} \sum_{j=0}^{n_0} \binom{n_L}{j}` regions: exponential in
    depth. Along a line (:math:`n_0 = 1`) it is :math:`\prod_{l<L} n_l\,(n_L + 1)`.
    """
    checks.each(checks.count, min_length=1)("widths", widths)
    n_in = checks.count("n_in", n_in)
    return math.prod((w // n_in) ** n_in for w in widths[:-1]) * zaslavsky_count(widths[-1], n_in)
