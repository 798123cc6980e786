r"""Group-wise confusion rates: base rate, selection rate, true- and false-positive rate per value of A.

Notation (the notes write :math:`\hat Y` for both the target and the prediction): :math:`A` is the protected
attribute, :math:`Y \in \{0, 1\}` the target and :math:`\hat Y \in \{0, 1\}` the prediction. For every group
:math:`a` these are the empirical

.. math::
    \text{base}_a = P(Y{=}1 \mid A{=}a),\quad \text{sel}_a = P(\hat Y{=}1 \mid A{=}a),\quad
    \text{TPR}_a = P(\hat Y{=}1 \mid Y{=}1, A{=}a),\quad \text{FPR}_a = P(\hat Y{=}1 \mid Y{=}0, A{=}a),

tied by :math:`\text{sel}_a = \text{base}_a \text{TPR}_a + (1 - \text{base}_a)\text{FPR}_a`. Same values as
fairlearn's ``MetricFrame`` with ``selection_rate``, ``true_positive_rate`` and ``false_positive_rate``.
Reference: Barocas, Hardt & Narayanan, "Fairness and Machine Learning", 2023, ch. 3.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks


class GroupRates(NamedTuple):
    """Per-group rates; every array has one entry per group, in the order of ``groups`` (sorted)."""

    groups: np.ndarray
    count: np.ndarray
    base_rate: np.ndarray
    selection_rate: np.ndarray
    tpr: np.ndarray
    fpr: np.ndarray


def binary(name: str, values: ArrayLike) -> np.ndarray:
    """``values`` as a 1-D int array after checking that every entry is 0 or 1 (booleans count)."""
    v = np.asarray(values)
    if v.ndim != 1:
        raise checks.fail(name, "a 1-D array", f"shape {v.shape}")
    bad = ~np.isin(v, (0, 1))
    if np.any(bad):
        raise checks.fail(name, "binary (every entry 0 or 1)", v[bad])
    return v.astype(np.int64)


def group_codes(sensitive_features: ArrayLike, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct groups and each example's index into them; at least two groups are required."""
    a = np.asarray(sensitive_features)
    if a.ndim != 1 or len(a) != n:
        raise checks.fail("sensitive_features", f"a 1-D array of length {n}", f"shape {a.shape}")
    groups, codes = np.unique(a, return_inverse=True)
    if len(groups) < 2:
        raise checks.fail("sensitive_features", "at least 2 distinct groups (a single group has no disparity)",
                          groups.tolist())
    return groups, codes


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1), np.nan)


def group_rates(y_true: ArrayLike, y_pred: ArrayLike, *, sensitive_features: ArrayLike) -> GroupRates:
    """Base, selection, true- and false-positive rates of every group (NaN where a group lacks the label).

    Args:
      y_true: targets :math:`Y \\in \\{0, 1\\}`, shape ``(N,)``.
      y_pred: binary predictions :math:`\\hat Y \\in \\{0, 1\\}`, shape ``(N,)``.
      sensitive_features: the protected attribute :math:`A` (any labels), shape ``(N,)``, at least two groups.

    Raises:
      ValueError: labels or predictions outside {0, 1}, mismatched lengths, or a single group.
    """
    y = binary("y_true", y_true)
    yhat = binary("y_pred", y_pred)
    if len(yhat) != len(y):
        raise checks.fail("y_pred", f"of the length of y_true ({len(y)})", len(yhat))
    groups, codes = group_codes(sensitive_features, len(y))
    k = len(groups)
    count = np.bincount(codes, minlength=k)
    positives = np.bincount(codes, weights=y, minlength=k)
    selected = np.bincount(codes, weights=yhat, minlength=k)
    true_pos = np.bincount(codes, weights=y * yhat, minlength=k)
    false_pos = selected - true_pos
    return GroupRates(groups, count, positives / count, selected / count, _safe_divide(true_pos, positives),
                      _safe_divide(false_pos, count - positives))
