"""linearize / taylor_expand: finite differences, exact polynomials, closed-form Taylor series."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dl_theory.dynamics.taylor import linearize, taylor_expand


def _net(p, x):
    h = jnp.tanh(x @ p["w1"] + p["b"][None])
    return {"y": h @ p["w2"], "s": jnp.sum(h**2, axis=1)}


def _setup():
    rng = np.random.default_rng(0)
    params = {"w1": rng.standard_normal((3, 5)), "b": rng.standard_normal(5), "w2": rng.standard_normal((5, 2))}
    direction = jax.tree.map(lambda a: rng.standard_normal(a.shape), params)
    x = rng.standard_normal((4, 3))
    return (jax.tree.map(jnp.asarray, params), jax.tree.map(jnp.asarray, direction), jnp.asarray(x))


def _shift(params, direction, eps):
    return jax.tree.map(lambda a, d: a + eps * d, params, direction)


def test_linearize_matches_first_order_taylor(x64):
    params, d, x = _setup()
    f_lin = linearize(_net, params)

    @jax.jit
    def run(eps):
        plus, minus = _shift(params, d, eps), _shift(params, d, -eps)
        central = jax.tree.map(lambda a, b: (a - b) / (2 * eps), _net(plus, x), _net(minus, x))
        slope = jax.tree.map(lambda a, b: (a - b) / eps, f_lin(plus, x), _net(params, x))
        remainder = jax.tree.map(lambda a, b: jnp.max(jnp.abs(a - b)), _net(plus, x), f_lin(plus, x))
        return central, slope, remainder, f_lin(params, x)

    central, slope, rem_1, at_0 = run(1e-4)
    for k in ("y", "s"):
        # the linear model's slope is the derivative: central differences agree to O(eps^2)
        np.testing.assert_allclose(slope[k], central[k], rtol=1e-7, atol=1e-7)
        np.testing.assert_allclose(at_0[k], _net(params, x)[k], rtol=0, atol=1e-13)
    _, _, rem_2, _ = run(2e-4)
    for k in ("y", "s"):  # the remainder f - f_lin is second order: doubling eps quadruples it
        assert 3.9 < float(rem_2[k] / rem_1[k]) < 4.1


def test_linearize_is_affine(x64):
    params, d, x = _setup()
    f_lin = jax.jit(linearize(_net, params))
    y0, y1, y3 = (f_lin(_shift(params, d, t), x)["y"] for t in (0.0, 1.0, 3.0))
    np.testing.assert_allclose(y3 - y0, 3 * (y1 - y0), rtol=1e-12, atol=1e-12)


def test_taylor_degree2_is_exact_on_quadratics(x64):
    """For f quadratic in the parameters the second-order expansion reproduces f at any point."""
    params, d, x = _setup()

    def quad(p, x):
        a = x @ p["w1"]
        return {"y": a * p["b"][None] + jnp.sum(p["w2"] ** 2) - 3 * jnp.sum(p["w1"]), "z": jnp.sum(a**2, axis=1)}

    far = _shift(params, d, 2.5)
    got1, got2, want = jax.jit(lambda p: (taylor_expand(quad, params, 1)(p, x), taylor_expand(quad, params, 2)(p, x),
                                          quad(p, x)))(far)
    for k in ("y", "z"):
        np.testing.assert_allclose(got2[k], want[k], rtol=1e-12, atol=1e-10)
        assert float(jnp.max(jnp.abs(got1[k] - want[k]))) > 1.0  # degree 1 is not exact


def test_taylor_series_of_exp_and_consistency(x64):
    """exp expanded at a: sum_k exp(a) delta^k / k!; degree 1 equals linearize, degree 0 is constant."""
    a, b = jnp.asarray(0.3), jnp.asarray(1.1)
    f = lambda p, c: jnp.exp(p * c)  # noqa: E731
    got = jax.jit(lambda p: [taylor_expand(f, a, k)(p, 2.0) for k in range(5)])(b)
    delta = 2.0 * (b - a)
    for k in range(5):
        want = math.exp(0.6) * sum(float(delta) ** j / math.factorial(j) for j in range(k + 1))
        np.testing.assert_allclose(got[k], want, rtol=1e-12)
    np.testing.assert_allclose(got[1], linearize(f, a)(b, 2.0), rtol=1e-12)


def test_errors():
    params, d, x = _setup()
    with pytest.raises(ValueError, match="degree"):
        taylor_expand(_net, params, -1)
    with pytest.raises(ValueError, match="structure"):
        linearize(_net, params)({"w1": params["w1"]}, x)
