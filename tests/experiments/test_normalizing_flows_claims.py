"""normalizing-flows on a shrunk config: every claim holds (log-dets, spherical Jacobian, MAF/IAF costs, two moons)."""

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.generative import normalizing_flows


def test_normalizing_flows_claims_hold():
    result = normalizing_flows.run(normalizing_flows.Config(
        check_dim=3, n_check=3, n_mc=20_000, dims=(4, 8, 16), cost_hidden=32, cost_batch=256, repeats=25,
        flows=("maf",), n_layers=2, hidden=(16, 16), n_train=1000, n_test=500, steps=300, learning_rate=5e-3))
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert {"log-det-equals-slogdet", "inverse-of-forward", "spherical-mass-mc", "maf-sample-flops-d2",
            "iaf-flops-per-pass", "maf-beats-gaussian"} <= {c.id for c in result.claims}


@pytest.mark.parametrize("overrides", [{"check_dim": "2"}, {"dims": "(4, 8)"}, {"flows": "('glow',)"},
                                       {"radius": "0"}, {"n_mc": "5"}, {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        normalizing_flows.EXPERIMENT.make_config(quick=True, overrides=overrides)
