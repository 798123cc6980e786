"""Tests of the closed forms in ``dl_theory.theory`` against brute force and Monte Carlo.

* Cover's count: every one of the 2^s labelings of s Gaussian points (in general position almost surely) is tested
  for homogeneous linear separability with an LP (scipy/HiGHS, written here, independent of the library).
* Hopfield: the aligned local field of a stored bit is (n-1)/n plus (s-1)(n-1) independent ±1/n terms, so the
  per-bit stability probability is an exact binomial tail; Monte Carlo checks it within standard errors. The
  probability that a whole pattern is a fixed point is *not* checked within standard error against
  ``fixed_point_probability``: that formula treats the n bits as independent and the crosstalk as Gaussian, and at
  small n it is off by several standard errors (n=100, s=15: Monte Carlo 0.72 vs formula 0.68 — the bits'
  failures are positively correlated through the shared weights w_ij). What is checked instead is rigorous: the
  Monte-Carlo value lies between the union bound 1 - n q and 1 - q (q the exact per-bit failure probability), the
  formula's per-bit factor is within the Berry-Esseen bound of the exact binomial tail, and the formula has the
  McEliece et al. thresholds at n/(2 ln n) and n/(4 ln n).
"""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import optimize, stats

from dl_theory.theory.cover import cover_count, separable_probability
from dl_theory.theory.hopfield import ALPHA_C, capacity_all, capacity_most, fixed_point_probability
from dl_theory.theory.perceptron import novikoff_bound


def _separable(x: np.ndarray, y: np.ndarray) -> bool:
    """Exists w with y_i w.x_i >= 1 for all i (strict homogeneous separability; LP feasibility)."""
    a = -(y[:, None] * x)
    result = optimize.linprog(np.zeros(x.shape[1]), A_ub=a, b_ub=-np.ones(len(y)), bounds=(None, None),
                              method="highs")
    assert result.status in (0, 2), result.message
    return result.status == 0


def _brute_force_count(x: np.ndarray) -> int:
    """Separable dichotomies of the rows of x; labelings come in ±pairs, so only y_0 = +1 is enumerated."""
    s = len(x)
    count = 0
    for rest in itertools.product((-1.0, 1.0), repeat=s - 1):
        count += _separable(x, np.array((1.0, *rest)))
    return 2 * count


@pytest.mark.parametrize("n, s_max", [(1, 5), (2, 7), (3, 7), (4, 7)])
def test_cover_count_matches_brute_force(n, s_max):
    rng = np.random.default_rng(n)
    for s in range(1, s_max + 1):
        x = rng.normal(size=(s, n))
        assert cover_count(s, n) == _brute_force_count(x), (s, n)


def _recursion_table(s_max: int, n_max: int) -> dict[tuple[int, int], int]:
    """C(s, n) from the notes' recursion C(s+1, n) = C(s, n) + C(s, n-1), C(1, n) = 2, C(s, 1) = 2."""
    table = {}
    for s in range(1, s_max + 1):
        for n in range(1, n_max + 1):
            table[s, n] = 2 if s == 1 or n == 1 else table[s - 1, n] + table[s - 1, n - 1]
    return table


def test_cover_count_recursion_and_special_values():
    table = _recursion_table(40, 12)
    for (s, n), value in table.items():
        assert cover_count(s, n) == value
    for n in range(1, 12):
        assert all(cover_count(s, n) == 2**s for s in range(1, n + 1))
        assert cover_count(2 * n, n) == 2 ** (2 * n - 1)
    assert cover_count(0, 3) == 1
    with pytest.raises(ValueError, match="s must be an integer >= 0, got -1"):
        cover_count(-1, 2)
    with pytest.raises(ValueError, match="n must be an integer >= 1, got 0"):
        cover_count(3, 0)


def test_separable_probability():
    s = np.arange(1, 80)
    for n in (1, 2, 5, 17, 40):
        exact = np.array([float(Fraction(cover_count(int(k), n), 2 ** int(k))) for k in s])
        np.testing.assert_allclose(separable_probability(s, n), exact, rtol=1e-12, atol=1e-300)
        assert separable_probability(2 * n, n) == pytest.approx(0.5, rel=1e-14)  # exactly 1/2, up to rounding
    grid_s, grid_n = np.meshgrid(np.arange(1, 30), np.arange(1, 10))
    probabilities = separable_probability(grid_s, grid_n)
    assert probabilities.shape == grid_s.shape
    assert np.all(np.diff(probabilities, axis=1) <= 0) and np.all(np.diff(probabilities, axis=0) >= 0)
    with pytest.raises(ValueError):
        separable_probability(0, 3)


def test_novikoff_bound():
    assert novikoff_bound(1.0, 0.1) == pytest.approx(100.0, rel=1e-15)
    assert novikoff_bound(3.0, 0.5) == pytest.approx(36.0, rel=1e-15)
    assert novikoff_bound(2.0, 4.0) == 0.25
    for bad, name in [((0.0, 1.0), "radius"), ((1.0, 0.0), "margin"), ((-1.0, 0.5), "radius")]:
        with pytest.raises(ValueError, match=f"{name} must be > 0"):
            novikoff_bound(*bad)


def test_hopfield_capacities():
    n = np.array([10.0, 100.0, 1000.0])
    np.testing.assert_allclose(capacity_most(n), n / (2 * np.log(n)), rtol=1e-15)
    np.testing.assert_allclose(capacity_all(n), capacity_most(n) / 2, rtol=1e-15)
    assert capacity_most(1000) == pytest.approx(72.38241365054197, rel=1e-12)
    assert ALPHA_C == pytest.approx(0.138, abs=1e-3)


def _hopfield_monte_carlo(n: int, s: int, n_trials: int, seed: int) -> tuple[float, float, float, float]:
    """Frequencies (and standard errors) that a stored bit, and the whole stored pattern, is stable.

    With w = P^T P - s I (Hebbian sums, zero diagonal), the field at pattern 0 is h = P^T (P x0) - s x0.
    """
    rng = np.random.default_rng(seed)
    patterns = rng.integers(0, 2, (n_trials, s, n), dtype=np.int8) * 2 - 1
    x0 = patterns[:, 0, :].astype(np.int32)
    overlaps = np.einsum("tsn,tn->ts", patterns, x0, dtype=np.int32)
    field = np.einsum("tsn,ts->tn", patterns, overlaps, dtype=np.int32) - s * x0
    stable = field * x0 >= 0  # a zero field keeps the bit
    per_trial = stable.mean(axis=1)  # bits of one pattern are correlated: the standard error is over trials
    fixed = stable.all(axis=1).mean()
    return (per_trial.mean(), per_trial.std(ddof=1) / np.sqrt(n_trials), fixed,
            np.sqrt(fixed * (1 - fixed) / n_trials))


def _bit_stable_exact(n: int, s: int) -> float:
    """P[(n-1) + B >= 0], B a sum of m = (s-1)(n-1) Rademacher signs, B = 2K - m with K ~ Bin(m, 1/2)."""
    m = (s - 1) * (n - 1)
    return float(stats.binom.sf(math.ceil((m - (n - 1)) / 2) - 1, m, 0.5))


@pytest.mark.parametrize("n, s", [(100, 10), (100, 15), (60, 12)])
def test_fixed_point_probability_against_monte_carlo(n, s):
    bits, bits_se, fixed, fixed_se = _hopfield_monte_carlo(n, s, n_trials=20000, seed=n + s)
    p_bit = _bit_stable_exact(n, s)
    assert abs(bits - p_bit) <= 4 * bits_se, (bits, p_bit, bits_se)
    # whole pattern: between the union bound and a single bit's probability (rigorous)
    q = 1 - p_bit
    assert 1 - n * q - 4 * fixed_se <= fixed <= 1 - q + 4 * fixed_se
    # the formula's per-bit factor Phi(sqrt((n-1)/(s-1))) is the CLT approximation of p_bit: Berry-Esseen with
    # C = 0.4748 (Shevtsova 2011) and E|X|^3 / sigma^3 = 1 for a Rademacher sign
    formula = float(fixed_point_probability(n, s))
    assert abs(formula ** (1 / n) - p_bit) <= 0.4748 / math.sqrt((s - 1) * (n - 1))
    assert 1 - n * (1 - formula ** (1 / n)) <= formula <= formula ** (1 / n)


def test_fixed_point_probability_thresholds():
    """P(a pattern is fixed) -> 1 below n/(2 ln n) and -> 0 above; all s patterns (P^s) likewise at n/(4 ln n)."""
    n = np.array([1e4, 1e6, 1e8, 1e12])
    below = fixed_point_probability(n, 0.8 * capacity_most(n))
    above = fixed_point_probability(n, 1.5 * capacity_most(n))
    assert np.all(np.diff(below) > 0) and below[-1] > 0.99
    assert np.all(np.diff(above) < 0) and above[-1] < 1e-10
    s_low, s_high = 0.8 * capacity_all(n), 1.5 * capacity_all(n)
    all_low = fixed_point_probability(n, s_low) ** s_low
    all_high = fixed_point_probability(n, s_high) ** s_high
    assert np.all(np.diff(all_low) > 0) and all_low[-1] > 0.99
    assert np.all(np.diff(all_high) < 0) and all_high[-1] < 1e-10
    assert fixed_point_probability(50, 1) == 1.0
    np.testing.assert_allclose(fixed_point_probability(101, 11), stats.norm.cdf(math.sqrt(10)) ** 101, rtol=1e-12)
