"""MADE: masks against their definition, a strictly triangular Jacobian (autodiff), the exact Bernoulli likelihood
(brute-force normalization, scipy's Bernoulli pmf), ancestral sampling (chi-square) and input validation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from dl_theory.models.generative.made import (
    bernoulli_log_prob,
    bernoulli_sample,
    degrees,
    gaussian_outputs,
    independent_bernoulli_fit,
    independent_bernoulli_log_prob,
    made,
    masks,
)

ORDER = np.array([3, 1, 5, 2, 4])


def _all_binary(dim):
    return jnp.asarray((np.arange(2**dim)[:, None] >> np.arange(dim)[None, :]) & 1, jnp.float64)


def _scaled(model, key):
    """Parameters far from the uniform model, with random biases (float64)."""
    return jax.jit(lambda k: [(2.0 * w.astype(jnp.float64), jax.random.normal(jax.random.fold_in(k, i), b.shape,
                                                                               jnp.float64))
                              for i, (w, b) in enumerate(model.init(k))])(key)


def test_masks_follow_the_degree_rule(key):
    degs = degrees(5, (7, 6), order=ORDER, key=key)
    hidden_in, hidden_out, out = masks(degs, n_outputs=2)
    for d_in, d_out, m in ((degs[0], degs[1], hidden_in), (degs[1], degs[2], hidden_out)):
        assert m.shape == (d_in.size, d_out.size)
        for k_in in range(d_in.size):
            for k_out in range(d_out.size):
                assert m[k_in, k_out] == (d_out[k_out] >= d_in[k_in])
    assert out.shape == (6, 10)
    for k_in in range(6):
        for j in range(10):
            assert out[k_in, j] == (ORDER[j % 5] > degs[2][k_in])
    assert all(1 <= d.min() and d.max() <= 4 for d in degs[1:])  # hidden degrees in {1, ..., D-1}


@pytest.mark.parametrize("hidden", [(), (12, 12)])
def test_jacobian_strictly_triangular_in_the_order(x64, key, hidden):
    model = made(5, hidden, order=ORDER, degree_key=key if hidden else None)
    params = _scaled(model, key)
    jac = np.asarray(jax.jit(jax.jacfwd(lambda x: model.apply(params, x)[0]))(jnp.linspace(-1.0, 1.0, 5)))
    forbidden = ORDER[None, :] >= ORDER[:, None]
    assert np.all(jac[forbidden] == 0.0)
    assert np.abs(jac[~forbidden]).max() > 1e-6


def test_likelihood_normalized_and_equals_scipy_bernoulli(x64, key):
    model = made(6, (24,), order=np.array([2, 6, 1, 4, 3, 5]))
    params = _scaled(model, key)
    xs = _all_binary(6)
    log_p, logits = jax.jit(lambda x: (bernoulli_log_prob(model, params, x), model.apply(params, x)[:, 0, :]))(xs)
    np.testing.assert_allclose(float(jax.scipy.special.logsumexp(log_p)), 0.0, atol=1e-12)
    reference = scipy.stats.bernoulli.logpmf(np.asarray(xs), 1 / (1 + np.exp(-np.asarray(logits)))).sum(axis=1)
    np.testing.assert_allclose(np.asarray(log_p), reference, rtol=1e-10)
    eager = bernoulli_log_prob(model, params, xs[:3])  # eager too (the binary check runs on concrete values)
    np.testing.assert_allclose(np.asarray(eager), np.asarray(log_p[:3]), rtol=1e-12)


def test_ancestral_samples_follow_the_model(x64, key):
    model = made(3, (8,), order=np.array([3, 1, 2]))
    params = _scaled(model, key)
    n = 40_000
    log_p, samples = jax.jit(lambda k: (bernoulli_log_prob(model, params, _all_binary(3)),
                                        bernoulli_sample(model, params, k, n)))(jax.random.fold_in(key, 1))
    probs, samples = np.exp(np.asarray(log_p)), np.asarray(samples)
    counts = np.bincount((samples.astype(int) << np.arange(3)[None]).sum(axis=1), minlength=8)
    assert scipy.stats.chisquare(counts, n * probs).pvalue > 1e-4


def test_independent_baseline_is_the_smoothed_mle():
    x = np.array([[1, 0, 1], [1, 0, 0], [1, 1, 0], [1, 0, 0]], np.float32)
    logits = np.asarray(independent_bernoulli_fit(x))
    np.testing.assert_allclose(1 / (1 + np.exp(-logits)), (x.sum(0) + 1) / 6, rtol=1e-6)
    reference = scipy.stats.bernoulli.logpmf(x, (x.sum(0) + 1) / 6).sum(axis=1)
    np.testing.assert_allclose(np.asarray(independent_bernoulli_log_prob(logits, x)), reference, rtol=1e-5)


def test_gaussian_outputs_shapes_and_autoregressive(key):
    model = made(4, (8,), n_outputs=2)
    mu, alpha = gaussian_outputs(model, model.init(key), jnp.ones((3, 4)))
    assert mu.shape == alpha.shape == (3, 4)
    np.testing.assert_allclose(np.asarray(mu[:, 0]), np.asarray(mu[0, 0]))  # first dimension reads nothing


def test_bad_inputs_raise(key):
    model = made(4, (8,))
    params = model.init(key)
    with pytest.raises(ValueError, match="x must be binary"):
        bernoulli_log_prob(model, params, jnp.full((2, 4), 0.5))
    with pytest.raises(ValueError, match=r"x must be of shape \(\.\.\., 4\)"):
        model.apply(params, jnp.ones((2, 5)))
    with pytest.raises(ValueError, match="order must be a permutation"):
        made(3, (4,), order=[1, 1, 2])
    with pytest.raises(ValueError, match="n_outputs must be 2"):
        gaussian_outputs(model, params, jnp.ones(4))
    with pytest.raises(ValueError, match="hidden"):
        made(3, (0,))
