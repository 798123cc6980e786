"""GD convergence rates and step sizes against exact gradient descent runs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dl_theory.optim import convergence as cv


def spd(key, eigenvalues):
    q, _ = jnp.linalg.qr(jax.random.normal(key, (len(eigenvalues), len(eigenvalues))))
    return q @ jnp.diag(jnp.asarray(eigenvalues)) @ q.T, q


def test_quadratic_rate_and_optimal_step(key, x64):
    lam = jnp.array([0.5, 1.0, 2.0, 4.0, 5.0])
    q_DxD, basis = spd(key, lam)
    x_star = jnp.arange(5.0)
    f = lambda x: 0.5 * (x - x_star) @ q_DxD @ (x - x_star)
    L, mu = cv.curvature_from_hessian(jax.hessian(f)(x_star))
    np.testing.assert_allclose([L, mu], [5.0, 0.5], rtol=1e-12)
    x0 = x_star + basis[:, 0] + basis[:, 4]  # error on the two extreme eigenvectors only
    d0 = float(jnp.linalg.norm(x0 - x_star))
    for eta in (0.1, 1 / L, cv.step_size_strongly_convex(L, mu), 0.38):
        run = cv.gradient_descent(f, x0, eta, 60)
        dist = jnp.linalg.norm(run.xs - x_star[None, :], axis=1)
        bound = cv.quadratic_rate(jnp.arange(61), eta, lam, d0)
        assert cv.compare_to_bound(dist, bound, rtol=1e-9, atol=1e-12).holds
    # At eta = 2/(L+mu) both extreme modes contract by exactly (kappa-1)/(kappa+1).
    eta = cv.step_size_strongly_convex(L, mu)
    run = cv.gradient_descent(f, x0, eta, 30)
    ratios = jnp.linalg.norm(run.xs[1:] - x_star[None, :], axis=1) / jnp.linalg.norm(
        run.xs[:-1] - x_star[None, :], axis=1
    )
    kappa = L / mu
    np.testing.assert_allclose(ratios, (kappa - 1) / (kappa + 1), rtol=1e-9)
    np.testing.assert_allclose(cv.contraction_factor(eta, lam), (kappa - 1) / (kappa + 1), rtol=1e-12)


def test_divergence_beyond_two_over_lambda_max(key, x64):
    lam = jnp.array([1.0, 3.0, 4.0])
    q_DxD, _ = spd(key, lam)
    f = lambda x: 0.5 * x @ q_DxD @ x
    eta_max = cv.max_stable_step_size(4.0)
    for factor, grows in ((0.98, False), (1.02, True)):
        run = cv.gradient_descent(f, jnp.ones(3), factor * eta_max, 300)
        assert bool(run.fs[-1] > run.fs[0]) == grows
        assert bool(cv.contraction_factor(factor * eta_max, lam) > 1) == grows


def test_strongly_convex_bound_non_quadratic(key, x64):
    q_DxD, _ = spd(key, jnp.array([0.3, 1.0, 2.0, 3.0]))
    f = lambda x: 0.5 * x @ q_DxD @ x + jnp.sum(jnp.log(jnp.cosh(x)))  # Hessian in [0.3, 3 + 1]
    mu, L = 0.3, 4.0
    x0 = jnp.array([3.0, -2.0, 1.0, 4.0])
    eta = cv.step_size_smooth(L)
    run = cv.gradient_descent(f, x0, eta, 100)
    dist_sq = jnp.sum(run.xs**2, axis=1)
    check = cv.compare_to_bound(dist_sq, cv.strongly_convex_rate(jnp.arange(101), eta, mu, dist_sq[0]))
    assert check.holds and check.worst_ratio <= 1.0


def test_convex_bound_on_rank_deficient_least_squares(key, x64):
    a_NxD = jax.random.normal(key, (3, 6))
    b_N = jnp.array([1.0, -2.0, 0.5])
    f = lambda x: 0.5 * jnp.sum((a_NxD @ x - b_N) ** 2)
    L = float(jnp.linalg.eigvalsh(a_NxD.T @ a_NxD)[-1])
    x_star = jnp.linalg.pinv(a_NxD) @ b_N  # the minimizer nearest to x0 = 0
    run = cv.gradient_descent(f, jnp.zeros(6), 1 / L, 200)
    t = jnp.arange(1, 201)
    check = cv.compare_to_bound(run.fs[1:] - f(x_star), cv.convex_rate(t, 1 / L, float(x_star @ x_star)))
    assert check.holds
    np.testing.assert_allclose(run.xs[-1], x_star, atol=1e-6)  # GD from 0 finds the min-norm solution


def test_nonconvex_stationarity_bound(x64):
    f = lambda x: jnp.sum(jnp.cos(3 * x) + 0.1 * x**2)  # L = 9 + 0.2, non-convex
    grid = np.linspace(-10, 10, 200001)
    f_star = 4 * np.min(np.cos(3 * grid) + 0.1 * grid**2)
    L = 9.2
    x0 = jnp.array([0.1, 2.0, -1.3, 0.4])
    run = cv.gradient_descent(f, x0, 1 / L, 150)
    best = np.minimum.accumulate(np.asarray(run.grad_sq))
    bound = cv.nonconvex_rate(jnp.arange(151), 1 / L, float(run.fs[0] - f_star))
    assert cv.compare_to_bound(best, bound).holds
    assert float(cv.smoothness_along_run(run.xs, jax.vmap(jax.grad(f))(run.xs))) <= L


def test_pl_rate_on_nonconvex_pl_function(x64):
    # Karimi et al. (2016): f(x) = x^2 + 3 sin^2 x is non-convex, PL with mu = 1/32, L = 8, f* = 0.
    f = lambda x: jnp.sum(x**2 + 3 * jnp.sin(x) ** 2)
    mu, L = 1 / 32, 8.0
    run = cv.gradient_descent(f, jnp.array([2.5, -4.0, 1.0]), 1 / L, 200)
    bound = cv.pl_rate(jnp.arange(201), 1 / L, mu, L, float(run.fs[0]))
    np.testing.assert_allclose(cv.pl_rate(1, 1 / L, mu, L, 1.0), 1 - mu / L, rtol=1e-12)
    assert cv.compare_to_bound(run.fs, bound, atol=1e-300).holds
    mask = run.fs > 1e-20
    assert float(cv.pl_constant_along_run(run.fs[mask], run.grad_sq[mask], 0.0)) >= mu


def test_heavy_ball_contracts_at_predicted_rate(key, x64):
    lam = jnp.linspace(0.1, 10.0, 8)
    q_DxD, _ = spd(key, lam)
    hb = cv.heavy_ball(10.0, 0.1)

    def step(carry, _):
        x, x_prev = carry
        x_new = x - hb.eta * q_DxD @ x + hb.beta * (x - x_prev)
        return (x_new, x), jnp.linalg.norm(x_new)

    x0 = jnp.ones(8)
    _, norms = jax.lax.scan(step, (x0, x0), None, length=400)
    # Critical damping gives a Jordan block: ||e_t|| ~ C t rate^t, so fit the rate over a long window.
    empirical = (norms[399] / norms[199]) ** (1 / 200)
    np.testing.assert_allclose(empirical, hb.rate, rtol=0.01)
    gd_rate = (100 - 1) / (100 + 1)
    assert hb.rate < gd_rate  # sqrt(kappa) beats kappa


def test_curvature_from_matvec(key):
    q_DxD, _ = spd(key, jnp.linspace(0.2, 7.0, 30))
    c = cv.curvature_from_matvec(lambda v: q_DxD @ v, 30, key=key, num_iters=30)
    np.testing.assert_allclose([c.L, c.mu], [7.0, 0.2], rtol=1e-4)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="eta must be > 0"):
        cv.strongly_convex_rate(3, 0.0, 0.1, 1.0)
    with pytest.raises(ValueError, match="eta must be > 0"):
        cv.gradient_descent(lambda x: jnp.sum(x**2), jnp.ones(2), -0.1, 3)
    with pytest.raises(ValueError, match="L - mu must be >= 0, got -1.0"):
        cv.step_size_strongly_convex(1.0, 2.0)
    with pytest.raises(ValueError, match="mu must be >= 0, got -0.5"):
        cv.step_size_strongly_convex(1.0, -0.5)
    with pytest.raises(ValueError, match="eta must be < 2/L"):
        cv.pl_rate(3, 0.5, 0.1, 4.0, 1.0)
    with pytest.raises(ValueError, match="scalar"):
        cv.gradient_descent(lambda x: x**2, jnp.ones(2), 0.1, 3)
    with pytest.raises(ValueError, match="square"):
        cv.curvature_from_hessian(jnp.ones((2, 3)))
