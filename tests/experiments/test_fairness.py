"""fairness on a shrunk config: every claim holds; bad config values exit with one line."""

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.robustness import fairness


def test_fairness_claims_hold():
    result = fairness.run(fairness.Config(n_population=40_000, n_steps=150))
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert {"perfect-violates-dp", "perfect-satisfies-eo", "dp-breaks-eo", "postprocessing-eo-held-out",
            "eo-forces-dp-gap", "postprocessing-accuracy-cost", "diabetes-postprocessing-eo"} <= {
        c.id for c in result.claims}


@pytest.mark.parametrize("overrides", [{"n_population": "10"}, {"base_rate_1": "1.5"}, {"label_flip": "-0.1"},
                                       {"n_steps": "0"}, {"test_fraction": "1"}, {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        fairness.EXPERIMENT.make_config(quick=True, overrides=overrides)
