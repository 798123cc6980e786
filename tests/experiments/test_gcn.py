"""gcn on a shrunk config: every claim holds; bad config values raise."""

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.geometric import gcn


def test_gcn_claims_hold():
    cfg = gcn.Config(n_splits=4, n_steps=100, n_permutations=2, nngp_width=32, nngp_samples=200, nngp_channels=16)
    result = gcn.run(cfg)
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert {"equivariance", "sum-readout-invariance", "karate-accuracy", "nngp-monte-carlo"} <= {
        c.id for c in result.claims}
    assert result.metrics["accuracy_gcn"] > result.metrics["accuracy_features_only"]


@pytest.mark.parametrize("overrides", [{"labelled_per_faction": "17"}, {"n_splits": "1"}, {"nngp_width": "4"},
                                       {"learning_rate": "0"}, {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        gcn.EXPERIMENT.make_config(quick=True, overrides=overrides)
