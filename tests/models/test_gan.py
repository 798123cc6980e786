"""GAN objectives against independent references: optax cross-entropy, scipy's Jensen-Shannon, brute-force maxima,
per-sample autodiff, optimal assignment and chi-square tails. (Training loops run in the experiment test.)"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.optimize
import scipy.spatial.distance
import scipy.stats

from dl_theory.models.generative import gan


def test_values_and_losses_match_cross_entropy(key):
    k1, k2 = jax.random.split(key)
    real, fake = 3 * jax.random.normal(k1, (50,)), 3 * jax.random.normal(k2, (40,))
    bce = (jnp.mean(optax.sigmoid_binary_cross_entropy(real, jnp.ones_like(real)))
           + jnp.mean(optax.sigmoid_binary_cross_entropy(fake, jnp.zeros_like(fake))))
    np.testing.assert_allclose(gan.discriminator_loss(real, fake), bce, rtol=1e-6)
    np.testing.assert_allclose(gan.gan_value(real, fake), -bce, rtol=1e-6)
    d_fake = np.asarray(jax.nn.sigmoid(fake), np.float64)
    np.testing.assert_allclose(gan.generator_loss(fake, "minimax"), np.mean(np.log1p(-d_fake)), rtol=1e-5)
    np.testing.assert_allclose(gan.generator_loss(fake, "non_saturating"), -np.mean(np.log(d_fake)), rtol=1e-5)


def test_generator_gradients_saturate_only_for_minimax(key):
    """Per logit, the minimax gradient is -D/M and the non-saturating one -(1 - D)/M: at D -> 0 only the first
    vanishes."""
    logits = jnp.array([-12.0, -8.0, -3.0, 0.0, 2.0])
    d = jax.nn.sigmoid(logits)
    np.testing.assert_allclose(jax.grad(gan.generator_loss)(logits, "minimax"), -d / 5, rtol=1e-5)
    np.testing.assert_allclose(jax.grad(gan.generator_loss)(logits, "non_saturating"), -(1 - d) / 5, rtol=1e-5)
    assert abs(float(jax.grad(gan.generator_loss)(logits, "minimax")[0])) < 1e-5  # e^-12 / 5


def test_optimal_discriminator_is_the_pointwise_maximizer():
    rng = np.random.default_rng(0)
    p, q = rng.uniform(0.01, 2, 20), rng.uniform(0.01, 2, 20)
    d_grid = np.linspace(1e-4, 1 - 1e-4, 100_001)
    brute = d_grid[np.argmax(p[:, None] * np.log(d_grid) + q[:, None] * np.log1p(-d_grid), axis=1)]
    np.testing.assert_allclose(gan.optimal_discriminator(p, q), brute, atol=2e-5)
    assert float(gan.optimal_discriminator(0.0, 0.0)) == 0.5
    with pytest.raises(ValueError, match="p_x must be >= 0"):
        gan.optimal_discriminator(-1.0, 1.0)


def test_optimal_value_is_2js_minus_ln4_against_scipy(x64):
    rng = np.random.default_rng(1)
    p, q = rng.dirichlet(np.ones(7)), rng.dirichlet(np.ones(7))
    js = scipy.spatial.distance.jensenshannon(p, q) ** 2  # natural log: JS itself
    np.testing.assert_allclose(gan.optimal_value(p, q), 2 * js - np.log(4), rtol=1e-12)
    np.testing.assert_allclose(gan.value_quadrature(np.log(p) - np.log(q), p, q, np.ones(7)), 2 * js - np.log(4),
                               rtol=1e-12)
    np.testing.assert_allclose(gan.optimal_value(p, p), -np.log(4), rtol=1e-12)
    np.testing.assert_allclose(gan.optimal_value([0.5, 0.5, 0, 0], [0, 0, 0.3, 0.7]), 0.0, atol=1e-15)


def test_gradient_penalty_matches_per_sample_autodiff(key):
    k1, k2, k3, k4 = jax.random.split(key, 4)
    w1, w2 = jax.random.normal(k1, (3, 16)), jax.random.normal(k2, (16, 1))
    critic = lambda x: jnp.tanh(x @ w1) @ w2  # noqa: E731
    real, fake = jax.random.normal(k3, (32, 3)), 2 + jax.random.normal(k4, (32, 3))
    eps = jax.random.uniform(jax.random.key(5), (32, 1))
    x_hat = eps * real + (1 - eps) * fake
    grads = jax.vmap(jax.grad(lambda x: critic(x[None])[0, 0]))(x_hat)
    expected = np.mean((np.linalg.norm(grads, axis=1) - 1) ** 2)
    np.testing.assert_allclose(gan.gradient_penalty(critic, real, fake, jax.random.key(5)), expected, rtol=1e-4)
    linear = lambda x: x @ jnp.array([[3.0], [4.0], [0.0]])  # noqa: E731  |grad| = 5 everywhere
    np.testing.assert_allclose(gan.gradient_penalty(linear, real, fake, key), 16.0, rtol=1e-5)
    loss = gan.wgan_gp_critic_loss(linear, real, fake, key)
    gap = jnp.mean(linear(real)) - jnp.mean(linear(fake))
    np.testing.assert_allclose(loss, -gap + 10 * 16.0, rtol=1e-5)
    with pytest.raises(ValueError, match="fake_NxD"):
        gan.gradient_penalty(linear, real, fake[:5], key)


def test_gp_critic_gap_is_the_pointwise_optimum_and_tends_to_w1(x64):
    rng = np.random.default_rng(2)
    c, r, w = rng.uniform(-0.8, 0.8, 30), rng.uniform(0.05, 1.0, 30), rng.uniform(0.01, 0.1, 30)
    lam = 10.0
    best = [-scipy.optimize.minimize_scalar(lambda g, ci=ci, ri=ri: -(g * ci - lam * ri * (abs(g) - 1) ** 2),
                                            bounds=(-5, 5), method="bounded", options={"xatol": 1e-10}).fun
            for ci, ri in zip(c, r, strict=True)]
    slope = np.sign(c) * (1 + np.abs(c) / (2 * lam * r))
    penalty = np.sum(w * lam * r * (np.abs(slope) - 1) ** 2)
    np.testing.assert_allclose(np.sum(w * np.array(best)) + penalty, gan.gp_critic_gap_1d(c, r, w, lam), rtol=1e-8)
    # lambda -> infinity: the exact W1 = int |F_p - F_q| of two Gaussians (scipy on large samples as a cross-check).
    x = np.linspace(-12, 14, 20001)
    wx = np.full_like(x, x[1] - x[0])
    cdf_gap = scipy.stats.norm.cdf(x, 2, 0.5) - scipy.stats.norm.cdf(x)
    w1 = float(gan.gp_critic_gap_1d(cdf_gap, np.ones_like(x), wx, 1e12))
    samples = np.random.default_rng(3).normal(size=(2, 200_000)) * [[1.0], [0.5]] + [[0.0], [2.0]]
    assert abs(w1 - scipy.stats.wasserstein_distance(samples[0], samples[1])) < 0.01
    assert float(gan.gp_critic_gap_1d(cdf_gap, np.ones_like(x), wx, 10.0)) > w1


def test_parallel_lines_js_w1_and_their_gradients(key):
    thetas = jnp.array([-1.5, -0.1, 0.3, 2.0])
    np.testing.assert_allclose(gan.parallel_lines_js(thetas), np.log(2), rtol=1e-6)
    assert float(gan.parallel_lines_js(0.0)) == 0.0
    np.testing.assert_allclose(jax.vmap(jax.grad(gan.parallel_lines_js))(thetas), 0.0)
    np.testing.assert_allclose(jax.vmap(jax.grad(gan.parallel_lines_w1))(thetas), np.sign(thetas))
    # W1 between samples sharing their uniform coordinate: optimal assignment moves each point by |theta| exactly.
    x0, x1 = gan.parallel_lines_sample(key, 0.0, 200), gan.parallel_lines_sample(key, 0.7, 200)
    assert x0.shape == (200, 2) and np.all(np.asarray(x1[:, 0]) == np.float32(0.7))
    cost = np.linalg.norm(np.asarray(x0)[:, None] - np.asarray(x1)[None], axis=-1)
    rows, cols = scipy.optimize.linear_sum_assignment(cost)
    np.testing.assert_allclose(cost[rows, cols].mean(), 0.7, rtol=1e-6)
    blurred = gan.parallel_lines_sample(key, 1.0, 20_000, spread=0.5)
    np.testing.assert_allclose([blurred[:, 0].mean(), blurred[:, 0].std(), blurred[:, 1].mean()], [1.0, 0.5, 0.5],
                               atol=0.02)


def test_ring_and_mode_coverage(key):
    std = 0.05
    samples = gan.ring_of_gaussians(key, 8000, std=std)
    centers = gan.ring_centers()
    np.testing.assert_allclose(np.linalg.norm(centers, axis=1), 2.0, rtol=1e-6)
    cov = gan.mode_coverage(samples, centers, std)
    assert cov.modes_covered == 8 and cov.counts_K.sum() == round(cov.high_quality * 8000)
    # within 3 std in 2-D: P(chi2_2 <= 9) = 1 - exp(-4.5)
    p_in = scipy.stats.chi2.cdf(9, 2)
    assert abs(cov.high_quality - p_in) < 4 * np.sqrt(p_in * (1 - p_in) / 8000)
    collapsed = centers[3][None] + std * jax.random.normal(key, (1000, 2))
    assert gan.mode_coverage(collapsed, centers, std).modes_covered == 1
    with pytest.raises(ValueError, match="samples_NxD"):
        gan.mode_coverage(samples[:, :1], centers, std)
    with pytest.raises(ValueError, match="min_share"):
        gan.mode_coverage(samples, centers, std, min_share=2.0)


def test_bad_arguments_raise(key):
    with pytest.raises(ValueError, match="kind must be one of"):
        gan.generator_loss(jnp.zeros(3), "wasserstein")
    with pytest.raises(ValueError, match="objective must be one of"):
        gan.fit_discriminator(key, (None, None), None, None, data_dim=1, objective="hinge", n_steps=1, batch_size=1)
    with pytest.raises(ValueError, match="n_steps"):
        gan.train_gan(key, (None, None), (None, None), None, latent_dim=1, data_dim=1, n_steps=0, batch_size=1)
    with pytest.raises(ValueError, match="spread must be >= 0"):
        gan.parallel_lines_sample(key, 0.0, 5, spread=-1.0)
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        gan.wgan_gp_optimizer(0.0)
    opt = gan.wgan_gp_optimizer()
    state = opt.init(jnp.zeros(2))
    updates, _ = opt.update(jnp.array([1.0, -2.0]), state)
    np.testing.assert_allclose(updates, [-1e-4, 1e-4], rtol=1e-3)  # Adam's first step: -lr * sign(g)
