"""attention on a shrunk config: every claim passes (formula, flax, causal mask, equivariance, training, NNGP)."""

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.attention import attention


def test_attention_claims_hold():
    cfg = attention.Config(key_dims=(4, 64), score_samples=4000, width=16, num_heads=2, reverse_length=4,
                           lm_depth=1, lm_steps=200, lm_train=1024, lm_test=200, vit_patch=4, vit_depth=1,
                           vit_steps=200, lm_accuracy=0.7, vit_accuracy=0.7, nngp_key_dim=64, nngp_heads=4,
                           nngp_channels=16, nngp_samples=200)
    result = attention.run(cfg)
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert {"formula-equals-jax-nn", "multihead-equals-flax", "causal-no-future", "equivariant-without-positions",
            "positions-break-equivariance", "reversal-lm-accuracy", "vit-digits-accuracy", "attention-nngp-monte-carlo",
            "attention-nngp-needs-wide-keys"} <= {
        c.id for c in result.claims}
    assert result.metrics["future_influence_bidirectional"] > 0


@pytest.mark.parametrize("overrides", [{"width": "2"}, {"num_heads": "0"}, {"key_dims": "4"}, {"lm_accuracy": "1.5"},
                                       {"seed": "-1"}, {"vit_steps": "0"},
                                       {"nngp_key_dim": "8"}, {"nngp_samples": "10"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        attention.EXPERIMENT.make_config(quick=True, overrides=overrides)


def test_heads_must_divide_width():
    with pytest.raises(ValueError, match="num_heads must be a divisor of the model width 30"):
        attention.run(attention.Config(width=30, num_heads=4))
