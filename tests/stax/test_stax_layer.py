"""Layer machinery: ``get``, ``x2=None``, Kernel inputs, jit, repeat, Dropout, LayerNorm and clear errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from stax_mc import assert_within_se, mc_kernels

from dl_theory import stax

X1 = jax.random.normal(jax.random.key(1), (3, 4))
X2 = jax.random.normal(jax.random.key(2), (2, 4))
NET = stax.serial(stax.Dense(8, b_std=0.1), stax.Relu(), stax.Dense(2))


def test_get_variants():
    kernel_fn = NET[2]
    k = kernel_fn(X1, X2)
    assert isinstance(k, stax.Kernel)
    np.testing.assert_allclose(kernel_fn(X1, X2, "nngp"), k.nngp)
    both = kernel_fn(X1, X2, ("ntk", "cov1"))
    assert type(both).__name__ == "AnalyticKernel" and both._fields == ("ntk", "cov1")
    np.testing.assert_allclose(both.ntk, k.ntk)
    assert kernel_fn(X1, X2, "nngp").shape == (3, 2) and kernel_fn(X1, None, "cov2") is None
    with pytest.raises(ValueError, match="unknown name 'nnpg'"):
        kernel_fn(X1, X2, "nnpg")
    with pytest.raises(TypeError, match="get"):
        kernel_fn(X1, X2, 3)


def test_kernel_inputs_and_jit():
    first, rest = stax.Dense(8, b_std=0.1), stax.serial(stax.Relu(), stax.Dense(2))
    k_mid = first[2](X1, X2)
    np.testing.assert_allclose(rest[2](k_mid, get="ntk"), NET[2](X1, X2, "ntk"), rtol=1e-6)
    jitted = jax.jit(NET[2], static_argnames="get")
    np.testing.assert_allclose(jitted(X1, X2, get="nngp"), NET[2](X1, X2, "nngp"), rtol=1e-6)
    assert isinstance(jax.tree_util.tree_leaves(k_mid)[0], jax.Array)


def test_repeat_equals_serial(x64):
    block = stax.serial(stax.Dense(5, W_std=1.4, b_std=0.1), stax.Erf())
    rep, ser = stax.repeat(block, 3), stax.serial(block, block, block)
    x1, x2 = jnp.ones((3, 5)).at[0].set(0.3), jnp.ones((2, 5)).at[1, 2].set(-1.0)
    for a, b in zip(rep[2](x1, x2, ("nngp", "ntk")), ser[2](x1, x2, ("nngp", "ntk")), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    _, params = rep[0](jax.random.key(0), (3, 5))
    assert params[0][0].shape == (3, 5, 5) and rep[1](params, jnp.ones((3, 5))).shape == (3, 5)
    with pytest.raises(ValueError, match="keep"):
        stax.repeat(stax.Dense(3), 2)[0](jax.random.key(0), (3, 4))


def test_dropout_matches_monte_carlo(x64):
    init_fn, apply_fn, kernel_fn = stax.serial(stax.Dense(16, b_std=0.2), stax.Relu(), stax.Dropout(0.6), stax.Dense(4))
    mc = mc_kernels(init_fn, apply_fn, X1, None, jax.random.key(5), 200, rng_apply=True)
    assert_within_se(kernel_fn(X1, None, "nngp")[..., None, None], *mc["nngp"])
    test_mode = stax.serial(stax.Dense(16, b_std=0.2), stax.Relu(), stax.Dropout(0.6, "test"), stax.Dense(4))
    no_dropout = stax.serial(stax.Dense(16, b_std=0.2), stax.Relu(), stax.Dense(4))
    np.testing.assert_allclose(test_mode[2](X1, None, "nngp"), no_dropout[2](X1, None, "nngp"))


def test_layernorm_normalizes_variances(x64):
    x = jax.random.normal(jax.random.key(3), (3, 4, 2))
    _, _, kernel_fn = stax.serial(stax.Conv(3, (2,), padding="SAME", b_std=0.3), stax.LayerNorm(eps=0.0))
    k = kernel_fn(x, None)
    np.testing.assert_allclose(np.einsum("iaa->ia", k.cov1), 1.0, rtol=1e-12)  # per-position unit variance
    pre = stax.Conv(3, (2,), padding="SAME", b_std=0.3)[2](x, None)
    v = np.einsum("iaa->ia", pre.cov1)
    np.testing.assert_allclose(k.nngp, pre.nngp / np.sqrt(np.einsum("ia,jb->ijab", v, v)), rtol=1e-12)
    with pytest.raises(NotImplementedError, match="Gaussian"):
        stax.serial(stax.Dense(3), stax.Relu(), stax.LayerNorm())[2](x, None)
    with pytest.raises(ValueError, match="channel axis"):
        stax.serial(stax.Dense(3), stax.LayerNorm(axis=1))[2](x, None)


def test_clear_errors():
    with pytest.raises(TypeError, match="without a kernel_fn"):
        stax.serial(stax.Dense(3), (lambda k, s: (s, ()), lambda p, x: x))
    with pytest.raises(ValueError, match="parameterization"):
        stax.Dense(3, parameterization="mup")
    with pytest.raises(ValueError, match="padding"):
        stax.Conv(3, (2,), padding="REFLECT")
    with pytest.raises(ValueError, match="agree in all axes"):
        NET[2](X1, jnp.ones((2, 5)))
