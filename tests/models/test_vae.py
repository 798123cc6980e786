"""VAE library against independent references: scipy densities, quadrature of log p(x) for small nonlinear VAEs
(one- and two-level), dense Gaussian conditioning for the two-level linear model, Monte Carlo for the reparameterized
ELBO, and optax for the training step."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.stats

from dl_theory.models.generative import linear_gaussian as lg
from dl_theory.models.generative import vae as v
from dl_theory.stats import mean_and_stderr


def _log_marginal_1d(log_joint, lo=-12.0, hi=12.0, n=6001):
    """log int exp(log_joint(z)) dz over a 1-D grid (trapezoid), log_joint mapping (G,) -> (G, N)."""
    z = np.linspace(lo, hi, n)
    lj = np.asarray(log_joint(jnp.asarray(z)))
    w = np.full(n, z[1] - z[0])
    w[[0, -1]] /= 2
    return scipy.special.logsumexp(lj + np.log(w)[:, None], axis=0)


def test_diag_gaussian_and_bernoulli_log_densities_vs_scipy(x64, key):
    x, mean, log_var = (np.asarray(jax.random.normal(k, (5, 3))) for k in jax.random.split(key, 3))
    want = [scipy.stats.multivariate_normal(mean[i], np.diag(np.exp(log_var[i]))).logpdf(x[i]) for i in range(5)]
    np.testing.assert_allclose(v.diag_gaussian_log_prob(x, mean, log_var), want, rtol=1e-12)
    net = v.vae(3, 2, hidden=(4,), likelihood="bernoulli")
    params = net.init(key)
    xb = (x > 0).astype(float)
    z = jax.random.normal(jax.random.key(3), (5, 2))
    probs = np.asarray(jax.nn.sigmoid(net.decode(params, z)))
    np.testing.assert_allclose(net.log_likelihood(params, xb, z),
                               scipy.stats.bernoulli(probs).logpmf(xb).sum(axis=1), rtol=1e-10)


def test_reparameterize_moments_and_gradient(x64, key):
    mean, log_var = jnp.array([1.0, -2.0]), jnp.array([0.5, -1.0])
    z = np.asarray(v.reparameterize(key, mean, log_var, 20000))
    m, se = mean_and_stderr(z)
    assert np.all(np.abs(m - mean) < 4 * se)
    np.testing.assert_allclose(z.var(axis=0), np.exp(log_var), rtol=0.05)
    grads = jax.grad(lambda mu, lv: jnp.sum(jnp.mean(v.reparameterize(key, mu, lv, 1000) ** 2, 0)), (0, 1))(
        mean, log_var)
    eps = np.asarray(v.reparameterize(key, jnp.zeros(2), jnp.zeros(2), 1000))  # the same noise
    sd = np.exp(0.5 * np.asarray(log_var))
    z = np.asarray(mean) + sd * eps  # d z / d mean = 1, d z / d log_var = sd eps / 2
    np.testing.assert_allclose(grads[0], 2 * z.mean(0), rtol=1e-10)
    np.testing.assert_allclose(grads[1], (z * sd * eps).mean(0), rtol=1e-10)


@pytest.fixture(scope="module")
def small_vae():
    with jax.enable_x64(True):
        net = v.vae(3, 1, hidden=(8,), init_log_var=-1.0)
        params = net.init(jax.random.key(7))
        x = np.asarray(jax.random.normal(jax.random.key(8), (4, 3)))
        exact = _log_marginal_1d(lambda z: net.log_likelihood(params, x[None], z[:, None, None])
                                 + scipy.stats.norm.logpdf(np.asarray(z))[:, None])
    return net, params, x, exact


def test_iwae_and_elbo_bound_quadrature_log_likelihood(small_vae, x64):
    net, params, x, exact = small_vae

    @jax.jit
    def bounds(keys):
        iwae, elbo = jax.vmap(lambda k: (v.iwae_bound(net, params, x, k, 500),
                                         v.elbo(net, params, x, jax.random.fold_in(k, 1), 50)))(keys)
        return iwae, elbo, v.log_importance_weights(net, params, x, keys[0], 4000, chunk=1000)

    iwae, elbo, log_w = (np.asarray(b) for b in bounds(jax.random.split(jax.random.key(0), 40)))
    iwae_mean, iwae_se = mean_and_stderr(iwae)
    elbo_mean, elbo_se = mean_and_stderr(elbo)
    assert np.all(np.abs(iwae_mean - exact) < 4 * iwae_se + 0.02)  # IWAE_500 within its (small) bias
    assert np.all(iwae_mean <= exact + 4 * iwae_se)
    assert np.all(elbo_mean + 4 * elbo_se < iwae_mean)
    # K = 1: the bound is the single log weight, whose mean is the ELBO (closed-form KL version)
    w_mean, w_se = mean_and_stderr(log_w)
    assert np.all(np.abs(w_mean - elbo_mean) < 4 * np.hypot(w_se, elbo_se))


def test_linear_gaussian_elbo_gap_is_kl_to_posterior(x64, key):
    k1, k2, k3 = jax.random.split(key, 3)
    model = lg.LinearGaussian(jnp.zeros(4), jax.random.normal(k1, (4, 2)), jnp.full(4, 0.3))
    x, _ = lg.sample(k2, model, 1)
    post_mean, post_cov = lg.posterior(model, x)
    q_mean, a = jnp.array([0.3, -0.2]), jax.random.normal(k3, (2, 2))
    q_cov = a @ a.T + 0.1 * jnp.eye(2)
    from dl_theory.models.generative.divergences import kl_gaussian

    gap = lg.log_likelihood(model, x)[0] - v.linear_gaussian_elbo(model, x[0], q_mean, q_cov)
    np.testing.assert_allclose(gap, kl_gaussian(q_mean, q_cov, post_mean[0], post_cov), rtol=1e-10)
    np.testing.assert_allclose(v.linear_gaussian_elbo(model, x[0], post_mean[0], post_cov),
                               lg.log_likelihood(model, x)[0], rtol=1e-12)
    # Monte Carlo of E_q[log p(x|z) + log p(z) - log q(z)]
    z = np.random.default_rng(0).multivariate_normal(np.asarray(q_mean), np.asarray(q_cov), 20000)
    w, xm = np.asarray(model.loading_DxM), np.asarray(x[0])
    mc = (scipy.stats.multivariate_normal(np.zeros(4), 0.3 * np.eye(4)).logpdf(xm[None] - z @ w.T)
          + scipy.stats.multivariate_normal(np.zeros(2)).logpdf(z)
          - scipy.stats.multivariate_normal(np.asarray(q_mean), np.asarray(q_cov)).logpdf(z))
    m, se = mean_and_stderr(mc)
    assert abs(m - float(v.linear_gaussian_elbo(model, x[0], q_mean, q_cov))) < 4 * se


def _two_level(key):
    k = jax.random.split(key, 3)
    top = lg.LinearGaussian(jnp.array([0.5, -0.3, 0.1]), jax.random.normal(k[0], (3, 2)), jnp.array([0.2, 0.4, 0.3]))
    bottom = lg.LinearGaussian(jax.random.normal(k[1], (5,)), jax.random.normal(k[2], (5, 3)), jnp.full(5, 0.5))
    return v.TwoLevelLinearGaussian(top, bottom)


def test_two_level_linear_model_vs_dense_joint_gaussian(x64, key):
    model = _two_level(key)
    a, amat, tau = (np.asarray(t) for t in model.top)
    mu, w, psi = (np.asarray(t) for t in model.bottom)
    # joint of (z1, z2, x): z2 ~ N(0, I), z1 = a + A z2 + e1, x = mu + W z1 + e2
    c11 = amat @ amat.T + np.diag(tau)
    cov = np.block([[c11, amat, c11 @ w.T], [amat.T, np.eye(2), amat.T @ w.T],
                    [w @ c11, w @ amat, w @ c11 @ w.T + np.diag(psi)]])
    mean = np.concatenate([a, np.zeros(2), mu + w @ a])
    x = np.random.default_rng(1).normal(size=(3, 5))
    np.testing.assert_allclose(v.two_level_log_likelihood(model, x),
                               scipy.stats.multivariate_normal(mean[5:], cov[5:, 5:]).logpdf(x), rtol=1e-12)
    gain = cov[:5, 5:] @ np.linalg.inv(cov[5:, 5:])
    post_mean, post_cov = v.two_level_posterior(model, x)
    np.testing.assert_allclose(post_mean, mean[:5][None] + (x - mean[5:][None]) @ gain.T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(post_cov, cov[:5, :5] - gain @ cov[5:, :5], rtol=1e-10, atol=1e-12)
    # mutual information I(z1; z2) = H(z2) - H(z2|z1), the conditional covariance by a Schur complement
    s = np.asarray(post_cov)
    schur = s[3:, 3:] - s[3:, :3] @ np.linalg.solve(s[:3, :3], s[:3, 3:])
    mi = 0.5 * (np.linalg.slogdet(s[3:, 3:])[1] - np.linalg.slogdet(schur)[1])
    np.testing.assert_allclose(v.notes_two_level_gap(post_cov, 3), mi, rtol=1e-10)


def test_hierarchical_bound_vs_two_dimensional_quadrature(x64):
    net = v.hierarchical_vae(2, (1, 1), hidden=(6,), init_log_var=-0.5)
    params = net.init(jax.random.key(11))
    x = np.array([[0.3, -0.5], [1.0, 0.2]])
    grid = np.linspace(-9, 9, 451)
    z1, z2 = (g.reshape(-1, 1) for g in np.meshgrid(grid, grid, indexing="ij"))
    pm, pv = net.p_z1(params, jnp.asarray(z2))
    log_prior = (v.diag_gaussian_log_prob(jnp.asarray(z1), pm, pv) + v.diag_gaussian_log_prob(jnp.asarray(z2), 0, 0))
    log_joint = np.asarray(net.log_likelihood(params, jnp.asarray(x)[:, None], jnp.asarray(z1)[None])) + np.asarray(
        log_prior)[None]
    exact = scipy.special.logsumexp(log_joint, axis=1) + 2 * np.log(grid[1] - grid[0])
    log_w = np.asarray(v.hierarchical_log_weights(net, params, x, jax.random.key(5), 50000))
    iwae = scipy.special.logsumexp(log_w, axis=0) - np.log(len(log_w))
    np.testing.assert_allclose(iwae, exact, atol=0.02)
    assert np.all(log_w.mean(axis=0) < exact)  # the ELBO is below log p(x)
    np.testing.assert_allclose(v.hierarchical_elbo(net, params, x, jax.random.key(5), 50000), log_w.mean(axis=0),
                               rtol=1e-12)


def test_train_step_matches_optax(key):
    net = v.vae(6, 2, hidden=(8,))
    params = jax.jit(net.init)(key)
    opt = optax.adam(1e-2)
    x = jax.random.uniform(jax.random.key(1), (16, 6))
    step = v.train_step_fn(net, opt, 16)
    new_params, _, loss = step(params, opt.init(params), x, jax.random.key(2))

    @jax.jit
    def reference(params):
        loss, grads = jax.value_and_grad(v.elbo_loss(net))(params, x, jax.random.key(2))
        return loss, opt.update(grads, opt.init(params), params)[0]

    loss_ref, updates = reference(params)
    np.testing.assert_allclose(loss, loss_ref, rtol=1e-6)
    for a, b in zip(jax.tree_util.tree_leaves(new_params), jax.tree_util.tree_leaves(
            optax.apply_updates(params, updates)), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="x_BxD"):
        step(params, opt.init(params), x[:8], jax.random.key(2))


@pytest.mark.parametrize("kwargs, name", [({"likelihood": "poisson"}, "likelihood"), ({"latent_dim": 0}, "latent_dim"),
                                          ({"data_dim": -1}, "data_dim")])
def test_bad_arguments_raise(kwargs, name):
    args = {"data_dim": 4, "latent_dim": 2, **kwargs}
    with pytest.raises(ValueError, match=name):
        v.vae(args.pop("data_dim"), args.pop("latent_dim"), **args)
