"""Empirical NTK / NNGP: implementations 1, 2, 3 (and AUTO) against a dense jacrev-then-contract reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from empirical_models import MODELS, dense_nngp, dense_ntk, layout

from dl_theory.kernels.empirical import (
    NtkImplementation,
    empirical_kernel_fn,
    empirical_nngp_fn,
    empirical_ntk_fn,
    empirical_ntk_vp_fn,
    ntk_cost_estimates,
)

# (trace_axes, diagonal_axes); "diag" is per model since the CNN has spatial output axes.
AXES = {
    "default": ((-1,), ()),
    "full": ((), ()),
    "diag": None,
}
DIAG = {"mlp": ((), (0,)), "resnet": ((-1,), (0,)), "flax": ((), (0, 1)), "cnn": ((-1,), (1, 2))}
IMPLS = (NtkImplementation.JACOBIAN_CONTRACTION, NtkImplementation.NTK_VECTOR_PRODUCTS,
         NtkImplementation.STRUCTURED_DERIVATIVES, NtkImplementation.AUTO)


def _inputs(seed, shape, same_batch):
    rng = np.random.default_rng(seed)
    n2 = shape[0] if same_batch else shape[0] - 1
    dtype = jnp.result_type(float)
    return (jnp.asarray(rng.standard_normal(shape), dtype), jnp.asarray(rng.standard_normal((n2, *shape[1:])), dtype))


def _rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - b)) / np.max(np.abs(b)))


@pytest.mark.parametrize("model", sorted(MODELS))
def test_ntk_matches_dense_reference(x64, key, model):
    """Implementations 1, 2 and 3, with and without ``vmap_axes``, for three axis layouts (one jit per model)."""
    params, apply, shape = MODELS[model](key)
    x1, x2 = _inputs(7, shape, same_batch=True)  # N1 != N2: other tests
    layouts = {name: axes or DIAG[model] for name, axes in AXES.items()}
    cases = [("default", 1, None), ("default", 2, 0), ("full", 1, 0), ("full", 2, None), ("diag", 1, None),
             ("diag", 2, 0), ("default", 3, 0), ("full", 3, None), ("full", 3, 0), ("diag", 3, None)]

    @jax.jit
    def run(params, x1, x2):
        return [empirical_ntk_fn(apply, *layouts[name], vmap_axes, impl)(x1, x2, params)
                for name, impl, vmap_axes in cases]

    ndim = len(jax.eval_shape(apply, params, x1).shape)
    full = dense_ntk(apply, params, x1, x2)
    for (name, impl, vmap_axes), k in zip(cases, run(params, x1, x2), strict=True):
        want = layout(full, ndim, *layouts[name])
        assert k.shape == want.shape, (name, impl, vmap_axes)
        assert _rel(k, want) < 1e-10, (name, impl, vmap_axes, _rel(k, want))


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_ntk_x2_none_and_nngp(x64, key, model):
    params, apply, shape = MODELS[model](key)
    x1, _ = _inputs(0, shape, True)
    ndim = len(jax.eval_shape(apply, params, x1).shape)
    want_ntk = layout(dense_ntk(apply, params, x1, x1), ndim, (-1,), ())
    want_nngp = layout(dense_nngp(apply, params, x1, x1), ndim, (-1,), ())

    @jax.jit
    def run(params, x1):
        ntks = [empirical_ntk_fn(apply, implementation=impl)(x1, None, params) for impl in IMPLS]
        both = empirical_kernel_fn(apply, vmap_axes=0)(x1, None, None, params)
        return ntks, both, empirical_kernel_fn(apply)(x1, None, "nngp", params), empirical_kernel_fn(apply)(
            x1, None, ("ntk",), params)

    ntks, both, nngp, ntk_only = run(params, x1)
    assert all(_rel(k, want_ntk) < 1e-10 for k in ntks)
    assert type(both).__name__ == "EmpiricalKernel" and both._fields == ("nngp", "ntk")
    assert _rel(both.nngp, want_nngp) < 1e-12 and _rel(both.ntk, want_ntk) < 1e-10
    assert _rel(nngp, want_nngp) < 1e-12
    assert ntk_only._fields == ("ntk",) and _rel(ntk_only.ntk, want_ntk) < 1e-10


def test_nngp_layout_with_diagonal(x64, key):
    params, apply, shape = MODELS["cnn"](key)
    x1, x2 = _inputs(0, shape, True)
    want = layout(dense_nngp(apply, params, x1, x2), 4, (3,), (0, 2))
    assert _rel(empirical_nngp_fn(apply, (3,), (0, 2))(x1, x2, params), want) < 1e-12


def test_pytree_outputs_and_kwargs(x64, key):
    """Two output leaves (one kernel each, no cross terms); per-example kwargs split as (kw1, kw2) and vmapped."""
    params, apply, shape = MODELS["mlp"](key)

    def two_heads(p, x, shift):
        y = apply(p, x + shift)
        return {"a": y, "b": jnp.sin(y[:, :2])}

    x1, x2 = _inputs(0, shape, False)
    s1, s2 = 0.3 * x1, -0.2 * x2
    combos = [(impl, vm) for impl in (1, 2, 3) for vm in (None, (0, 0, {"shift": 0}))]

    @jax.jit
    def run(params, x1, x2, s1, s2):
        return [empirical_ntk_fn(two_heads, vmap_axes=vm, implementation=impl)(x1, x2, params, shift=(s1, s2))
                for impl, vm in combos]

    got = run(params, x1, x2, s1, s2)
    for name in ("a", "b"):
        head = lambda p, x, name=name: two_heads(p, x, s1 if x.shape == x1.shape else s2)[name]  # noqa: E731
        want = layout(dense_ntk(head, params, x1, x2), 2, (-1,), ())
        for (impl, vm), k in zip(combos, got, strict=True):
            assert _rel(k[name], want) < 1e-10, (name, impl, vm)


def test_ntk_vp_fn(x64, key):
    params, apply, shape = MODELS["resnet"](key)
    x1, x2 = _inputs(0, shape, False)
    theta = dense_ntk(apply, params, x1, x2)
    v = _inputs(0, jax.eval_shape(apply, params, x2).shape, True)[0]
    got = jax.jit(lambda v: empirical_ntk_vp_fn(apply, x1, x2, params)(v))(v)
    assert _rel(got, np.einsum("icjd,jd->ic", theta, v)) < 1e-10
    with pytest.raises(ValueError, match="cotangents"):
        empirical_ntk_vp_fn(apply, x1, x2, params)(v[:1])


def test_auto_is_cached_and_jittable(key):
    params, apply, shape = MODELS["mlp"](key)
    x1, x2 = _inputs(0, shape, False)
    costs = ntk_cost_estimates(apply, x1, x2, params)
    assert set(costs) == set(NtkImplementation) - {NtkImplementation.AUTO}
    assert all(c > 0 for c in costs.values())
    auto = empirical_ntk_fn(apply, implementation=0)
    got = jax.jit(auto)(x1, x2, params)
    assert list(auto.choices.values()) == [min(costs, key=costs.get)]
    assert got.shape == (x1.shape[0], x2.shape[0]) and bool(jnp.all(jnp.isfinite(got)))


def test_rng_kwarg_split(x64, key):
    """An `rng` kwarg is reused when x2 equals x1 and folded with 1 otherwise (neural-tangents semantics)."""
    params, apply, shape = MODELS["mlp"](key)

    def noisy(p, x, rng):
        return apply(p, x * (1 + 0.1 * jax.random.normal(rng, x.shape)))

    x1, x2 = _inputs(0, shape, False)
    rng = jax.random.key(3)
    ntk = empirical_ntk_fn(noisy)
    same, none, other = jax.jit(lambda p, rng: (ntk(x1, x1 + 0.0, p, rng=rng), ntk(x1, None, p, rng=rng),
                                                ntk(x1, x2, p, rng=rng)))(params, rng)
    assert _rel(same, np.asarray(none)) < 1e-12
    rng2 = jax.random.fold_in(rng, 1)
    want = layout(dense_ntk(lambda p, x: noisy(p, x, rng if x.shape == x1.shape else rng2), params, x1, x2),
                  2, (-1,), ())
    assert _rel(other, want) < 1e-10


class TestErrors:
    def setup_method(self):
        self.params, self.apply, shape = MODELS["mlp"](jax.random.key(0))
        self.x1, self.x2 = _inputs(1, shape, False)

    def test_mismatched_trailing_shapes(self):
        with pytest.raises(ValueError, match="x1 and x2 must agree"):
            empirical_ntk_fn(self.apply)(self.x1, jnp.ones((2, 5)), self.params)
        with pytest.raises(ValueError, match="x1 and x2 must agree"):
            empirical_nngp_fn(self.apply)(self.x1, jnp.ones((2, 5)), self.params)

    @pytest.mark.parametrize(("trace_axes", "diagonal_axes", "match"), [
        ((2,), (), r"trace_axes must be axes of an output of rank 2 \(each in \[-2, 2\)\), got \(2,\)"),
        ((), (-3,), r"diagonal_axes must be axes of an output of rank 2 .*got \(-3,\)"),
        ((-1,), (1,), r"trace_axes and diagonal_axes must be disjoint .*got \(1,\) and \(1,\)"),
        ((1, -1), (), r"trace_axes must be distinct axes .*got \(1, -1\)"),
        ((), (0,), "must be of the same size on diagonal axis 0"),
    ])
    def test_bad_axes(self, trace_axes, diagonal_axes, match):
        for impl in (1, 2):
            with pytest.raises(ValueError, match=match):
                empirical_ntk_fn(self.apply, trace_axes, diagonal_axes, implementation=impl)(
                    self.x1, self.x2, self.params)
        with pytest.raises(ValueError, match=match):
            empirical_nngp_fn(self.apply, trace_axes, diagonal_axes)(self.x1, self.x2, self.params)

    def test_params_that_do_not_fit(self):
        bad = jax.tree.map(lambda a: a, self.params)
        bad[0]["w"] = jnp.ones((5, 6))
        with pytest.raises(ValueError, match="do not fit the function"):
            empirical_ntk_fn(self.apply)(self.x1, self.x2, bad)
        with pytest.raises(ValueError, match="do not fit the function"):
            empirical_nngp_fn(self.apply)(self.x1, None, bad)

    def test_implementation_and_get(self):
        with pytest.raises(ValueError, match="implementation"):
            empirical_ntk_fn(self.apply, implementation=7)
        with pytest.raises(ValueError, match="get"):
            empirical_kernel_fn(self.apply)(self.x1, None, "ntkk", self.params)
