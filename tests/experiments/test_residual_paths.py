"""residual-paths on a shrunk config: every claim passes."""

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.feedforward import residual_paths


def test_residual_paths_claims_hold():
    result = residual_paths.run(residual_paths.Config(depths=(1, 3, 5), width=3, n_inputs=4))
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert result.metrics["per_depth"]["5"]["by_length"] == [1, 5, 10, 10, 5, 1]


@pytest.mark.parametrize("overrides", [{"depths": "0,2"}, {"depths": "20"}, {"width": "0"}, {"a": "-1"},
                                       {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        residual_paths.EXPERIMENT.make_config(quick=True, overrides=overrides)
