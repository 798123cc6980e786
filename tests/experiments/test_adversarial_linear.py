"""adversarial-linear on a shrunk config: the closed forms match the numerical searches exactly."""

import matplotlib.figure
import pytest

from dl_theory.experiment.config import ConfigError
from experiments.robustness import adversarial_linear


def test_adversarial_linear_claims_hold():
    result = adversarial_linear.run(adversarial_linear.Config(n_steps=200, n_search=6, n_directions=20,
                                                              pgd_steps=50))
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert {"l2-norm-vs-slsqp", "no-smaller-flip", "linf-eps-vs-linprog", "fgsm-is-linf-attack", "pgd-l2-direction",
            "multiclass-l2-distance-vs-slsqp", "multiclass-linf-distance-vs-linprog"} <= {c.id for c in result.claims}
    assert isinstance(adversarial_linear.plot(result), matplotlib.figure.Figure)


@pytest.mark.parametrize("overrides", [{"n_steps": "0"}, {"learning_rate": "-1"}, {"n_search": "1"},
                                       {"n_directions": "1"}, {"pgd_steps": "20"}, {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        adversarial_linear.EXPERIMENT.make_config(quick=True, overrides=overrides)
