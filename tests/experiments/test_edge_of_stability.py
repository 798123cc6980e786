"""edge-of-stability on a shrunk config: the sharpness climbs to 2/eta and settles there under full-batch GD."""

import numpy as np
import pytest

from dl_theory.experiment.config import ConfigError, make_config
from experiments.curvature import edge_of_stability as eos


def test_sharpness_settles_at_two_over_eta():
    cfg = eos.Config(edge_ratios=(1.2,), n_examples=128, n_steps=800, every=40)
    result = eos.run(cfg)
    failed = [c.id for c in result.claims if not c.passed]
    assert not failed, failed
    (run,) = result.metrics["runs"]
    assert run["initial_sharpness"] < run["two_over_eta"]
    assert run["first_step_at_edge"] is not None and run["climb_over_two_over_eta"] >= 1
    np.testing.assert_allclose(run["two_over_eta"], 1.2 * run["initial_sharpness"], rtol=1e-6)
    np.testing.assert_allclose(run["tail_median_sharpness"], run["two_over_eta"], rtol=cfg.band)


def test_climb_into_edge_is_the_unbroken_rise_to_the_first_crossing():
    s = np.array([4.8, 4.0, 3.0, 3.5, 4.5, 6.0, 5.0, 7.0])
    assert eos.climb_into_edge(s, 5.0) == (pytest.approx((6.0 - 3.0) / (5.0 - 4.8)), 5)
    assert eos.climb_into_edge(s, 4.0) == (0.0, 0)  # already at the edge at the start: no climb
    assert eos.climb_into_edge(s, 8.0) == (0.0, None)  # never reaches the edge


@pytest.mark.parametrize("key, value, message", [
    ("edge_ratios", "1.2,0.9", r"edge_ratios\[1\] must be in \(1.0, inf\), got 0.9"),
    ("n_steps", "0", "n_steps must be an integer >= 1, got 0"),
    ("tail", "1.5", r"tail must be in \(0, 1\), got 1.5"),
    ("band", "0", r"band must be in \(0, 1\), got 0.0"),
    ("widths", "64,10", "widths must be a sequence of >= 3 entries"),
])
def test_bad_config_values_raise(key, value, message):
    with pytest.raises(ConfigError, match=message):
        make_config(eos.Config, quick=True, overrides={key: value})
