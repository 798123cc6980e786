"""attention-complexity on a shrunk config: the compiled-cost exponents and the exactness claims pass.

Wall-time claims are left to the experiment's own runs: on a shared test machine small timings are noise.
"""

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.attention import attention_complexity as ac

TIMED = {"softmax-time-quadratic"}


def test_attention_complexity_cost_claims_hold():
    cfg = ac.Config(ns=(128, 256, 512), dim=16, scan_batch=2, repeats=3, cache_lengths=(64, 128, 256),
                    generate_ns=(32, 64), generate_batch=1, exact_length=12)
    result = ac.run(cfg)
    failed = [(c.id, c.measured) for c in result.claims if not c.passed and c.id not in TIMED]
    assert not failed, failed
    assert {c.id for c in result.claims} >= TIMED | {"softmax-flops-n2", "linear-memory-n", "kv-cache-equals-causal"}
    assert len(set(result.metrics["kv_step_flops"])) == 3 and result.metrics["linear_state_bytes"] == 4 * (16 * 16 + 16)


@pytest.mark.parametrize("overrides", [{"ns": "8,16,32"}, {"ns": "64,128"}, {"repeats": "2"}, {"dim": "1"},
                                       {"cache_lengths": "0,1,2"}, {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        ac.EXPERIMENT.make_config(quick=True, overrides=overrides)
