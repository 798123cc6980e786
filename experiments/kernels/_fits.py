"""Standard error of a log-log slope fitted to a statistic of independent repeats, by the bootstrap.

The kernel experiments measure a quantity (a relative error, a distance) on ``R`` independent repeats at each of ``S``
sizes and fit the log-log slope of a per-size statistic (the root mean square over repeats) against the size. The
bootstrap resamples the repeats with replacement, jointly across sizes, which is valid both when the sizes use
independent repeats and when one repeat is measured at every size (running averages): the resampled rows keep the
dependence between sizes (Efron & Tibshirani, 1993, ch. 6).
"""

from collections.abc import Callable

import numpy as np
from jax.typing import ArrayLike

from dl_theory.stats import loglog_slope


def rms(values_RxS: np.ndarray) -> np.ndarray:
    """Root mean square over the repeats (axis 0)."""
    return np.sqrt(np.mean(np.asarray(values_RxS) ** 2, axis=0))


def bootstrap_stderr(values_RxS: ArrayLike, estimator: Callable[[np.ndarray], float], *, seed: int,
                     n_boot: int = 400) -> float:
    """Bootstrap standard error of ``estimator(values)``, resampling the ``R`` repeats (rows) with replacement."""
    values_RxS = np.asarray(values_RxS, float)
    rng = np.random.default_rng(seed)
    picks_BxR = rng.integers(0, len(values_RxS), size=(n_boot, len(values_RxS)))
    return float(np.std([estimator(values_RxS[p]) for p in picks_BxR], ddof=1))


def bootstrap_slope_stderr(sizes_S: ArrayLike, values_RxS: ArrayLike, *, seed: int, n_boot: int = 400,
                           statistic: Callable[[np.ndarray], np.ndarray] = rms) -> float:
    """Bootstrap standard error of the log-log slope of ``statistic(values)`` against ``sizes``."""
    return bootstrap_stderr(values_RxS, lambda v: loglog_slope(sizes_S, statistic(v))[0], seed=seed, n_boot=n_boot)


def local_exponents(sizes_S: ArrayLike, values_RxS: ArrayLike,
                    statistic: Callable[[np.ndarray], np.ndarray] = rms) -> np.ndarray:
    """Log-log slopes of ``statistic(values)`` between successive sizes (``S - 1`` of them)."""
    return np.diff(np.log(statistic(np.asarray(values_RxS, float)))) / np.diff(np.log(np.asarray(sizes_S, float)))
