"""implicit-bias: a shrunk run reaches X⁺y from 0 and X⁺y + (I − X⁺X)w₀ from w₀."""

import pytest

from dl_theory.experiment.config import ConfigError, make_config
from experiments.generalization import implicit_bias as exp


def test_shrunk_run():
    result = exp.run(exp.Config(n=8, d=24, steps=3000, batch_size=4))
    failed = [c for c in result.claims if not c.passed]
    assert not failed, failed
    assert result.metrics["GD/zero"]["dist_min_norm"] < 1e-8


@pytest.mark.parametrize("key, value", [("n", "1"), ("d", "0"), ("steps", "0"), ("batch_size", "-1"), ("seed", "-1")])
def test_bad_config_values_are_rejected(key, value):
    with pytest.raises(ConfigError, match=key):
        make_config(exp.Config, quick=True, overrides={key: value})
