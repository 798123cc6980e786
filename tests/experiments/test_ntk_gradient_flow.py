"""ntk-gradient-flow on a shrunk config: closed forms equal GD on the linearized net; finite nets approach NTK."""

from experiments.kernels import ntk_gradient_flow as flow


def test_closed_forms_and_infinite_width_on_small_config():
    cfg = flow.Config(width=32, n_train=8, n_test=8, steps=60, kr_train=64, kr_test=32, widths=(128, 2048),
                      kr_steps=40)
    result = flow.run(cfg)
    by_id = {c.id: c for c in result.claims}
    for cid in ("gd-equals-discrete-closed-form", "gradient-flow-matches-gd", "infinite-time-is-kernel-regression",
                "finite-nets-approach-ntk"):
        assert by_id[cid].passed, (cid, by_id[cid])
    lin = result.metrics["linearized"]
    assert lin["inf_train_residual"] < 1e-10  # at t = inf the training set is interpolated
    assert 0 < lin["lr"] < 2 * 8 * 10 / lin["eig_max"]  # below the stability limit 2N / lambda_max
    assert result.metrics["distance_exponent"] < 0
