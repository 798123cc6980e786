"""double-descent: closed forms (finite n -> Hastie limit), and a shrunk run against them."""

import numpy as np
import pytest

from dl_theory.experiment.config import ConfigError, make_config
from dl_theory.theory.double_descent import asymptotic_min_norm_risk, finite_min_norm_risk
from experiments.generalization import double_descent as exp


def test_finite_formula_converges_to_hastie_limit():
    gammas = np.array([0.3, 0.8, 1.5, 4.0])
    n = 10**7
    np.testing.assert_allclose(finite_min_norm_risk(n, gammas * n, 1.0, 0.5),
                               asymptotic_min_norm_risk(gammas, 1.0, 0.5), rtol=1e-5)
    assert np.isinf(finite_min_norm_risk(50, 50, 1.0, 0.5)) and np.isinf(asymptotic_min_norm_risk(1.0, 1.0, 0.5))


def test_shrunk_run_matches_exact_risk():
    cfg = exp.Config(n=40, gammas=(0.25, 0.5, 1.0, 2.0, 3.0), trials=300, rf_train=60,
                     rf_widths=(10, 30, 55, 60, 65, 120, 400), rf_seeds=3)
    result = exp.run(cfg)
    by_id = {c.id: c for c in result.claims}
    assert by_id["finite-sample-formula"].passed, by_id["finite-sample-formula"]
    assert by_id["peak-at-interpolation-threshold"].passed
    assert by_id["second-descent"].passed


@pytest.mark.parametrize("key, value", [("gammas", "0.5,0.9"), ("gammas", "1.1,2.0"), ("gammas", "0.5,1.1,-2.0"),
                                        ("gammas", "0.5,1.5,2.0"), ("trials", "1"), ("n", "3"), ("rf_widths", "10,20"),
                                        ("rf_train", "5000"), ("noise_var", "0"), ("rf_seeds", "0")])
def test_bad_config_values_are_rejected(key, value):
    with pytest.raises(ConfigError, match=key):
        make_config(exp.Config, quick=True, overrides={key: value})
