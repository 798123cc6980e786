"""The §1/§2.1 experiments run end to end on shrunk configs; their exact (non-statistical) claims must hold."""

import dataclasses

import matplotlib.figure
import pytest

from dl_theory.experiment import registry
from dl_theory.experiment.config import ConfigError

SHRUNK = {
    "perceptron-novikoff": dict(dims=(3,), margins=(0.2,), n_points=40, n_trials=4, span_dim=20, span_points=8),
    "cover-capacity": dict(dims=(3,), alphas=(1.0, 2.0, 3.0), n_trials=30),
    "hopfield-capacity": dict(ns=(60, 120), alphas=(0.05, 0.1, 0.3), n_trials=3, max_sweeps=8,
                              capacity_factors=(0.5, 1.0), fixed_point_trials=8, matrix_check_n=30,
                              matrix_check_runs=2, bootstrap=20),
    "perceptron-max-margin": dict(n_points=30, n_steps=3000, log_every=100),
    "linear-models": dict(n=10, d=20, gd_steps=3000),
}
EXACT = {
    "perceptron-novikoff": {"updates-below-bound", "all-converged", "norm-invariant", "alignment-invariant",
                            "in-span", "explicit-expansion"},
    "cover-capacity": {"s-le-n-always", "half-at-2n", "counting-recursion"},
    "hopfield-capacity": {"energy-every-update", "matrix-dynamics-agree"},
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


BAD = {
    "perceptron-novikoff": [{"n_trials": "-3"}, {"n_trials": "0"}, {"margins": ""}, {"margins": "0.1,1.5"},
                            {"dims": "1"}],
    "cover-capacity": [{"n_trials": "-3"}, {"n_trials": "10"}, {"dims": "4"}, {"alphas": ""}, {"alphas": "1,-1"}],
    "hopfield-capacity": [{"n_trials": "0"}, {"ns": "1,100"}, {"ns": "100"}, {"alphas": "0.1,0.2"},
                          {"matrix_check_n": "1"}, {"fixed_point_trials": "-1"}],
    "perceptron-max-margin": [{"n_points": "1"}, {"dim": "1"}, {"margin": "0"}, {"lr": "-1"}, {"n_steps": "10"}],
    "linear-models": [{"n": "1"}, {"d": "20", "n": "30"}, {"gd_steps": "0"}, {"lambdas": "1e-3,1e-2"},
                      {"lambdas": "0,1,2"}],
}


@pytest.mark.parametrize("experiment_id,overrides", [(e, o) for e, bad in sorted(BAD.items()) for o in bad])
def test_bad_config_values_raise(experiment_id, overrides):
    """A negative or zero count, an empty tuple, too few sizes or a too-small network is a ConfigError."""
    with pytest.raises(ConfigError, match=next(iter(overrides)) if len(overrides) == 1 else None):
        registry.get(experiment_id).make_config(quick=True, overrides=overrides)
