"""ntk-gradient-flow on a shrunk config: closed forms equal GD on the linearized net; finite nets approach NTK/NNGP."""

import numpy as np
import pytest

from dl_theory.experiment.config import ConfigError, domains, make_config
from experiments.kernels import ntk_gradient_flow as flow


def test_discrete_gd_prediction_matches_iterated_kernel_gd(x64):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 6))
    k, k_test, y = a @ a.T + 0.1 * np.eye(6), rng.normal(size=(3, 6)), rng.normal(size=(6, 2))
    lr, steps = 0.5 * 2 * 6 / np.linalg.eigvalsh(k)[-1], 7
    f, f_test = np.zeros_like(y), np.zeros((3, 2))
    for _ in range(steps):  # kernel GD on losses.mse from zero: f <- f - eta K (f - y) / N
        step = np.linalg.solve(k, k @ (f - y))  # coefficients of the update in the span of K(., X)
        f_test -= lr * k_test @ step / 6
        f -= lr * k @ (f - y) / 6
    np.testing.assert_allclose(flow.discrete_gd_prediction(k, k_test, y, lr, steps), f_test, rtol=1e-10)


def test_closed_forms_and_infinite_width_on_small_config():
    cfg = flow.Config(width=16, n_train=6, n_test=6, steps=40, kr_train=16, kr_test=16, widths=(32, 128, 512),
                      n_nets=4, kr_steps=20)
    result = flow.run(cfg)
    by_id = {c.id: c for c in result.claims}
    assert set(by_id) == {"gd-equals-discrete-closed-form", "gradient-flow-matches-gd",
                          "long-time-is-kernel-regression", "finite-nets-approach-ntk", "finite-nets-approach-nngp"}
    for cid in ("gd-equals-discrete-closed-form", "gradient-flow-matches-gd", "long-time-is-kernel-regression"):
        assert by_id[cid].passed, (cid, by_id[cid])
    lin = result.metrics["linearized"]
    assert lin["inf_train_residual"] < 1e-10  # at t = inf the training set is interpolated
    assert 0 < lin["lr"] < 2 * 6 / lin["eig_max"]  # below the stability limit 2N / lambda_max of losses.mse
    assert 0 < lin["gd_vs_flow_train"] <= lin["flow_gap_bound_train"]
    for name in ("ntk", "nngp"):
        geo = result.metrics["distance"][name]["geomean_distance"]
        assert np.all(np.diff(geo) < 0), (name, geo)  # 4x the width at each step: the distance falls
    assert result.metrics["distance"]["nngp"]["exponent_dof"] == 3 * (cfg.n_nets - 1)


@pytest.mark.parametrize("key,value", [("widths", "64,128"), ("n_nets", "2"), ("kr_lr_fraction", "1.5"),
                                       ("steps", "0")])
def test_bad_config_values_are_rejected(key, value):
    with pytest.raises(ConfigError, match=key):
        make_config(flow.Config, quick=True, overrides={key: value})


def test_every_field_declares_a_domain():
    assert all(domains(flow.Config).values()), domains(flow.Config)
