"""vae on a shrunk config: every claim holds (ELBO gap = KL, IWAE, two-level ELBO and the notes' form, digits VAE)."""

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.generative import vae


def test_vae_claims_hold():
    cfg = vae.Config(n_points=4, n_mc=2000, iwae_ks=(1, 4, 16, 64), iwae_replicates=2000, hidden=(128,), n_steps=2000,
                     eval_k=50)
    result = vae.run(cfg)
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert {"elbo-gap-is-kl", "elbo-tight-at-posterior", "iwae-increasing-in-k", "iwae-gap-delta-method",
            "hvae-elbo-gap-is-kl", "notes-form-not-tight", "digits-vae-beats-ppca"} <= {c.id for c in result.claims}


def test_config_consistency_is_checked():
    with pytest.raises(ValueError, match="latent_dim"):
        vae.run(vae.Config(dim=4, latent_dim=4))
    with pytest.raises(ValueError, match="iwae_ks"):
        vae.run(vae.Config(iwae_ks=(2, 4, 8)))


@pytest.mark.parametrize("overrides", [{"dim": "2"}, {"n_mc": "10"}, {"noise_var": "0"}, {"iwae_ks": "(1, 0, 4)"},
                                       {"hidden": "(16, -1)"}, {"learning_rate": "-1"}, {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        vae.EXPERIMENT.make_config(quick=True, overrides=overrides)
