"""Gaussian posterior over pytrees, surrogate losses, bound-minimizing training and Monte-Carlo certificates."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dl_theory.generalization.pac_bayes import (
    certify,
    diag_gaussian,
    fit_posterior,
    kl_divergence,
    make_objective,
    sample_params,
    sampled_risks,
    softplus_inverse,
    split_prior_certificate,
    stddev,
    stochastic_apply,
)
from dl_theory.losses import bounded_cross_entropy
from dl_theory.losses import zero_one as zero_one_loss


def linear_apply(params, x_NxD):
    return x_NxD @ params["w"] + params["b"][None]


def _linear_params(d=3, c=2):
    return {"w": jnp.arange(d * c, dtype=jnp.float32).reshape(d, c) / 10, "b": jnp.array([0.5, -0.5])}


def test_softplus_parameterization_roundtrip():
    sigma = jnp.array([1e-4, 0.03, 1.0, 20.0])
    np.testing.assert_allclose(jax.nn.softplus(softplus_inverse(sigma)), sigma, rtol=1e-5)
    dist = diag_gaussian(_linear_params(), 0.03)
    for s in jax.tree.leaves(stddev(dist)):
        np.testing.assert_allclose(s, 0.03, rtol=1e-5)


def test_reparameterized_samples_have_the_right_moments(key):
    mean = _linear_params()
    dist = diag_gaussian(mean, {"w": jnp.full((3, 2), 0.2), "b": jnp.array([0.1, 0.5])})
    draws = jax.vmap(lambda k: sample_params(k, dist))(jax.random.split(key, 4000))
    for leaf, mu, sd in zip(jax.tree.leaves(draws), jax.tree.leaves(mean), jax.tree.leaves(stddev(dist)), strict=True):
        se = sd / np.sqrt(4000)
        assert np.all(np.abs(leaf.mean(0) - mu) < 4 * se)
        np.testing.assert_allclose(leaf.std(0), sd, rtol=0.05)
    # gradients reach both the mean and rho
    grads = jax.grad(lambda d: jnp.sum(sample_params(key, d)["w"] ** 2))(dist)
    assert jnp.all(grads.mean["w"] != 0) and jnp.all(grads.rho["w"] != 0)


def test_kl_of_isotropic_posterior_matches_formula():
    prior = diag_gaussian(_linear_params(), 0.1)
    shifted = jax.tree.map(lambda m: m + 0.05, prior.mean)
    post = diag_gaussian(shifted, 0.05)
    d, lam, s2 = 8, 0.1**2, 0.05**2
    expected = 0.5 * d * (s2 / lam + 0.05**2 / lam - 1 + np.log(lam / s2))
    np.testing.assert_allclose(kl_divergence(post, prior), expected, rtol=1e-5)


def test_losses():
    logits = jnp.array([[2.0, 0.0], [0.0, 30.0], [-1.0, 1.0]])
    labels = jnp.array([0, 0, 1])
    pmin = 1e-4
    ce = -jax.nn.log_softmax(logits)[jnp.arange(3), labels]
    expected = jnp.minimum(ce, np.log(1 / pmin)) / np.log(1 / pmin)
    np.testing.assert_allclose(bounded_cross_entropy(logits, labels, pmin), expected, rtol=1e-6)
    np.testing.assert_allclose(bounded_cross_entropy(logits, labels, pmin)[1], 1.0, rtol=1e-6)
    assert jnp.all(bounded_cross_entropy(100 * logits, 1 - labels, pmin) <= 1.0)
    np.testing.assert_array_equal(zero_one_loss(logits, labels), [0.0, 1.0, 0.0])


def test_sampled_risks_match_a_direct_loop(key):
    x = jax.random.normal(key, (50, 3))
    y = (x[:, 0] > 0).astype(jnp.int32)
    dist = diag_gaussian(_linear_params(), 0.5)
    risks = sampled_risks(key, dist, linear_apply, x, y, num_samples=5, chunk_size=2)
    sampled = stochastic_apply(linear_apply)
    direct = [jnp.mean(zero_one_loss(sampled(k, dist, x), y)) for k in jax.random.split(key, 5)]
    np.testing.assert_allclose(risks, direct)


def test_training_lowers_the_bound_and_the_certificate_is_valid(key):
    """Separable toy task: training lowers the bound; the certificate bounds the error on fresh data."""
    k_x, k_t, k_init, k_train, k_cert = jax.random.split(key, 5)
    w_true = jnp.array([1.0, -2.0, 0.5])
    x = jax.random.normal(k_x, (2000, 3))
    y = (x @ w_true > 0).astype(jnp.int32)
    x_test = jax.random.normal(k_t, (4000, 3))
    y_test = (x_test @ w_true > 0).astype(jnp.int32)
    init = {"w": 0.1 * jax.random.normal(k_init, (3, 2)), "b": jnp.zeros(2)}
    prior = diag_gaussian(init, 0.3)
    objective = make_objective(linear_apply, prior, n=2000, delta=0.025, objective="fquad")
    post, history = fit_posterior(k_train, objective, prior, optax.adam(0.02), (x, y), n_steps=300, batch_size=200)
    assert history["objective"][-50:].mean() < 0.75 * history["objective"][:10].mean()
    cert = certify(k_cert, post, prior, linear_apply, x, y, num_samples=200)
    test_error = float(jnp.mean(sampled_risks(k_cert, post, linear_apply, x_test, y_test, 200)))
    assert cert.risk_bound < 0.5 and test_error <= cert.risk_bound
    assert cert.n == 2000 and cert.num_samples == 200 and cert.delta == 0.025 and cert.delta_prime == 0.01


def test_prior_split_is_a_partition(key):
    prior_idx, cert_idx = split_prior_certificate(key, 101, 0.5)
    assert len(prior_idx) == 50 and len(cert_idx) == 51
    assert sorted(np.concatenate([prior_idx, cert_idx]).tolist()) == list(range(101))
    with pytest.raises(ValueError, match="prior_fraction"):
        split_prior_certificate(key, 10, 1.0)


def test_objective_rejects_bad_configuration():
    prior = diag_gaussian(_linear_params(), 0.1)
    with pytest.raises(ValueError, match="objective must be one of"):
        make_objective(linear_apply, prior, 100, 0.05, objective="fbbb")
    with pytest.raises(ValueError, match=r"delta must be in \(0, 1\)"):
        make_objective(linear_apply, prior, 100, 1.5)
