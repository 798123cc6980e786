"""ntk-lazy-training on a shrunk config: the NTK moves less for wider nets and larger output scale alpha."""

import numpy as np
import pytest

from dl_theory.experiment.config import ConfigError, domains, make_config
from experiments.kernels import ntk_lazy_training as lazy


def test_ntk_change_shrinks_with_width_and_alpha():
    cfg = lazy.Config(widths=(64, 512, 4096), n_seeds=2, n_train=8, n_test=8, steps=30,
                      alphas=(0.25, 1.0, 4.0, 16.0, 64.0))
    result = lazy.run(cfg)
    failed = [c.id for c in result.claims if not c.passed]
    assert not failed, failed
    changes = [w["ntk_change"] for w in result.metrics["widths"]]
    assert np.all(np.diff(changes) < 0), changes
    for steps, trajectory in result.data["trajectories"].values():
        assert steps[0] == 0 and trajectory[0] == 0.0  # the tracker's reference is the kernel at step 0
    assert result.metrics["closer_to"] in ("1/m", "1/sqrt(m)")
    for fit, values_WxS in (("ntk_change_fit", result.data["change"]), ("linearization_gap_fit", result.data["gap"])):
        # the exponent of the geometric means of independent nets
        fitted = np.polyfit(np.log(cfg.widths), np.log(values_WxS.astype(float)).mean(1), 1)[0]
        np.testing.assert_allclose(result.metrics[fit]["slope"], fitted, rtol=1e-12)
        assert result.metrics[fit]["dof"] == len(cfg.widths) * (cfg.n_seeds - 1)


@pytest.mark.parametrize("key,value", [("widths", "64,128"), ("n_seeds", "1"), ("alphas", "1,2,3"),
                                       ("alpha_activation", "softplus"), ("lr_fraction", "0")])
def test_bad_config_values_are_rejected(key, value):
    with pytest.raises(ConfigError, match=key):
        make_config(lazy.Config, quick=True, overrides={key: value})


def test_every_field_declares_a_domain():
    assert all(domains(lazy.Config).values()), domains(lazy.Config)
