"""deep-sets on a shrunk config: symmetry within the rounding bound, a learned set function that generalizes."""

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.geometric import deep_sets


def test_deep_sets_claims_hold():
    cfg = deep_sets.Config(small_set=3, large_set=20, n_random_perms=3, width=16, n_train=512, n_test=300,
                           n_steps=400, n_large=(60,))
    result = deep_sets.run(cfg)
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert {"invariant-sum-small", "equivariant-mean-large", "trained-permuted", "learned-set-function",
            "generalizes-to-larger-sets"} <= {c.id for c in result.claims}
    assert result.metrics["mse"]["sum-60"] > result.metrics["mse"]["mean-60"]  # sum pooling leaves its range


@pytest.mark.parametrize("overrides", [{"small_set": "9"}, {"large_set": "1"}, {"width": "0"}, {"lr": "-1"},
                                       {"n_large": "()"}, {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        deep_sets.EXPERIMENT.make_config(quick=True, overrides=overrides)
