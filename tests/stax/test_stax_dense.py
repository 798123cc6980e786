"""Dense / Identity / serial: closed forms on the inputs and Monte Carlo through one hidden ReLU layer."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from stax_mc import assert_within_se, mc_kernels

from dl_theory import stax


def _x(key, n, d):
    return jax.random.normal(key, (n, d))


@pytest.mark.parametrize("parameterization", ["ntk", "standard"])
def test_dense_closed_form_on_inputs(parameterization, x64):
    x1, x2 = _x(jax.random.key(1), 4, 5), _x(jax.random.key(2), 3, 5)
    _, _, kernel_fn = stax.Dense(7, W_std=1.7, b_std=0.4, parameterization=parameterization)
    k = kernel_fn(x1, x2)
    dot = np.asarray(x1 @ x2.T)
    np.testing.assert_allclose(k.nngp, 1.7**2 * dot / 5 + 0.4**2, rtol=1e-12)
    want_ntk = k.nngp if parameterization == "ntk" else dot + 1.0  # d * (x.x'/d) + 1 for the bias
    np.testing.assert_allclose(k.ntk, want_ntk, rtol=1e-12)
    np.testing.assert_allclose(k.cov1, 1.7**2 * np.sum(np.asarray(x1) ** 2, 1) / 5 + 0.4**2, rtol=1e-12)
    assert k.is_gaussian and k.cov2.shape == (3,)


@pytest.mark.parametrize("parameterization", ["ntk", "standard"])
def test_relu_mlp_matches_monte_carlo(parameterization, x64):
    x1, x2 = _x(jax.random.key(1), 3, 4), _x(jax.random.key(2), 2, 4)
    init_fn, apply_fn, kernel_fn = stax.serial(
        stax.Dense(32, W_std=1.5, b_std=0.3, parameterization=parameterization),
        stax.Relu(),
        stax.Dense(4, W_std=1.2, b_std=0.2, parameterization=parameterization),
    )
    mc = mc_kernels(init_fn, apply_fn, x1, x2, jax.random.key(3), 150, ntk=True)
    k = kernel_fn(x1, x2, ("nngp", "ntk"))
    assert_within_se(k.nngp[..., None, None], *mc["nngp"])
    assert_within_se(k.ntk[..., None, None], *mc["ntk"])


def test_cov_layouts_agree_with_nngp(x64):
    x = _x(jax.random.key(1), 4, 3)
    _, _, kernel_fn = stax.serial(stax.Dense(5, b_std=0.1), stax.Relu(), stax.Dense(2))
    k = kernel_fn(x, None)
    full = kernel_fn(x, None, diagonal_batch=False)
    assert k.cov2 is None and bool(k.x1_is_x2)
    np.testing.assert_allclose(jnp.diagonal(k.nngp), k.cov1, rtol=1e-12)
    np.testing.assert_allclose(full.cov1, k.nngp, rtol=1e-12)


def test_params_and_shapes(key):
    init_fn, apply_fn, _ = stax.serial(stax.Dense(3, b_std=0.5), stax.Dense(2), stax.Identity())
    out_shape, params = init_fn(key, (6, 4))
    assert out_shape == (6, 2)
    (w1, b1), (w2, b2), ident = params
    assert w1.shape == (4, 3) and b1.shape == (1, 3) and w2.shape == (3, 2) and b2 is None and ident == ()
    assert apply_fn(params, jnp.ones((6, 4))).shape == (6, 2)
