"""optimizers on a shrunk config: rates, RMSprop = Adam(b1=0), sign and Muon updates."""

import numpy as np
import pytest

from dl_theory.experiment.config import ConfigError
from experiments.optimization import optimizers as opt


def test_optimizer_properties():
    result = opt.run(opt.Config(quad_rows=2, quad_cols=5, kappa=100.0, quad_steps=200, n_examples=64,
                                widths=(64, 8, 10), mlp_steps=200))
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    m = result.metrics
    assert m["rmsprop_vs_adam_gap"] < 1e-6 < m["rmsprop_default_vs_adam_gap"]
    np.testing.assert_allclose(m["momentum_rate"], m["momentum_rate_theory"], rtol=0.03)


@pytest.mark.parametrize("overrides", [{"quad_rows": "1"}, {"kappa": "0.5"}, {"quad_steps": "0"},
                                       {"widths": "64,10"}, {"mlp_steps": "-1"}, {"n_examples": "0"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        opt.EXPERIMENT.make_config(quick=True, overrides=overrides)
