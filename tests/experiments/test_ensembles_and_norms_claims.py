"""ensembles-and-norms on a shrunk config: every claim holds (bagging, dropout, BatchNorm, LayerNorm, weight norm)."""

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.tricks import ensembles_and_norms


def test_ensembles_and_norms_claims_hold():
    cfg = ensembles_and_norms.Config(n_draws=1500, bag_sizes=(1, 5, 25), n_linear_inputs=6, mlp_hidden=16,
                                     n_mlp_inputs=8, n_masks=10_000, bn_steps=1200, wn_steps=50)
    result = ensembles_and_norms.run(cfg)
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert {"bagging-variance-formula", "dropout-linear-exact", "dropout-mlp-gap-nonzero", "bn-running-var-biased",
            "ln-per-example-invariance", "wn-norm-equals-g"} <= {c.id for c in result.claims}


@pytest.mark.parametrize("overrides", [{"keep": "1.0"}, {"bn_momentum": "1.5"}, {"bag_sizes": "(0, 2)"},
                                       {"n_draws": "5"}, {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        ensembles_and_norms.EXPERIMENT.make_config(quick=True, overrides=overrides)
