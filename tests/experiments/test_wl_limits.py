"""wl-limits on a shrunk config: identical MPNN outputs on 1-WL-equivalent pairs, cycle counts and a PPGN separate
them, WL colours agree with networkx's WL hash."""

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.geometric import wl_limits


def test_wl_limits_claims_hold():
    cfg = wl_limits.Config(n_train=1024, n_test=600, hidden=(32, 32), n_steps=1500, hash_graphs=20, hash_nodes=5,
                           hash_edges=5, ppgn_hidden=(16, 16), ppgn_steps=400, n_permutations=3)
    result = wl_limits.run(cfg)
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    ids = {c.id for c in result.claims}
    for pair in ("two-triangles-vs-hexagon", "cube-vs-wagner"):
        assert {f"{pair}-wl-equivalent", f"{pair}-mpnn-identical", f"{pair}-cycle-features-separate",
                f"{pair}-ppgn-separates"} <= ids
    assert {"ppgn-beats-plain", "ppgn-permutation-invariance"} <= ids
    assert result.metrics["hash_equal_pairs"] > 0  # the agreement covers both outcomes


@pytest.mark.parametrize("overrides", [{"n_nodes": "3"}, {"edge_probs": "(1.5,)"}, {"hidden": "(0,)"},
                                       {"hash_graphs": "1"}, {"lr": "0"}, {"ppgn_hidden": "()"},
                                       {"ppgn_steps": "0"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        wl_limits.EXPERIMENT.make_config(quick=True, overrides=overrides)
