"""Group fairness: demographic parity, equalized odds, equality of opportunity, and equalized-odds post-processing.

Notation: ``A`` the protected attribute (``sensitive_features``), ``Y`` the target (``y_true``), ``Ŷ`` the prediction
(``y_pred``); the metric functions take the names and semantics of :mod:`fairlearn.metrics`.
"""

from dl_theory.fairness.metrics import (
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equal_opportunity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
)
from dl_theory.fairness.postprocess import (
    EqualizedOddsFit,
    GroupThresholdRule,
    fit_demographic_parity,
    fit_equalized_odds,
    predict,
    predict_proba,
)
from dl_theory.fairness.rates import GroupRates, group_rates

__all__ = ["EqualizedOddsFit", "GroupRates", "GroupThresholdRule", "demographic_parity_difference",
           "demographic_parity_ratio", "equal_opportunity_difference", "equal_opportunity_ratio",
           "equalized_odds_difference", "equalized_odds_ratio", "fit_demographic_parity", "fit_equalized_odds",
           "group_rates", "predict", "predict_proba"]
