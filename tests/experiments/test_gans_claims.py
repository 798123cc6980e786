"""gans on its quick config (the ring needs its training steps to converge): every claim holds; bad values raise."""

import dataclasses

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.generative import gans


def test_gans_claims_hold():
    cfg = dataclasses.replace(gans.Config.quick(), n_grid=4001, thetas=(-1.0, 0.5, 2.0), n_eval=2048)
    result = gans.run(cfg)
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert {"value-at-optimum-is-2js-minus-ln4", "d-star-beats-perturbations", "trained-d-near-optimal",
            "js-saturates-parallel-lines", "minimax-gradient-vanishes", "non-saturating-gradient-survives",
            "wgan-gp-estimate-vs-exact-w1", "wgan-gp-covers-modes"} <= {c.id for c in result.claims}


@pytest.mark.parametrize("overrides", [{"n_repeats": "1"}, {"thetas": "0.0,1.0"}, {"ring_std": "0"},
                                       {"min_share": "1.5"}, {"learning_rate": "-1"}, {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        gans.EXPERIMENT.make_config(quick=True, overrides=overrides)
