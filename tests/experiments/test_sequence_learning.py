"""sequence-learning on a shrunk config: exposure bias, scheduled sampling and the bidirectional claims all hold."""

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.recurrent import sequence_learning


def test_sequence_learning_claims_hold():
    cfg = sequence_learning.Config(length=20, n_steps=600, n_test=400, bidi_length=10, bidi_steps=150)
    result = sequence_learning.run(cfg)
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    late = result.metrics["late_error"]
    assert late["tf_teacher_forced"] < late["bayes_filter"] < late["ss_free_running"] < late["tf_free_running"]


@pytest.mark.parametrize("overrides", [{"n_states": "1"}, {"jump_prob": "0"}, {"feed_prob": "1.5"},
                                       {"length": "2"}, {"n_steps": "1"}, {"k_se": "0"}, {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        sequence_learning.EXPERIMENT.make_config(quick=True, overrides=overrides)
