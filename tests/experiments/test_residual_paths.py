"""residual-paths on a shrunk config: every claim passes."""

import numpy as np
import pytest

from dl_theory.experiment.config import ConfigError
from experiments.feedforward import residual_paths


def test_residual_paths_claims_hold():
    result = residual_paths.run(residual_paths.Config(depths=(1, 3, 5), width=3, n_inputs=4, grad_depth=10,
                                                      grad_width=48, grad_nets=12))
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert result.metrics["per_depth"]["5"]["by_length"] == [1, 5, 10, 10, 5, 1]
    assert {"plain-gradient-slope-w1", "plain-gradient-slope-w2", "residual-gradient-bounded"} <= {
        c.id for c in result.claims}


def test_plain_drift_is_the_mean_field_value_at_large_width():
    assert abs(residual_paths.plain_drift(1.0, 100_000) - 0.5 * np.log(0.5)) < 1e-4
    assert residual_paths.plain_drift(2.0**0.5, 64) < 0  # He init: a small negative drift at finite width


@pytest.mark.parametrize("overrides", [{"depths": "0,2"}, {"depths": "20"}, {"width": "0"}, {"a": "-1"},
                                       {"grad_depth": "2"}, {"grad_sigmas": "(1.0, -2.0)"},
                                       {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        residual_paths.EXPERIMENT.make_config(quick=True, overrides=overrides)
