r"""Tabular data for fairness and interpretability, offline: a biased synthetic population, scikit-learn's bundled
diabetes data with its sex column as the protected attribute, and regression data with planted feature relevance.

Notation (the notes write :math:`\hat Y` for both): :math:`A` the protected attribute, :math:`Y` the target,
:math:`\hat Y` a prediction. Import as ``from dl_theory.data.tabular import biased_population, diabetes_sex``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from dl_theory import checks


class FairnessData(NamedTuple):
    """Features ``x_NxD``, protected attribute ``a_N`` in {0, 1}, recorded target ``y_N`` in {0, 1}, and the target
    before label bias ``y_true_N`` (equal to ``y_N`` for real data)."""

    x_NxD: np.ndarray
    a_N: np.ndarray
    y_N: np.ndarray
    y_true_N: np.ndarray


def biased_population(key: jax.Array, n: int, *, p_protected: float = 0.4, base_rates: tuple[float, float] = (
        0.5, 0.3), label_flip: float = 0.2, signal: float = 1.0, proxy: float = 1.0) -> FairnessData:
    r"""A seeded population with differing base rates, a proxy of :math:`A` in the features and label bias.

    .. math::
        A \sim \text{Bernoulli}(p_A),\quad Y^* \mid A \sim \text{Bernoulli}(\beta_A),\quad
        X \mid Y^*, A \sim \mathcal N\bigl(\text{signal}\,(2Y^* - 1)\,\mathbf 1_2 \oplus \text{proxy}\,A,\; I_3\bigr),

    and the recorded label :math:`Y` equals :math:`Y^*` except that a positive of group :math:`A = 1` is recorded as 0
    with probability ``label_flip`` (historical under-recording), so :math:`P(Y{=}1 \mid A{=}a) = \beta_0` for
    :math:`a = 0` and :math:`\beta_1(1 - \text{label\_flip})` for :math:`a = 1`. The first two features carry the
    label, the third only the group (a proxy: dropping :math:`A` does not remove it).

    Reference: Barocas, Hardt & Narayanan, "Fairness and Machine Learning", 2023, ch. 3 (base rates, proxies).
    """
    n = checks.count("n", n)
    checks.probability("p_protected", p_protected)
    checks.each(checks.probability)("base_rates", base_rates)
    checks.in_interval(0.0, 1.0, closed=True)("label_flip", label_flip)
    checks.nonnegative("signal", signal)
    checks.nonnegative("proxy", proxy)
    k_a, k_y, k_x, k_flip = jax.random.split(key, 4)
    a = jax.random.bernoulli(k_a, p_protected, (n,))
    y_true = jax.random.bernoulli(k_y, jnp.where(a, base_rates[1], base_rates[0]))
    mean = jnp.stack([signal * (2.0 * y_true - 1.0)] * 2 + [proxy * a.astype(float)], axis=1)
    x = mean + jax.random.normal(k_x, (n, 3))
    y = y_true & ~(a & jax.random.bernoulli(k_flip, label_flip, (n,)))
    return FairnessData(np.asarray(x), np.asarray(a, np.int64), np.asarray(y, np.int64),
                        np.asarray(y_true, np.int64))


def recorded_base_rates(base_rates: tuple[float, float], label_flip: float) -> tuple[float, float]:
    r""":math:`P(Y{=}1 \mid A{=}a)` of :func:`biased_population`: :math:`(\beta_0, \beta_1(1 - \text{label\_flip}))`."""
    return float(base_rates[0]), float(base_rates[1] * (1.0 - label_flip))


def diabetes_sex(*, include_sex: bool = False) -> FairnessData:
    r"""scikit-learn's bundled diabetes data (442 patients) with sex as :math:`A` and a binarized target.

    :math:`Y = 1` when the disease-progression target (one year after baseline) is above its median, 140.5, so the
    classes are balanced. The sex column is read from the unscaled data (``load_diabetes(scaled=False)``), where it
    takes the values 1 and 2 (the scaled default stores them as -0.0446 and 0.0507); :math:`A = 0` for 1 and
    :math:`A = 1` for 2 (the source does not say which value is which sex). The other nine columns (age, bmi, bp and
    six blood serum measurements) are standardized to zero mean and unit variance; ``include_sex`` keeps :math:`A`
    as a tenth feature. Nothing is downloaded: the data ship with scikit-learn.

    Reference: Efron, Hastie, Johnstone & Tibshirani, "Least angle regression", Ann. Statist. 32(2), 2004.
    """
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(scaled=False)
    sex = bunch.data[:, 1]
    a = (sex == 2).astype(np.int64)
    columns = bunch.data if include_sex else np.delete(bunch.data, 1, axis=1)
    x = (columns - columns.mean(axis=0)) / columns.std(axis=0)
    y = (bunch.target > np.median(bunch.target)).astype(np.int64)
    return FairnessData(x, a, y, y)


def split(data: FairnessData, test_fraction: float, seed: int) -> tuple[FairnessData, FairnessData]:
    """A seeded random split into ``(train, test)``, the test part holding ``round(test_fraction * N)`` rows."""
    checks.probability("test_fraction", test_fraction)
    n = len(data.y_N)
    perm = np.random.default_rng(seed).permutation(n)
    n_test = int(round(test_fraction * n))
    if not 0 < n_test < n:
        raise checks.fail("test_fraction", f"leaving both parts non-empty for N = {n}", test_fraction)
    test, train = perm[:n_test], perm[n_test:]
    return FairnessData(*(np.asarray(v)[train] for v in data)), FairnessData(*(np.asarray(v)[test] for v in data))


def planted_features(key: jax.Array, n: int, d: int = 6, noise: float = 0.1) -> tuple[jax.Array, jax.Array]:
    r"""Regression data whose feature relevance is planted: :math:`X \sim \mathcal N(0, I_d)`, ``d >= 4``, and

    .. math:: y = 3\sin(x_0) + x_1 + \tfrac12 x_2 x_3 + \sigma\varepsilon,

    so feature 0 explains most of the variance (:math:`9\,\mathrm{Var}\sin X_0 = \tfrac92(1 - e^{-2})` against 1 and
    1/4), features 4.. are irrelevant and the features are independent. Returns ``(x_NxD, y_N)``.
    """
    n = checks.count("n", n)
    d = checks.at_least(4)("d", d)
    checks.nonnegative("noise", noise)
    k_x, k_e = jax.random.split(key)
    x = jax.random.normal(k_x, (n, d))
    y = 3.0 * jnp.sin(x[:, 0]) + x[:, 1] + 0.5 * x[:, 2] * x[:, 3] + noise * jax.random.normal(k_e, (n,))
    return x, y
