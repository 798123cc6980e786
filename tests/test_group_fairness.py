"""Fairness metrics against fairlearn, and the equalized-odds post-processor against an LP and fairlearn."""

import fairlearn.metrics as fm
import jax
import numpy as np
import pytest
import scipy.optimize
from fairlearn.postprocessing import ThresholdOptimizer
from sklearn.base import BaseEstimator, ClassifierMixin

from dl_theory import fairness
from dl_theory.fairness.postprocess import roc_points

METRICS = ["demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference",
           "equalized_odds_ratio", "equal_opportunity_difference", "equal_opportunity_ratio"]


def _random(seed, n=600, groups=("a", "b", "c", "d")):
    rng = np.random.default_rng(seed)
    a = rng.choice(groups, n)
    y = rng.integers(0, 2, n)
    y_pred = (rng.random(n) < 0.3 + 0.4 * y * (a != "a")).astype(int)
    return y, y_pred, a


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", METRICS)
def test_metrics_match_fairlearn(name, seed):
    y, y_pred, a = _random(seed)
    ours = getattr(fairness, name)(y, y_pred, sensitive_features=a)
    assert ours == pytest.approx(getattr(fm, name)(y, y_pred, sensitive_features=a), abs=1e-12)


@pytest.mark.parametrize("name", ["equalized_odds_difference", "equalized_odds_ratio"])
def test_equalized_odds_mean_aggregation_matches_fairlearn(name):
    y, y_pred, a = _random(3)
    ours = getattr(fairness, name)(y, y_pred, sensitive_features=a, agg="mean")
    assert ours == pytest.approx(getattr(fm, name)(y, y_pred, sensitive_features=a, agg="mean"), abs=1e-12)


def test_group_rates_match_metric_frame():
    y, y_pred, a = _random(4)
    frame = fm.MetricFrame(metrics={"sel": fm.selection_rate, "tpr": fm.true_positive_rate,
                                    "fpr": fm.false_positive_rate, "count": fm.count},
                           y_true=y, y_pred=y_pred, sensitive_features=a)
    rates = fairness.group_rates(y, y_pred, sensitive_features=a)
    by_group = frame.by_group.loc[list(rates.groups)]
    np.testing.assert_allclose(rates.selection_rate, by_group["sel"], atol=1e-12)
    np.testing.assert_allclose(rates.tpr, by_group["tpr"], atol=1e-12)
    np.testing.assert_allclose(rates.fpr, by_group["fpr"], atol=1e-12)
    np.testing.assert_array_equal(rates.count, by_group["count"])
    # selection rate = base * TPR + (1 - base) * FPR
    np.testing.assert_allclose(rates.selection_rate, rates.base_rate * rates.tpr + (1 - rates.base_rate) * rates.fpr,
                               atol=1e-12)


@pytest.mark.parametrize(("y", "y_pred", "a", "match"), [
    ([0, 1, 1], [0, 1, 1], [1, 1, 1], "at least 2 distinct groups"),
    ([0, 1, 1], [0, 2, 1], [0, 1, 1], "y_pred must be binary"),
    ([0, 1, -1], [0, 1, 1], [0, 1, 1], "y_true must be binary"),
    ([0, 1, 1], [0.5, 1, 1], [0, 1, 1], "y_pred must be binary"),
    ([0, 1, 1], [0, 1], [0, 1, 1], "y_pred must be of the length"),
])
def test_bad_input_raises_one_clear_error(y, y_pred, a, match):
    with pytest.raises(ValueError, match=match):
        fairness.demographic_parity_difference(y, y_pred, sensitive_features=a)


def test_conditional_rates_need_both_labels_in_every_group():
    with pytest.raises(ValueError, match="both labels in every group"):
        fairness.equalized_odds_difference([1, 1, 0, 1], [1, 0, 0, 1], sensitive_features=[0, 0, 1, 1])
    with pytest.raises(ValueError, match="agg must be one of"):
        fairness.equalized_odds_difference([1, 0, 0, 1], [1, 0, 0, 1], sensitive_features=[0, 0, 1, 1], agg="max")


def _scored(seed, n=1500):
    rng = np.random.default_rng(seed)
    a = rng.choice(["g0", "g1", "g2"], n, p=[0.5, 0.3, 0.2])
    y = (rng.random(n) < np.select([a == "g0", a == "g1"], [0.5, 0.3], 0.6)).astype(int)
    separation = np.select([a == "g0", a == "g1"], [2.0, 1.0], 0.5)
    scores = np.round(rng.normal(size=n) + separation * y, 2)  # ties: rules at distinct scores only
    return scores, y, a


def _lp_optimum(scores, y, a):
    """Brute force: the best accuracy over all mixtures of threshold rules with one common (FPR, TPR) per group."""
    groups = np.unique(a)
    points = [roc_points(scores[a == g], y[a == g])[:2] for g in groups]
    sizes = [len(p[0]) for p in points]
    n_var = sum(sizes) + 2  # mixture weights of every group, then (gamma0, gamma1)
    rows, rhs = [], []
    start = 0
    for (fpr, tpr), k in zip(points, sizes, strict=True):
        for coeff, last in ((np.ones(k), (0, 0)), (fpr, (-1, 0)), (tpr, (0, -1))):
            row = np.zeros(n_var)
            row[start:start + k] = coeff
            row[-2:] = last
            rows.append(row)
            rhs.append(1.0 if last == (0, 0) else 0.0)
        start += k
    prevalence = y.mean()
    cost = np.zeros(n_var)
    cost[-2:] = (1 - prevalence), -prevalence  # minimize -(accuracy - (1 - prevalence))
    res = scipy.optimize.linprog(cost, A_eq=np.array(rows), b_eq=rhs, bounds=(0, None), method="highs")
    return (1 - prevalence) - res.fun


class _Identity(ClassifierMixin, BaseEstimator):
    def fit(self, x, y):
        self.classes_ = np.array([0, 1])
        return self

    def predict(self, x):
        return np.asarray(x)[:, 0]


@pytest.mark.parametrize("seed", [0, 1])
def test_post_processing_equalizes_odds_at_the_lp_optimum(seed):
    scores, y, a = _scored(seed)
    fit = fairness.fit_equalized_odds(scores, y, sensitive_features=a)
    p = fairness.predict_proba(fit.rule, scores, sensitive_features=a)
    for g in fit.rule.groups:
        in_g = a == g
        assert p[in_g & (y == 1)].mean() == pytest.approx(fit.tpr, abs=1e-12)
        assert p[in_g & (y == 0)].mean() == pytest.approx(fit.fpr, abs=1e-12)
    accuracy = np.mean(np.where(y == 1, p, 1 - p))
    assert accuracy == pytest.approx(fit.accuracy, abs=1e-12)
    assert accuracy == pytest.approx(_lp_optimum(scores, y, a), abs=1e-9)
    assert np.all((fit.rule.probs_Gx3 >= 0) & (fit.rule.probs_Gx3 <= 1))
    assert np.all(np.diff(fit.rule.probs_Gx3, axis=1) >= -1e-15)  # monotone in the score


def test_post_processing_matches_fairlearn_threshold_optimizer():
    scores, y, a = _scored(2)
    fit = fairness.fit_equalized_odds(scores, y, sensitive_features=a)
    opt = ThresholdOptimizer(estimator=_Identity().fit(scores[:, None], y), constraints="equalized_odds",
                             objective="accuracy_score", prefit=True, predict_method="predict")
    opt.fit(scores[:, None], y, sensitive_features=a)
    p_fl = opt._pmf_predict(scores[:, None], sensitive_features=a)[:, 1]
    acc_fl = np.mean(np.where(y == 1, p_fl, 1 - p_fl))
    assert acc_fl - 1e-12 <= fit.accuracy <= acc_fl + 2e-3  # fairlearn searches a grid of 1000 FPRs
    tpr_fl = [p_fl[(a == g) & (y == 1)].mean() for g in fit.rule.groups]
    assert np.ptp(tpr_fl) < 1e-9 and tpr_fl[0] == pytest.approx(fit.tpr, abs=5e-3)


def test_predict_is_seeded_and_follows_the_probabilities():
    scores, y, a = _scored(3, n=4000)
    fit = fairness.fit_equalized_odds(scores, y, sensitive_features=a)
    first = fairness.predict(fit.rule, scores, sensitive_features=a, key=jax.random.key(1))
    again = fairness.predict(fit.rule, scores, sensitive_features=a, key=jax.random.key(1))
    np.testing.assert_array_equal(first, again)
    p = fairness.predict_proba(fit.rule, scores, sensitive_features=a)
    assert abs(first.mean() - p.mean()) < 5 * np.sqrt(p.mean() * (1 - p.mean()) / len(p))
    with pytest.raises(ValueError, match="groups seen at fit time"):
        fairness.predict_proba(fit.rule, scores[:3], sensitive_features=np.array(["g0", "g9", "g1"]))


def test_perfect_score_gives_a_perfect_rule():
    y = np.array([0, 1, 0, 1, 0, 1, 1, 0])
    fit = fairness.fit_equalized_odds(y + 0.1 * np.arange(8) / 8, y, sensitive_features=[0, 0, 0, 0, 1, 1, 1, 1])
    assert (fit.fpr, fit.tpr, fit.accuracy) == (0.0, 1.0, 1.0)


@pytest.mark.parametrize("rate", [0.0, 0.37, 1.0])
def test_demographic_parity_thresholds_select_the_rate_in_every_group(rate):
    scores, y, a = _scored(4)
    rule = fairness.fit_demographic_parity(scores, sensitive_features=a, selection_rate=rate)
    p = fairness.predict_proba(rule, scores, sensitive_features=a)
    for g in rule.groups:
        assert p[a == g].mean() == pytest.approx(rate, abs=1e-12)
    with pytest.raises(ValueError, match="selection_rate"):
        fairness.fit_demographic_parity(scores, sensitive_features=a, selection_rate=1.5)


def test_post_processing_bad_input():
    with pytest.raises(ValueError, match="at least 2 distinct groups"):
        fairness.fit_equalized_odds([0.1, 0.5], [0, 1], sensitive_features=[1, 1])
    with pytest.raises(ValueError, match="y_true must be binary"):
        fairness.fit_equalized_odds([0.1, 0.5], [0, 3], sensitive_features=[0, 1])
    with pytest.raises(ValueError, match="both labels in every group"):
        fairness.fit_equalized_odds([0.1, 0.5, 0.2], [0, 1, 1], sensitive_features=[0, 0, 1])
