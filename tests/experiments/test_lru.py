"""lru on a shrunk config: stability, ring init, scans equal, depth counts, and the LRU learning the adding problem."""

import jax
import pytest

from dl_theory.experiment.config import ConfigError
from experiments.recurrent import lru


def test_lru_claims_hold():
    cfg = lru.Config(n_ring=5000, scan_length=512, depth_lengths=(2, 3, 100, 1000), timing_lengths=(64, 256),
                     timing_repeats=1)
    with jax.default_matmul_precision("default"):  # conftest's 'highest' doubles the CPU time here
        result = lru.run(cfg)
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert result.metrics["depth"]["sequential"] == [1, 2, 99, 999]
    assert set(result.metrics["wall_time_s"]) == {"sequential", "parallel"}


def test_r_min_not_below_r_max_is_one_clear_error():
    with pytest.raises(ValueError, match="r_min must be < r_max"):
        lru.run(lru.Config(r_min=0.9, r_max=0.5))


@pytest.mark.parametrize("overrides", [{"r_max": "1.0"}, {"r_min": "-0.1"}, {"n_ring": "10"}, {"alpha": "0"},
                                       {"depth_lengths": "4,8"}, {"task_length": "1"}, {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        lru.EXPERIMENT.make_config(quick=True, overrides=overrides)
