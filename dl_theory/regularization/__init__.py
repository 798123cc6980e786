"""Regularization: weight decay and L2 penalties, L1 proximal steps, early stopping, dropout, bagging, normalization
layers, residual branch scaling.

* :mod:`~dl_theory.regularization.weight_decay` -- :func:`ridge_shrinkage` (the closed-form shrinkage of a
  quadratic), :func:`l2_penalty`, :func:`coupled_weight_decay` (L2 penalty) and :func:`decoupled_weight_decay`
  (AdamW-style) on ``optax.add_decayed_weights``;
* :mod:`~dl_theory.regularization.proximal` -- :func:`soft_threshold`, :func:`proximal_gradient`, :func:`ista`,
  :func:`lasso_objective`;
* :mod:`~dl_theory.regularization.early_stopping` -- :func:`gd_trajectory` on a quadratic, the spectral filters
  :func:`early_stopping_filter` and :func:`ridge_filter`, :func:`matching_steps`;
* :mod:`~dl_theory.regularization.dropout` -- inverted dropout, weight scaling, the exact mask average;
* :mod:`~dl_theory.regularization.bagging` -- bootstrap resampling, bagged predictors, the variance of an average;
* :mod:`~dl_theory.regularization.normalization` -- BatchNorm (train and running statistics), LayerNorm and weight
  normalization as pure functions;
* :mod:`~dl_theory.regularization.residual_scaling` -- :func:`residual_stack` (``y_k = alpha f(y_{k-1}) + y_{k-1}``)
  and :func:`linear_second_moment`.
"""

from dl_theory.regularization.bagging import average_variance, bagged_predict, bootstrap_indices, regression_stump
from dl_theory.regularization.dropout import (
    all_masks,
    dropout_mask,
    dropout_mlp_apply,
    inverted_dropout,
    mask_probabilities,
    normalized_geometric_mean,
    weight_scaled,
)
from dl_theory.regularization.early_stopping import early_stopping_filter, gd_trajectory, matching_steps, ridge_filter
from dl_theory.regularization.normalization import (
    BATCH_NORM_EPS,
    LAYER_NORM_EPS,
    BatchStats,
    batch_norm_eval,
    batch_norm_train,
    layer_norm,
    update_running_stats,
    weight_norm,
)
from dl_theory.regularization.proximal import ista, lasso_objective, proximal_gradient, soft_threshold
from dl_theory.regularization.residual_scaling import BRANCH_ACTIVATIONS, linear_second_moment, residual_stack
from dl_theory.regularization.weight_decay import (
                                                     coupled_weight_decay,
                                                     decoupled_weight_decay,
                                                     l2_penalty,
                                                     ridge_shrinkage,
)

__all__ = [
    "BATCH_NORM_EPS", "BRANCH_ACTIVATIONS", "BatchStats", "LAYER_NORM_EPS", "all_masks", "average_variance",
    "bagged_predict", "batch_norm_eval", "batch_norm_train", "bootstrap_indices", "coupled_weight_decay",
    "decoupled_weight_decay", "dropout_mask", "dropout_mlp_apply", "early_stopping_filter", "gd_trajectory",
    "inverted_dropout", "ista", "l2_penalty", "lasso_objective", "layer_norm", "linear_second_moment",
    "mask_probabilities", "matching_steps", "normalized_geometric_mean", "proximal_gradient", "regression_stump",
    "residual_stack", "ridge_filter", "ridge_shrinkage", "soft_threshold", "update_running_stats", "weight_norm",
    "weight_scaled",
]
