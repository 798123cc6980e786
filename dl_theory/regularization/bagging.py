r"""Bagging: bootstrap resampling, the bagged predictor, and the variance of an average of correlated predictors.

Bagging (Breiman, 1996, "Bagging predictors", Machine Learning 24) fits one predictor :math:`f_b` to each of
:math:`B` bootstrap samples of the data (:math:`n` draws with replacement, :func:`bootstrap_indices`) and averages
their predictions, :math:`\bar f = \frac1B \sum_b f_b` (:func:`bagged_predict`). Over the randomness of the data and
of the resampling, the members are exchangeable with variance :math:`\sigma^2` and pairwise correlation :math:`\rho`,
so

.. math:: \operatorname{Var}\bar f = \rho\sigma^2 + \frac{1 - \rho}{B}\sigma^2

(:func:`average_variance`; Hastie, Tibshirani & Friedman, "The Elements of Statistical Learning", eq. 15.1): bagging
removes the part of the variance that the resampling makes independent and keeps the shared part
:math:`\rho\sigma^2`. The gain is largest for unstable learners; :func:`regression_stump`, a depth-1 regression tree
on a scalar input (the best single split by squared error), is one.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory import checks

__all__ = ["average_variance", "bagged_predict", "bootstrap_indices", "regression_stump"]

FitPredict = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
"""``fit_predict(x_train_N, y_train_N, x_test_T) -> predictions_T``: fit on the training data, predict the test."""


def bootstrap_indices(key: jax.Array, n: int, n_bags: int) -> jax.Array:
    """``(n_bags, n)`` indices of ``n_bags`` bootstrap samples: ``n`` uniform draws with replacement each."""
    n = checks.count("n", n)
    n_bags = checks.count("n_bags", n_bags)
    return jax.random.randint(key, (n_bags, n), 0, n)


def bagged_predict(fit_predict: FitPredict, key: jax.Array, x_train_N: ArrayLike, y_train_N: ArrayLike,
                   x_test_T: ArrayLike, n_bags: int) -> tuple[jax.Array, jax.Array]:
    """The bagged prediction and the members': ``(mean over bags (T,), per-bag predictions (n_bags, T))``.

    ``fit_predict`` is fitted to every bootstrap sample under ``vmap``, so it must be traceable.
    """
    x_train, y_train = jnp.asarray(x_train_N), jnp.asarray(y_train_N)
    if x_train.shape[:1] != y_train.shape[:1]:
        raise checks.fail("y_train_N", f"{x_train.shape[0]} examples like x_train_N", y_train.shape)
    idx_BxN = bootstrap_indices(key, x_train.shape[0], n_bags)
    members = jax.vmap(lambda idx: fit_predict(x_train[idx], y_train[idx], jnp.asarray(x_test_T)))(idx_BxN)
    return jnp.mean(members, axis=0), members


def average_variance(sigma2: ArrayLike, rho: ArrayLike, n_members: ArrayLike) -> jax.Array:
    r""":math:`\rho\sigma^2 + (1 - \rho)\sigma^2/B`: the variance of the mean of :math:`B` exchangeable predictors
    with variance :math:`\sigma^2` and pairwise correlation :math:`\rho`."""
    checks.nonnegative("sigma2", sigma2)
    checks.in_interval(-1.0, 1.0, closed=True)("rho", rho)
    checks.positive("n_members", n_members)
    sigma2, rho = jnp.asarray(sigma2), jnp.asarray(rho)
    return rho * sigma2 + (1 - rho) * sigma2 / jnp.asarray(n_members)


def regression_stump(x_N: ArrayLike, y_N: ArrayLike, x_test_T: ArrayLike) -> jax.Array:
    r"""Depth-1 regression tree on a scalar input: the threshold :math:`t` (midway between consecutive distinct
    training inputs) minimizing :math:`\sum_{x_i \le t}(y_i - \bar y_L)^2 + \sum_{x_i > t}(y_i - \bar y_R)^2`; predicts
    :math:`\bar y_L` for :math:`x \le t`, :math:`\bar y_R` above (the mean everywhere when all inputs are equal).
    Traceable (``vmap`` over bootstrap samples); ties between splits go to the smallest threshold."""
    x, y = jnp.asarray(x_N), jnp.asarray(y_N)
    if x.ndim != 1 or y.shape != x.shape:
        raise checks.fail("x_N, y_N", "1-D arrays of one length", (x.shape, y.shape))
    order = jnp.argsort(x)
    xs, ys = x[order], y[order]
    n = xs.shape[0]
    left_n = jnp.arange(1, n)
    left_sum = jnp.cumsum(ys)[:-1]
    right_sum = jnp.sum(ys) - left_sum
    # sum of squares minus the explained part; only the explained part varies with the split
    explained = left_sum**2 / left_n + right_sum**2 / (n - left_n)
    valid = xs[1:] > xs[:-1]
    best = jnp.argmax(jnp.where(valid, explained, -jnp.inf))
    threshold = 0.5 * (xs[best] + xs[best + 1])
    left_mean, right_mean = left_sum[best] / left_n[best], right_sum[best] / (n - left_n[best])
    x_test = jnp.asarray(x_test_T)
    split = jnp.where(x_test <= threshold, left_mean, right_mean)
    return jnp.where(jnp.any(valid), split, jnp.mean(ys) * jnp.ones_like(x_test))
