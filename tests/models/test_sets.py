"""DeepSets: pooling against NumPy, exact invariance/equivariance over all permutations, the equivariant layer against
the dense formula XΛ + (1/n)11ᵀXΓ + 1bᵀ, and masks for sets of different sizes."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dl_theory.models.graph.sets import deep_sets, equivariant_layer, equivariant_net, pool, rounding_bound

NUMPY_POOL = {"sum": np.sum, "mean": np.mean, "max": np.max}


@pytest.mark.parametrize("kind", ["sum", "mean", "max"])
def test_pool_matches_numpy_with_masks(kind):
    h = np.random.default_rng(0).normal(size=(3, 5, 4))
    sizes = [5, 2, 0]
    mask = np.arange(5)[None, :] < np.array(sizes)[:, None]
    out = np.asarray(pool(h, mask, kind))
    for b, n in enumerate(sizes):
        np.testing.assert_allclose(out[b], NUMPY_POOL[kind](h[b, :n], axis=0) if n else 0.0, rtol=1e-6)


@pytest.mark.parametrize("pooling", ["sum", "mean", "max"])
def test_deep_sets_invariant_under_every_permutation(x64, key, pooling):
    model = deep_sets((16,), 8, (16,), 3, pooling=pooling)
    x = jax.random.normal(key, (1, 5, 2))
    _, params = model.init(jax.random.key(1), x.shape)
    perms = np.array(list(itertools.permutations(range(5))))
    outs = jax.vmap(lambda p: model.apply(params, x[:, p]))(perms)
    ref = model.apply(params, x)
    np.testing.assert_allclose(outs, jnp.broadcast_to(ref, outs.shape), rtol=0, atol=1e-13 * float(jnp.max(
        jnp.abs(ref))) + 1e-15)
    if pooling == "max":
        np.testing.assert_array_equal(outs, jnp.broadcast_to(ref, outs.shape))  # max does not re-associate


def test_equivariant_layer_matches_dense_formula_and_commutes_with_permutations(x64, key):
    for pooling, scale in (("mean", 1 / 6), ("sum", 1.0)):
        layer = equivariant_layer(3, pooling=pooling)
        x = jax.random.normal(key, (2, 6, 4))
        _, p = layer.init(jax.random.key(1), x.shape)
        p = {**p, "b": jnp.arange(3.0)}
        ones = np.ones((6, 6))
        expected = [xb @ p["lam"] + scale * ones @ xb @ p["gamma"] + np.ones((6, 1)) * p["b"][None, :]
                    for xb in np.asarray(x)]
        np.testing.assert_allclose(layer.apply(p, x), np.stack(expected), rtol=1e-12)
    net = equivariant_net((8, 8), 2)
    x = jax.random.normal(key, (1, 5, 3))
    _, params = net.init(jax.random.key(2), x.shape)
    ref = net.apply(params, x)
    perms = np.array(list(itertools.permutations(range(5))))
    outs = jax.vmap(lambda p: net.apply(params, x[:, p]))(perms)
    np.testing.assert_allclose(outs, jnp.stack([ref[:, p] for p in perms]), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("pooling", ["sum", "mean", "max"])
def test_padding_is_ignored(key, pooling):
    sizes = np.array([3, 6])
    x = jax.random.normal(key, (2, 6, 2))
    mask = np.arange(6)[None, :] < sizes[:, None]
    garbage = jnp.where(mask[..., None], x, 100.0)
    model = deep_sets((8,), 4, (8,), 1, pooling=pooling)
    _, params = model.init(jax.random.key(1), x.shape)
    np.testing.assert_allclose(model.apply(params, garbage, mask=mask)[0], model.apply(params, x[:1, :3])[0],
                               rtol=1e-5)
    net = equivariant_net((8,), 2, pooling=pooling)
    _, q = net.init(jax.random.key(2), x.shape)
    out = net.apply(q, garbage, mask=mask)
    np.testing.assert_allclose(out[0, :3], net.apply(q, x[:1, :3])[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out[0, 3:], 0.0)


def test_bad_input_raises(key):
    model = deep_sets((4,), 2, (4,), 1)
    _, params = model.init(key, (1, 3, 2))
    with pytest.raises(ValueError, match="mask_BxN must be"):
        model.apply(params, jnp.ones((1, 3, 2)), mask=jnp.ones((1, 4), bool))
    with pytest.raises(ValueError, match="pooling must be"):
        deep_sets((4,), 2, (4,), 1, pooling="median")
    with pytest.raises(ValueError, match="x_BxNxD must be"):
        pool(jnp.ones(3))


def test_rounding_bound_closed_form_and_holds(key):
    w = jax.random.normal(key, (4, 3))
    x = jax.random.normal(jax.random.key(1), (5, 4))
    u = float(jnp.finfo(jnp.float32).eps) / 2
    bound = rounding_bound(lambda p, v: v @ p, w, x, 6)
    np.testing.assert_allclose(bound, 2 * 6 * u / (1 - 6 * u) * (np.abs(x) @ np.abs(w)), rtol=1e-6)
    model = deep_sets((16,), 16, (16,), 2, pooling="sum")
    x = jax.random.normal(key, (1, 300, 3))
    _, params = model.init(jax.random.key(2), x.shape)
    ref = model.apply(params, x)
    bound = rounding_bound(model.apply, params, x, 300 + 1 + 4 * 18)
    for i in range(5):
        perm = np.random.default_rng(i).permutation(300)
        assert np.all(np.abs(model.apply(params, x[:, perm]) - ref) <= bound)
    with pytest.raises(ValueError, match="n_terms must be"):
        rounding_bound(model.apply, params, x, 10**8)
