"""Conv: Monte Carlo over random filters (each padding, strides, both parameterizations) and layout checks."""

import jax
import numpy as np
import pytest
from stax_mc import as_pairs, assert_within_se, mc_kernels

from dl_theory import stax


@pytest.mark.parametrize(
    ("padding", "strides", "parameterization"),
    [("VALID", (1, 1), "ntk"), ("SAME", (2, 1), "standard"), ("CIRCULAR", (1, 2), "ntk")],
)
def test_conv_relu_conv_matches_monte_carlo(padding, strides, parameterization, x64):
    x1 = jax.random.normal(jax.random.key(1), (2, 4, 3, 2))
    x2 = jax.random.normal(jax.random.key(2), (1, 4, 3, 2))
    conv = lambda c, b: stax.Conv(c, (2, 2), strides, padding, W_std=1.3, b_std=b, parameterization=parameterization)
    init_fn, apply_fn, kernel_fn = stax.serial(conv(8, 0.2), stax.Relu(), conv(2, 0.1))
    mc = mc_kernels(init_fn, apply_fn, x1, x2, jax.random.key(3), 100, ntk=True)
    k = kernel_fn(x1, x2, ("nngp", "ntk"))
    assert_within_se(as_pairs(k.nngp), *mc["nngp"])
    assert_within_se(as_pairs(k.ntk), *mc["ntk"])


@pytest.mark.parametrize("padding", ["VALID", "SAME", "CIRCULAR"])
def test_diagonal_layout_is_the_diagonal_of_the_full_one(padding, x64):
    x = jax.random.normal(jax.random.key(1), (3, 5, 4, 2))
    _, _, kernel_fn = stax.serial(stax.Conv(3, (3, 2), (2, 1), padding, b_std=0.1), stax.Erf(), stax.Conv(3, (2, 2)))
    full, diag = kernel_fn(x, None), kernel_fn(x, None, diagonal_spatial=True)
    assert full.is_reversed is False and diag.nngp.ndim == 4  # two convs: neural-tangents' flag flips back
    np.testing.assert_allclose(np.einsum("ijaabb->ijab", full.nngp), diag.nngp, rtol=1e-12)
    np.testing.assert_allclose(np.einsum("iaabb->iab", full.cov1), diag.cov1, rtol=1e-12)


def test_nchw_equals_nhwc_on_transposed_inputs(x64):
    x = jax.random.normal(jax.random.key(1), (2, 5, 4, 3))
    nhwc = stax.serial(stax.Conv(2, (2, 3), padding="SAME", b_std=0.2), stax.Relu(), stax.Flatten())[2](x, None)
    nchw_conv = stax.Conv(2, (2, 3), padding="SAME", b_std=0.2, dimension_numbers=("NCHW", "HWIO", "NCHW"))
    nchw = stax.serial(nchw_conv, stax.Relu(), stax.Flatten())[2](np.transpose(x, (0, 3, 1, 2)), None)
    np.testing.assert_allclose(nhwc.nngp, nchw.nngp, rtol=1e-12)
    np.testing.assert_allclose(nhwc.ntk, nchw.ntk, rtol=1e-12)


def test_conv3d_single_layer_monte_carlo(x64):
    x = jax.random.normal(jax.random.key(1), (2, 3, 3, 2, 1))
    init_fn, apply_fn, kernel_fn = stax.Conv(4, (2, 2, 1), (1, 2, 1), "SAME", W_std=1.1, b_std=0.3)
    mc = mc_kernels(init_fn, apply_fn, x, None, jax.random.key(2), 100)
    k = kernel_fn(x, None)
    assert k.is_reversed  # one full-layout conv: stored as (Z, Z', Y, Y', X, X'), as neural-tangents
    assert_within_se(as_pairs(k.nngp, k.is_reversed), *mc["nngp"])


def test_wrong_rank_is_a_clear_error():
    _, _, kernel_fn = stax.Conv(2, (3, 3))
    with pytest.raises(ValueError, match="rank"):
        kernel_fn(np.ones((2, 5, 3)), None)
