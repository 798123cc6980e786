"""universal-approximation on a shrunk config: every claim passes (exact CPWL, Barron rate, interpolation, smooth)."""

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.feedforward import universal_approximation


def test_universal_approximation_claims_hold():
    cfg = universal_approximation.Config(pieces=(3, 12), hinge_k=6, barron_dims=(4,), barron_widths=(8, 32, 128, 512),
                                         barron_seeds=12, n_test=64, interp_pieces=(4, 16, 64),
                                         smooth_widths=(4, 16, 64), n_grid=801)
    result = universal_approximation.run(cfg)
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert {"cpwl-equals-relu-net", "round-trip-knots", "maxout-equals-envelope", "barron-slope-d4",
            "barron-constant-d4", "interpolation-upper", "interpolation-lower", "smooth-nonincreasing"} <= {
        c.id for c in result.claims}


@pytest.mark.parametrize("overrides", [{"pieces": "(1, 4)"}, {"hinge_k": "1"}, {"barron_widths": "(8, 16)"},
                                       {"barron_seeds": "2"}, {"n_grid": "10"}, {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        universal_approximation.EXPERIMENT.make_config(quick=True, overrides=overrides)
