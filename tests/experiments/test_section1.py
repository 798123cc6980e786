"""The §1/§2.1 experiments run end to end on shrunk configs; their exact (non-statistical) claims must hold."""

import dataclasses

import matplotlib.figure
import pytest

from dl_theory.experiment import registry

SHRUNK = {
    "perceptron-novikoff": dict(dims=(3,), margins=(0.2,), n_points=40, n_trials=4, span_dim=20, span_points=8),
    "cover-capacity": dict(dims=(3,), alphas=(1.0, 2.0, 3.0), n_trials=30),
    "hopfield-capacity": dict(ns=(40, 60), alphas=(0.05, 0.1, 0.3), n_trials=3, max_sweeps=8,
                              capacity_factors=(0.5, 1.0), fixed_point_trials=8),
    "perceptron-max-margin": dict(n_points=30, n_steps=3000, log_every=100),
    "linear-models": dict(n=10, d=20, gd_steps=3000),
}
EXACT = {
    "perceptron-novikoff": {"updates-below-bound", "all-converged", "norm-invariant", "alignment-invariant",
                            "in-span", "explicit-expansion"},
    "cover-capacity": {"s-le-n-always", "half-at-2n", "counting-recursion"},
    "hopfield-capacity": {"energy-every-update", "energy-every-sweep"},
    "perceptron-max-margin": {"kkt", "support-vectors", "svm-beats-teacher", "perceptron-below-svm", "gd-turning"},
    "linear-models": {"pinv-limit", "ridge-rate", "ridge-closed-form", "gd-min-norm", "gd-keeps-null-space",
                      "sgd-update", "mse-gradient", "logistic-gradient", "cross-entropy-form",
                      "sigmoid-tanh-identities"},
}


@pytest.mark.parametrize("experiment_id", sorted(SHRUNK))
def test_shrunk_run(experiment_id):
    experiment = registry.get(experiment_id)
    config = dataclasses.replace(experiment.config.quick(), **SHRUNK[experiment_id])
    result = experiment.run(config)
    outcome = {c.id: c for c in result.claims}
    assert EXACT[experiment_id] <= set(outcome), set(outcome)
    failed = [f"{i}: measured {outcome[i].measured}" for i in EXACT[experiment_id] if not outcome[i].passed]
    assert not failed, failed
    assert isinstance(experiment.plot(result), matplotlib.figure.Figure)
