"""kl-divergences on a shrunk config: every claim holds (closed forms vs Monte Carlo, forward vs reverse fits)."""

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.generative import kl_divergences


def test_kl_divergences_claims_hold():
    result = kl_divergences.run(kl_divergences.Config(n_pairs=4, dim=2, n_mc=8000, n_restarts=4, reverse_steps=800))
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert {"gaussian-kl-vs-mc", "notes-formula-off", "forward-covers-modes", "reverse-fit-on-heavier-mode"} <= {
        c.id for c in result.claims}


@pytest.mark.parametrize("overrides", [{"n_pairs": "1"}, {"n_mc": "10"}, {"weights": "(0.5, 1.5)"},
                                       {"variances": "(1.0, -1.0)"}, {"learning_rate": "0"}, {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        kl_divergences.EXPERIMENT.make_config(quick=True, overrides=overrides)
