"""Tests of ``dl_theory.kernels.monte_carlo.monte_carlo_kernel_fn``.

For one hidden ReLU layer the empirical NNGP and NTK are *unbiased* at any width (first-layer pre-activations are
exactly Gaussian, and the readout weights are independent of them), so the Monte-Carlo mean must match the
closed-form arc-cosine kernels (Cho & Saul, 2009) within its own standard error, computed from the per-sample
kernels recovered from the running estimates.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dl_theory import stax
from dl_theory.kernels.empirical import empirical_kernel_fn
from dl_theory.kernels.monte_carlo import monte_carlo_kernel_fn

W1, B1, W2, B2, D = 1.5, 0.3, 1.2, 0.2, 3


def _net(width: int = 64, out: int = 2):
    return stax.serial(stax.Dense(width, W_std=W1, b_std=B1), stax.Relu(), stax.Dense(out, W_std=W2, b_std=B2))


def _arccos_kernels(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form NNGP and NTK of Dense-ReLU-Dense in the NTK parameterization (float64)."""
    k1 = W1**2 * x @ x.T / x.shape[1] + B1**2
    norms = np.sqrt(np.diag(k1))
    cos = np.clip(k1 / np.outer(norms, norms), -1.0, 1.0)
    theta = np.arccos(cos)
    e_relu = np.outer(norms, norms) / (2 * np.pi) * (np.sin(theta) + (np.pi - theta) * cos)
    e_step = (np.pi - theta) / (2 * np.pi)
    nngp = W2**2 * e_relu + B2**2
    return nngp, nngp + W2**2 * k1 * e_step


def test_mc_kernels_match_arccos_within_standard_error(key):
    init_fn, apply_fn, _ = _net()
    x = np.random.default_rng(0).normal(size=(5, D))
    n = 64
    means = list(monte_carlo_kernel_fn(init_fn, apply_fn, key, range(1, n + 1))(x))
    assert len(means) == n and type(means[0]).__name__ == "MonteCarloKernel"
    assert means[0]._fields == ("nngp", "ntk")  # get=None: both
    nngp, ntk = _arccos_kernels(x)
    for name, exact in (("nngp", nngp), ("ntk", ntk)):
        running = np.stack([np.asarray(getattr(m, name), np.float64) for m in means])
        counts = np.arange(1, n + 1)[:, None, None]
        samples = counts * running - np.concatenate([np.zeros_like(running[:1]), (counts * running)[:-1]])
        stderr = samples.std(axis=0, ddof=1) / np.sqrt(n)
        z = np.abs(running[-1] - exact) / stderr
        assert z.max() < 5.0, (name, z.max())
        assert np.max(stderr / np.abs(exact).max()) < 0.15  # the check is not vacuous


def test_running_estimates_and_key_chain(key):
    init_fn, apply_fn, _ = _net(16)
    x1 = np.random.default_rng(1).normal(size=(4, D)).astype(np.float32)
    x2 = np.random.default_rng(2).normal(size=(6, D)).astype(np.float32)
    estimates = list(monte_carlo_kernel_fn(init_fn, apply_fn, key, {16, 1, 4})(x1, x2, "ntk"))
    assert len(estimates) == 3 and estimates[0].shape == (4, 6)
    direct = monte_carlo_kernel_fn(init_fn, apply_fn, key, 16, batch_size=2)(x1, x2, "ntk")  # tiled
    np.testing.assert_allclose(estimates[-1], direct, rtol=1e-5, atol=1e-6)
    # Sample 1 uses key -> (key', k1) = split(key); (init_key, rng) = split(k1, 2).
    _, k1 = jax.random.split(key)
    _, params = init_fn(jax.random.split(k1, 2)[0], x1.shape)
    one = jax.jit(empirical_kernel_fn(apply_fn), static_argnums=2)(x1, x2, "ntk", params)
    np.testing.assert_allclose(estimates[0], one, rtol=1e-5, atol=1e-6)


def test_axes_options_and_bad_n_samples(key):
    init_fn, apply_fn, _ = _net(8, out=3)
    x = jnp.ones((2, D))
    full = monte_carlo_kernel_fn(init_fn, apply_fn, key, 2, trace_axes=())(x, None, "nngp")
    assert full.shape == (2, 2, 3, 3)
    traced = monte_carlo_kernel_fn(init_fn, apply_fn, key, 2)(x, None, "nngp")
    np.testing.assert_allclose(traced, jnp.trace(full, axis1=2, axis2=3) / 3, rtol=1e-5)
    with pytest.raises(ValueError, match="n_samples"):
        monte_carlo_kernel_fn(init_fn, apply_fn, key, 0)
    with pytest.raises(ValueError, match=r"n_samples\[1\] must be an integer >= 1, got 0"):
        monte_carlo_kernel_fn(init_fn, apply_fn, key, [1, 0])
    with pytest.raises(TypeError, match=r"n_samples\[1\] must be an integer"):
        monte_carlo_kernel_fn(init_fn, apply_fn, key, [1, 2.5])
    with pytest.raises(TypeError, match="n_samples"):
        monte_carlo_kernel_fn(init_fn, apply_fn, key, 2.0)
