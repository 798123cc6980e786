"""Regularization: weight decay and L2 penalties, L1 proximal steps, early stopping, residual branch scaling.

* :mod:`~dl_theory.regularization.weight_decay` -- :func:`ridge_shrinkage` (the closed-form shrinkage of a
  quadratic), :func:`l2_penalty`, :func:`coupled_weight_decay` (L2 penalty) and :func:`decoupled_weight_decay`
  (AdamW-style) on ``optax.add_decayed_weights``;
* :mod:`~dl_theory.regularization.proximal` -- :func:`soft_threshold`, :func:`proximal_gradient`, :func:`ista`,
  :func:`lasso_objective`;
* :mod:`~dl_theory.regularization.early_stopping` -- :func:`gd_trajectory` on a quadratic, the spectral filters
  :func:`early_stopping_filter` and :func:`ridge_filter`, :func:`matching_steps`;
* :mod:`~dl_theory.regularization.residual_scaling` -- :func:`residual_stack` (``y_k = alpha f(y_{k-1}) + y_{k-1}``)
  and :func:`linear_second_moment`.
"""

from dl_theory.regularization.early_stopping import early_stopping_filter, gd_trajectory, matching_steps, ridge_filter
from dl_theory.regularization.proximal import ista, lasso_objective, proximal_gradient, soft_threshold
from dl_theory.regularization.residual_scaling import BRANCH_ACTIVATIONS, linear_second_moment, residual_stack
from dl_theory.regularization.weight_decay import (
                                                     coupled_weight_decay,
                                                     decoupled_weight_decay,
                                                     l2_penalty,
                                                     ridge_shrinkage,
)

__all__ = ["BRANCH_ACTIVATIONS", "coupled_weight_decay", "decoupled_weight_decay", "early_stopping_filter",
           "gd_trajectory", "ista", "l2_penalty", "lasso_objective", "linear_second_moment", "matching_steps",
           "proximal_gradient", "residual_stack", "ridge_filter", "ridge_shrinkage", "soft_threshold"]
