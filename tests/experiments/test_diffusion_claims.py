"""diffusion on a shrunk config: every claim holds (forward process, posterior vs quadrature and the notes' slip, DDPM
samples near the data floor, class-conditional digits recognized by a separate classifier)."""

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.generative import diffusion


def test_diffusion_claims_hold():
    cfg = diffusion.Config(T=100, n_forward=5000, n_posterior=4, n_train=2000, hidden=(64, 64, 64), steps=3000,
                           batch_size=256, n_eval=800, replicates=6, n_directions=16, digit_hidden=(128, 128),
                           digit_steps=1200, per_class=12, classifier_hidden=(64,), classifier_steps=400)
    result = diffusion.run(cfg)
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert {"forward-closed-form-linear", "posterior-mean-cosine", "posterior-variance-linear", "notes-variance-off",
            "notes-mean-off", "ddpm-near-floor-linear", "ddpm-near-floor-cosine",
            "conditional-samples-classified"} <= {c.id for c in result.claims}


@pytest.mark.parametrize("overrides", [{"T": "1"}, {"n_forward": "10"}, {"hidden": "(0, 8)"}, {"p_uncond": "1.0"},
                                       {"guidance": "-1"}, {"variance": "'learned'"}, {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        diffusion.EXPERIMENT.make_config(quick=True, overrides=overrides)
