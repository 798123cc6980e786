r"""Group-fairness criteria as disparities between groups, with fairlearn's semantics.

With :math:`A` the protected attribute, :math:`Y` the target and :math:`\hat Y` the prediction:

* demographic parity :math:`\hat Y \perp A`: equal selection rates :math:`P(\hat Y{=}1 \mid A{=}a)`;
* equalized odds :math:`\hat Y \perp A \mid Y`: equal TPR *and* equal FPR;
* equality of opportunity :math:`\hat Y \perp A \mid Y{=}1`: equal TPR.

A *difference* is :math:`\max_a r_a - \min_a r_a` over the groups and a *ratio* is :math:`\min_a r_a / \max_a r_a`
(fairlearn's ``method='between_groups'``); equalized odds takes the worse of its two rates (``agg='worst_case'``:
the larger difference, the smaller ratio) or their mean (``agg='mean'``). With differing base rates the criteria
conflict: :math:`\text{sel}_a = \text{base}_a(\text{TPR}_a - \text{FPR}_a) + \text{FPR}_a`, so equal TPR and FPR
give equal selection rates only when :math:`\text{TPR} = \text{FPR}` (Kleinberg et al. 2017; Barocas, Hardt &
Narayanan 2023, ch. 3).
"""

from __future__ import annotations

import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.fairness.rates import group_rates

AGGREGATIONS = ("worst_case", "mean")


def _difference(rates: np.ndarray) -> float:
    return float(np.max(rates) - np.min(rates))


def _ratio(rates: np.ndarray) -> float:
    top = float(np.max(rates))
    return float(np.min(rates)) / top if top > 0 else float("nan")


def _conditional(name: str, rates: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(rates)):
        raise checks.fail("y_true", f"both labels in every group ({name} needs them)", rates)
    return rates


def _odds(y_true: ArrayLike, y_pred: ArrayLike, sensitive_features: ArrayLike, agg: str, reduce, worst) -> float:
    checks.one_of(*AGGREGATIONS)("agg", agg)
    r = group_rates(y_true, y_pred, sensitive_features=sensitive_features)
    values = [reduce(_conditional("TPR", r.tpr)), reduce(_conditional("FPR", r.fpr))]
    if agg == "mean":
        return float(np.mean(values))
    return worst(values)


def demographic_parity_difference(y_true: ArrayLike, y_pred: ArrayLike, *, sensitive_features: ArrayLike) -> float:
    r""":math:`\max_a P(\hat Y{=}1 \mid A{=}a) - \min_a P(\hat Y{=}1 \mid A{=}a)`; 0 is demographic parity."""
    return _difference(group_rates(y_true, y_pred, sensitive_features=sensitive_features).selection_rate)


def demographic_parity_ratio(y_true: ArrayLike, y_pred: ArrayLike, *, sensitive_features: ArrayLike) -> float:
    r""":math:`\min_a P(\hat Y{=}1 \mid A{=}a) / \max_a P(\hat Y{=}1 \mid A{=}a)`; 1 is demographic parity."""
    return _ratio(group_rates(y_true, y_pred, sensitive_features=sensitive_features).selection_rate)


def equalized_odds_difference(y_true: ArrayLike, y_pred: ArrayLike, *, sensitive_features: ArrayLike,
                              agg: str = "worst_case") -> float:
    r""":math:`\max(\Delta\text{TPR}, \Delta\text{FPR})` (``agg='mean'``: their mean), each a max - min over groups."""
    return _odds(y_true, y_pred, sensitive_features, agg, _difference, max)


def equalized_odds_ratio(y_true: ArrayLike, y_pred: ArrayLike, *, sensitive_features: ArrayLike,
                         agg: str = "worst_case") -> float:
    r"""The smaller of the TPR and FPR min/max ratios (``agg='mean'``: their mean); 1 is equalized odds."""
    return _odds(y_true, y_pred, sensitive_features, agg, _ratio, min)


def equal_opportunity_difference(y_true: ArrayLike, y_pred: ArrayLike, *, sensitive_features: ArrayLike) -> float:
    r""":math:`\max_a \text{TPR}_a - \min_a \text{TPR}_a`; 0 is equality of opportunity."""
    r = group_rates(y_true, y_pred, sensitive_features=sensitive_features)
    return _difference(_conditional("TPR", r.tpr))


def equal_opportunity_ratio(y_true: ArrayLike, y_pred: ArrayLike, *, sensitive_features: ArrayLike) -> float:
    r""":math:`\min_a \text{TPR}_a / \max_a \text{TPR}_a`; 1 is equality of opportunity."""
    r = group_rates(y_true, y_pred, sensitive_features=sensitive_features)
    return _ratio(_conditional("TPR", r.tpr))
