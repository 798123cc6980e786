"""Binary kl, its upper inverse (vs a 60-digit reference), and the diagonal-Gaussian KL (vs dense / MC)."""

import decimal
from decimal import Decimal

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import xlogy

from dl_theory.generalization.pac_bayes import (
    binary_kl,
    diag_gaussian,
    kl_diag_gaussians,
    kl_divergence,
    kl_inv_upper,
    kl_inv_upper_diff,
)

QS = [0.0, 1e-10, 1e-6, 1e-3, 0.05, 0.3, 0.5, 0.9, 0.999, 1 - 1e-9, 1.0]
CS = [0.0, 1e-8, 1e-4, 0.01, 0.1, 1.0, 5.0, 30.0, 1e3]


def _kl_ref(q: float, p: float) -> float:
    if p >= 1.0:
        return 0.0 if q == 1.0 else np.inf
    return float(xlogy(q, q) - xlogy(q, p) + xlogy(1 - q, 1 - q) - (1 - q) * np.log1p(-p))


def _inv_ref(q: float, c: float) -> float:
    """sup{p in [q, 1]: kl(q||p) <= c} by bisection in 60-digit decimal arithmetic (a high-precision reference)."""
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        q_d, c_d, one = Decimal(q), Decimal(c), Decimal(1)

        def kl(p):
            if p >= one:
                return Decimal("Infinity")
            first = q_d * (q_d / p).ln() if q_d > 0 else Decimal(0)
            second = (one - q_d) * ((one - q_d) / (one - p)).ln() if q_d < 1 else Decimal(0)
            return first + second

        if c_d == 0:
            return q
        lo, hi = q_d, one
        while hi - lo > Decimal("1e-30") * hi:
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if kl(mid) > c_d else (mid, hi)
        return float(hi)


def test_binary_kl_matches_reference(x64):
    q, p = np.meshgrid([0.0, 0.1, 0.5, 1.0], [1e-3, 0.2, 0.7, 0.999])
    expected = np.vectorize(_kl_ref)(q, p)
    np.testing.assert_allclose(binary_kl(q, p), expected, rtol=1e-13, atol=1e-15)
    assert binary_kl(0.3, 1.0) == np.inf and binary_kl(0.3, 0.0) == np.inf and binary_kl(1.0, 1.0) == 0.0


def test_kl_inverse_matches_brentq_on_grid_with_edges(x64):
    q, c = np.meshgrid(QS, CS, indexing="ij")
    expected = np.vectorize(_inv_ref)(q, c)
    got = np.asarray(kl_inv_upper(q, c))
    rel = np.abs(got - expected) / np.maximum(expected, 1e-300)
    assert rel.max() < 1e-13, (rel.max(), np.unravel_index(rel.argmax(), rel.shape))
    # the upper end of the bisection bracket (or the rounded closed form at q = 0) understates by at most one ulp
    assert np.all(got >= expected - np.spacing(expected) - 1e-40)


def test_kl_inverse_float32_against_float64_reference():
    q32 = np.array(QS[:-2] + [1.0], np.float32)
    q, c = np.meshgrid(q32.astype(np.float64), CS, indexing="ij")
    expected = np.vectorize(_inv_ref)(q, c)
    got = np.asarray(kl_inv_upper(q.astype(np.float32), c.astype(np.float32)))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=4e-7, atol=0)


def test_kl_inverse_exact_edges(x64):
    c = np.array([0.0, 1e-12, 0.5, 3.0, 700.0, np.inf])
    np.testing.assert_allclose(kl_inv_upper(0.0, c), -np.expm1(-c), rtol=2.5e-16, atol=0)  # XLA's expm1 rounding
    np.testing.assert_array_equal(kl_inv_upper(1.0, c), np.ones_like(c))
    np.testing.assert_array_equal(kl_inv_upper(np.array([0.2, 0.7]), np.inf), [1.0, 1.0])
    assert kl_inv_upper(0.3, 1e4) == 1.0
    assert abs(float(kl_inv_upper(0.3, 0.0)) - 0.3) <= 2 * np.spacing(0.3)


@settings(max_examples=60, deadline=None)
@given(st.floats(0.0, 0.995), st.floats(1e-7, 8.0))
def test_kl_of_inverse_equals_bound(q, c):
    with jax.enable_x64(True):
        p = float(kl_inv_upper(q, c))
    if p >= 1.0:
        assert _kl_ref(q, np.nextafter(1.0, 0.0)) <= c * (1 + 1e-12)
        return
    slope = (p - q) / (p * (1 - p))  # d kl / d p: one-ulp uncertainty in p moves kl by slope * ulp
    assert abs(_kl_ref(q, p) - c) <= 1e-12 * c + 4 * slope * np.spacing(p) + 1e-15


@settings(max_examples=40, deadline=None)
@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 20.0), st.floats(0.0, 20.0))
def test_kl_inverse_is_monotone(q1, q2, c1, c2):
    with jax.enable_x64(True):
        (q1, q2), (c1, c2) = sorted([q1, q2]), sorted([c1, c2])
        a, b, c = (float(kl_inv_upper(q, k)) for q, k in ((q1, c1), (q2, c1), (q2, c2)))
        # Monotone up to the inverse's own precision (a few ulps, as above): at q = 0 the closed form 1 - exp(-c)
        # and the bisection at q = 1e-291 agree to the last bit or one ulp apart.
        assert a <= b + 4 * np.spacing(b) and b <= c + 4 * np.spacing(c)


def test_kl_inverse_rejects_bad_input():
    with pytest.raises(ValueError, match=r"q must be in \[0, 1\]"):
        kl_inv_upper(1.2, 0.1)
    with pytest.raises(ValueError, match="c must be >= 0"):
        kl_inv_upper(0.2, -0.1)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        binary_kl(0.2, -0.5)


def test_differentiable_inverse_gradients_vs_finite_differences(x64):
    q = jnp.array([1e-3, 0.05, 0.2, 0.5, 0.8])
    c = jnp.array([0.3, 0.01, 0.1, 0.05, 0.02])
    np.testing.assert_array_equal(kl_inv_upper_diff(q, c), kl_inv_upper(q, c))
    grad_q, grad_c = jax.grad(lambda q, c: jnp.sum(kl_inv_upper_diff(q, c)), argnums=(0, 1))(q, c)
    h = 1e-7
    fd_q = (kl_inv_upper(q + h * q, c) - kl_inv_upper(q - h * q, c)) / (2 * h * q)
    fd_c = (kl_inv_upper(q, c + h * c) - kl_inv_upper(q, c - h * c)) / (2 * h * c)
    np.testing.assert_allclose(grad_q, fd_q, rtol=1e-6)
    np.testing.assert_allclose(grad_c, fd_c, rtol=1e-6)
    # jit + forward mode agree with reverse mode; saturated inverse has zero gradient
    jvp_c = jax.jit(lambda c: jax.jvp(lambda t: kl_inv_upper_diff(q, t), (c,), (jnp.ones_like(c),))[1])(c)
    np.testing.assert_allclose(jvp_c, grad_c, rtol=1e-12)
    assert jax.grad(kl_inv_upper_diff, argnums=1)(0.2, 50.0) == 0.0


def _dense_gaussian_kl(mu_q, var_q, mu_p, var_p):
    """General formula with full covariance matrices (slogdet, solve): an independent reference."""
    cov_q, cov_p = np.diag(var_q), np.diag(var_p)
    d = len(mu_q)
    diff = mu_p - mu_q
    _, logdet_q = np.linalg.slogdet(cov_q)
    _, logdet_p = np.linalg.slogdet(cov_p)
    trace = np.trace(np.linalg.solve(cov_p, cov_q))
    return 0.5 * (trace + diff @ np.linalg.solve(cov_p, diff) - d + logdet_p - logdet_q)


def _tree(rng, scale=1.0, offset=0.0):
    return {"w": offset + scale * rng.random((3, 4)), "b": offset + scale * rng.random(4)}


def test_gaussian_kl_vs_dense_closed_form(x64):
    rng = np.random.default_rng(0)
    mean_q, mean_p = _tree(rng, 2.0, -1.0), _tree(rng, 2.0, -1.0)
    var_q, var_p = _tree(rng, 0.5, 0.05), _tree(rng, 0.5, 0.05)

    def flat(t):
        return np.concatenate([np.ravel(x) for x in jax.tree.leaves(t)])

    expected = _dense_gaussian_kl(flat(mean_q), flat(var_q), flat(mean_p), flat(var_p))
    np.testing.assert_allclose(kl_diag_gaussians(mean_q, var_q, mean_p, var_p), expected, rtol=1e-12)
    lam = 0.3  # isotropic prior N(theta_0, lam I), lam a variance
    expected_iso = _dense_gaussian_kl(flat(mean_q), flat(var_q), flat(mean_p), np.full(16, lam))
    np.testing.assert_allclose(kl_diag_gaussians(mean_q, var_q, mean_p, lam), expected_iso, rtol=1e-12)


def test_gaussian_kl_vs_monte_carlo(key, x64):
    mean_q, var_q = jnp.array([0.3, -1.0, 2.0]), jnp.array([0.5, 1.5, 0.2])
    mean_p, lam = jnp.array([0.0, 0.5, 1.0]), 0.8
    samples_Mx3 = mean_q[None] + jnp.sqrt(var_q)[None] * jax.random.normal(key, (200_000, 3))
    log_q_M = jax.scipy.stats.norm.logpdf(samples_Mx3, mean_q[None], jnp.sqrt(var_q)[None]).sum(1)
    log_p_M = jax.scipy.stats.norm.logpdf(samples_Mx3, mean_p[None], jnp.sqrt(lam)).sum(1)
    log_ratio = log_q_M - log_p_M
    estimate, se = float(log_ratio.mean()), float(log_ratio.std() / np.sqrt(len(log_ratio)))
    exact = float(kl_diag_gaussians(mean_q, var_q, mean_p, lam))
    assert abs(estimate - exact) < 4 * se, (estimate, exact, se)


def test_posterior_kl_zero_at_prior_and_errors():
    prior = diag_gaussian({"w": jnp.ones((2, 3)), "b": jnp.zeros(3)}, 0.1)
    assert float(kl_divergence(prior, prior)) == 0.0
    other = diag_gaussian({"w": jnp.ones((2, 3))}, 0.1)
    with pytest.raises(ValueError, match="pytrees of the same structure"):
        kl_divergence(other, prior)
    wrong_shape = diag_gaussian({"w": jnp.ones((3, 2)), "b": jnp.zeros(3)}, 0.1)
    with pytest.raises(ValueError, match=r"leaf \['w'\] must be of the same shape"):
        kl_divergence(wrong_shape, prior)
    with pytest.raises(ValueError, match="var_q must be > 0"):
        kl_diag_gaussians(jnp.zeros(2), jnp.array([0.1, -0.2]), jnp.zeros(2), 1.0)
    with pytest.raises(ValueError, match="var_p must be > 0"):
        kl_diag_gaussians(jnp.zeros(2), jnp.ones(2), jnp.zeros(2), -1.0)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        diag_gaussian(jnp.zeros(2), -0.1)
