"""gd-rates on a shrunk config: every bound holds and the closed-form rates match."""

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.optimization import gd_rates


def test_gd_rates_claims_hold():
    result = gd_rates.run(gd_rates.Config(dim=8, kappa=10.0, n_steps=80, quartic_steps=3000))
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert {"quadratic-bound", "convex-bound", "nonconvex-bound", "pl-nonconvex", "quartic-sublinear"} <= {
        c.id for c in result.claims
    }
    assert result.metrics["divergence_ratio"]["1.05"] > 1.0 > result.metrics["divergence_ratio"]["0.95"]


@pytest.mark.parametrize("overrides", [{"dim": "3"}, {"kappa": "1"}, {"n_steps": "-5"}, {"quartic_steps": "0"},
                                       {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        gd_rates.EXPERIMENT.make_config(quick=True, overrides=overrides)
