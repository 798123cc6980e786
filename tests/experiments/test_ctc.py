"""ctc on a shrunk config: every claim passes (brute force, closed forms, optax, a trained BiLSTM's error rate)."""

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.recurrent import ctc


def test_ctc_claims_hold():
    result = ctc.run(ctc.Config(max_frames=5, uniform_frames=30, n_test=100, n_steps=1200))
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert result.metrics["label_error_rate_untrained"] > 0.5 > result.metrics["label_error_rate_greedy"]


@pytest.mark.parametrize("overrides", [{"max_frames": "1"}, {"n_classes": "1"}, {"noise": "-0.1"},
                                       {"n_test": "5"}, {"max_label_error_rate": "1.5"}, {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        ctc.EXPERIMENT.make_config(quick=True, overrides=overrides)
