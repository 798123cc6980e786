"""Regularization library against independent references: linear solves, optax's sgd/adam/adamw, scipy's scalar
minimizer, scikit-learn's Lasso, explicit loops and a Monte-Carlo second moment."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.optimize
from sklearn.linear_model import Lasso

from dl_theory.regularization import (
    coupled_weight_decay,
    decoupled_weight_decay,
    early_stopping_filter,
    gd_trajectory,
    ista,
    l2_penalty,
    lasso_objective,
    linear_second_moment,
    matching_steps,
    proximal_gradient,
    residual_stack,
    ridge_filter,
    ridge_shrinkage,
    soft_threshold,
)


@pytest.fixture
def quadratic():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    lam = np.array([0.1, 0.3, 1.0, 2.0, 4.0])
    return q, lam, (q * lam) @ q.T, rng.normal(size=5)


def test_ridge_shrinkage_is_the_penalized_minimizer(x64, quadratic):
    _, _, h, theta = quadratic
    for mu in (0.0, 0.5, 3.0):
        np.testing.assert_allclose(ridge_shrinkage(h, theta, mu), np.linalg.solve(h + mu * np.eye(5), h @ theta),
                                   atol=1e-12)


def _run(optimizer, grad_fn, theta0, steps):
    state, theta, path = optimizer.init(theta0), theta0, []
    for _ in range(steps):
        updates, state = optimizer.update(grad_fn(theta), state, theta)
        theta = optax.apply_updates(theta, updates)
        path.append(theta)
    return jnp.stack(path)


def test_coupled_and_decoupled_decay_against_optax(x64, quadratic):
    _, _, h, theta_star = quadratic
    mu, lr = 0.3, 0.05
    loss = lambda t: 0.5 * (t - theta_star) @ h @ (t - theta_star)  # noqa: E731
    grad, penalized = jax.grad(loss), jax.grad(lambda t: loss(t) + l2_penalty(t, mu))
    zero = jnp.zeros(5)
    sgd_l2 = _run(coupled_weight_decay(optax.identity(), mu, lr), grad, zero, 50)
    np.testing.assert_allclose(sgd_l2, _run(optax.sgd(lr), penalized, zero, 50), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(sgd_l2, _run(decoupled_weight_decay(optax.identity(), mu, lr), grad, zero, 50))
    adam_l2 = _run(coupled_weight_decay(optax.scale_by_adam(), mu, lr), grad, zero, 50)
    np.testing.assert_allclose(adam_l2, _run(optax.adam(lr), penalized, zero, 50), rtol=1e-12, atol=1e-14)
    adamw = _run(decoupled_weight_decay(optax.scale_by_adam(), mu, lr), grad, zero, 50)
    np.testing.assert_allclose(adamw, _run(optax.adamw(lr, weight_decay=mu), grad, zero, 50), rtol=1e-12,
                               atol=1e-14)
    assert float(jnp.max(jnp.abs(adamw - adam_l2))) > 1e-3


def test_l2_penalty_sums_every_leaf():
    assert float(l2_penalty({"w": jnp.array([1.0, 2.0]), "b": (jnp.array(3.0),)}, 0.5)) == pytest.approx(3.5)


def test_soft_threshold_is_the_numeric_prox(x64):
    for beta in (0.0, 0.3, 1.5):
        for b in np.linspace(-2, 2, 9):
            f = lambda a, b=b, beta=beta: 0.5 * (a - b) ** 2 + beta * abs(a)  # noqa: E731
            num = scipy.optimize.minimize_scalar(f, bounds=(-3, 3), method="bounded", options={"xatol": 1e-12})
            assert float(soft_threshold(b, beta)) == pytest.approx(num.x, abs=1e-6)


def test_ista_matches_sklearn_lasso(x64):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 8)), rng.normal(size=30)
    alpha = 0.1
    ref = Lasso(alpha=alpha, fit_intercept=False, tol=1e-12, max_iter=100_000).fit(x, y).coef_
    w = ista(x, y, 30 * alpha, 2000)
    np.testing.assert_allclose(w, ref, atol=1e-6)
    # sklearn's objective is ours divided by n, with lambda = n alpha
    sk_objective = np.sum((x @ ref - y) ** 2) / 60 + alpha * np.sum(np.abs(ref))
    assert float(lasso_objective(x, y, ref, 30 * alpha)) / 30 == pytest.approx(sk_objective, rel=1e-12)


def test_proximal_gradient_with_zero_penalty_is_gradient_descent(x64, quadratic):
    _, _, h, theta = quadratic
    grad = lambda t: h @ (t - theta)  # noqa: E731
    path = gd_trajectory(h, theta, 0.1, 20)
    np.testing.assert_allclose(proximal_gradient(grad, 0.0, jnp.zeros(5), 0.1, 20), path[-1], atol=1e-12)


def test_gd_trajectory_is_the_spectral_filter(x64, quadratic):
    q, lam, h, theta = quadratic
    eta, path = 0.2, gd_trajectory(h, theta, 0.2, 30)
    theta_loop = np.zeros(5)
    for t in range(31):
        np.testing.assert_allclose(path[t], theta_loop, atol=1e-12)
        np.testing.assert_allclose(path[t], q @ (early_stopping_filter(lam, eta, t) * (q.T @ theta)), atol=1e-12)
        theta_loop = theta_loop - eta * h @ (theta_loop - theta)


def test_matching_steps_equalize_the_filters(x64, quadratic):
    _, lam, _, _ = quadratic
    eta, mu = 0.2, 0.5
    t = matching_steps(lam, eta, mu)
    np.testing.assert_allclose(early_stopping_filter(lam, eta, t), ridge_filter(lam, mu), atol=1e-12)
    assert np.all(np.asarray(t) <= 1 / (eta * mu))


def test_residual_stack_matches_a_loop(x64, key):
    init_fn, apply_fn = residual_stack(4, alpha=0.7, activation="tanh", W_std=1.3)
    x = jax.random.normal(key, (3, 6))
    shape, w = init_fn(jax.random.key(1), x.shape)
    assert shape == x.shape and w.shape == (4, 6, 6)
    y = x
    for k in range(4):
        y = y + 0.7 * jnp.tanh(y) @ w[k].T
    np.testing.assert_allclose(apply_fn(w, x), y, atol=1e-12)
    alphas = jnp.array([0.7, 0.7, 0.0, 0.0])  # zero branches past block 2: the depth-2 stack
    np.testing.assert_allclose(residual_stack(4, alpha=alphas, activation="tanh")[1](w, x),
                               residual_stack(2, alpha=0.7, activation="tanh")[1](w[:2], x), atol=1e-12)


def test_linear_second_moment_against_monte_carlo(key):
    depth, alpha, w_std, width, draws = 3, 0.8, 1.2, 8, 4000
    init_fn, apply_fn = residual_stack(depth, alpha=alpha, activation="identity", W_std=w_std)
    x = jnp.ones((1, width)) / np.sqrt(width)
    sq = jax.vmap(lambda k: jnp.sum(apply_fn(init_fn(k, x.shape)[1], x) ** 2))(jax.random.split(key, draws))
    se = float(jnp.std(sq)) / np.sqrt(draws)
    assert abs(float(jnp.mean(sq)) - float(linear_second_moment(depth, alpha, w_std))) < 5 * se


@pytest.mark.parametrize(("call", "match"), [
    (lambda: ridge_shrinkage(np.eye(2), np.ones(2), -0.1), "mu must be >= 0"),
    (lambda: l2_penalty(np.ones(2), -1.0), "mu must be >= 0"),
    (lambda: coupled_weight_decay(optax.identity(), -1.0, 0.1), "mu must be >= 0"),
    (lambda: decoupled_weight_decay(optax.identity(), 0.1, 0.0), "learning_rate must be > 0"),
    (lambda: soft_threshold(1.0, -0.5), "beta must be >= 0"),
    (lambda: ista(np.eye(2), np.ones(2), -1.0, 10), "lam must be >= 0"),
    (lambda: ridge_filter(np.ones(2), -2.0), "mu must be >= 0"),
    (lambda: matching_steps(np.ones(2), 2.0, 1.0), "learning_rate \\* eigenvalues must be in"),
    (lambda: residual_stack(0, alpha=1.0), "depth must be"),
    (lambda: residual_stack(2, alpha=1.0, activation="gelu"), "activation must be"),
])
def test_bad_input_raises_one_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
