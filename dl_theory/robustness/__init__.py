"""Adversarial robustness: exact minimal perturbations of linear classifiers, FGSM/PGD attacks on any model, robust
accuracy over a grid of radii, and Madry's adversarial training."""

from dl_theory.robustness.attacks import ball_uniform, fgsm, pgd, project
from dl_theory.robustness.evaluate import correct, robust_accuracy, robust_correct
from dl_theory.robustness.linear import (
    distance,
    l2_minimal_perturbation,
    linf_attack,
    multiclass_distances,
    multiclass_margins,
    multiclass_minimal_perturbation,
    scores,
)
from dl_theory.robustness.training import adversarial_loss

__all__ = ["adversarial_loss", "ball_uniform", "correct", "distance", "fgsm", "l2_minimal_perturbation",
           "linf_attack", "multiclass_distances", "multiclass_margins", "multiclass_minimal_perturbation", "pgd",
           "project", "robust_accuracy", "robust_correct", "scores"]
