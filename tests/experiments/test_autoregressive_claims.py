"""autoregressive on a shrunk config: every claim holds (triangular Jacobian, normalization, sampler, digits NLL)."""

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.generative import autoregressive


def test_autoregressive_claims_hold():
    result = autoregressive.run(autoregressive.Config(
        jac_dim=5, jac_hidden=(16, 16), sum_dim=6, sampler_dim=3, n_samples=5000, hidden=(128,), steps=400,
        fvsbn_steps=300, batch_size=128, learning_rate=3e-3))
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert {"jacobian-strictly-triangular", "likelihood-sums-to-one", "ancestral-sampler-chi2",
            "made-beats-independent"} <= {c.id for c in result.claims}
    assert result.metrics["test_nll_nats"]["made"] < result.metrics["test_nll_nats"]["independent"]


@pytest.mark.parametrize("overrides", [{"jac_dim": "1"}, {"n_samples": "10"}, {"hidden": "(0,)"},
                                       {"threshold": "1.5"}, {"learning_rate": "0"}, {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        autoregressive.EXPERIMENT.make_config(quick=True, overrides=overrides)
