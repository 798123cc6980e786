"""stats: standard errors and log-log slopes against closed forms."""

import numpy as np
import pytest

from dl_theory.stats import (
    bootstrap_stderr,
    log_mean_slope,
    loglog_slope,
    loglog_slope_stderr,
    mean_and_stderr,
    paired_difference,
)


def test_loglog_slope_of_an_exact_power_law():
    x = np.array([10.0, 20.0, 40.0, 80.0])
    slope, intercept = loglog_slope(x, 3.0 * x**-0.5)
    np.testing.assert_allclose([slope, intercept], [-0.5, np.log(3.0)], rtol=1e-12)
    assert loglog_slope_stderr(x, np.tile(3.0 * x**-0.5, (50, 1))) < 1e-12  # identical repeats: rounding only


def test_bootstrap_slope_stderr_matches_the_delta_method():
    # y_rb = c x_b^a (1 + s z_rb): the slope of log(mean) is linear in the log-means, each with standard error
    # s / sqrt(R), so SE(slope) = (s / sqrt(R)) sqrt(sum_b w_b^2) with OLS weights w_b = (u_b - mean u) / S_uu.
    rng = np.random.default_rng(0)
    x, repeats, s = np.array([25.0, 50.0, 100.0, 200.0, 400.0]), 4000, 0.2
    samples = 2.0 * x**-0.5 * (1 + s * rng.standard_normal((repeats, len(x))))
    u = np.log(x)
    w = (u - u.mean()) / np.sum((u - u.mean()) ** 2)
    expected = s / np.sqrt(repeats) * np.sqrt(np.sum(w**2))
    n_boot = 400
    # the bootstrap standard deviation of n_boot slopes has relative standard error ~ 1/sqrt(2 n_boot)
    np.testing.assert_allclose(loglog_slope_stderr(x, samples, n_boot=n_boot), expected, rtol=4 / np.sqrt(2 * n_boot))
    mean, se = mean_and_stderr(samples)
    np.testing.assert_allclose(se / mean, s / np.sqrt(repeats), rtol=0.1)


def test_log_mean_slope_is_the_fit_of_the_log_means():
    rng = np.random.default_rng(1)
    x = np.array([8.0, 16.0, 32.0, 64.0])
    samples = 3.0 * x**-0.5 * np.exp(0.3 * rng.standard_normal((6, 4)))
    fit = log_mean_slope(x, samples)
    slope, intercept = np.polyfit(np.log(x), np.log(samples).mean(0), 1)
    np.testing.assert_allclose([fit.slope, fit.intercept], [slope, intercept], rtol=1e-12)
    assert fit.dof == 4 * 5
    exact = log_mean_slope(x, np.tile(3.0 * x**-0.5, (6, 1)))
    np.testing.assert_allclose([exact.slope, exact.intercept], [-0.5, np.log(3.0)], rtol=1e-12)
    assert exact.stderr < 1e-12


def test_log_mean_slope_tolerance_has_its_nominal_level():
    # lognormal errors with R = 3 repeats at B = 3 sizes (6 degrees of freedom): the slope leaves its tolerance of
    # "one standard error" with probability 2 P(Z > 1) = 0.317 (Student's t quantile, not 1); over T = 4000
    # independent fits the frequency has binomial standard error sqrt(0.317 * 0.683 / T) = 0.0074.
    rng = np.random.default_rng(2)
    x, trials = np.array([10.0, 100.0, 1000.0]), 4000
    fits = [log_mean_slope(x, x**-0.5 * np.exp(0.5 * rng.standard_normal((3, 3)))) for _ in range(trials)]
    outside = np.mean([abs(f.slope + 0.5) > f.tolerance(1.0) for f in fits])
    assert abs(outside - 0.3173) < 4 * 0.0074, outside
    assert fits[0].tolerance(1.0) > fits[0].stderr  # heavier than normal with few degrees of freedom
    np.testing.assert_allclose(log_mean_slope(x, np.ones((400, 3))).tolerance(3.0), 0.0)


def test_bootstrap_stderr_of_a_mean_is_the_plug_in_standard_error():
    # the bootstrap distribution of a sample mean has standard deviation sqrt((R - 1) / R) s / sqrt(R) exactly;
    # 2000 resamplings estimate it within a relative standard error 1 / sqrt(2 * 2000) = 0.016.
    samples = np.random.default_rng(3).normal(size=(50, 2))
    se = bootstrap_stderr(samples, lambda v: v[:, 0].mean(), n_boot=2000, seed=1)
    expected = samples[:, 0].std(ddof=0) / np.sqrt(50)
    np.testing.assert_allclose(se, expected, rtol=4 / np.sqrt(2 * 2000))


def test_paired_difference_is_the_mean_and_standard_error_of_the_differences():
    a = np.array([1.0, 2.0, 4.0, 7.0])
    b = np.array([0.5, 2.5, 3.0, 5.0])
    d = a - b  # 0.5, -0.5, 1, 2
    mean, se = paired_difference(a, b)
    assert mean == pytest.approx(0.75)
    assert se == pytest.approx(np.sqrt(np.sum((d - 0.75) ** 2) / 3) / 2)
