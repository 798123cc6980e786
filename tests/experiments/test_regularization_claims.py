"""regularization on a shrunk config: every claim holds."""

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.tricks import regularization


def test_regularization_claims_hold():
    cfg = regularization.Config(dim=6, n_samples=24, gd_steps=1500, sgd_steps=50, batch_size=6, adam_steps=3000,
                                prox_grid=7, prox_betas=(0.5, 1.0), lasso_n=20, lasso_dim=6, ista_steps=1500,
                                width=8, depths=(1, 4, 16), explode_depths=(1, 2, 4), inits=60)
    result = regularization.run(cfg)
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert {"gd-weight-decay", "sgd-l2-equals-decoupled", "adamw-differs", "early-stopping-t",
            "soft-threshold-argmin", "ista-vs-sklearn", "residual-scaled-linear"} <= {c.id for c in result.claims}


@pytest.mark.parametrize("overrides", [{"mu": "-1"}, {"dim": "1"}, {"eta_lambda_max": "1.5"}, {"spectrum": "(1,)"},
                                       {"inits": "3"}, {"prox_betas": "(0.5, -1)"}, {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        regularization.EXPERIMENT.make_config(quick=True, overrides=overrides)
