"""Optimizers' defining properties: exact steps, one-step Newton, sign updates, orthogonalized Muon
updates."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dl_theory import optim


def quadratic(key, d=6):
    q, _ = jnp.linalg.qr(jax.random.normal(key, (d, d)))
    h_DxD = q @ jnp.diag(jnp.linspace(0.5, 8.0, d)) @ q.T
    b_D = jnp.arange(d, dtype=h_DxD.dtype) - 2.0
    f = lambda p: 0.5 * p["x"] @ h_DxD @ p["x"] - b_D @ p["x"]
    return f, h_DxD, b_D


def run(opt, f, params, steps):
    state = opt.init(params)
    history = [params]
    for _ in range(steps):
        updates, state = opt.update(jax.grad(f)(params), state, params)
        params = optax.apply_updates(params, updates)
        history.append(params)
    return history


def test_exact_line_search_steps_are_exact_and_gradients_orthogonal(key, x64):
    f, h_DxD, b_D = quadratic(key)
    opt = optim.exact_line_search_quadratic(lambda p, v: {"x": h_DxD @ v["x"]})
    hist = run(opt, f, {"x": jnp.zeros(6)}, 8)
    grads = [jax.grad(f)(p)["x"] for p in hist]
    for g0, g1 in zip(grads[:-1], grads[1:], strict=True):
        assert abs(float(g0 @ g1)) < 1e-10 * float(
            g0 @ g0
        )  # exact line search => consecutive grads orthogonal
    # Each step minimizes f along -g: compare with a dense 1-D grid.
    p, g = hist[2]["x"], grads[2]
    etas = jnp.linspace(0, 2, 20001)
    best = etas[jnp.argmin(jax.vmap(lambda e: f({"x": p - e * g}))(etas))]
    np.testing.assert_allclose(float(jnp.linalg.norm(hist[3]["x"] - p) / jnp.linalg.norm(g)), best, atol=2e-4)


def test_golden_section_matches_exact_step(key, x64):
    f, h_DxD, _ = quadratic(key)
    exact = run(
        optim.exact_line_search_quadratic(lambda p, v: {"x": h_DxD @ v["x"]}), f, {"x": jnp.ones(6)}, 5
    )
    golden = run(optim.line_search_gd(f, max_step=2.0, num_iters=80), f, {"x": jnp.ones(6)}, 5)
    for a, b in zip(exact, golden, strict=True):
        np.testing.assert_allclose(a["x"], b["x"], rtol=1e-7, atol=1e-9)


def test_line_search_never_increases_loss(key):
    f = lambda p: jnp.sum(jnp.cos(3 * p["x"]) + 0.1 * p["x"] ** 2)
    hist = run(optim.line_search_gd(f, max_step=5.0), f, {"x": jnp.linspace(-2, 2, 5)}, 10)
    losses = np.array([f(p) for p in hist])
    assert np.all(np.diff(losses) <= 1e-6)


def test_newton_solves_quadratic_in_one_step(key, x64):
    f, h_DxD, b_D = quadratic(key)
    hist = run(optim.newton(f), f, {"x": jnp.full(6, 3.0)}, 1)
    np.testing.assert_allclose(hist[1]["x"], jnp.linalg.solve(h_DxD, b_D), rtol=1e-10)


def test_newton_converges_quadratically(x64):
    f = lambda p: jnp.sum(jnp.exp(p["x"]) - 2.0 * p["x"]) + 0.5 * p["x"] @ p["x"]  # strictly convex
    hist = run(optim.newton(f), f, {"x": jnp.array([1.0, -0.5])}, 8)
    x_star = hist[-1]["x"]
    err = np.array([float(jnp.linalg.norm(p["x"] - x_star)) for p in hist[:5]])
    # e_{t+1} <= C e_t^2 (C = max|f'''| / (2 min f'') < 1 here), while e_t falls from 1 to ~1e-9.
    assert err[4] < 1e-8
    assert np.all(err[1:] / err[:-1] ** 2 < 1.0)


def test_sign_sgd_update_is_sign_of_gradient():
    g = {"w": jnp.array([[0.3, -2.0], [1e-4, -1e-6]])}
    opt = optim.sign_sgd(0.1)
    updates, _ = opt.update(g, opt.init(g), g)
    np.testing.assert_allclose(updates["w"], -0.1 * jnp.sign(g["w"]))


def test_muon_update_is_orthogonal_factor(key):
    g = {"w": jax.random.normal(key, (8, 5))}
    u, s, vt = jnp.linalg.svd(g["w"], full_matrices=False)
    # Classic cubic Newton-Schulz (1.5, -0.5, 0) converges to the polar factor U V^T.
    opt = optim.muon(1.0, ns_coeffs=(1.5, -0.5, 0.0), ns_steps=40, beta=0.0, nesterov=False)
    updates, _ = opt.update(g, opt.init(g), g)
    np.testing.assert_allclose(-updates["w"], u @ vt, atol=1e-4)
    # optax's default quintic (a, b, c) acts on the singular values: update = U p^5(S / ||G||_F) V^T, not U V^T.
    opt = optim.muon(1.0, beta=0.0, nesterov=False)
    updates, _ = opt.update(g, opt.init(g), g)
    a, b, c = 3.4445, -4.7750, 2.0315
    x = s / jnp.linalg.norm(g["w"])
    for _ in range(5):
        x = a * x + b * x**3 + c * x**5
    np.testing.assert_allclose(-updates["w"], u @ jnp.diag(x) @ vt, atol=1e-5)
    assert float(jnp.max(jnp.abs(x - 1))) > 0.05  # not orthogonal


def test_muon_scales_by_shape():
    """optax scales the orthogonalized update by sqrt(max(1, d_out / d_in)) (d_in: axis 0), the notes' factor."""
    g = {"wide": jnp.eye(3, 12), "tall": jnp.eye(12, 3)}
    opt = optim.muon(1.0, ns_coeffs=(1.5, -0.5, 0.0), ns_steps=60, beta=0.0, nesterov=False)
    updates, _ = opt.update(g, opt.init(g), g)
    np.testing.assert_allclose(-updates["wide"], 2.0 * jnp.eye(3, 12), atol=1e-5)
    np.testing.assert_allclose(-updates["tall"], jnp.eye(12, 3), atol=1e-5)


def test_bad_inputs_raise(key):
    f, h_DxD, _ = quadratic(key)
    with pytest.raises(ValueError, match="max_step must be > 0"):
        optim.line_search_gd(f, max_step=0.0)
    with pytest.raises(ValueError, match="damping"):
        optim.newton(f, damping=-1.0)
    opt = optim.newton(f)
    with pytest.raises(ValueError, match="needs params"):
        opt.update({"x": jnp.ones(6)}, opt.init({"x": jnp.ones(6)}))
