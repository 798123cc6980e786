"""``import dl_theory as nt`` exposes neural-tangents' public names, so ported code runs unchanged."""

import jax
import numpy as np

import dl_theory as nt


def test_neural_tangents_names_are_exported():
    for name in ("stax", "predict", "batch", "empirical_ntk_fn", "empirical_nngp_fn", "empirical_kernel_fn",
                 "empirical_ntk_vp_fn", "monte_carlo_kernel_fn", "linearize", "taylor_expand"):
        assert name in nt.__all__ and hasattr(nt, name), name


def test_ported_snippet_runs(key):
    init_fn, apply_fn, kernel_fn = nt.stax.serial(nt.stax.Dense(64), nt.stax.Relu(), nt.stax.Dense(1))
    x = jax.random.normal(key, (3, 5))
    _, params = init_fn(key, x.shape)
    empirical = nt.empirical_ntk_fn(apply_fn)(x, None, params)
    analytic = kernel_fn(x, None, "ntk")
    assert empirical.shape == analytic.shape == (3, 3)
    predict_fn = nt.predict.gradient_descent_mse(analytic, np.ones((3, 1)), diag_reg=1e-4)
    assert predict_fn(None, np.zeros((3, 1))).shape == (3, 1)
