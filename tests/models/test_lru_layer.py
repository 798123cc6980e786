"""LRU: stability of the parameterization, ring initialization, scans against a dense loop, depth and work counts."""

import math

import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from scipy import stats as sps

from dl_theory.models.sequence.linear_scan import (
    binary_operator,
    combine_depth,
    combine_work,
    parallel_scan,
    sequential_scan,
)
from dl_theory.models.sequence.lru import eigenvalues, lru, lru_block, lru_model, ring_init

floats = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=150, deadline=None)
@given(nu=floats, phi=st.floats(-1e6, 1e6))
def test_modulus_never_exceeds_one(nu, phi):
    """|lambda| = exp(-exp(nu)) <= 1 for every float (< 1 unless exp(nu) is below float64 resolution at 1); the
    complex number's abs adds at most a rounding of |cos + i sin| to it."""
    eps = np.finfo(np.float64).eps
    with jax.enable_x64(True):
        radius = float(jnp.exp(-jnp.exp(np.float64(nu))))
        modulus = float(jnp.abs(eigenvalues(np.float64(nu), np.float64(phi))))
    assert 0.0 <= radius <= 1.0
    assert modulus <= radius * (1 + 2 * eps)
    if nu > math.log(eps):
        assert radius < 1.0 and modulus < 1.0


def test_ring_init_is_uniform_on_the_annulus():
    r_min, r_max, max_phase = 0.3, 0.95, 2.0
    nu, phi = ring_init(jax.random.key(0), 20_000, r_min, r_max, max_phase)
    modulus = np.abs(np.asarray(eigenvalues(nu, phi)))
    assert modulus.min() >= r_min - 1e-6 and modulus.max() <= r_max + 1e-6
    assert sps.kstest(modulus**2, sps.uniform(r_min**2, r_max**2 - r_min**2).cdf).pvalue > 1e-3
    assert sps.kstest(np.asarray(phi), sps.uniform(0, max_phase).cdf).pvalue > 1e-3
    assert sps.kstest(modulus, sps.uniform(r_min, r_max - r_min).cdf).pvalue < 1e-6  # not uniform in the radius


def _dense_recurrence(a, b):
    x, out = np.zeros_like(b[0]), []
    for a_t, b_t in zip(a, b, strict=True):
        x = a_t * x + b_t
        out.append(x)
    return np.stack(out)


def test_scans_equal_a_dense_loop(x64):
    k_a, k_p, k_b = jax.random.split(jax.random.key(1), 3)
    a = jax.random.uniform(k_a, (37, 3)) * jnp.exp(1j * jax.random.normal(k_p, (37, 3)))  # time-varying
    b = jax.random.normal(k_b, (37, 3)) + 1j * jax.random.normal(k_p, (37, 3))
    want = _dense_recurrence(np.asarray(a), np.asarray(b))
    np.testing.assert_allclose(sequential_scan(a, b), want, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(parallel_scan(a, b), want, rtol=1e-12, atol=1e-13)
    lam = a[0]  # one diagonal for every step broadcasts over time
    np.testing.assert_allclose(parallel_scan(lam[None], b), _dense_recurrence(np.broadcast_to(lam, b.shape), b),
                               rtol=1e-12, atol=1e-13)


def test_binary_operator_is_associative(x64):
    e = [tuple(jax.random.normal(k, (2, 4)) for k in jax.random.split(jax.random.key(i), 2)) for i in range(3)]
    left = binary_operator(binary_operator(e[0], e[1]), e[2])
    right = binary_operator(e[0], binary_operator(e[1], e[2]))
    for lhs, rhs in zip(left, right, strict=True):
        np.testing.assert_allclose(lhs, rhs, rtol=1e-12)


@pytest.mark.parametrize("length", [1, 2, 3, 7, 64, 100, 1025])
def test_depth_and_work_counts(length):
    assert combine_depth(length, "sequential") == length - 1
    assert combine_work(length, "sequential") == length - 1
    parallel = combine_depth(length, "parallel")
    assert parallel <= 2 * math.ceil(math.log2(length)) if length > 1 else parallel == 0
    assert parallel >= math.ceil(math.log2(length))  # no scan on T elements is shallower than log2 T
    assert length - 1 <= combine_work(length, "parallel") <= 2 * length


def test_lru_layer_equals_its_definition(x64):
    init_fn, apply_fn = lru(6, r_min=0.5, r_max=0.9, max_phase=1.0)
    shape, p = jax.jit(init_fn, static_argnums=1)(jax.random.key(0), (2, 11, 3))
    apply_fn = jax.jit(apply_fn)
    u = np.asarray(jax.random.normal(jax.random.key(1), (2, 11, 3)))
    lam = np.exp(-np.exp(np.asarray(p["nu"])) + 1j * np.asarray(p["phi"]))
    np.testing.assert_allclose(np.exp(p["gamma_log"]), np.sqrt(1 - np.abs(lam) ** 2), rtol=1e-12)
    b = (np.asarray(p["B_re"]) + 1j * np.asarray(p["B_im"])) * np.sqrt(1 - np.abs(lam) ** 2)[:, None]
    c = np.asarray(p["C_re"]) + 1j * np.asarray(p["C_im"])
    x, y = np.zeros((2, 6), complex), apply_fn(p, u)
    for t in range(11):
        x = lam[None] * x + u[:, t] @ b.T
        np.testing.assert_allclose(y[:, t], (x @ c.T).real + u[:, t] * np.asarray(p["D"])[None], rtol=1e-10,
                                   atol=1e-12)
    np.testing.assert_allclose(jax.jit(lru(6, parallel=False).apply)(p, u), y, rtol=1e-10, atol=1e-12)
    assert shape == (2, 11, 3)
    assert all(not jnp.iscomplexobj(v) for v in jax.tree.leaves(p))
    grads = jax.jit(jax.grad(lambda q: jnp.sum(apply_fn(q, u) ** 2)))(p)
    assert all(not jnp.iscomplexobj(g) and bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))


def test_block_is_residual_and_model_shapes():
    init_fn, apply_fn = lru_block(4, parallel=False)
    _, p = jax.jit(init_fn, static_argnums=1)(jax.random.key(0), (2, 5, 3))
    apply_fn = jax.jit(apply_fn)
    u = jax.random.normal(jax.random.key(1), (2, 5, 3))
    zero = {**p, "glu_1": {"w": np.zeros((3, 3), np.float32), "b": np.zeros(3, np.float32)}}
    np.testing.assert_array_equal(apply_fn(zero, u), u)
    model = lru_model(4, 8, 2, 3, pool="last")
    params = jax.eval_shape(lambda k: model.init(k, (-1, 5, 2))[1], jax.random.key(0))
    assert jax.eval_shape(model.apply, params, u[..., :2]).shape == (2, 3)


@pytest.mark.parametrize("make,match", [
    (lambda: ring_init(jax.random.key(0), 4, r_min=0.9, r_max=0.5), "r_min"),
    (lambda: ring_init(jax.random.key(0), 4, r_min=0.5, r_max=0.5), "r_min"),
    (lambda: lru(4, r_max=1.0), "r_max"),
    (lambda: lru(4, r_min=-0.1), "r_min"),
    (lambda: lru(4, max_phase=0.0), "max_phase"),
    (lambda: lru(0), "state_dim"),
    (lambda: lru(4).apply(lru(4).init(jax.random.key(0), (1, 3, 2))[1], jnp.zeros((1, 0, 2))), "x_BxTxD"),
    (lambda: parallel_scan(jnp.ones(1), jnp.zeros((0, 2))), "b_TxN"),
    (lambda: combine_depth(8, "tree"), "algorithm"),
])
def test_bad_input_raises(make, match):
    with pytest.raises(ValueError, match=match):
        make()
