"""nngp-monte-carlo on a shrunk config: the feature-form posterior against dense formulas, and the run's claims."""

import numpy as np
import pytest

from dl_theory.experiment.config import ConfigError, domains, make_config
from experiments.kernels import nngp_monte_carlo as exp


def test_feature_posterior_equals_dense_gp(x64):
    rng = np.random.default_rng(0)
    phi, phi_test, y = rng.normal(size=(12, 5)), rng.normal(size=(7, 5)), rng.normal(size=12)
    mean, var = exp.feature_posterior(phi, phi_test, y, 0.3)
    k, k_star = phi @ phi.T, phi_test @ phi.T
    solve = np.linalg.solve(k + 0.3 * np.eye(12), np.concatenate([y[:, None], k_star.T], axis=1))
    np.testing.assert_allclose(mean, k_star @ solve[:, 0], rtol=1e-10)
    np.testing.assert_allclose(var, np.diag(phi_test @ phi_test.T - k_star @ solve[:, 1:]), rtol=1e-9, atol=1e-12)


def test_shrunk_run():
    cfg = exp.Config(width=64, max_log2_b=7, n_repeats=4, n_train=20, n_features=8, n_conditioning_draws=20_000,
                     mc_kernel_fn_samples=8)
    result = exp.run(cfg)
    exact_identities = [c for c in result.claims if c.id.startswith(("feature-form", "blr-"))]
    assert len(exact_identities) == 6 and all(c.passed for c in exact_identities)
    by_id = {c.id: c for c in result.claims}
    assert by_id["conditioning-monte-carlo"].passed
    assert -0.65 < result.metrics["mc_slope"] < -0.35


@pytest.mark.parametrize("key,value", [("n_repeats", "4"), ("noise_std", "-1"), ("max_log2_b", "1"),
                                       ("n_conditioning_draws", "0")])
def test_bad_config_values_are_rejected(key, value):
    with pytest.raises(ConfigError, match=key):
        make_config(exp.Config, quick=True, overrides={key: value})


def test_every_field_declares_a_domain():
    assert all(domains(exp.Config).values()), domains(exp.Config)
