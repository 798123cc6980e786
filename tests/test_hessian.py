"""Hessian products and spectra vs dense linear algebra, finite differences and the exact spectrum."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from dl_theory.curvature import hessian as hs
from dl_theory.curvature import spectral


def mlp_loss(params, batch):
    x, y = batch
    h = jnp.tanh(x @ params["w1"] + params["b1"][None, :])
    return 0.5 * jnp.mean(jnp.sum((h @ params["w2"] - y) ** 2, axis=-1))


def make_problem(key, dtype=jnp.float32, n=24, d=3, width=6, out=2):
    k1, k2, k3, k4 = jax.random.split(key, 4)
    params = {
        "w1": jax.random.normal(k1, (d, width), dtype) / jnp.sqrt(d),
        "b1": 0.1 * jax.random.normal(k2, (width,), dtype),
        "w2": jax.random.normal(k3, (width, out), dtype) / jnp.sqrt(width),
    }
    kx, ky = jax.random.split(k4)
    data = (jax.random.normal(kx, (n, d), dtype), jax.random.normal(ky, (n, out), dtype))
    return params, data


def test_hvp_matches_dense_and_finite_differences(key, x64):
    params, data = make_problem(key, jnp.float64)
    flat, unravel = ravel_pytree(params)
    v_D = jax.random.normal(jax.random.key(1), flat.shape, jnp.float64)
    h_DxD = hs.hessian(mlp_loss, params, data)
    np.testing.assert_allclose(h_DxD, h_DxD.T, atol=1e-12)
    hv = ravel_pytree(hs.hvp(mlp_loss, params, unravel(v_D), data))[0]
    np.testing.assert_allclose(hv, h_DxD @ v_D, rtol=1e-10, atol=1e-12)
    # Central difference of the gradient: O(eps^2) error.
    grad = lambda w: ravel_pytree(jax.grad(mlp_loss)(unravel(w), data))[0]
    eps = 1e-5
    fd = (grad(flat + eps * v_D) - grad(flat - eps * v_D)) / (2 * eps)
    np.testing.assert_allclose(hv, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("batch_size", [5, 8])
def test_batched_accumulation_equals_full_batch(key, x64, batch_size):
    params, data = make_problem(key, jnp.float64)
    flat, unravel = ravel_pytree(params)
    v = unravel(jnp.arange(flat.shape[0], dtype=jnp.float64) / flat.shape[0])
    full = ravel_pytree(hs.hvp(mlp_loss, params, v, data))[0]
    batched = ravel_pytree(hs.hvp(mlp_loss, params, v, data, batch_size=batch_size))[0]
    np.testing.assert_allclose(batched, full, rtol=1e-12)
    np.testing.assert_allclose(
        hs.hessian(mlp_loss, params, data, batch_size=batch_size),
        hs.hessian(mlp_loss, params, data),
        rtol=1e-12,
    )
    value, grad = hs.loss_and_grad(mlp_loss, params, data, batch_size=batch_size)
    np.testing.assert_allclose(value, mlp_loss(params, data), rtol=1e-12)


def test_top_eigenvalues_match_eigh(key):
    params, data = make_problem(key)
    matvec, dim = hs.hessian_matvec(mlp_loss, params, data)
    with jax.enable_x64(True):
        exact = np.linalg.eigh(np.asarray(hs.hessian(mlp_loss, params, data), np.float64))[0][::-1]
    vals, vecs = jax.jit(lambda k: hs.top_eigenvalues(matvec, dim, 4, key=k, num_iters=30))(key)
    np.testing.assert_allclose(vals, exact[:4], rtol=1e-4)
    # Ritz vectors are unit eigenvectors: residual ||Hv - lambda v|| small relative to lambda_max.
    residual = jax.vmap(matvec)(vecs) - vals[:, None] * vecs
    assert np.max(np.linalg.norm(residual, axis=1)) < 1e-3 * exact[0]
    np.testing.assert_allclose(vecs @ vecs.T, np.eye(4), atol=1e-4)


def test_power_iteration_finds_dominant_eigenvalue(key, x64):
    a_DxD = jnp.diag(jnp.array([5.0, -2.0, 1.0, 0.5]))
    val, vec = spectral.power_iteration(lambda v: a_DxD @ v, 4, key=key, num_iters=80, dtype=jnp.float64)
    np.testing.assert_allclose(val, 5.0, rtol=1e-10)
    np.testing.assert_allclose(jnp.abs(vec[0]), 1.0, rtol=1e-10)


def test_lanczos_survives_invariant_krylov_space(key, x64):
    # Rank-2 operator: the Krylov space is invariant after 2 steps; Ritz values must stay in the spectrum.
    a_DxD = jnp.diag(jnp.array([3.0, 2.0, 0, 0, 0, 0, 0, 0]))
    vals, _ = spectral.top_eigenvalues(lambda v: a_DxD @ v, 8, 6, key=key, num_iters=6, dtype=jnp.float64)
    np.testing.assert_allclose(vals, [3.0, 2.0, 0, 0, 0, 0], atol=1e-12)
    tri = spectral.lanczos(lambda v: a_DxD @ v, jnp.ones(8), 8, key=key)
    np.testing.assert_allclose(tri.basis @ tri.basis.T, np.eye(8), atol=1e-12)
    np.testing.assert_allclose(tri.basis @ a_DxD @ tri.basis.T, tri.dense(), atol=1e-12)


def test_trace_within_three_standard_errors(key):
    params, data = make_problem(key)
    matvec, dim = hs.hessian_matvec(mlp_loss, params, data)
    h_DxD = np.asarray(hs.hessian(mlp_loss, params, data), np.float64)
    exact = np.trace(h_DxD)
    est = hs.trace(matvec, dim, key=jax.random.key(3), num_probes=200, chunk_size=50)
    assert est.samples.shape == (200,)
    # Rademacher probes: Var(v^T H v) = 2 (||H||_F^2 - sum_i H_ii^2); the reported SE must estimate it.
    se_theory = np.sqrt(2 * (np.sum(h_DxD**2) - np.sum(np.diag(h_DxD) ** 2)) / 200)
    assert 0.7 * se_theory < float(est.stderr) < 1.4 * se_theory
    assert abs(float(est.mean) - exact) < 3 * float(est.stderr)


def test_probes_batched_or_chunked_give_the_same_estimates(key, x64):
    a_DxD = jnp.diag(jnp.linspace(-1.0, 4.0, 12)) + 0.1
    matvec = lambda v: a_DxD @ v  # noqa: E731
    whole, chunked = (hs.trace(matvec, 12, key=key, num_probes=7, chunk_size=c, dtype=jnp.float64) for c in (None, 3))
    np.testing.assert_allclose(whole.samples, chunked.samples, rtol=1e-12)
    sd_whole, sd_chunked = (hs.spectral_density(matvec, 12, key=key, num_probes=5, num_iters=6, chunk_size=c,
                                                dtype=jnp.float64) for c in (None, 2))
    np.testing.assert_allclose(sd_whole.nodes, sd_chunked.nodes, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sd_whole.weights, sd_chunked.weights, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="chunk_size"):
        hs.trace(matvec, 12, key=key, num_probes=7, chunk_size=0, dtype=jnp.float64)


def test_slq_moments_match_exact_spectrum(key, x64):
    params, data = make_problem(key, jnp.float64)
    matvec, dim = hs.hessian_matvec(mlp_loss, params, data)
    lam = np.linalg.eigh(np.asarray(hs.hessian(mlp_loss, params, data)))[0]
    num_probes = 64
    sd = hs.spectral_density(matvec, dim, key=key, num_probes=num_probes, num_iters=12, dtype=jnp.float64)
    np.testing.assert_allclose(jnp.sum(sd.weights, axis=-1), 1.0, atol=1e-12)
    for p in (1, 2, 3):
        # Per-probe quadrature is exact for v^T A^p v (p <= 2m-1), so the only error is the probe average:
        # compare within 4 standard errors of the per-probe values.
        per_probe = jnp.sum(sd.weights * sd.nodes**p, axis=-1)
        se = float(jnp.std(per_probe, ddof=1)) / np.sqrt(num_probes)
        assert abs(float(sd.moment(p)) - np.mean(lam**p)) < 4 * se + 1e-10
    # The broadened density integrates to 1, has mean tr(H)/D, and second moment E[lam^2] + sigma^2.
    dt = float(sd.grid[1] - sd.grid[0])
    mass = float(jnp.sum(sd.density) * dt)
    np.testing.assert_allclose(mass, 1.0, rtol=1e-6)
    np.testing.assert_allclose(
        float(jnp.sum(sd.grid * sd.density) * dt), float(sd.moment(1)), rtol=1e-6, atol=1e-9
    )


def test_slq_with_full_krylov_depth_is_exact(key, x64):
    # With m = D Lanczos steps, each probe's quadrature reproduces v^T A^p v exactly, for any p.
    a_DxD = jnp.diag(jnp.linspace(-1.0, 4.0, 10))
    sd = spectral.spectral_density(
        lambda v: a_DxD @ v, 10, key=key, num_probes=3, num_iters=10, dtype=jnp.float64
    )
    probes_moment = jnp.mean(jnp.sum(sd.weights * sd.nodes**6, axis=-1))
    # Rademacher probes: v^T A^p v / D = mean(diag(A)^p) exactly for a diagonal A.
    np.testing.assert_allclose(probes_moment, jnp.mean(jnp.diag(a_DxD) ** 6), rtol=1e-9)


def test_bad_inputs_raise(key):
    params, data = make_problem(key)
    with pytest.raises(ValueError, match="scalar"):
        hs.hvp(lambda p, b: jnp.sum(p["w1"], axis=0), params, params, data)
    with pytest.raises(ValueError, match="v and params must be pytrees of the same structure"):
        hs.hvp(mlp_loss, params, {"w1": params["w1"]}, data)
    matvec, dim = hs.hessian_matvec(mlp_loss, params, data)
    with pytest.raises(ValueError, match="matvec must map"):
        hs.top_eigenvalues(matvec, dim + 1, 2, key=key)
    with pytest.raises(ValueError, match="k must be in"):
        hs.top_eigenvalues(matvec, dim, dim + 1, key=key)
    with pytest.raises(ValueError, match="num_probes must be an integer >= 2, got 1"):
        hs.trace(matvec, dim, key=key, num_probes=1)
    with pytest.raises(ValueError, match="num_iters must be an integer >= 3, got 2"):
        hs.top_eigenvalues(matvec, dim, 3, key=key, num_iters=2)
    with pytest.raises(TypeError, match="k must be an integer"):
        hs.top_eigenvalues(matvec, dim, 1.5, key=key)
    with pytest.raises(ValueError, match="sigma must be > 0, got 0.0"):
        hs.spectral_density(matvec, dim, key=key, sigma=0.0)
    with pytest.raises(ValueError, match="num_iters must be an integer >= 1, got 0"):
        hs.power_iteration(matvec, dim, key=key, num_iters=0)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        hs.loss_and_grad(mlp_loss, params, data, batch_size=0)
    with pytest.raises(ValueError, match="dim must be an integer >= 1, got 0"):
        spectral.trace(matvec, 0, key=key)
    with pytest.raises(ValueError, match="leading"):
        hs.loss_and_grad(mlp_loss, params, (data[0], data[1][:3]))
    with pytest.raises(TypeError, match="callable"):
        spectral.trace(np.eye(3), 3, key=key)
