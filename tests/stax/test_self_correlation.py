"""Self-correlations (a point and position paired with itself) have correlation exactly 1.

Regression test for a float32 bug: the arc-cosine angle of the ``nngp`` diagonal (``x2=None``) and of ``cov1``
came out as ~sqrt(2 eps) instead of 0 when a compiler contracted ``q11*q22 - q12**2`` into an FMA or when
``nngp[i, i]`` and ``cov1[i]`` differed by one ulp, so the ReLU NTK diagonal differed between eager and
``jax.jit`` by 3e-5 relative (Sign's NNGP by 7e-3). References here are closed forms evaluated in float64 from
the inputs, and quadrature for GELU.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special

import dl_theory.stax as stax
from dl_theory.stax import dual_activations as da
from dl_theory.stax.kernel import self_pairs

N, D, WIDTH = 6, 7, 512
RTOL = 2e-6  # float32 rounding of a few chained kernel operations


def _gelu_second_moment(q: float) -> float:
    """E[(u Phi(u))^2], u ~ N(0, q), by adaptive quadrature."""
    f = lambda u: (u * special.ndtr(u)) ** 2 * math.exp(-u * u / (2 * q)) / math.sqrt(2 * math.pi * q)
    return sum(integrate.quad(f, lo, hi, epsabs=1e-14, epsrel=1e-12)[0] for lo, hi in ((-60, 0), (0, 60)))


def _gelu_t_dot(q: float) -> float:
    """E[phi'(u)^2] for GELU, phi'(u) = Phi(u) + u phi(u), by adaptive quadrature."""
    d = lambda u: special.ndtr(u) + u * math.exp(-u * u / 2) / math.sqrt(2 * math.pi)
    f = lambda u: d(u) ** 2 * math.exp(-u * u / (2 * q)) / math.sqrt(2 * math.pi * q)
    return sum(integrate.quad(f, lo, hi, epsabs=1e-14, epsrel=1e-12)[0] for lo, hi in ((-60, 0), (0, 60)))


# name -> (layer, q -> E[phi(u)^2], q -> E[phi'(u)^2]) for u ~ N(0, q): the diagonal of T and T'.
A, B = -0.3, 1.2
ACTIVATIONS = {
    "relu": (stax.Relu, lambda q: q / 2, lambda q: 0.5),
    "ab_relu": (lambda: stax.ABRelu(A, B), lambda q: (A**2 + B**2) / 2 * q, lambda q: (A**2 + B**2) / 2),
    "sign": (stax.Sign, lambda q: 1.0, lambda q: 0.0),
    "erf": (
        stax.Erf,
        lambda q: 2 / math.pi * math.asin(2 * q / (1 + 2 * q)),
        lambda q: 4 / (math.pi * math.sqrt(1 + 4 * q)),
    ),
    "gelu": (stax.Gelu, _gelu_second_moment, _gelu_t_dot),
}


def _inputs() -> np.ndarray:
    return np.random.default_rng(3).standard_normal((N, D)).astype(np.float32)


def _diagonal_reference(name: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form ``(nngp, ntk)`` diagonal of ``Dense(W_std=1) -> phi -> Dense(1)`` in float64.

    With ``q = |x|^2 / D``: ``nngp = T(q)`` and ``ntk = T(q) + T'(q) * q`` (the first Dense has NTK ``q``).
    """
    _, second_moment, t_dot = ACTIVATIONS[name]
    q = (x.astype(np.float64) ** 2).sum(axis=1) / D
    nngp = np.array([second_moment(v) for v in q])
    return nngp, nngp + np.array([t_dot(v) for v in q]) * q


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_diagonal_is_exact_and_jit_invariant(name):
    """Eager and jit agree on the diagonal to 1e-6 and both equal the closed form (float32)."""
    _, _, kernel_fn = stax.serial(stax.Dense(WIDTH), ACTIVATIONS[name][0](), stax.Dense(1))
    x = _inputs()
    eager = kernel_fn(x, None, ("nngp", "ntk"))
    jitted = jax.jit(kernel_fn, static_argnums=2)(x, None, ("nngp", "ntk"))
    for field, expected in zip(("nngp", "ntk"), _diagonal_reference(name, x), strict=True):
        e, j = np.diag(getattr(eager, field)), np.diag(getattr(jitted, field))
        assert e.dtype == np.float32
        np.testing.assert_allclose(j, e, rtol=1e-6, err_msg=f"{field}: jit vs eager")
        np.testing.assert_allclose(e, expected, rtol=RTOL, err_msg=f"{field}: eager vs closed form")
        np.testing.assert_allclose(j, expected, rtol=RTOL, err_msg=f"{field}: jit vs closed form")


@pytest.mark.parametrize("diagonal_batch", [True, False])
def test_deep_relu_sign_jit_invariant(diagonal_batch):
    """Two nonlinearities deep (cov1 self-correlations feed the second): the whole kernels agree to 1e-6.

    The diagonals are exact: ``Dense(1) -> Relu -> Dense(sqrt 2) -> Relu -> Dense(1)`` has ``nngp = q / 2`` and
    ``ntk = 3 q / 2`` (each ReLU halves both, ``T' = 1/2``); the Sign network has ``nngp = ntk = 1``.
    """
    layers = (stax.Dense(WIDTH), stax.Relu(), stax.Dense(WIDTH, W_std=2**0.5), stax.Relu(), stax.Dense(1))
    _, _, relu_fn = stax.serial(*layers)
    _, _, sign_fn = stax.serial(stax.Dense(WIDTH), stax.Sign(), stax.Dense(WIDTH), stax.Sign(), stax.Dense(1))
    x = _inputs()
    q = (x.astype(np.float64) ** 2).sum(axis=1) / D
    for kernel_fn, diagonals in ((relu_fn, (q / 2, 3 * q / 2)), (sign_fn, (np.ones(N), np.ones(N)))):
        f = lambda x, kernel_fn=kernel_fn: kernel_fn(x, None, ("nngp", "ntk"), diagonal_batch=diagonal_batch)
        eager, jitted = f(x), jax.jit(f)(x)
        for field, diagonal in zip(("nngp", "ntk"), diagonals, strict=True):
            scale = np.abs(getattr(eager, field)).max()
            np.testing.assert_allclose(getattr(jitted, field), getattr(eager, field), atol=1e-6 * scale)
            np.testing.assert_allclose(np.diag(getattr(eager, field)), diagonal, rtol=RTOL)
            np.testing.assert_allclose(np.diag(getattr(jitted, field)), diagonal, rtol=RTOL)


def test_conv_full_layout_jit_invariant():
    """Full spatial layout: self-correlations are the batch *and* position diagonal of ``nngp``."""
    _, _, kernel_fn = stax.serial(
        stax.Conv(16, (3,), padding="SAME"), stax.Relu(), stax.Conv(16, (3,), padding="SAME"), stax.Relu(),
        stax.GlobalAvgPool(), stax.Dense(1),
    )
    x = np.random.default_rng(4).standard_normal((3, 5, 2)).astype(np.float32)
    eager = kernel_fn(x, None, "ntk")
    jitted = jax.jit(kernel_fn, static_argnums=2)(x, None, "ntk")
    np.testing.assert_allclose(jitted, eager, rtol=1e-6)


def test_one_ulp_gap_between_nngp_and_cov1():
    """An ``nngp`` diagonal one ulp below ``cov1`` is still a self-correlation when ``x1_is_x2``.

    For the same kernel declared as two different batches (``x1_is_x2 = False``) the entry is an ordinary
    covariance with correlation just below 1, and its ReLU angle is ~sqrt(2 eps) > 0.
    """
    _, _, dense_fn = stax.Dense(WIDTH)
    _, _, relu_fn = stax.Relu()
    k = dense_fn(_inputs(), None)
    k = k.replace(ntk=k.nngp, nngp=k.nngp.at[np.diag_indices(N)].set(np.nextafter(k.cov1, np.float32(0))))
    q = np.asarray(k.cov1)
    out = relu_fn(k)
    np.testing.assert_array_equal(np.diag(out.ntk), np.diag(k.ntk) / 2)  # T' = 1/2 exactly at theta = 0
    np.testing.assert_array_equal(np.diag(out.nngp), q / 2)
    distinct = relu_fn(k.replace(x1_is_x2=jnp.array(False)))
    assert np.all(np.diag(distinct.ntk) < np.diag(k.ntk) / 2)


def test_self_pairs_mask():
    """``self_pairs`` marks exactly the entries with equal batch and position indices (full layout)."""
    _, _, kernel_fn = stax.Conv(4, (2, 2), padding="SAME")
    x = np.ones((2, 3, 4, 1), np.float32)
    k = kernel_fn(x, None)
    assert k.nngp.shape in ((2, 2, 3, 3, 4, 4), (2, 2, 4, 4, 3, 3))  # is_reversed flips the spatial pairs
    mask = np.broadcast_to(self_pairs(k), k.nngp.shape)
    i, j, a, b, c, d = np.indices(mask.shape)
    np.testing.assert_array_equal(mask, (i == j) & (a == b) & (c == d))
    assert not np.any(self_pairs(kernel_fn(x, x + 1)))


def test_angle_exact_zero_and_accurate_near_unit_correlation():
    """``angle`` is 0 at q12 = q11 = q22 under jit (FMA contraction) and accurate where |rho| -> 1."""
    q = jnp.asarray(np.random.default_rng(5).uniform(1e-3, 1e3, 1000), jnp.float32)
    theta, r = jax.jit(da.angle)(q, q, q)
    np.testing.assert_array_equal(r, 0)
    np.testing.assert_array_equal(theta, 0)
    theta_neg, _ = jax.jit(da.angle)(-q, q, q)
    np.testing.assert_array_equal(theta_neg, np.float32(np.pi))
    # Near |rho| = 1 the determinant cancels; compare with float64 on the same float32 inputs.
    q11 = np.float32([1.0, 2.5, 3.0, 0.7])
    q22 = np.float32([1.0, 2.5, 3.0000002, 0.7000001])
    q12 = np.float32([1 - 2**-20, -(2.5 - 2**-18), 3.0, 0.7])
    theta, r = jax.jit(da.angle)(q12, q11, q22)
    r64 = np.sqrt(np.maximum(q11.astype(np.float64) * q22 - q12.astype(np.float64) ** 2, 0))
    np.testing.assert_allclose(r, r64, rtol=1e-6)
    np.testing.assert_allclose(theta, np.arctan2(r64, q12.astype(np.float64)), rtol=1e-6)
