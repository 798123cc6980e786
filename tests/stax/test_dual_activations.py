"""Dual activations vs direct 2-D integration of E[phi(u) phi(v)] and E[phi'(u) phi'(v)], (u, v) Gaussian.

The reference integrates in polar coordinates, (z1, z2) = R (cos a, sin a), where u = sqrt(q11) R cos(a) and
v = sqrt(q22) R cos(a - beta), cos(beta) = rho: the kinks of piecewise activations (u = 0 or v = 0) sit at
fixed angles, so adaptive quadrature (scipy dblquad) over each angular sector is accurate to ~1e-10.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special

from dl_theory.stax import dual_activations as da
from dl_theory.stax import dual_numerical as dn
from dl_theory.stax import dual_polynomial as dp


def gaussian_expectation(f, g, q12, q11, q22, r_max=13.0):
    """E[f(u) g(v)] for (u, v) ~ N(0, [[q11, q12], [q12, q22]]) by sector-wise polar dblquad."""
    rho = np.clip(q12 / math.sqrt(q11 * q22), -1.0, 1.0)
    beta = math.acos(rho)
    kinks = np.mod([np.pi / 2, 3 * np.pi / 2, beta + np.pi / 2, beta + 3 * np.pi / 2], 2 * np.pi)
    edges = np.unique(np.concatenate([[0.0, 2 * np.pi], kinks]))

    def integrand(r, a):
        u = math.sqrt(q11) * r * math.cos(a)
        v = math.sqrt(q22) * r * math.cos(a - beta)
        return f(u) * g(v) * r * math.exp(-r * r / 2) / (2 * np.pi)

    return sum(integrate.dblquad(integrand, lo, hi, 0.0, r_max, epsabs=1e-12, epsrel=1e-11)[0]
               for lo, hi in zip(edges[:-1], edges[1:], strict=True) if hi - lo > 1e-14)


def step(x):
    return float(x >= 0)


# name -> (dual map, phi, phi') with phi' the a.e. derivative (no delta terms, as autodiff sees it).
ACTIVATIONS = {
    "relu": (lambda *q: da.ab_relu(*q, a=0.0, b=1.0), lambda x: max(x, 0.0), step),
    "leaky_relu": (lambda *q: da.ab_relu(*q, a=0.2, b=1.0), lambda x: max(x, 0.2 * x),
                   lambda x: 1.0 if x >= 0 else 0.2),
    "abs": (lambda *q: da.ab_relu(*q, a=-1.0, b=1.0), abs, lambda x: math.copysign(1.0, x)),
    "ab_relu": (lambda *q: da.ab_relu(*q, a=-0.4, b=1.3), lambda x: -0.4 * min(x, 0) + 1.3 * max(x, 0),
                lambda x: 1.3 if x >= 0 else -0.4),
    "sign": (da.sign, lambda x: float(np.sign(x)), lambda x: 0.0),
    "erf": (lambda *q: da.erf(*q, a=1.5, b=0.7, c=0.3), lambda x: 1.5 * math.erf(0.7 * x) + 0.3,
            lambda x: 1.5 * 0.7 * 2 / math.sqrt(math.pi) * math.exp(-0.49 * x * x)),
    "gelu": (da.gelu, lambda x: x * special.ndtr(x),
             lambda x: special.ndtr(x) + x * math.exp(-x * x / 2) / math.sqrt(2 * math.pi)),
    "sin": (lambda *q: da.sin(*q, a=1.2, b=0.8, c=0.4), lambda x: 1.2 * math.sin(0.8 * x + 0.4),
            lambda x: 0.96 * math.cos(0.8 * x + 0.4)),
    "cos": (lambda *q: da.sin(*q, a=0.9, b=1.1, c=0.2 + np.pi / 2), lambda x: 0.9 * math.cos(1.1 * x + 0.2),
            lambda x: -0.99 * math.sin(1.1 * x + 0.2)),
    "rbf": (lambda *q: da.rbf(*q, gamma=0.6),
            lambda x: math.sqrt(2) * math.sin(math.sqrt(1.2) * x + np.pi / 4),
            lambda x: math.sqrt(2.4) * math.cos(math.sqrt(1.2) * x + np.pi / 4)),
    "exp": (lambda *q: da.exp(*q, a=0.7, b=0.5), lambda x: 0.7 * math.exp(0.5 * x),
            lambda x: 0.35 * math.exp(0.5 * x)),
    "gaussian": (lambda *q: da.gaussian(*q, a=1.1, b=-0.6), lambda x: 1.1 * math.exp(-0.6 * x * x),
                 lambda x: -1.32 * x * math.exp(-0.6 * x * x)),
    "polynomial": (dp.polynomial([0.5, -1.0, 0.3, 0.2]), lambda x: 0.5 - x + 0.3 * x**2 + 0.2 * x**3,
                   lambda x: -1.0 + 0.6 * x + 0.6 * x**2),
    "monomial_5": (dp.polynomial([0, 0, 0, 0, 0, 1]), lambda x: x**5, lambda x: 5 * x**4),
    "rect_monomial_0": (dp.rectified_monomial(0), step, lambda x: 0.0),
    "rect_monomial_1": (dp.rectified_monomial(1), lambda x: max(x, 0.0), step),
    "rect_monomial_2": (dp.rectified_monomial(2), lambda x: max(x, 0.0) ** 2, lambda x: 2 * max(x, 0.0)),
    "rect_monomial_3": (dp.rectified_monomial(3), lambda x: max(x, 0.0) ** 3, lambda x: 3 * max(x, 0.0) ** 2),
}
# (q12, q11, q22): generic, anticorrelated, uncorrelated, nearly collinear.
POINTS = [(0.3, 1.0, 0.7), (-0.5, 0.8, 1.3), (0.0, 0.5, 2.0), (0.899, 0.9, 0.9)]


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_dual_matches_integration(name, x64):
    dual, phi, dphi = ACTIVATIONS[name]
    for q12, q11, q22 in POINTS:
        t, t_dot = dual(jnp.float64(q12), jnp.float64(q11), jnp.float64(q22))
        np.testing.assert_allclose(t, gaussian_expectation(phi, phi, q12, q11, q22), rtol=1e-8, atol=1e-10)
        expected_dot = gaussian_expectation(dphi, dphi, q12, q11, q22)
        np.testing.assert_allclose(t_dot, expected_dot, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_dual_diagonal_is_second_moment(name, x64):
    """At q12 = q11 = q22 = q the map is E[phi(u)^2], u ~ N(0, q) (no NaN from the degenerate angle)."""
    dual, phi, _ = ACTIVATIONS[name]
    for q in (0.4, 1.7):
        t, _ = dual(jnp.float64(q), jnp.float64(q), jnp.float64(q))
        density = lambda x, q=q: phi(x) ** 2 * math.exp(-x * x / (2 * q)) / math.sqrt(2 * np.pi * q)
        expected = sum(integrate.quad(density, lo, hi, epsabs=1e-13)[0] for lo, hi in ((-40, 0), (0, 40)))
        np.testing.assert_allclose(t, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", sorted(set(ACTIVATIONS) - {"sign", "rect_monomial_0"}))
def test_t_dot_is_autodiff_derivative(name, x64):
    dual, _, _ = ACTIVATIONS[name]
    for q12, q11, q22 in POINTS:
        grad = jax.grad(lambda q, q11=q11, q22=q22: dual(q, jnp.float64(q11), jnp.float64(q22))[0])(
            jnp.float64(q12))
        _, t_dot = dual(jnp.float64(q12), jnp.float64(q11), jnp.float64(q22))
        np.testing.assert_allclose(grad, t_dot, rtol=1e-10, atol=1e-12)


def test_zero_variance_is_finite(x64):
    """A zero input (q11 = q12 = 0) gives the q11 -> 0+ limit E[phi(u)] E[phi(v)], and finite gradients.

    For u ~ N(0, eps), E[phi(u)] -> (phi(0+) + phi(0-)) / 2: phi(0) where phi is continuous, 1/2 for a step.
    """
    zero, q22 = jnp.float64(0.0), jnp.float64(1.3)
    for name, (dual, phi, _) in ACTIVATIONS.items():
        t, t_dot = dual(zero, zero, q22)
        assert np.isfinite(t) and np.isfinite(t_dot), name
        mean_u = (phi(1e-300) + phi(-1e-300)) / 2
        density = lambda x, phi=phi: phi(x) * math.exp(-x * x / (2 * 1.3)) / math.sqrt(2 * np.pi * 1.3)
        expected = mean_u * integrate.quad(density, -40, 40, points=[0.0])[0]
        np.testing.assert_allclose(t, expected, atol=1e-9, err_msg=name)
        assert np.all(np.isfinite(jax.grad(lambda q, dual=dual: dual(q, q, q22)[0])(zero))), name


def test_hermite_is_mehler_at_unit_variance(x64):
    for degree in range(5):
        phi = lambda x, n=degree: special.eval_hermitenorm(n, x) / math.sqrt(math.factorial(n))
        t, t_dot = da.hermite(jnp.float64(0.35), 1.0, 1.0, degree=degree)
        np.testing.assert_allclose(t, gaussian_expectation(phi, phi, 0.35, 1.0, 1.0), rtol=1e-8, atol=1e-11)
        np.testing.assert_allclose(t_dot, degree * 0.35 ** max(degree - 1, 0) * (degree > 0), rtol=1e-12)


def test_monomials_match_explicit_moments(x64):
    """E[u^n v^n] for n <= 5 (Isserlis), written out: 2q12^2 + P, 6q12^3 + 9 q12 P, ... with P = q11 q22."""
    q12, q11, q22 = 0.3, 1.1, 0.6
    p = q11 * q22
    expected = [1.0, q12, 2 * q12**2 + p, 6 * q12**3 + 9 * q12 * p,
                3 * (8 * q12**4 + 3 * p * (8 * q12**2 + p)), 15 * q12 * (8 * q12**4 + 5 * p * (8 * q12**2 + 3 * p))]
    for n, value in enumerate(expected):
        t, t_dot = dp.polynomial([0] * n + [1])(jnp.float64(q12), q11, q22)
        np.testing.assert_allclose(t, value, rtol=1e-13)
        np.testing.assert_allclose(t_dot, n**2 * expected[n - 1] if n else 0.0, rtol=1e-13)


def test_arc_cosine_closed_forms(x64):
    """Cho & Saul (2009): J0 = pi - t, J1 = sin t + (pi - t) cos t, J2 = 3 sin t cos t + (pi - t)(1 + 2cos^2 t)."""
    assert dp._arc_cosine_terms(0) == {(1, 0, 0): 1}
    assert dp._arc_cosine_terms(1) == {(0, 0, 1): 1, (1, 1, 0): 1}
    assert dp._arc_cosine_terms(2) == {(0, 1, 1): 3, (1, 0, 2): 1, (1, 2, 0): 3}
    for degree in range(6):
        assert all(b + e == degree and e >= 0 for (_, b, e) in dp._arc_cosine_terms(degree))


PHI_JAX = {
    "erf": lambda x: 1.5 * jax.scipy.special.erf(0.7 * x) + 0.3,
    "gelu": lambda x: jax.nn.gelu(x, approximate=False),
    "sin": lambda x: 1.2 * jnp.sin(0.8 * x + 0.4),
    "exp": lambda x: 0.7 * jnp.exp(0.5 * x),
    "gaussian": lambda x: 1.1 * jnp.exp(-0.6 * x**2),
    "polynomial": lambda x: 0.5 - x + 0.3 * x**2 + 0.2 * x**3,
    "rbf": lambda x: jnp.sqrt(2.0) * jnp.sin(jnp.sqrt(1.2) * x + jnp.pi / 4),
}


@pytest.mark.parametrize("name", ["erf", "gelu", "sin", "exp", "gaussian", "polynomial", "rbf"])
def test_numerical_dual_matches_closed_form(name, x64):
    dual, _, _ = ACTIVATIONS[name]
    numerical, diag = dn.numerical(PHI_JAX[name], deg=40)
    q12, q11, q22 = (jnp.array(v) for v in zip(*POINTS, strict=True))
    t, t_dot = numerical(q12, q11, q22)
    expected_t, expected_dot = dual(q12, q11, q22)
    np.testing.assert_allclose(t, expected_t, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(t_dot, expected_dot, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(diag(q11), dual(q11, q11, q11)[0], rtol=1e-8)


def test_numerical_rejects_bad_degree():
    with pytest.raises(ValueError, match="deg"):
        dn.numerical(jnp.tanh, deg=0)
