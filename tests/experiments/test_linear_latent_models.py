"""linear-latent-models on a shrunk config: every claim holds (PPCA/FA, pseudo-inverse limit, LDA = LR, autoencoder)."""

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.generative import linear_latent_models


def test_linear_latent_models_claims_hold():
    cfg = linear_latent_models.Config(dim=6, latent_dim=2, n=600, em_steps=3000, class_dim=3, class_n=800,
                                      replicates=12)
    result = linear_latent_models.run(cfg)
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert {"ppca-em-loglik", "rotation-same-marginal", "pinv-limit-slope", "bayes-is-logistic",
            "lda-matches-logistic", "autoencoder-optimum-set"} <= {c.id for c in result.claims}


def test_latent_dim_must_be_below_dim():
    with pytest.raises(ValueError, match="latent_dim"):
        linear_latent_models.run(linear_latent_models.Config(dim=4, latent_dim=4))


@pytest.mark.parametrize("overrides", [{"dim": "2"}, {"n": "10"}, {"noise_var": "0"}, {"replicates": "3"},
                                       {"prior1": "1.0"}, {"sigma2s": "(1e-3, -1e-4, 1e-5)"}, {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        linear_latent_models.EXPERIMENT.make_config(quick=True, overrides=overrides)
