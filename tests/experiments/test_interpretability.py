"""interpretability on a shrunk config: every claim holds; bad config values exit with one line."""

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.robustness import interpretability


def test_interpretability_claims_hold():
    cfg = interpretability.Config(d=5, n_train=800, hidden=16, n_steps=300, n_background=16, n_explain=1,
                                  sampler_ns=(16, 64, 256), sampler_repeats=16, n_sage=128, importance_repeats=4)
    result = interpretability.run(cfg)
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert {"efficiency", "symmetry", "dummy", "linearity", "linear-closed-form", "sampler-rate",
            "sage-ranks-planted-first"} <= {c.id for c in result.claims}


@pytest.mark.parametrize("overrides", [{"d": "3"}, {"n_steps": "0"}, {"sampler_ns": "16,32"},
                                       {"sampler_repeats": "2"}, {"n_se": "-1"}, {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        interpretability.EXPERIMENT.make_config(quick=True, overrides=overrides)
