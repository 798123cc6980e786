"""relu-linear-regions on a shrunk config: every claim passes."""

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.feedforward import relu_linear_regions


def test_relu_linear_regions_claims_hold():
    cfg = relu_linear_regions.Config(units=(3, 7, 15), nets_per_m=2, tent_depths=(1, 6, 12), width=16, depths=(1, 4),
                                     n_nets=10)
    result = relu_linear_regions.run(cfg)
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert result.metrics["tent_pieces"]["12"] == 4096
    assert result.metrics["regions_first_net"]["15"] == 121


@pytest.mark.parametrize("overrides", [{"units": "0,3"}, {"tent_depths": "30"}, {"width": "1"}, {"depths": "2"},
                                       {"n_nets": "2"}, {"half_length": "0"}, {"b_std": "-0.1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        relu_linear_regions.EXPERIMENT.make_config(quick=True, overrides=overrides)
