"""Structured derivatives (implementation 3): which weights are factored, and the kernel on the edge cases."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from empirical_models import MODELS, dense_ntk, layout

from dl_theory import stax
from dl_theory.kernels.empirical import empirical_ntk_fn
from dl_theory.kernels.structured import find_products


def _products(apply, params, x):
    leaves, treedef = jax.tree.flatten(params)
    closed = jax.make_jaxpr(lambda *ls: apply(jax.tree.unflatten(treedef, ls), x))(*leaves)
    return sorted(p.leaf for ps in find_products(closed.jaxpr).values() for p in ps)


def _rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - b)) / np.max(np.abs(b)))


def test_dense_weights_are_factored_and_biases_are_not(key):
    params, apply, shape = MODELS["mlp"](key)
    leaves = jax.tree_util.tree_leaves_with_path(params)
    weights = [i for i, (path, _) in enumerate(leaves) if jax.tree_util.keystr(path).endswith("['w']")]
    assert len(weights) == 3
    assert _products(apply, params, jnp.ones(shape)) == weights


def test_weights_in_nested_jit_and_convolution_kernels_are_found(key):
    init_fn, apply_fn, _ = stax.serial(stax.Conv(3, (2, 2), b_std=0.1), stax.Relu(), stax.Flatten(),
                                       stax.Dense(2, b_std=0.1))
    x = jnp.ones((2, 4, 4, 1))
    _, params = init_fn(key, x.shape)
    assert [leaf.shape for leaf in jax.tree.leaves(params)] == [(2, 2, 1, 3), (1, 1, 1, 3), (27, 2), (1, 2)]
    assert _products(jax.jit(apply_fn), params, x) == _products(apply_fn, params, x) == [0, 2]


@pytest.mark.parametrize("vmap_axes", [None, 0])
@pytest.mark.parametrize("axes", [((-1,), ()), ((), (0,))])
def test_convolution_rule_with_strides_padding_and_dilations(x64, vmap_axes, axes):
    """Input patches reproduce every convolution option: NCHW/OIHW layouts, strides, asymmetric padding,
    lhs and rhs dilation; a grouped convolution is differentiated instead (not factored)."""
    conv = dict(window_strides=(1, 2), padding=[(1, 0), (2, 1)], lhs_dilation=(2, 1), rhs_dilation=(1, 2),
                dimension_numbers=("NCHW", "OIHW", "NCHW"))

    def f(p, x):
        y = jnp.tanh(jax.lax.conv_general_dilated(x, p["w"], **conv))
        y = jax.lax.conv_general_dilated(y, p["grouped"], (1, 1), "SAME", dimension_numbers=conv["dimension_numbers"],
                                         feature_group_count=3)
        return y.reshape(x.shape[0], -1) @ p["v"]

    rng = np.random.default_rng(0)
    x1, x2 = (jnp.asarray(rng.standard_normal((3, 2, 5, 6))) for _ in range(2))
    p = {"w": rng.standard_normal((3, 2, 2, 3)), "grouped": rng.standard_normal((3, 1, 2, 2))}
    n_hidden = math.prod(jax.eval_shape(lambda: jax.lax.conv_general_dilated(x1, p["w"], **conv)).shape[1:])
    params = jax.tree.map(jnp.asarray, p | {"v": rng.standard_normal((n_hidden, 2)) / math.sqrt(n_hidden)})
    assert _products(f, params, x1) == [1, 2]  # leaves sorted by key: grouped, v, w
    want = layout(dense_ntk(f, params, x1, x2), 2, *axes)
    got = empirical_ntk_fn(f, *axes, vmap_axes=vmap_axes, implementation=3)(x1, x2, params)
    assert _rel(got, want) < 1e-12


@pytest.mark.parametrize("vmap_axes", [None, 0])
@pytest.mark.parametrize("axes", [((-1,), ()), ((), ()), ((), (0,))])
def test_edge_cases_match_the_dense_reference(x64, key, vmap_axes, axes):
    """A weight used twice (not factored), a weight as the lhs operand, a product of two weights, multi-axis
    contraction (einsum), and a weight used inside a nested jit, all in one function."""
    rng = np.random.default_rng(0)
    shapes = {"twice": (3, 3), "lhs": (4, 3), "u": (2, 4), "v": (4, 2), "t": (3, 2, 5), "inner": (5, 2)}
    params = {k: jnp.asarray(rng.standard_normal(s)) for k, s in shapes.items()}

    @jax.jit
    def readout(w, h):
        return jnp.sin(h) @ w

    def f(p, x):  # x: (N, 3, 2)
        h = jnp.tanh(jnp.einsum("nij,ik->nkj", x, p["twice"]) @ (p["u"] @ p["v"]))  # (N, 3, 2)
        h = h + jnp.einsum("ik,nkj->nij", p["twice"], h)
        h = jnp.einsum("lk,nkj->nlj", p["lhs"], h)  # weight on the left: (N, 4, 2)
        z = jnp.einsum("nlj,ljm->nm", h[:, :3], p["t"])  # two contracting axes: (N, 5)
        return readout(p["inner"], z) / math.sqrt(5)

    x1 = jnp.asarray(rng.standard_normal((3, 3, 2)))
    x2 = jnp.asarray(rng.standard_normal((3, 3, 2)))
    assert _products(f, params, x1) == sorted(  # leaves sorted by key: inner, lhs, t, twice, u, v
        i for i, k in enumerate(sorted(params)) if k != "twice")
    want = layout(dense_ntk(f, params, x1, x2), 2, *axes)
    got = jax.jit(lambda p: empirical_ntk_fn(f, *axes, vmap_axes=vmap_axes, implementation=3)(x1, x2, p))(params)
    assert got.shape == want.shape
    assert _rel(got, want) < 1e-12


def test_only_factored_weights(x64, key):
    """No unstructured leaf at all (stax Dense without bias): the kernel is the factored sum alone."""
    init_fn, apply_fn, _ = stax.serial(stax.Dense(5), stax.Erf(), stax.Dense(2))
    x1 = jax.random.normal(key, (4, 3))
    x2 = jax.random.normal(jax.random.fold_in(key, 1), (2, 3))
    _, params = init_fn(key, x1.shape)
    assert len(_products(apply_fn, params, x1)) == len(jax.tree.leaves(params)) == 2
    want = layout(dense_ntk(apply_fn, params, x1, x2), 2, (), ())
    for vmap_axes in (None, 0):
        got = empirical_ntk_fn(apply_fn, (), (), vmap_axes, 3)(x1, x2, params)
        assert _rel(got, want) < 1e-12


@pytest.mark.parametrize("vmap_axes", [None, 0])
def test_higher_order_primitives_are_bound_unchanged(x64, vmap_axes):
    """custom_vjp, checkpoint, scan and cond in the jaxpr: weights inside them are differentiated, the rest
    factored, and the kernel still equals the dense reference."""

    @jax.custom_vjp
    def swish_like(x):
        return x * jnp.tanh(x)

    def swish_like_bwd(x, g):
        return (g * (jnp.tanh(x) + x * (1 - jnp.tanh(x) ** 2)),)

    swish_like.defvjp(lambda x: (swish_like(x), x), swish_like_bwd)

    def f(p, x):
        h = swish_like(x @ p["w1"])
        h = jax.checkpoint(lambda h: jnp.sin(h @ p["w2"]))(h)
        h, _ = jax.lax.scan(lambda c, _: (jnp.tanh(c @ p["w3"]), None), h, None, length=3)
        h = jax.lax.cond(True, lambda h: h @ p["w4"], lambda h: -h @ p["w4"], h)
        return h @ p["w5"]

    rng = np.random.default_rng(0)
    shapes = {"w1": (3, 4), "w2": (4, 4), "w3": (4, 4), "w4": (4, 4), "w5": (4, 2)}
    params = {k: jnp.asarray(rng.standard_normal(s)) / 2 for k, s in shapes.items()}
    x1, x2 = jnp.asarray(rng.standard_normal((5, 3))), jnp.asarray(rng.standard_normal((4, 3)))
    assert _products(f, params, x1) == [0, 4]  # w1 and w5; w2-w4 sit inside checkpoint, scan and cond
    want = layout(dense_ntk(f, params, x1, x2), 2, (), ())
    got = empirical_ntk_fn(f, (), (), vmap_axes, 3)(x1, x2, params)
    assert _rel(got, want) < 1e-12


def test_shape_dependent_use_of_a_weight_is_an_error(x64):
    """x1 and x2 must see the same structure: here w is a product operand for 4 examples, scaled first for 3."""
    params = {"w": jnp.ones((2, 3))}

    def f(p, x):
        return x @ p["w"] if x.shape[0] == 4 else x @ (2.0 * p["w"])

    x1, x2 = jnp.ones((4, 2)), jnp.ones((3, 2))
    with pytest.raises(ValueError, match="differently on x1 and on x2"):
        empirical_ntk_fn(f, implementation=3)(x1, x2, params)
    want = layout(dense_ntk(f, params, x1, x2), 2, (-1,), ())
    assert _rel(empirical_ntk_fn(f, implementation=0)(x1, x2, params), want) < 1e-12  # AUTO skips 3
