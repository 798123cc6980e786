"""Tests of ``dl_theory.predict`` against independent references.

References: explicit gradient descent / Euler integration of gradient flow on an explicit linear model
``f(x) = phi(x) @ W`` (whose NTK is ``phi phi^T`` times the identity on outputs), dense Gaussian conditioning
and linear maps of the joint Gaussian prior (numpy float64), ``scipy.linalg.expm``, the closed-form damped
oscillator for momentum, and ``eigh`` of the parameter-space Hessian.
"""

from collections import namedtuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from dl_theory import predict

N_TRAIN, N_TEST, P, K_OUT = 6, 4, 9, 2


def _linear_problem(seed: int = 0):
    """Features of a linear model, targets, and initial weights (float64 numpy)."""
    rng = np.random.default_rng(seed)
    phi = rng.normal(size=(N_TRAIN, P)) / np.sqrt(P)
    phi_test = rng.normal(size=(N_TEST, P)) / np.sqrt(P)
    y = rng.normal(size=(N_TRAIN, K_OUT))
    w0 = rng.normal(size=(P, K_OUT))
    return phi, phi_test, y, w0


def _joint_psd(seed: int, width: int = 30) -> np.ndarray:
    """A random PSD kernel on the ``N_TRAIN + N_TEST`` train-then-test points."""
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(N_TRAIN + N_TEST, width)) / np.sqrt(width)
    return f @ f.T


def test_closed_form_matches_euler_gradient_flow_on_linear_model(x64):
    """Parameter-space gradient flow of f = phi W (tiny-step Euler) equals the closed form on train and test."""
    phi, phi_test, y, w0 = _linear_problem()
    lr, t, n_steps = 0.5, 20.0, 50_000
    n = y.size

    def euler(_, w):
        grad = phi.T @ (phi @ w - y) / n
        return w - (lr * t / n_steps) * grad

    w_t = jax.lax.fori_loop(0, n_steps, euler, jnp.asarray(w0))
    predict_fn = predict.gradient_descent_mse(phi @ phi.T, y, learning_rate=lr)
    fx_train, fx_test = predict_fn(t, phi @ w0, phi_test @ w0, phi_test @ phi.T)
    # Euler is GD with step h = lr t / (n s): per mode |(1 - a)^s - e^{-a s}| <= s a^2 / 2, a = h lambda / n.
    # Test outputs move by phi_test phi^+ times the train-output change (W moves in phi's row space).
    a_max = lr * (t / n_steps) * np.linalg.eigvalsh(phi @ phi.T)[-1] / n
    bound = n_steps * a_max**2 / 2 * np.linalg.norm(phi @ w0 - y)
    err = np.linalg.norm(np.asarray(fx_train) - phi @ w_t)
    assert err <= bound < 1e-3
    test_gain = np.linalg.norm(phi_test @ np.linalg.pinv(phi), 2)
    assert np.linalg.norm(np.asarray(fx_test) - phi_test @ w_t) <= test_gain * bound


def test_closed_form_vs_discrete_gradient_descent(x64):
    """Discrete GD gives (I - eta Theta / n)^s; the flow e^{-eta Theta s / n}: they agree to O(eta^2) per mode."""
    phi, _, y, w0 = _linear_problem(1)
    n, lr, steps = y.size, 0.2, 300

    def gd(_, w):
        return w - lr * phi.T @ (phi @ w - y) / n

    w_s = jax.lax.fori_loop(0, steps, gd, jnp.asarray(w0))
    theta = phi @ phi.T
    flow = predict.gradient_descent_mse(theta, y, learning_rate=lr)(float(steps), phi @ w0)
    evals, evecs = np.linalg.eigh(theta)
    a = lr * np.maximum(evals, 0) / n
    exact_discrete = y + evecs @ np.diag((1 - a) ** steps) @ evecs.T @ (phi @ w0 - y)
    np.testing.assert_allclose(phi @ w_s, exact_discrete, rtol=1e-10, atol=1e-10)
    gap = np.abs(evecs @ np.diag((1 - a) ** steps - np.exp(-a * steps)) @ evecs.T @ (phi @ w0 - y)).max()
    np.testing.assert_allclose(flow, phi @ w_s, atol=1.01 * gap + 1e-12)


def test_infinite_time_is_kernel_regression_and_limit_of_finite_time(x64):
    phi, phi_test, y, w0 = _linear_problem(2)
    theta, theta_td = phi @ phi.T, phi_test @ phi.T
    predict_fn = predict.gradient_descent_mse(theta, y)
    fx_train_inf, fx_test_inf = predict_fn(None, phi @ w0, phi_test @ w0, theta_td)
    expected = phi_test @ w0 + theta_td @ np.linalg.solve(theta, y - phi @ w0)
    np.testing.assert_allclose(fx_test_inf, expected, rtol=1e-9)
    np.testing.assert_allclose(fx_train_inf, y)
    fx_train_big, fx_test_big = predict_fn(1e9, phi @ w0, phi_test @ w0, theta_td)
    np.testing.assert_allclose(fx_test_big, expected, rtol=1e-7)
    np.testing.assert_allclose(fx_train_big, y, atol=1e-9)
    # fx_train_0=None: test predictions only, as if f_0 = 0 on the train set.
    only_test = predict_fn(None, None, phi_test @ w0, theta_td)
    np.testing.assert_allclose(only_test, phi_test @ w0 + theta_td @ np.linalg.solve(theta, y), rtol=1e-9)


def test_time_axes_and_trace_axes_layouts(x64):
    """Array ``t`` adds leading axes; trace_axes=() with the zipped Theta (x) I kernel gives the same result."""
    phi, phi_test, y, w0 = _linear_problem(3)
    theta, theta_td = phi @ phi.T, phi_test @ phi.T
    t = np.array([[0.0, 1.0, 5.0], [10.0, 50.0, 100.0]])
    fx0, fx0_test = phi @ w0, phi_test @ w0
    tr, te = predict.gradient_descent_mse(theta, y)(t, fx0, fx0_test, theta_td)
    assert tr.shape == (2, 3, N_TRAIN, K_OUT) and te.shape == (2, 3, N_TEST, K_OUT)
    np.testing.assert_allclose(tr[0, 0], fx0, atol=1e-12)
    eye = np.eye(K_OUT)
    full = np.einsum("ij,ab->ijab", theta, eye)  # zipped layout (N1, N2, K1, K2)
    full_td = np.einsum("ij,ab->ijab", theta_td, eye)
    tr2, te2 = predict.gradient_descent_mse(full, y, trace_axes=())(t, fx0, fx0_test, full_td)
    np.testing.assert_allclose(tr2, tr, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(te2, te, rtol=1e-9, atol=1e-12)
    # A general (non-Kronecker) kernel with trace_axes=() equals the flattened matrix problem.
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(N_TRAIN + N_TEST, K_OUT, 40))
    k_flat = np.einsum("iap,jbp->iajb", feats, feats).reshape((N_TRAIN + N_TEST) * K_OUT, -1) / 40
    dd, td = k_flat[: N_TRAIN * K_OUT, : N_TRAIN * K_OUT], k_flat[N_TRAIN * K_OUT :, : N_TRAIN * K_OUT]
    zipped = lambda m, a: m.reshape(a, K_OUT, N_TRAIN, K_OUT).transpose(0, 2, 1, 3)
    _, te3 = predict.gradient_descent_mse(zipped(dd, N_TRAIN), y, trace_axes=())(
        7.0, fx0, fx0_test, zipped(td, N_TEST))
    r = (fx0 - y).reshape(-1)
    ref = fx0_test.reshape(-1) + td @ np.linalg.solve(dd, scipy.linalg.expm(-dd * 7.0 / y.size) @ r - r)
    np.testing.assert_allclose(te3.reshape(-1), ref, rtol=1e-8)


def test_gp_inference_matches_dense_gaussian_conditioning(x64):
    k_joint, theta_joint = _joint_psd(0), _joint_psd(1)
    tr, te = slice(0, N_TRAIN), slice(N_TRAIN, None)
    y = np.random.default_rng(5).normal(size=(N_TRAIN, K_OUT))
    kern = namedtuple("Kernel", "nngp ntk")
    k_dd = kern(k_joint[tr, tr], theta_joint[tr, tr])
    k_td = kern(k_joint[te, tr], theta_joint[te, tr])
    k_tt = kern(k_joint[te, te], theta_joint[te, te])
    out = predict.gp_inference(k_dd, y)(("nngp", "ntk", "ntkgp"), k_td, k_tt)
    # NNGP: Bayesian posterior by dense conditioning.
    sol = np.linalg.solve(k_joint[tr, tr], np.concatenate([y, k_joint[tr, te]], axis=1))
    np.testing.assert_allclose(out.nngp.mean, k_joint[te, tr] @ sol[:, :K_OUT], rtol=1e-8)
    np.testing.assert_allclose(out.nngp.covariance, k_joint[te, te] - k_joint[te, tr] @ sol[:, K_OUT:],
                               rtol=1e-8, atol=1e-12)
    # NTK: f_inf(x*) = f0(x*) + Theta*X Theta^-1 (y - f0(X)) with f0 ~ N(0, K): a linear map of the prior.
    m = theta_joint[te, tr] @ np.linalg.inv(theta_joint[tr, tr])
    a = np.concatenate([-m, np.eye(N_TEST)], axis=1)
    np.testing.assert_allclose(out.ntk.mean, m @ y, rtol=1e-8)
    np.testing.assert_allclose(out.ntk.covariance, a @ k_joint @ a.T, rtol=1e-7, atol=1e-10)
    # NTKGP: conditioning the GP with covariance Theta.
    np.testing.assert_allclose(
        out.ntkgp.covariance, theta_joint[te, te] - m @ theta_joint[tr, te], rtol=1e-8, atol=1e-12)
    # Output packing: a string gives one value, None both modes, no k_test_test only means.
    single = predict.gp_inference(k_dd, y)("nngp", k_td)
    np.testing.assert_allclose(single, out.nngp.mean)
    both = predict.gp_inference(k_dd, y)(None, k_td)
    assert type(both).__name__ == "Gaussians" and both._fields == ("nngp", "ntk")
    train = predict.gp_inference(k_dd, y)("ntk", None, True)
    np.testing.assert_allclose(train.mean, y)
    assert train.covariance.shape == (N_TRAIN, N_TRAIN) and not np.any(train.covariance)
    with pytest.raises(ValueError, match="NTK and NNGP"):
        predict.gp_inference(k_dd.ntk, y)("ntk", k_td.ntk, k_tt.nngp)


def _toy_kernel_fn(x1, x2, get, **_):
    """A PSD 'network' kernel: NNGP = RBF, NTK = RBF + linear, in the stax get convention."""
    x2 = x1 if x2 is None else x2
    d2 = jnp.sum((x1[:, None] - x2[None]) ** 2, -1)
    vals = {"nngp": jnp.exp(-d2 / 2), "ntk": jnp.exp(-d2 / 2) + x1 @ x2.T / x1.shape[1] + 0.1}
    if isinstance(get, str):
        return vals[get]
    return namedtuple("Kernel", get)(*(vals[g] for g in get))


def test_ensemble_matches_linear_map_of_prior(x64):
    """Finite-t ensemble mean/cov equal the dense linear map f_t* = f0* + M_t (f0(X) - y), f0 ~ GP(0, K)."""
    rng = np.random.default_rng(7)
    x, x_test = rng.normal(size=(N_TRAIN, 3)), rng.normal(size=(N_TEST, 3))
    y = rng.normal(size=(N_TRAIN, K_OUT))
    lr, t = 0.7, 3.0
    xs = np.concatenate([x, x_test])
    k_joint, th_joint = (np.asarray(_toy_kernel_fn(xs, None, g)) for g in ("nngp", "ntk"))
    tr, te = slice(0, N_TRAIN), slice(N_TRAIN, None)
    predict_fn = predict.gradient_descent_mse_ensemble(_toy_kernel_fn, x, y, learning_rate=lr)
    out = predict_fn(t, x_test, get=("nngp", "ntk"), compute_cov=True)
    for g, kin in (("nngp", k_joint), ("ntk", th_joint)):
        e = scipy.linalg.expm(-lr * t * kin[tr, tr] / y.size)
        m = kin[te, tr] @ np.linalg.solve(kin[tr, tr], e - np.eye(N_TRAIN))
        a = np.concatenate([m, np.eye(N_TEST)], axis=1)
        gauss = getattr(out, g)
        np.testing.assert_allclose(gauss.mean, -m @ y, rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose(gauss.covariance, a @ k_joint @ a.T, rtol=1e-6, atol=1e-10)
        # Training set: mean (I - e) y, covariance e K e.
        train = predict_fn(t, None, g, compute_cov=True)
        np.testing.assert_allclose(train.mean, (np.eye(N_TRAIN) - e) @ y, rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose(train.covariance, e @ k_joint[tr, tr] @ e.T, rtol=1e-6, atol=1e-10)
    # t = None equals gp_inference.
    inf = predict_fn(None, x_test, "ntk", compute_cov=True)
    ref = predict.gp_inference(namedtuple("K", "nngp ntk")(k_joint[tr, tr], th_joint[tr, tr]), y)(
        "ntk", namedtuple("K", "nngp ntk")(k_joint[te, tr], th_joint[te, tr]), k_joint[te, te])
    np.testing.assert_allclose(inf.covariance, ref.covariance, rtol=1e-9)
    with pytest.raises(NotImplementedError, match="nngp"):
        predict_fn(t, x_test, "ntkgp")


def test_ode_gradient_descent_mse_equals_closed_form(x64):
    phi, phi_test, y, w0 = _linear_problem(4)
    theta, theta_td = phi @ phi.T, phi_test @ phi.T
    mse = lambda fx, y_hat: 0.5 * jnp.mean((fx - y_hat) ** 2)
    ts = np.array([0.0, 2.0, 30.0])
    args = (phi @ w0, phi_test @ w0, theta_td)
    ode_tr, ode_te = predict.gradient_descent(mse, theta, y, learning_rate=0.3)(ts, *args)
    cf_tr, cf_te = predict.gradient_descent_mse(theta, y, learning_rate=0.3)(ts, *args)
    np.testing.assert_allclose(ode_tr, cf_tr, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ode_te, cf_te, rtol=1e-6, atol=1e-8)


def test_ode_cross_entropy_matches_euler(x64):
    phi, phi_test, y, w0 = _linear_problem(5)
    labels = jax.nn.one_hot(np.argmax(y, 1), K_OUT)
    xent = lambda fx, y_hat: -jnp.mean(jax.nn.log_softmax(fx) * y_hat)
    theta, theta_td = phi @ phi.T, phi_test @ phi.T
    t, n_steps = 20.0, 20_000
    grad = jax.grad(lambda f: xent(f, labels))

    def euler(_, fs):
        f, f_test = fs
        g = grad(f)
        return f - (t / n_steps) * theta @ g, f_test - (t / n_steps) * theta_td @ g

    ref_tr, ref_te = jax.lax.fori_loop(0, n_steps, euler, (jnp.asarray(phi @ w0), jnp.asarray(phi_test @ w0)))
    tr, te = predict.gradient_descent(xent, theta, labels)(t, phi @ w0, phi_test @ w0, theta_td)
    np.testing.assert_allclose(tr, ref_tr, atol=1e-4)
    np.testing.assert_allclose(te, ref_te, atol=1e-4)


def test_ode_momentum_matches_damped_oscillator(x64):
    """Each eigenmode r of f - y solves r'' = -(lambda / n) r + ((beta - 1) / sqrt(eta)) r', r'(0) = 0."""
    phi, _, y, w0 = _linear_problem(6)
    theta, lr, beta = phi @ phi.T, 0.5, 0.9
    mse = lambda fx, y_hat: 0.5 * jnp.mean((fx - y_hat) ** 2)
    ts = np.array([1.0, 4.0])
    state = predict.gradient_descent(mse, theta, y, lr, momentum=beta)(ts, predict.ODEState(phi @ w0))
    assert isinstance(state, predict.ODEState) and state.qx_train.shape == (2, N_TRAIN, K_OUT)
    evals, evecs = np.linalg.eigh(theta)
    c = (beta - 1) / np.sqrt(lr)
    disc = np.sqrt((c**2 - 4 * evals / y.size).astype(complex))
    s1, s2 = (c + disc) / 2, (c - disc) / 2
    r0 = evecs.T @ (phi @ w0 - y)
    for i, tau in enumerate(ts * np.sqrt(lr)):
        modes = (-s2[:, None] * np.exp(s1 * tau)[:, None] + s1[:, None] * np.exp(s2 * tau)[:, None]) / (
            s1 - s2)[:, None]
        np.testing.assert_allclose(state.fx_train[i], y + evecs @ (modes.real * r0), rtol=1e-6, atol=1e-8)


def test_max_learning_rate_is_two_over_hessian_top_eigenvalue(x64):
    phi, _, y, w0 = _linear_problem(7)
    n = y.size
    hessian = np.kron(phi.T @ phi, np.eye(K_OUT)) / n  # of 1/(2n) |phi W - y|^2 w.r.t. vec(W)
    lr_max = predict.max_learning_rate(phi @ phi.T, y_train_size=n)
    np.testing.assert_allclose(lr_max, 2 / np.linalg.eigvalsh(hessian)[-1], rtol=1e-9)
    np.testing.assert_allclose(predict.max_learning_rate(phi @ phi.T, n, momentum=0.5), 1.5 * lr_max)
    np.testing.assert_allclose(predict.max_learning_rate(np.kron(phi @ phi.T, np.eye(K_OUT))), lr_max * 1.0)

    def loss_after(lr):
        w = jax.lax.fori_loop(0, 2000, lambda _, w: w - lr * phi.T @ (phi @ w - y) / n, jnp.asarray(w0))
        return float(jnp.sum((phi @ w - y) ** 2))

    assert loss_after(0.98 * lr_max) < loss_after(0.0)
    assert loss_after(1.02 * lr_max) > 1e3 * loss_after(0.0)


def test_singular_kernel_asks_for_diag_reg(x64):
    rng = np.random.default_rng(8)
    phi = rng.normal(size=(N_TRAIN, 2))  # rank 2 < N_TRAIN
    phi_test = rng.normal(size=(N_TEST, 2))
    y = rng.normal(size=(N_TRAIN, K_OUT))
    theta, theta_td = phi @ phi.T, phi_test @ phi.T
    f0, f0_test = np.zeros_like(y), np.zeros((N_TEST, K_OUT))
    with pytest.raises(ValueError, match="diag_reg"):
        predict.gradient_descent_mse(theta, y)(None, f0, f0_test, theta_td)
    with pytest.raises(ValueError, match="diag_reg"):
        predict.gp_inference(theta, y)("nngp", theta_td)
    eps = 1e-3
    _, te = predict.gradient_descent_mse(theta, y, diag_reg=eps)(None, f0, f0_test, theta_td)
    ridge = theta_td @ np.linalg.solve(theta + eps * np.trace(theta) / N_TRAIN * np.eye(N_TRAIN), y)
    np.testing.assert_allclose(te, ridge, rtol=1e-8)
    te_abs = predict.gp_inference(theta, y, diag_reg=eps, diag_reg_absolute_scale=True)("nngp", theta_td)
    np.testing.assert_allclose(te_abs, theta_td @ np.linalg.solve(theta + eps * np.eye(N_TRAIN), y), rtol=1e-8)


def test_bad_inputs_raise():
    y = jnp.ones((3, 2))
    with pytest.raises(ValueError, match="k_train_train"):
        predict.gradient_descent_mse(jnp.eye(4), y)
    with pytest.raises(ValueError, match="k_test_train"):
        predict.gradient_descent_mse(jnp.eye(3), y)(1.0, 0.0, jnp.zeros((2, 2)))
    with pytest.raises(ValueError, match="Both"):
        predict.gradient_descent_mse(jnp.eye(3), y)(1.0, None, None)
    with pytest.raises(ValueError, match="trace_axes"):
        predict.gradient_descent_mse(jnp.eye(3), y, trace_axes=(2,))
    with pytest.raises(ValueError, match="get"):
        predict.gp_inference(jnp.eye(3), y)("nngpp")


def test_ensemble_merges_train_and_test_kernel_keywords(x64):
    """Pairs ``(v1, v2)`` become ``(v_test, v_train)`` for the test-train kernel; other values must agree."""
    rng = np.random.default_rng(9)
    x, x_test, y = rng.normal(size=(N_TRAIN, 8)), rng.normal(size=(N_TEST, 8)), rng.normal(size=(N_TRAIN, 1))
    s, s_test = rng.uniform(0.5, 2, size=(N_TRAIN, 1)), rng.uniform(0.5, 2, size=(N_TEST, 1))

    def kernel_fn(x1, x2, get, scale=None, shift=0.0):
        x2 = x1 if x2 is None else x2
        k = (x1 * scale[0]) @ (x2 * scale[1]).T + 1.0 + shift
        return k if isinstance(get, str) else namedtuple("Kernel", get)(*(k for _ in get))

    predict_fn = predict.gradient_descent_mse_ensemble(kernel_fn, x, y, scale=(s, s), shift=0.5)
    out = predict_fn(None, x_test, "nngp", compute_cov=True, scale=(s_test, s_test), shift=0.5)
    k_dd = (x * s) @ (x * s).T + 1.5
    k_td = (x_test * s_test) @ (x * s).T + 1.5
    k_tt = (x_test * s_test) @ (x_test * s_test).T + 1.5
    np.testing.assert_allclose(out.mean, k_td @ np.linalg.solve(k_dd, y), rtol=1e-8)
    np.testing.assert_allclose(out.covariance, k_tt - k_td @ np.linalg.solve(k_dd, k_td.T), rtol=1e-7, atol=1e-9)
    with pytest.raises(ValueError, match="shift"):
        predict_fn(None, x_test, "nngp", scale=(s_test, s_test), shift=0.7)
