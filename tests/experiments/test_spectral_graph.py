"""spectral-graph on a shrunk config: every claim holds; bad config values raise."""

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.geometric import spectral_graph


def test_spectral_graph_claims_hold():
    result = spectral_graph.run(spectral_graph.Config(n_nodes=20, edge_prob=0.2, degrees=(1, 2), n_signals=3))
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert {"laplacian-psd", "quadratic-form", "gft-round-trip", "k-hop-locality", "reach-exactly-k",
            "polynomial-filter-is-convolution"} <= {c.id for c in result.claims}


@pytest.mark.parametrize("overrides", [{"n_nodes": "4"}, {"edge_prob": "1.5"}, {"degrees": "0,1"},
                                       {"heat_time": "-1"}, {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        spectral_graph.EXPERIMENT.make_config(quick=True, overrides=overrides)
