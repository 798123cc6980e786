r"""Post-processing for equalized odds (Hardt, Price & Srebro 2016): per-group randomized thresholds on a score.

Every threshold rule :math:`\hat Y = 1[s \ge t]` of group :math:`a` is a point (FPR, TPR) of that group's ROC curve;
randomizing between rules reaches the convex hull of those points, whose upper boundary :math:`H_a` is concave.
Equalized odds asks for one operating point :math:`(\gamma_0, \gamma_1)` that every group reaches, i.e. a point of
:math:`\bigcap_a \text{hull}_a`. The accuracy :math:`\Pi\gamma_1 + (1 - \Pi)(1 - \gamma_0)` (:math:`\Pi` the
positive fraction) is linear, so its maximum over that intersection lies on the upper envelope
:math:`E(x) = \min_a H_a(x)` at a breakpoint: a vertex of some :math:`H_a` or a crossing of two of them. All those
candidates are evaluated, so the optimum is exact (fairlearn's ``ThresholdOptimizer`` searches a grid).

Group :math:`a` reaches :math:`(x^*, E(x^*))` by mixing the two hull vertices around :math:`x^*` (two thresholds,
weight :math:`q` on the lower one) and, where :math:`H_a(x^*) > E(x^*)`, by predicting 1 with probability
:math:`x^*` (a point of the diagonal) with probability :math:`p = (H_a - E)/(H_a - x^*)`. The result is, per
group, :math:`P(\hat Y{=}1 \mid s)` with three levels: below ``t_low``, between, and at or above ``t_high``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.fairness.rates import binary, group_codes


class GroupThresholdRule(NamedTuple):
    """A randomized per-group threshold rule on a score.

    Attributes:
      groups: the groups seen at fit time (sorted).
      thresholds_Gx2: per group ``(t_low, t_high)``, ``t_low <= t_high`` (``inf``: no score reaches it).
      probs_Gx3: per group :math:`P(\\hat Y{=}1)` for ``s < t_low``, ``t_low <= s < t_high`` and ``s >= t_high``.
    """

    groups: np.ndarray
    thresholds_Gx2: np.ndarray
    probs_Gx3: np.ndarray


class EqualizedOddsFit(NamedTuple):
    """The fitted rule, the common operating point ``(fpr, tpr)`` of every group on the fit data (expected rates)
    and the expected accuracy there."""

    rule: GroupThresholdRule
    fpr: float
    tpr: float
    accuracy: float


def roc_points(scores: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC of the rules ``1[s >= t]`` for ``t`` = +inf and every distinct score, descending: ``(fpr, tpr, t)``."""
    t = np.unique(scores)[::-1]
    pos = np.searchsorted(np.sort(scores[y == 1]), t, side="left")
    neg = np.searchsorted(np.sort(scores[y == 0]), t, side="left")
    tpr = 1.0 - pos / max(np.sum(y == 1), 1)
    fpr = 1.0 - neg / max(np.sum(y == 0), 1)
    return np.r_[0.0, fpr], np.r_[0.0, tpr], np.r_[np.inf, t]


def upper_hull(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the upper convex hull of points sorted by ``x`` (monotone chain), left to right."""
    hull: list[int] = []
    for i in range(len(x)):
        while len(hull) >= 2:
            j, k = hull[-2], hull[-1]
            if (x[k] - x[j]) * (y[i] - y[j]) - (y[k] - y[j]) * (x[i] - x[j]) >= 0:  # k is not above j->i
                hull.pop()
            else:
                break
        hull.append(i)
    return np.asarray(hull)


def _crossings(grid: np.ndarray, values_GxK: np.ndarray) -> np.ndarray:
    """x where two of the piecewise-linear curves (linear between grid points) cross inside a grid interval."""
    found = [grid]
    for g in range(len(values_GxK)):
        for h in range(g + 1, len(values_GxK)):
            d = values_GxK[g] - values_GxK[h]
            k = np.flatnonzero(d[:-1] * d[1:] < 0)
            found.append(grid[k] + d[k] / (d[k] - d[k + 1]) * (grid[k + 1] - grid[k]))
    return np.unique(np.concatenate(found))


def fit_equalized_odds(scores: ArrayLike, y_true: ArrayLike, *, sensitive_features: ArrayLike) -> EqualizedOddsFit:
    """The accuracy-maximizing equalized-odds post-processor of a score (exact; see the module docstring).

    Args:
      scores: a real score per example (higher means more likely positive), shape ``(N,)``.
      y_true: targets in {0, 1}, shape ``(N,)``; every group needs both labels.
      sensitive_features: the protected attribute, shape ``(N,)``, at least two groups.

    Raises:
      ValueError: non-binary targets, non-finite scores, a single group, or a group lacking a label.
    """
    y = binary("y_true", y_true)
    s = np.asarray(scores, np.float64)
    if s.shape != y.shape:
        raise checks.fail("scores", f"of the shape of y_true {y.shape}", f"shape {s.shape}")
    checks.finite("scores", s)
    groups, codes = group_codes(sensitive_features, len(y))
    hulls = []
    for g in range(len(groups)):
        yg = y[codes == g]
        if yg.min() == yg.max():
            raise checks.fail("y_true", "both labels in every group (an ROC curve needs them)", f"group {groups[g]}")
        fpr, tpr, t = roc_points(s[codes == g], yg)
        h = upper_hull(fpr, tpr)
        h = h[np.r_[fpr[h][1:] > fpr[h][:-1], True]]  # a vertical edge (at FPR 0): keep its top
        hulls.append((fpr[h], tpr[h], t[h]))
    grid = np.unique(np.concatenate([hx for hx, _, _ in hulls]))
    candidates = _crossings(grid, np.stack([np.interp(grid, hx, hy) for hx, hy, _ in hulls]))
    envelope = np.min([np.interp(candidates, hx, hy) for hx, hy, _ in hulls], axis=0)
    prevalence = y.mean()
    objective = prevalence * envelope + (1 - prevalence) * (1 - candidates)
    best = int(np.argmax(objective))
    x, e = float(candidates[best]), float(envelope[best])
    thresholds, probs = [], []
    for hx, hy, ht in hulls:
        k = int(np.clip(np.searchsorted(hx, x, side="right") - 1, 0, len(hx) - 2))
        q = float(np.clip((x - hx[k]) / (hx[k + 1] - hx[k]), 0.0, 1.0))
        h = hy[k] + q * (hy[k + 1] - hy[k])
        p = (h - e) / (h - x) if h > x else 0.0
        thresholds.append((ht[k + 1], ht[k]))
        probs.append((1 - p) * np.array([0.0, q, 1.0]) + p * x)
    return EqualizedOddsFit(GroupThresholdRule(groups, np.asarray(thresholds), np.asarray(probs)), x, e,
                            float(objective[best]))


def fit_demographic_parity(scores: ArrayLike, *, sensitive_features: ArrayLike,
                           selection_rate: float) -> GroupThresholdRule:
    r"""Per-group thresholds that select exactly the fraction ``selection_rate`` of every group on the fit data.

    Group :math:`a` selects the scores above its :math:`(1 - r)`-quantile :math:`t_a` and, with probability
    :math:`q_a`, those equal to it, so that :math:`P(\hat Y{=}1 \mid A{=}a) = r` for every :math:`a`: demographic
    parity by post-processing. With differing base rates this breaks equalized odds (see
    :mod:`dl_theory.fairness.metrics`).
    """
    checks.unit_interval("selection_rate", selection_rate)
    s = np.asarray(scores, np.float64)
    checks.finite("scores", s)
    groups, codes = group_codes(sensitive_features, len(s))
    thresholds, probs = [], []
    for g in range(len(groups)):
        desc = np.sort(s[codes == g])[::-1]
        wanted = selection_rate * len(desc)
        t = desc[max(int(np.ceil(wanted)) - 1, 0)]
        above, at = np.sum(desc > t), np.sum(desc == t)
        thresholds.append((t, np.nextafter(t, np.inf)))
        probs.append((0.0, float(np.clip((wanted - above) / at, 0.0, 1.0)), 1.0))
    return GroupThresholdRule(groups, np.asarray(thresholds), np.asarray(probs))


def _group_index(rule: GroupThresholdRule, sensitive_features: ArrayLike, n: int) -> np.ndarray:
    a = np.asarray(sensitive_features)
    if a.shape != (n,):
        raise checks.fail("sensitive_features", f"of shape ({n},)", f"shape {a.shape}")
    idx = np.searchsorted(rule.groups, a)
    unseen = (idx >= len(rule.groups)) | (rule.groups[np.minimum(idx, len(rule.groups) - 1)] != a)
    if np.any(unseen):
        raise checks.fail("sensitive_features", f"groups seen at fit time {rule.groups.tolist()}", a[unseen])
    return idx


def predict_proba(rule: GroupThresholdRule, scores: ArrayLike, *, sensitive_features: ArrayLike) -> np.ndarray:
    r""":math:`P(\hat Y{=}1 \mid s, A)` under the fitted rule, shape ``(N,)``."""
    s = np.asarray(scores, np.float64)
    g = _group_index(rule, sensitive_features, len(s))
    level = (s >= rule.thresholds_Gx2[g, 0]).astype(int) + (s >= rule.thresholds_Gx2[g, 1])
    return rule.probs_Gx3[g, level]


def predict(rule: GroupThresholdRule, scores: ArrayLike, *, sensitive_features: ArrayLike,
            key: jax.Array) -> np.ndarray:
    r"""Randomized predictions :math:`\hat Y \sim \text{Bernoulli}(P(\hat Y{=}1 \mid s, A))`, seeded by ``key``."""
    p = predict_proba(rule, scores, sensitive_features=sensitive_features)
    return np.asarray(jax.random.uniform(key, p.shape) < p).astype(np.int64)
