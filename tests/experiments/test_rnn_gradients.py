"""rnn-gradients on a shrunk config: BPTT = explicit sum, the flow bound, and the simple RNN failing first."""

import jax
import pytest

from dl_theory.experiment.config import ConfigError
from experiments.recurrent import rnn_gradients


def test_rnn_gradients_claims_hold():
    cfg = rnn_gradients.Config(flow_length=20, n_sequences=2, lengths=(10, 50), train_steps=400, batch_size=32,
                               n_train=2048, n_test=512)
    with jax.default_matmul_precision("default"):  # conftest's 'highest' doubles the CPU time here
        result = rnn_gradients.run(cfg)
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert {"bptt-explicit-sum", "flow-bound-every-t", "vanishing", "growth", "bound-needs-tanh", "all-learn-short",
            "rnn-fails-first"} == {c.id for c in result.claims}
    assert result.metrics["first_failing_length"]["simple RNN"] == 50


@pytest.mark.parametrize("overrides", [{"hidden": "1"}, {"sigmas": "0.5"}, {"gain": "1"}, {"lengths": "10"},
                                       {"fail_level": "1.5"}, {"train_steps": "0"}, {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        rnn_gradients.EXPERIMENT.make_config(quick=True, overrides=overrides)
