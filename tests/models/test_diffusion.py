"""DDPM pieces against independent references: Gaussian conditioning on the joint, the Gaussian KL, Monte Carlo, the
exact sampler of Gaussian data, scipy's 1-D Wasserstein distance."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.stats

from dl_theory.models.generative import diffusion as df
from dl_theory.models.generative.divergences import kl_diag_gaussian
from dl_theory.training import TrainState


def _f64(schedule):
    return df.Schedule(*(jnp.asarray(v, jnp.float64) for v in schedule))


def test_schedules_match_their_definitions(x64):
    lin = df.linear_schedule(1000)
    np.testing.assert_allclose(np.asarray(lin.beta_T)[[0, -1]], [1e-4, 0.02], rtol=1e-12)
    np.testing.assert_allclose(lin.alpha_bar_T, np.cumprod(1 - np.linspace(1e-4, 0.02, 1000)), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(df.linear_schedule(100).beta_T)[[0, -1]], [1e-3, 0.2], rtol=1e-12)  # x 1000/T
    T, s = 200, 0.008
    cos = df.cosine_schedule(T, s=s)
    f = np.cos((np.arange(T + 1) / T + s) / (1 + s) * np.pi / 2) ** 2
    unclipped = np.asarray(cos.beta_T) < 0.999
    np.testing.assert_allclose(np.asarray(cos.alpha_bar_T)[unclipped], (f[1:] / f[0])[unclipped], rtol=1e-9)
    assert cos.beta_T[-1] == pytest.approx(0.999) and np.all(np.asarray(cos.beta_T) <= 0.999)
    np.testing.assert_allclose(cos.alpha_bar_prev_T[0], 1.0)
    np.testing.assert_allclose(cos.alpha_bar_prev_T[1:], cos.alpha_bar_T[:-1])


@pytest.mark.parametrize("call, match", [
    (lambda: df.schedule_from_betas([0.1, 1.0]), "beta_T"), (lambda: df.schedule_from_betas([0.0, 0.1]), "beta_T"),
    (lambda: df.schedule_from_betas([]), "beta_T"), (lambda: df.schedule_from_betas([[0.1]]), "beta_T"),
    (lambda: df.linear_schedule(0), "T"), (lambda: df.linear_schedule(10, 0.1, 1.5), "beta_T"),
    (lambda: df.cosine_schedule(0), "T"), (lambda: df.cosine_schedule(10, max_beta=1.0), "max_beta"),
    (lambda: df.denoiser((8,), 10, time_features=7), "time_features"),
    (lambda: df.eps_loss(lambda *a, **k: 0, df.linear_schedule(10), weighting="l1"), "weighting"),
    (lambda: df.eps_loss(lambda *a, **k: 0, df.linear_schedule(10), p_uncond=0.1), "n_classes"),
    (lambda: df.reverse_variance(df.linear_schedule(10), "learned"), "kind"),
    (lambda: df.sliced_wasserstein1(np.zeros((5, 2)), np.zeros((5, 3)), np.eye(2)), "directions_KxD"),
])
def test_bad_input_raises_one_clear_error(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_posterior_is_gaussian_conditioning_of_the_joint(x64, key):
    """(x_{t-1}, x_t) | x_0 is jointly Gaussian: condition it with a linear solve, for every t of both schedules."""
    for sch in (_f64(df.linear_schedule(50)), _f64(df.cosine_schedule(50))):
        t = np.arange(2, 51)
        x0, xt = jax.random.normal(key, (2, len(t), 3), jnp.float64)
        mean, var = df.posterior(sch, x0, xt, t)
        a_prev_T, a_bar_T, alpha_T = (np.asarray(v) for v in (sch.alpha_bar_prev_T, sch.alpha_bar_T, sch.alpha_T))
        x0, xt, mean, var = (np.asarray(v) for v in (x0, xt, mean, var))
        for i, ti in enumerate(t):
            a_prev, a_bar, alpha = a_prev_T[ti - 1], a_bar_T[ti - 1], alpha_T[ti - 1]
            cov = np.array([[1 - a_prev, np.sqrt(alpha) * (1 - a_prev)], [np.sqrt(alpha) * (1 - a_prev), 1 - a_bar]])
            gain = np.linalg.solve(cov[1:, 1:], cov[1:, :1])[0, 0]
            ref_mean = np.sqrt(a_prev) * x0[i] + gain * (xt[i] - np.sqrt(a_bar) * x0[i])
            np.testing.assert_allclose(mean[i], ref_mean, rtol=1e-11, atol=1e-12)
            np.testing.assert_allclose(var[i], cov[0, 0] - cov[0, 1] ** 2 / cov[1, 1], rtol=1e-11)
        notes_mean, notes_var = df.posterior_notes(sch, x0, xt, t)
        assert np.all(np.asarray(notes_var / var)[:3] > 1.2)  # the bars matter at small t
        assert np.max(np.abs(np.asarray(notes_mean) - mean)) > 0.1
        eps = (xt - np.sqrt(a_bar_T[t - 1])[:, None] * x0) / np.sqrt(1 - a_bar_T[t - 1])[:, None]
        np.testing.assert_allclose(df.eps_to_mean(sch, xt, eps, t), mean, rtol=1e-10, atol=1e-12)


def test_vlb_weight_is_the_gaussian_kl_difference(x64, key):
    """L_{t-1} = KL(q(x_{t-1}|x_t,x_0) || N(mu_theta, sigma_t^2)) = const + lambda_t ||eps - eps_theta||^2."""
    sch = _f64(df.linear_schedule(40))
    t = np.arange(2, 41)
    k0, k1, k2 = jax.random.split(key, 3)
    x0 = jax.random.normal(k0, (len(t), 4), jnp.float64)
    xt, eps = df.q_sample(k1, sch, x0, t)
    eps_theta = eps + 0.3 * jax.random.normal(k2, eps.shape, jnp.float64)
    mean, var = df.posterior(sch, x0, xt, t)
    var = var[:, None] * jnp.ones((1, 4))
    for kind in ("beta", "posterior"):
        sigma2 = df.reverse_variance(sch, kind)[t - 1][:, None] * jnp.ones((1, 4))
        kl_theta, kl_exact = (kl_diag_gaussian(mean, var, df.eps_to_mean(sch, xt, e, t), sigma2)
                              for e in (eps_theta, eps))
        lam = df.vlb_weights(sch, kind)[t - 1]
        np.testing.assert_allclose(kl_theta - kl_exact, lam * jnp.sum((eps - eps_theta) ** 2, 1), rtol=1e-9)
    np.testing.assert_allclose(df.reverse_variance(sch, "posterior")[0], df.reverse_variance(sch, "posterior")[1])


def test_forward_iteration_matches_closed_form(key):
    """Monte Carlo: t iterated steps have the closed form's mean and variance (a traced t compiles once)."""
    sch = df.cosine_schedule(30)
    x0 = jnp.broadcast_to(jnp.array([2.0, -1.0]), (20_000, 2))
    iterate = jax.jit(df.forward_iterate)
    for t in (1, 7, 30):
        x = np.asarray(iterate(jax.random.fold_in(key, t), sch, x0, t))
        a_bar = float(sch.alpha_bar_T[t - 1])
        se = np.sqrt((1 - a_bar) / len(x))
        np.testing.assert_array_less(np.abs(x.mean(0) - np.sqrt(a_bar) * np.array([2.0, -1.0])), 5 * se)
        np.testing.assert_allclose(x.var(0), 1 - a_bar, rtol=5 * np.sqrt(2 / len(x)))
    one = df.forward_iterate(key, sch, x0[:3], 1)
    noise = jax.random.normal(jax.random.fold_in(key, 1), (3, 2))
    np.testing.assert_allclose(one, jnp.sqrt(sch.alpha_T[0]) * x0[:3] + jnp.sqrt(sch.beta_T[0]) * noise, rtol=1e-6)
    xt, eps = df.q_sample(key, sch, x0[:3], jnp.array([1, 5, 30]))
    a_bar = sch.alpha_bar_T[jnp.array([0, 4, 29])][:, None]
    np.testing.assert_allclose(xt, jnp.sqrt(a_bar) * x0[:3] + jnp.sqrt(1 - a_bar) * eps, rtol=1e-6)


def _gaussian_eps(sch, m, s2):
    """The exact noise predictor E[eps | x_t] for data N(m, s2 I)."""
    def apply(params, x, *, t_N, y_N=None):
        a_bar = sch.alpha_bar_T[t_N - 1][:, None]
        return jnp.sqrt(1 - a_bar) * (x - jnp.sqrt(a_bar) * m) / (a_bar * s2 + 1 - a_bar)
    return apply


def test_sampler_with_the_exact_denoiser_recovers_gaussian_data(key):
    """Ancestral sampling with E[eps|x_t] of N(2, 0.25) data returns that law (both variance choices)."""
    sch = df.linear_schedule(500)
    apply = _gaussian_eps(sch, 2.0, 0.25)
    sample = jax.jit(lambda k, v: df.ddpm_sample(k, apply, None, sch, (20_000, 2), variance=v), static_argnums=1)
    for kind in df.VARIANCES:
        x = np.asarray(sample(key, kind))
        np.testing.assert_allclose(x.mean(0), 2.0, atol=5 * 0.5 / np.sqrt(len(x)))
        np.testing.assert_allclose(x.std(0), 0.5, rtol=0.03)


def test_eps_loss_expectations_for_a_zero_predictor(key):
    """With eps_theta = 0: E[L_simple] = 1 and E[L_vlb] = D sum_t lambda_t (Monte Carlo, 5 SE)."""
    sch = df.linear_schedule(20)
    zero = lambda params, x, *, t_N, y_N=None: jnp.zeros_like(x)  # noqa: E731
    x0 = jnp.zeros((40_000, 2))
    simple = float(jax.jit(df.eps_loss(zero, sch))(None, x0, key))
    assert simple == pytest.approx(1.0, abs=5 * np.sqrt(2 / x0.size))
    lam = np.asarray(df.vlb_weights(sch), np.float64)
    vlb_terms = 20 * lam * 2  # T lambda_t D, t uniform
    vlb = float(jax.jit(df.eps_loss(zero, sch, weighting="vlb"))(None, x0, key))
    se = np.sqrt((np.mean(vlb_terms**2 * 4 / 2) - np.mean(vlb_terms) ** 2) / len(x0))  # E[chi2_2^2]/D^2 = 2
    assert vlb == pytest.approx(vlb_terms.mean(), abs=5 * se)


def test_denoiser_conditioning_and_time_features(key):
    model = df.denoiser((16, 16), 50, n_classes=3, time_features=8)
    out_shape, params = model.init(key, (-1, 5))
    x = jax.random.normal(key, (4, 5))
    t = jnp.array([1, 10, 25, 50])
    apply = jax.jit(lambda y: model.apply(params, x, t_N=t, y_N=y))
    unconditional = apply(None)
    assert out_shape == (-1, 5) and unconditional.shape == (4, 5)
    np.testing.assert_allclose(unconditional, apply(jnp.full(4, 3)))
    assert not np.allclose(apply(jnp.zeros(4, int)), unconditional)
    emb = df.time_embedding(t, 50, 8)
    np.testing.assert_allclose(emb[:, :4] ** 2 + emb[:, 4:] ** 2, 1.0, rtol=1e-6)
    np.testing.assert_allclose(emb[:, 0], np.sin(1000 * np.asarray(t) / 50), rtol=1e-4, atol=1e-5)


def test_guided_sampling_and_train_step(key):
    sch = df.linear_schedule(10)
    model = df.denoiser((16,), 10, n_classes=2)
    _, params = model.init(key, (-1, 3))
    y = jnp.array([0, 1, 1])
    sample = jax.jit(lambda p, w: df.ddpm_sample(key, model.apply, p, sch, (3, 3), y_N=y, guidance=w),
                     static_argnums=1)
    plain = sample(params, 0.0)
    guided = df.ddpm_sample(key, model.apply, params, sch, (3, 3), y_N=y, guidance=jnp.asarray(0.5))  # traced w
    np.testing.assert_allclose(sample(params, 0.5), guided, rtol=1e-5, atol=1e-6)
    assert not np.allclose(guided, plain)
    opt = optax.adam(1e-2)
    step = df.ddpm_train_step(model.apply, sch, opt, 8, p_uncond=0.2, n_classes=2)
    data = (jax.random.normal(key, (8, 3)) + 3.0, jnp.zeros(8, int))
    state = TrainState(params, opt.init(params))
    losses = []
    for i in range(60):
        state, loss = step(state, data, jax.random.fold_in(key, i))
        losses.append(float(loss))
    assert np.mean(losses[-10:]) < np.mean(losses[:10])
    with pytest.raises(ValueError, match="batch"):
        step(state, (data[0][:4], data[1][:4]), key)


def test_sliced_w1_matches_scipy_on_projections(key):
    a, b = jax.random.normal(key, (2, 300, 3))
    b = b * 1.5 + 0.2
    u = np.array([[1.0, 0, 0], [1.0, 2.0, -1.0]])
    values = df.sliced_wasserstein1(a, b, u)
    un = u / np.linalg.norm(u, axis=1, keepdims=True)
    ref = [scipy.stats.wasserstein_distance(np.asarray(a) @ d, np.asarray(b) @ d) for d in un]
    np.testing.assert_allclose(values, ref, rtol=1e-10)
