"""Small statistics used by claims: Monte-Carlo standard errors, z-scores and power-law fits."""

import numpy as np
from jax.typing import ArrayLike


def proportion_stderr(p: ArrayLike, n_trials: int) -> np.ndarray:
    r"""Standard error :math:`\sqrt{p(1-p)/T}` of a frequency over ``n_trials`` Bernoulli(p) trials."""
    p = np.asarray(p, float)
    return np.sqrt(p * (1.0 - p) / n_trials)


def mean_and_stderr(samples: ArrayLike, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sample mean and its standard error :math:`s/\\sqrt{T}` along ``axis``."""
    samples = np.asarray(samples, float)
    count = samples.shape[axis]
    return samples.mean(axis), samples.std(axis, ddof=1) / np.sqrt(count)


def loglog_slope(x: ArrayLike, y: ArrayLike) -> tuple[float, float]:
    r"""Least-squares fit :math:`\log y = a \log x + b`; returns ``(a, b)``."""
    slope, intercept = np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)
    return float(slope), float(intercept)
