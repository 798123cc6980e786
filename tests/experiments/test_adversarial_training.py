"""adversarial-training on a shrunk config: PGD beats FGSM, the standard net collapses, adversarial training trades
clean for robust accuracy."""

import matplotlib.figure
import pytest

from dl_theory.experiment.config import ConfigError
from experiments.robustness import adversarial_training


def test_adversarial_training_claims_hold():
    result = adversarial_training.run(adversarial_training.Config(
        hidden=(64,), n_steps=500, train_pgd_steps=3, eval_pgd_steps=5, eps_grid=(0.0, 0.1, 0.3)))
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert {"standard-collapses", "adversarial-training-raises-robustness",
            "adversarial-training-costs-clean-accuracy"} <= {c.id for c in result.claims}
    assert isinstance(adversarial_training.plot(result), matplotlib.figure.Figure)


@pytest.mark.parametrize("overrides", [{"eps_train": "-0.1"}, {"eps_train": "0"}, {"train_pgd_steps": "0"},
                                       {"eval_pgd_steps": "-2"}, {"eps_grid": "0.1"}, {"eps_grid": "0,-0.1"},
                                       {"learning_rate": "0"}, {"hidden": "0"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        adversarial_training.EXPERIMENT.make_config(quick=True, overrides=overrides)
