"""Linear-Gaussian latent models, the generative classifier and the linear autoencoder against independent
references: scipy densities, dense Bayes' rule on the joint Gaussian, sklearn's PCA / FactorAnalysis / LDA, SVD."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from sklearn.decomposition import PCA, FactorAnalysis
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from dl_theory.models.generative import generative_classifier as gc
from dl_theory.models.generative import linear_autoencoder as la
from dl_theory.models.generative import linear_gaussian as lg

D, M, N = 6, 2, 600


def _model(key, psi=None):
    k_w, k_m = jax.random.split(key)
    loading = 1.5 * jax.random.normal(k_w, (D, M))
    psi = jnp.linspace(0.2, 1.0, D) if psi is None else psi
    return lg.LinearGaussian(jax.random.normal(k_m, (D,)), loading, psi)


def test_log_likelihood_and_posterior_vs_dense_joint_gaussian(x64, key):
    model = _model(key)
    x, _ = lg.sample(jax.random.key(1), model, 20)
    cov = np.asarray(lg.marginal_covariance(model))
    np.testing.assert_allclose(lg.log_likelihood(model, x),
                               scipy.stats.multivariate_normal(np.asarray(model.mean_D), cov).logpdf(np.asarray(x)),
                               rtol=1e-12)
    # p(z | x) from the joint N((0, mu), [[I, W^T], [W, W W^T + Psi]]) by Gaussian conditioning.
    w = np.asarray(model.loading_DxM)
    gain = w.T @ np.linalg.inv(cov)
    mean, post_cov = lg.posterior(model, x)
    np.testing.assert_allclose(mean, (np.asarray(x) - np.asarray(model.mean_D)) @ gain.T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(post_cov, np.eye(M) - gain @ w, rtol=1e-10, atol=1e-12)


def test_sample_moments_match_marginal(x64, key):
    model = _model(key)
    x, z = lg.sample(jax.random.key(2), model, 200_000)
    np.testing.assert_allclose(np.cov(np.asarray(x).T), lg.marginal_covariance(model), atol=0.1)
    np.testing.assert_allclose(np.cov(np.asarray(z).T), np.eye(M), atol=0.02)


def test_ppca_closed_form_vs_sklearn_pca(x64, key):
    x, _ = lg.sample(jax.random.key(3), _model(key, psi=jnp.full(D, 0.5)), N)
    fit = lg.ppca(x, M)
    pca = PCA(M).fit(np.asarray(x))
    ddof = N / (N - 1)  # sklearn's covariance divides by N - 1, the maximum-likelihood one by N
    np.testing.assert_allclose(fit.noise_var_D * ddof, pca.noise_variance_, rtol=1e-10)
    np.testing.assert_allclose(lg.marginal_covariance(fit) * ddof, pca.get_covariance(), rtol=1e-9, atol=1e-12)
    as_sklearn = lg.LinearGaussian(jnp.asarray(pca.mean_), jnp.asarray(
        pca.components_.T * np.sqrt(pca.explained_variance_ - pca.noise_variance_)), jnp.full(D, pca.noise_variance_))
    np.testing.assert_allclose(lg.log_likelihood(as_sklearn, x).mean(), pca.score(np.asarray(x)), rtol=1e-10)


def test_ppca_em_reaches_the_closed_form(x64, key):
    x, _ = lg.sample(jax.random.key(4), _model(key, psi=jnp.full(D, 0.5)), N)
    closed = lg.ppca(x, M)
    em = lg.factor_analysis_em(jax.random.key(5), x, M, n_iter=1500, isotropic=True)
    np.testing.assert_allclose(lg.marginal_covariance(em), lg.marginal_covariance(closed), atol=1e-7)
    np.testing.assert_allclose(lg.log_likelihood(em, x).mean(), lg.log_likelihood(closed, x).mean(), rtol=1e-10)


def test_factor_analysis_em_vs_sklearn(x64, key):
    x, _ = lg.sample(jax.random.key(6), _model(key), N)
    em = lg.factor_analysis_em(jax.random.key(7), x, M, n_iter=5000)
    fa = FactorAnalysis(M, tol=1e-9, max_iter=5000).fit(np.asarray(x))
    # Same data and model: both reach the maximum likelihood (here a unique optimum up to rotation; EM never
    # decreases the likelihood, sklearn stops at a tolerance, so EM may only be higher).
    ours, theirs = float(lg.log_likelihood(em, x).mean()), fa.score(np.asarray(x))
    assert ours >= theirs - 1e-9
    np.testing.assert_allclose(ours, theirs, rtol=1e-7)
    np.testing.assert_allclose(lg.marginal_covariance(em), fa.get_covariance(), atol=1e-4)


def test_rotation_leaves_the_marginal_unchanged(x64, key):
    model = _model(key)
    rotation, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(M, M)))
    rotated = model._replace(loading_DxM=model.loading_DxM @ rotation)
    x, _ = lg.sample(jax.random.key(8), model, 10)
    np.testing.assert_allclose(lg.marginal_covariance(rotated), lg.marginal_covariance(model), atol=1e-13)
    np.testing.assert_allclose(lg.log_likelihood(rotated, x), lg.log_likelihood(model, x), rtol=1e-13)
    np.testing.assert_allclose(lg.posterior(rotated, x)[0], lg.posterior(model, x)[0] @ rotation, atol=1e-12)


def test_posterior_mean_tends_to_pseudo_inverse(x64, key):
    model = _model(key)
    x, _ = lg.sample(jax.random.key(9), model, 5)
    target = (np.asarray(x) - np.asarray(model.mean_D)) @ np.linalg.pinv(np.asarray(model.loading_DxM)).T
    errors = [np.abs(lg.posterior(model._replace(noise_var_D=jnp.full(D, s2)), x)[0] - target).max()
              for s2 in (1e-2, 1e-4)]
    assert errors[1] < 1.1e-2 * errors[0]  # O(sigma^2)


@pytest.mark.parametrize("call, match", [
    (lambda x: lg.ppca(x, D), "latent_dim"),
    (lambda x: lg.factor_analysis_em(jax.random.key(0), x, D + 1), "latent_dim"),
    (lambda x: lg.ppca(x[0], 1), "x_NxD"),
    (lambda x: lg.factor_analysis_em(jax.random.key(0), x, 1, n_iter=0), "n_iter"),
    (lambda x: la.pca_autoencoder(x, D), "k"),
    (lambda x: la.pca_autoencoder(x, 2, np.eye(3)), "a_KxK"),
    (lambda x: gc.fit_gaussian_classifier(x, np.zeros(len(x))), "y01_N"),
    (lambda x: gc.fit_gaussian_classifier(x, np.full(len(x), 2)), "y01_N"),
])
def test_bad_input_raises(call, match):
    x = np.random.default_rng(0).normal(size=(20, D))
    with pytest.raises(ValueError, match=match):
        call(x)


def _classification_data(seed, n=400, d=3):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    chol = np.tril(rng.normal(size=(d, d))) + 2 * np.eye(d)
    means = rng.normal(size=(2, d))
    return means[y] + rng.normal(size=(n, d)) @ chol.T, y


def test_generative_classifier_is_logistic_and_matches_sklearn_lda(x64):
    x, y = _classification_data(0)
    clf = gc.fit_gaussian_classifier(x, y)
    w, b = gc.logistic_form(clf)
    np.testing.assert_allclose(gc.class_posterior(clf, x), jax.nn.sigmoid(x @ w + b), rtol=1e-12, atol=1e-15)
    lda = LinearDiscriminantAnalysis(solver="lsqr").fit(x, y)
    np.testing.assert_allclose(clf.means_2xD, lda.means_, rtol=1e-12)
    np.testing.assert_allclose(w, lda.coef_[0], rtol=1e-10)
    np.testing.assert_allclose(b, lda.intercept_[0], rtol=1e-10)


def test_notes_special_case(x64):
    means = jnp.array([[1.0, -2.0], [0.5, 3.0]])
    w, b = gc.logistic_form(gc.GaussianClassifier(means, jnp.eye(2), jnp.array([0.5, 0.5])))
    np.testing.assert_allclose(w, means[1] - means[0], rtol=1e-14)
    np.testing.assert_allclose(b, 0.5 * (jnp.sum(means[0] ** 2) - jnp.sum(means[1] ** 2)), rtol=1e-14)


def test_linear_autoencoder_optimum_set(x64):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(100, D)) @ rng.normal(size=(D, D))
    x = x - x.mean(axis=0)
    k = 2
    best = np.sum(np.linalg.svd(x, compute_uv=False)[k:] ** 2)
    pca = PCA(k).fit(x)
    assert np.sum((x - pca.inverse_transform(pca.transform(x))) ** 2) == pytest.approx(best, rel=1e-10)
    for a in (np.eye(k), rng.normal(size=(k, k))):
        enc, dec = la.pca_autoencoder(x, k, a)
        assert float(la.reconstruction_error(enc, dec, x)) == pytest.approx(best, rel=1e-10)
    assert float(la.reconstruction_error(0 * enc, 0 * dec, x)) == pytest.approx(np.sum(x**2))  # (C,D), (-C,-D) midpoint
