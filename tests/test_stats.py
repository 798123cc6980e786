"""dl_theory.stats.wasserstein1: the exact 1-D W1 vs scipy and closed forms."""

import numpy as np
import pytest
import scipy.stats

from dl_theory import stats


def test_wasserstein1_of_shifted_point_masses():
    assert stats.wasserstein1([0.0], [1.0], [0.3], [1.0]) == pytest.approx(0.3, rel=1e-15)


def test_wasserstein1_of_a_shift_is_the_shift():
    # Translating a measure by c moves every unit of mass by c: W1 = |c|, whatever the measure.
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=50), rng.uniform(size=50)
    assert stats.wasserstein1(x, w, x + 0.7, w) == pytest.approx(0.7, rel=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_wasserstein1_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    na, nb = rng.integers(1, 40, size=2)
    a, b = rng.normal(size=na), rng.standard_t(3, size=nb) + 0.5
    wa, wb = rng.uniform(size=na), rng.exponential(size=nb)
    expected = scipy.stats.wasserstein_distance(a, b, wa, wb)
    assert stats.wasserstein1(a, wa, b, wb) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    # Unnormalised weights describe the same measures; None is the uniform measure.
    assert stats.wasserstein1(a, 3 * wa, b, wb) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert stats.wasserstein1(a, None, b, None) == pytest.approx(scipy.stats.wasserstein_distance(a, b),
                                                                 rel=1e-12, abs=1e-15)


def test_wasserstein1_with_ties_and_zero_weights():
    a, wa = np.array([0.0, 1.0, 1.0, 2.0]), np.array([0.25, 0.25, 0.0, 0.5])
    b, wb = np.array([1.0, 1.0, 3.0]), np.array([0.5, 0.25, 0.25])
    assert stats.wasserstein1(a, wa, b, wb) == pytest.approx(scipy.stats.wasserstein_distance(a, b, wa, wb),
                                                             rel=1e-12)
    assert stats.wasserstein1(a, wa, a, wa) == 0.0


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (([], None, [1.0], None), "nodes_a must be a non-empty 1-D array"),
        (([[1.0]], None, [1.0], None), "nodes_a must be a non-empty 1-D array"),
        (([1.0], None, [np.nan], None), "nodes_b must be finite"),
        (([1.0, 2.0], [1.0], [1.0], None), "weights_a must be of the shape"),
        (([1.0, 2.0], [1.0, -0.5], [1.0], None), "weights_a must be >= 0"),
        (([1.0], None, [1.0, 2.0], [0.0, 0.0]), r"sum\(weights_b\) must be > 0"),
    ],
)
def test_wasserstein1_rejects_bad_point_sets(args, match):
    with pytest.raises(ValueError, match=match):
        stats.wasserstein1(*args)
