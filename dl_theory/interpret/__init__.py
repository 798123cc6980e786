"""Interpretability: local sensitivity (gradients, ceteris-paribus curves), exact and sampled Shapley values of a
prediction, and global importance (permutation importance, SAGE)."""

from dl_theory.interpret.ceteris_paribus import ceteris_paribus
from dl_theory.interpret.gradients import gradient_times_input, input_gradient, scalar_output
from dl_theory.interpret.importance import permutation_importance, sage_value_fn, sage_values
from dl_theory.interpret.sampling import Estimate, permutation_gains, permutation_shapley
from dl_theory.interpret.shapley import (
    MAX_EXACT_FEATURES,
    ValueFn,
    baseline_value_fn,
    coalition_masks,
    coalition_pairs,
    exact_shapley,
    interventional_value_fn,
)

__all__ = ["MAX_EXACT_FEATURES", "Estimate", "ValueFn", "baseline_value_fn", "ceteris_paribus",
           "coalition_masks", "coalition_pairs", "exact_shapley", "gradient_times_input", "input_gradient",
           "interventional_value_fn", "permutation_gains", "permutation_importance",
           "permutation_shapley", "sage_value_fn", "sage_values",
           "scalar_output"]
