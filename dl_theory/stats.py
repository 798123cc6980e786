"""Small statistics used by claims: standard errors, z-scores, power-law fits and the 1-D Wasserstein distance."""

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import scipy.stats
from jax.typing import ArrayLike

from dl_theory import checks


def proportion_stderr(p: ArrayLike, n_trials: int) -> np.ndarray:
    r"""Standard error :math:`\sqrt{p(1-p)/T}` of a frequency over ``n_trials`` Bernoulli(p) trials."""
    p = np.asarray(p, float)
    return np.sqrt(p * (1.0 - p) / n_trials)


def mean_and_stderr(samples: ArrayLike, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sample mean and its standard error :math:`s/\\sqrt{T}` along ``axis``."""
    samples = np.asarray(samples, float)
    count = samples.shape[axis]
    return samples.mean(axis), samples.std(axis, ddof=1) / np.sqrt(count)


def paired_difference(a_N: ArrayLike, b_N: ArrayLike) -> tuple[float, float]:
    """Mean of ``a - b`` over paired samples (the same examples, sequences or trials) and its standard error.

    Pairing removes the variance the two share: the standard error is that of the differences, not the sum of the
    two errors.
    """
    mean, se = mean_and_stderr(np.asarray(a_N, float) - np.asarray(b_N, float))
    return float(mean), float(se)


def loglog_slope(x: ArrayLike, y: ArrayLike) -> tuple[float, float]:
    r"""Least-squares fit :math:`\log y = a \log x + b`; returns ``(a, b)``."""
    slope, intercept = np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)
    return float(slope), float(intercept)


def wasserstein1(nodes_a: ArrayLike, weights_a: ArrayLike | None, nodes_b: ArrayLike,
                 weights_b: ArrayLike | None) -> float:
    r"""The exact Wasserstein-1 distance between two weighted point sets on the real line.

    Each set :math:`\{(x_i, w_i)\}` is the discrete measure :math:`\mu = \sum_i w_i \delta_{x_i} / \sum_i w_i`
    (``None`` weights: uniform). On the line the optimal coupling is monotone, so
    :math:`W_1(\mu, \nu) = \int_{\mathbb R} |F_\mu(t) - F_\nu(t)|\,dt` (Vallender 1974), where the CDFs are step
    functions: the integral is a finite sum over the merged, sorted nodes, :math:`\sum_k |F_\mu - F_\nu|(t_k)
    (t_{k+1} - t_k)`, computed in :math:`O((n_a + n_b)\log(n_a + n_b))`. Same value as
    ``scipy.stats.wasserstein_distance``.

    Raises:
        ValueError: if a set is empty or not 1-D, its weights do not match its nodes, are negative or sum to 0.
    """
    nodes_a, weights_a = _weighted_points("a", nodes_a, weights_a)
    nodes_b, weights_b = _weighted_points("b", nodes_b, weights_b)
    x = np.concatenate([nodes_a, nodes_b])
    w = np.concatenate([weights_a, -weights_b])
    order = np.argsort(x, kind="stable")
    cdf_gap = np.cumsum(w[order])[:-1]
    return float(np.sum(np.abs(cdf_gap) * np.diff(x[order])))


def _weighted_points(name: str, nodes: ArrayLike, weights: ArrayLike | None) -> tuple[np.ndarray, np.ndarray]:
    """Finite 1-D ``nodes`` and their weights normalised to sum to one."""
    nodes = np.asarray(nodes, np.float64)
    if nodes.ndim != 1 or nodes.size == 0:
        raise checks.fail(f"nodes_{name}", "a non-empty 1-D array", f"shape {nodes.shape}")
    checks.finite(f"nodes_{name}", nodes)
    if weights is None:
        return nodes, np.full(nodes.size, 1.0 / nodes.size)
    weights = np.asarray(weights, np.float64)
    if weights.shape != nodes.shape:
        raise checks.fail(f"weights_{name}", f"of the shape of nodes_{name} {nodes.shape}", f"shape {weights.shape}")
    checks.nonnegative(f"weights_{name}", weights)
    checks.finite(f"weights_{name}", weights)
    checks.positive(f"sum(weights_{name})", weights.sum())
    return nodes, weights / weights.sum()


def loglog_slope_stderr(x_B: ArrayLike, samples_RxB: ArrayLike, *, reduce=np.mean, n_boot: int = 400,
                        seed: int = 0) -> float:
    r"""Bootstrap standard error of the log-log slope of a statistic of independent repeats against ``x_B``.

    Column :math:`b` of ``samples_RxB`` holds :math:`R` independent measurements at :math:`x_b`; the fitted slope is
    that of :math:`\log \text{reduce}(\text{samples}_{\cdot b})` against :math:`\log x_b` (:func:`loglog_slope`). Its
    standard error is the standard deviation of the slope over ``n_boot`` resamplings of the rows with replacement
    (Efron & Tibshirani, 1993, ch. 6), which needs no model of how the noise enters the fit.

    Args:
      x_B: the ``B`` abscissae (positive).
      samples_RxB: ``R`` repeats (rows) at each abscissa (columns); positive statistics.
      reduce: ``reduce(samples_RxB, axis=0) -> (B,)``, e.g. ``np.mean`` or a root mean square.
      n_boot: bootstrap resamplings.
      seed: seed of the resampling.
    """
    samples_RxB = np.asarray(samples_RxB, float)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(samples_RxB), size=(n_boot, len(samples_RxB)))
    slopes = [loglog_slope(x_B, reduce(samples_RxB[p], axis=0))[0] for p in picks]
    return float(np.std(slopes, ddof=1))


class LogMeanSlope(NamedTuple):
    """A log-log slope fitted to per-column means of logs, its standard error and the error's degrees of freedom."""

    slope: float
    intercept: float
    stderr: float
    dof: int

    def tolerance(self, n_se: float) -> float:
        """Half-width of the interval with the two-sided level of ``n_se`` normal standard errors, from Student's t
        with :attr:`dof` degrees of freedom (``n_se`` standard errors for many degrees of freedom)."""
        return float(self.stderr * scipy.stats.t.isf(scipy.stats.norm.sf(n_se), self.dof))


def log_mean_slope(x_B: ArrayLike, samples_RxB: ArrayLike) -> LogMeanSlope:
    r"""Slope of the mean of :math:`\log` samples against :math:`\log x`, with an exact standard error.

    Column :math:`b` of ``samples_RxB`` holds :math:`R` measurements at :math:`x_b`, independent of each other and of
    the other columns. The least-squares slope of :math:`\bar\ell_b = \frac1R\sum_r \log y_{rb}` (the log of the
    geometric mean) against :math:`u_b = \log x_b` is the linear combination :math:`\sum_b w_b \bar\ell_b` with
    :math:`w_b = (u_b - \bar u)/\sum_c (u_c - \bar u)^2`, so its variance is :math:`\sum_b w_b^2\sigma_b^2/R`. The
    variance of :math:`\log y` is pooled over the columns (:math:`B(R-1)` degrees of freedom), which is right when the
    law of :math:`y_b` changes only by a scale factor across columns, as for an error :math:`y \propto x^{a} Z` with a
    fixed law of :math:`Z`; then for normal logs the studentized slope has Student's t law exactly. Logs tame heavy
    right tails: a few large measurements dominate a root mean square and its bootstrap standard error, not the mean
    of the logs.

    Args:
      x_B: the ``B >= 3`` abscissae (positive).
      samples_RxB: ``R >= 2`` positive measurements (rows) at each abscissa (columns).
    """
    u = np.log(np.asarray(x_B, float))
    samples_RxB = np.asarray(samples_RxB, float)
    if samples_RxB.ndim != 2 or samples_RxB.shape[1] != len(u):
        raise checks.fail("samples_RxB", f"of shape (R, {len(u)})", f"shape {samples_RxB.shape}")
    checks.at_least(2)("R", samples_RxB.shape[0])
    checks.at_least(3)("B", len(u))
    checks.positive("samples_RxB", samples_RxB)
    logs = np.log(samples_RxB)
    repeats, n_cols = logs.shape
    w = (u - u.mean()) / np.sum((u - u.mean()) ** 2)
    means = logs.mean(axis=0)
    slope = float(w @ means)
    pooled_var = float(np.sum((logs - means) ** 2) / (n_cols * (repeats - 1)))
    return LogMeanSlope(slope, float(means.mean() - slope * u.mean()), float(np.sqrt(pooled_var * (w @ w) / repeats)),
                        n_cols * (repeats - 1))


def bootstrap_stderr(samples_RxB: ArrayLike, estimator: Callable[[np.ndarray], float], *, n_boot: int = 400,
                     seed: int = 0) -> float:
    """Bootstrap standard error of ``estimator(samples_RxB)``, resampling the ``R`` independent rows with replacement.

    Rows are resampled whole, so any dependence between the columns of a row is kept (Efron & Tibshirani, 1993, ch. 6).
    """
    samples_RxB = np.asarray(samples_RxB, float)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(samples_RxB), size=(n_boot, len(samples_RxB)))
    return float(np.std([estimator(samples_RxB[p]) for p in picks], ddof=1))
