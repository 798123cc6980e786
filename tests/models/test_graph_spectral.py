"""Laplacians against networkx; GFT, polynomial, Chebyshev and spectral filters against dense eigendecompositions."""

import jax
import networkx as nx
import numpy as np
import pytest

from dl_theory.data.graphs import erdos_renyi, karate_club
from dl_theory.models.graph import spectral


def _graph(seed: int = 0, n: int = 12) -> np.ndarray:
    a = np.asarray(erdos_renyi(jax.random.key(seed), n, 0.3), np.float64)
    w = np.random.default_rng(seed).uniform(0.5, 2.0, a.shape)
    return a * (w + w.T) / 2  # weighted, possibly with isolated nodes


@pytest.mark.parametrize("seed", [0, 1])
def test_laplacians_match_networkx(x64, seed):
    a = _graph(seed)
    g = nx.from_numpy_array(a)
    nodes = range(len(a))
    np.testing.assert_allclose(np.asarray(spectral.laplacian(a)), nx.laplacian_matrix(g, nodelist=nodes).toarray(),
                               atol=1e-13)
    np.testing.assert_allclose(np.asarray(spectral.normalized_laplacian(a)),
                               nx.normalized_laplacian_matrix(g, nodelist=nodes).toarray(), atol=1e-13)


def test_quadratic_form_and_gft_round_trip(x64):
    a = _graph(2)
    x = np.random.default_rng(0).normal(size=(len(a), 3))
    lap = spectral.laplacian(a)
    brute = 0.5 * np.einsum("uv,uvd->d", a, (x[:, None] - x[None, :]) ** 2)
    np.testing.assert_allclose(np.einsum("ud,uv,vd->d", x, np.asarray(lap), x), brute, rtol=1e-12)
    lam, u = spectral.fourier_basis(lap)
    np.testing.assert_allclose(np.asarray(u @ np.diag(lam) @ u.T), np.asarray(lap), atol=1e-12)
    np.testing.assert_allclose(np.asarray(spectral.inverse_gft(u, spectral.gft(u, x))), x, atol=1e-12)
    assert float(lam[0]) > -1e-12


def test_polynomial_and_chebyshev_filters_equal_spectral_multiplier(x64):
    a = _graph(3)
    lap = spectral.normalized_laplacian(a)
    lam, u = spectral.fourier_basis(lap)
    x = np.random.default_rng(1).normal(size=(len(a), 2))
    alphas = np.array([0.5, -1.0, 0.3, 0.7, -0.2])
    p_of_lam = np.polynomial.polynomial.polyval(np.asarray(lam), alphas)
    want = np.asarray(u) @ np.diag(p_of_lam) @ np.asarray(u).T @ x
    np.testing.assert_allclose(np.asarray(spectral.polynomial_filter(lap, alphas, x)), want, atol=1e-12)
    np.testing.assert_allclose(np.asarray(spectral.spectral_filter(u, p_of_lam, x)), want, atol=1e-12)
    theta = spectral.monomial_to_chebyshev(alphas, 2.0)
    np.testing.assert_allclose(np.asarray(spectral.chebyshev_filter(lap, theta, x, 2.0)), want, atol=1e-12)
    jitted = jax.jit(spectral.chebyshev_filter, static_argnums=3)
    np.testing.assert_allclose(np.asarray(jitted(lap, theta, x, 2.0)), want, atol=1e-12)
    # the Chebyshev coefficients against numpy's Chebyshev series of p(lambda) on [0, 2]
    t = np.linspace(-1, 1, 7)
    np.testing.assert_allclose(np.polynomial.chebyshev.chebval(t, theta),
                               np.polynomial.polynomial.polyval(t + 1, alphas), atol=1e-12)


def test_spectral_convolution_matches_formula_and_is_commutative(x64):
    a, _ = karate_club()
    lam, u = spectral.fourier_basis(spectral.laplacian(np.asarray(a, np.float64)))
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=34), rng.normal(size=34)
    u = np.asarray(u)
    want = u @ ((u.T @ x) * (u.T @ y))
    np.testing.assert_allclose(np.asarray(spectral.spectral_convolution(u, x, y)), want, atol=1e-12)
    np.testing.assert_allclose(np.asarray(spectral.spectral_convolution(u, y, x)), want, atol=1e-12)


@pytest.mark.parametrize("call, match", [
    (lambda: spectral.laplacian(np.triu(np.ones((3, 3)))), "a_NxN must be symmetric"),
    (lambda: spectral.laplacian(np.ones((2, 3))), "a_NxN must be a square"),
    (lambda: spectral.polynomial_filter(np.eye(3), np.ones((2, 2)), np.ones(3)), "alphas must be"),
    (lambda: spectral.chebyshev_filter(np.eye(3), np.ones(2), np.ones(3), 0.0), "lambda_max must be > 0"),
])
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()
