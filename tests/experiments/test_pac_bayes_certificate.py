"""pac-bayes-certificate with a shrunk config: certificates are internally consistent and use the right n."""

import dataclasses

import numpy as np
import pytest

from dl_theory.experiment.config import ConfigError, make_config
from dl_theory.generalization.pac_bayes import binary_kl
from experiments.generalization import pac_bayes_certificate as exp


@pytest.mark.slow
def test_shrunk_run_is_consistent():
    cfg = dataclasses.replace(exp.Config.quick(), tasks=("mnist1d",), random_label_tasks=(), mnist1d_train=600,
                              mnist1d_test=100, steps=100, prior_steps=100, mc_samples=50, test_samples=10,
                              kl_mc_samples=20)
    result = exp.run(cfg)
    runs = {(r["task"], r["prior"]): r["certificate"] for r in result.metrics["runs"]}
    assert runs["mnist1d", "data-independent"]["n"] == cfg.mnist1d_train
    for task in cfg.tasks:
        di, dd = runs[task, "data-independent"], runs[task, "data-dependent"]
        assert dd["n"] == di["n"] - round(cfg.prior_fraction * di["n"])  # data-dependent prior: n counts the rest
    for cert in runs.values():
        assert cert["delta"] == cfg.delta / cfg.search_size and cert["delta_prime"] == cfg.delta_prime
        assert cert["emp_risk_mc"] <= cert["emp_risk_upper"] <= cert["risk_bound"] <= cert["pinsker_bound"]
        np.testing.assert_allclose(binary_kl(cert["emp_risk_mc"], cert["emp_risk_upper"]),
                                   np.log(2 / cfg.delta_prime) / cfg.mc_samples, rtol=1e-3)
        expected_complexity = (cert["kl"] + np.log(2 * np.sqrt(cert["n"]) / cert["delta"])) / cert["n"]
        np.testing.assert_allclose(cert["complexity"], expected_complexity, rtol=1e-5)
    by_id = {c.id: c for c in result.claims}
    assert by_id["kl-zero-at-prior"].passed and by_id["kl-inversion-tighter-than-pinsker"].passed
    assert by_id["kl-closed-form-vs-monte-carlo"].passed


@pytest.mark.parametrize("key, value", [("delta", "1.5"), ("delta_prime", "0"), ("steps", "0"), ("mc_samples", "-3"),
                                        ("tasks", ""), ("tasks", "cifar"), ("random_label_tasks", "digits,mnist2d"),
                                        ("objective", "fbogus"), ("prior_fraction", "1.0"), ("kl_mc_samples", "1"),
                                        ("lr", "0"), ("mnist1d_train", "50")])
def test_bad_config_values_are_rejected(key, value):
    with pytest.raises(ConfigError, match=key):
        make_config(exp.Config, quick=True, overrides={key: value})


def test_empty_random_label_tasks_is_allowed():
    assert make_config(exp.Config, quick=True, overrides={"random_label_tasks": ""}).random_label_tasks == ()
