"""linear-autoencoder-pca on a shrunk config: every claim passes; the angle helper agrees with scipy."""

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from dl_theory.experiment.config import ConfigError
from experiments.feedforward import linear_autoencoder_pca


def test_linear_autoencoder_pca_claims_hold():
    cfg = linear_autoencoder_pca.Config(dim=5, latent=2, n=60, init_scales=(0.01, 0.5), inits_per_scale=2,
                                        saddle_starts=1, steps=2500, n_transforms=2)
    result = linear_autoencoder_pca.run(cfg)
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert {"eckart-young-reached", "principal-angle", "invertible-a-same-loss", "saddle-index", "not-convex",
            "only-top-k-is-minimum"} <= {c.id for c in result.claims}
    assert len(result.metrics["critical_points"]) == 10  # binom(5, 2)


def test_sin_max_angle_matches_scipy_subspace_angles(x64):
    rng = np.random.default_rng(0)
    a, v = rng.normal(size=(6, 2)), np.linalg.qr(rng.normal(size=(6, 2)))[0]
    expected = np.sin(scipy.linalg.subspace_angles(a, v).max())
    np.testing.assert_allclose(linear_autoencoder_pca._sin_max_angle(jnp.asarray(a), jnp.asarray(v)), expected,
                               rtol=1e-10)


def test_latent_must_be_below_dim():
    with pytest.raises(ValueError, match="latent"):
        linear_autoencoder_pca.run(linear_autoencoder_pca.Config(dim=3, latent=3))


@pytest.mark.parametrize("overrides", [{"dim": "2"}, {"decay": "1.5"}, {"lr": "0"}, {"init_scales": "(0.1, -1)"},
                                       {"steps": "0"}, {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        linear_autoencoder_pca.EXPERIMENT.make_config(quick=True, overrides=overrides)
