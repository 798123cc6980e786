"""Divergences against independent references: numerical integration, scipy, Monte Carlo, explicit inverses."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.optimize
import scipy.spatial.distance
import scipy.stats

from dl_theory import stats
from dl_theory.models.generative import divergences as dv

WEIGHTS, MEANS, VARS = np.array([0.4, 0.6]), np.array([-3.0, 3.0]), np.array([0.5, 0.8])


def _quad_kl(logpdf_p, logpdf_q, lo=-40.0, hi=40.0):
    return scipy.integrate.quad(lambda x: np.exp(logpdf_p(x)) * (logpdf_p(x) - logpdf_q(x)), lo, hi,
                                limit=400, points=[0.0])[0]


def _mixture_logpdf(x):
    return scipy.special.logsumexp(np.log(WEIGHTS) + scipy.stats.norm.logpdf(x, MEANS, np.sqrt(VARS)))


@pytest.mark.parametrize("m0, v0, m1, v1", [(0.0, 1.0, 1.0, 2.0), (0.5, 3.0, -1.0, 0.4), (2.0, 0.1, 2.0, 0.1)])
def test_kl_normal_matches_integration_and_notes_formula_does_not(x64, m0, v0, m1, v1):
    kl = float(dv.kl_diag_gaussian(jnp.array([m0]), jnp.array([v0]), jnp.array([m1]), jnp.array([v1])))
    reference = _quad_kl(lambda x: scipy.stats.norm.logpdf(x, m0, np.sqrt(v0)),
                         lambda x: scipy.stats.norm.logpdf(x, m1, np.sqrt(v1)))
    np.testing.assert_allclose(kl, reference, rtol=1e-8, atol=1e-10)
    notes = float(dv.kl_normal_notes(m0, v0, m1, v1))
    assert (notes == pytest.approx(kl, abs=1e-12)) == (v0 == v1)
    assert float(dv.kl_normal_notes(0.0, 1.0, 0.0, 0.25)) < 0.0  # not a divergence


def test_kl_diag_broadcasts_and_equals_full(x64, key):
    k1, k2, k3, k4 = jax.random.split(key, 4)
    m0, m1 = jax.random.normal(k1, (5, 3)), jax.random.normal(k2, (5, 3))
    v0, v1 = jnp.exp(jax.random.normal(k3, (5, 3))), jnp.exp(jax.random.normal(k4, (5, 3)))
    batched = dv.kl_diag_gaussian(m0, v0, m1, v1)
    assert batched.shape == (5,)
    full = [dv.kl_gaussian(m0[i], jnp.diag(v0[i]), m1[i], jnp.diag(v1[i])) for i in range(5)]
    np.testing.assert_allclose(batched, full, rtol=1e-12)
    np.testing.assert_allclose(jax.jit(dv.kl_diag_gaussian)(m0, v0, m1, v1), batched, rtol=1e-12)


def _random_spd(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.3 * np.eye(d)


def test_kl_full_vs_explicit_inverse_and_monte_carlo(x64):
    rng = np.random.default_rng(0)
    d = 4
    m0, m1 = rng.normal(size=d), rng.normal(size=d)
    c0, c1 = _random_spd(rng, d), _random_spd(rng, d)
    kl = float(dv.kl_gaussian(m0, c0, m1, c1))
    inv1 = np.linalg.inv(c1)
    explicit = 0.5 * (np.trace(inv1 @ c0) + (m1 - m0) @ inv1 @ (m1 - m0) - d
                      + np.linalg.slogdet(c1)[1] - np.linalg.slogdet(c0)[1])
    np.testing.assert_allclose(kl, explicit, rtol=1e-10)
    p, q = scipy.stats.multivariate_normal(m0, c0), scipy.stats.multivariate_normal(m1, c1)
    estimate, stderr = dv.monte_carlo_kl(jax.random.key(1), lambda k, n: p.rvs(n, random_state=2), p.logpdf,
                                         q.logpdf, 20_000)
    assert abs(estimate - kl) <= 5 * stderr


def test_kl_and_js_discrete_vs_scipy(x64):
    rng = np.random.default_rng(1)
    p, q = rng.dirichlet(np.ones(6), size=4), rng.dirichlet(np.ones(6), size=4)
    np.testing.assert_allclose(dv.kl_discrete(p, q), scipy.stats.entropy(p, q, axis=1), rtol=1e-12)
    js = np.asarray(dv.js_discrete(p, q))
    np.testing.assert_allclose(js, scipy.spatial.distance.jensenshannon(p, q, axis=1) ** 2, rtol=1e-10)
    assert np.all((js >= 0) & (js <= np.log(2)))
    disjoint_p, disjoint_q = np.array([0.5, 0.5, 0.0, 0.0]), np.array([0.0, 0.0, 0.3, 0.7])
    assert float(dv.js_discrete(disjoint_p, disjoint_q)) == pytest.approx(np.log(2), rel=1e-12)
    assert float(dv.kl_discrete(disjoint_p, disjoint_q)) == np.inf
    assert float(dv.kl_discrete(p[0], p[0])) == 0.0


def test_forward_fit_is_moment_matching_and_a_minimum(x64):
    mean, var = (float(a) for a in dv.forward_kl_fit(WEIGHTS, MEANS, VARS))
    density = lambda x: np.exp(_mixture_logpdf(x))  # noqa: E731
    np.testing.assert_allclose(mean, scipy.integrate.quad(lambda x: x * density(x), -40, 40, points=[0.0])[0],
                               atol=1e-9)
    np.testing.assert_allclose(var, scipy.integrate.quad(lambda x: (x - mean) ** 2 * density(x), -40, 40,
                                                         points=[0.0])[0], rtol=1e-9)

    def forward_kl(m, v):
        return _quad_kl(_mixture_logpdf, lambda x: scipy.stats.norm.logpdf(x, m, np.sqrt(v)))

    at_fit = forward_kl(mean, var)
    assert all(forward_kl(mean + dm, var * dv_) > at_fit for dm, dv_ in [(0.05, 1), (-0.05, 1), (0, 1.02), (0, 0.98)])
    samples = np.asarray(dv.mixture_sample(jax.random.key(0), 100_000, WEIGHTS, MEANS, VARS))
    m, se = stats.mean_and_stderr(samples)
    assert abs(m - mean) <= 5 * se


def test_reverse_kl_quadrature_and_fit(x64):
    def log_p(x):
        return dv.mixture_log_prob(x, WEIGHTS, MEANS, VARS)

    for mean, var in [(0.0, 6.0), (2.5, 1.0), (-3.0, 0.5)]:
        reference = _quad_kl(lambda x, m=mean, v=var: scipy.stats.norm.logpdf(x, m, np.sqrt(v)), _mixture_logpdf,
                             lo=mean - 12 * np.sqrt(var), hi=mean + 12 * np.sqrt(var))
        np.testing.assert_allclose(float(dv.reverse_kl(log_p, mean, var)), reference, rtol=1e-5)
    mean, var = (float(a) for a in dv.reverse_kl_fit(log_p, 2.0, 0.3, n_steps=1500))

    def reverse(m, v):
        return _quad_kl(lambda x: scipy.stats.norm.logpdf(x, m, np.sqrt(v)), _mixture_logpdf,
                        lo=m - 12 * np.sqrt(v), hi=m + 12 * np.sqrt(v))

    at_fit, h = reverse(mean, var), 1e-3  # a local minimum of the integrated objective: zero slope, upward curvature
    for dm, dvar in [(h, 0.0), (0.0, h)]:
        up, down = reverse(mean + dm, var + dvar), reverse(mean - dm, var - dvar)
        assert abs(up - down) / (2 * h) < 1e-4
        assert up + down - 2 * at_fit > 0


def test_wasserstein1_is_the_stats_one():
    assert dv.wasserstein1 is stats.wasserstein1


@pytest.mark.parametrize("call, match", [
    (lambda: dv.kl_discrete([0.5, 0.6], [0.5, 0.5]), "sum"),
    (lambda: dv.kl_discrete([0.5, 0.5], [0.2, 0.3, 0.5]), "q_xK"),
    (lambda: dv.js_discrete([-0.1, 1.1], [0.5, 0.5]), "p_xK"),
    (lambda: dv.kl_diag_gaussian([0.0], [-1.0], [0.0], [1.0]), "var0_xD"),
    (lambda: dv.kl_gaussian(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2)), "cov0_DxD"),
    (lambda: dv.forward_kl_fit([0.5, 0.5], [0.0, 1.0], [1.0, 0.0]), "vars_K"),
    (lambda: dv.reverse_kl_fit(jnp.negative, 0.0, 1.0, n_steps=0), "n_steps"),
])
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()
