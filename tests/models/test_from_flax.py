"""from_flax: flax linen and nnx modules against hand-written ``apply`` functions on the same weights.

Each network is a two-layer tanh MLP. The hand-written ``apply`` reads the very parameter dict that
:func:`dl_theory.models.from_flax` returns, so outputs, NTKs, Hessians, sampled posteriors and training runs must agree
to float precision.
"""

import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from jax.flatten_util import ravel_pytree

from dl_theory import losses
from dl_theory.curvature import hessian
from dl_theory.generalization import pac_bayes as pb
from dl_theory.kernels import empirical_ntk_fn
from dl_theory.models import from_flax
from dl_theory.optim import convergence
from dl_theory.training import train

D_IN, WIDTH, D_OUT = 3, 5, 2


class LinenMLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        hidden = nn.Dense(WIDTH, name="hidden")
        return nn.Dense(D_OUT, name="readout")(jnp.tanh(hidden(x)))


class NnxMLP(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(D_IN, WIDTH, rngs=rngs)
        self.readout = nnx.Linear(WIDTH, D_OUT, rngs=rngs)

    def __call__(self, x):
        return self.readout(jnp.tanh(self.hidden(x)))


def _dense(layer, h):
    return h @ layer["kernel"] + layer["bias"][None]


def hand_written(params, x):
    """The same network in plain jnp, on the parameter dict of either module (both name their layers alike)."""
    return _dense(params["readout"], jnp.tanh(_dense(params["hidden"], x)))


def _model(kind: str):
    return from_flax(LinenMLP() if kind == "linen" else NnxMLP(nnx.Rngs(0)))


@pytest.fixture(params=["linen", "nnx"])
def case(request):
    init_fn, apply_fn = _model(request.param)
    out_shape, params = init_fn(jax.random.key(1), (-1, D_IN))
    x = jax.random.normal(jax.random.key(2), (6, D_IN))
    y = jax.random.randint(jax.random.key(3), (6,), 0, D_OUT)
    return request.param, out_shape, params, apply_fn, hand_written, x, y


def test_outputs_match_hand_written_apply(case):
    _, out_shape, params, apply_fn, reference, x, _ = case
    assert out_shape == (-1, D_OUT)
    expected = reference(params, x)
    np.testing.assert_allclose(apply_fn(params, x), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(jax.jit(apply_fn)(params, x), expected, rtol=1e-6, atol=1e-6)


def _dense_ntk(f, params, x1, x2):
    """J(x1) J(x2)^T by jacrev on the flat parameter vector, traced over the output axis."""
    flat, unravel = ravel_pytree(params)
    j1 = jax.jacrev(lambda w: f(unravel(w), x1))(flat)  # (N1, K, D)
    j2 = jax.jacrev(lambda w: f(unravel(w), x2))(flat)
    return jnp.einsum("nkd,mkd->nm", j1, j2) / j1.shape[1]


@pytest.mark.parametrize("implementation, vmap_axes", [(1, None), (2, 0), (3, None)])
def test_empirical_ntk_matches_dense_jacobian_ntk(case, implementation, vmap_axes):
    _, _, params, apply_fn, reference, x, _ = case
    x2 = x[:4] + 0.5
    ntk_fn = jax.jit(empirical_ntk_fn(apply_fn, trace_axes=(-1,), vmap_axes=vmap_axes, implementation=implementation))
    expected = _dense_ntk(reference, params, x, x2)
    np.testing.assert_allclose(ntk_fn(x, x2, params), expected, rtol=1e-5, atol=1e-5 * float(jnp.max(expected)))


def test_hessian_and_curvature_match_hand_written_loss(case):
    _, _, params, apply_fn, reference, x, y = case
    dense = jax.jit(lambda f, p: hessian.hessian(losses.cross_entropy(f), p, (x, y)), static_argnums=0)
    h_flax, h_ref = dense(apply_fn, params), dense(reference, params)
    np.testing.assert_allclose(h_flax, h_ref, rtol=1e-5, atol=1e-6)
    matvec, dim = hessian.hessian_matvec(losses.cross_entropy(apply_fn), params, (x, y))
    estimate = convergence.curvature_from_matvec(matvec, dim, key=jax.random.key(4), num_iters=dim)
    exact = convergence.curvature_from_hessian(h_ref)
    scale = float(jnp.max(jnp.abs(h_ref)))
    np.testing.assert_allclose(estimate, exact, atol=1e-4 * scale)


def test_pac_bayes_objective_and_certificate_accept_the_flax_model(case):
    _, _, params, apply_fn, reference, x, y = case
    prior = pb.diag_gaussian(params, 0.1)
    posterior = pb.diag_gaussian(jax.tree.map(lambda p: p + 0.01, params), 0.05)
    key = jax.random.key(5)
    value, aux = pb.make_objective(apply_fn, prior, n=len(y), delta=0.05)(posterior, key, (x, y))
    value_ref, aux_ref = pb.make_objective(reference, prior, n=len(y), delta=0.05)(posterior, key, (x, y))
    np.testing.assert_allclose(value, value_ref, rtol=1e-6)
    np.testing.assert_allclose(aux["risk"], aux_ref["risk"], rtol=1e-6)
    cert = pb.certify(key, posterior, prior, apply_fn, x, y, num_samples=8)
    risks_ref = [jnp.mean(losses.zero_one(reference(pb.sample_params(k, posterior), x), y))
                 for k in jax.random.split(key, 8)]  # the draws of sampled_risks, one by one
    np.testing.assert_allclose(cert.emp_risk_mc, np.mean(risks_ref), rtol=1e-6)
    assert cert.emp_risk_mc <= cert.emp_risk_upper <= cert.risk_bound <= cert.pinsker_bound


def test_train_runs_and_matches_hand_written_gradient_descent(case):
    _, _, params, apply_fn, reference, x, y = case
    trained, history = train(losses.cross_entropy(apply_fn), params, optax.sgd(0.1), (x, y), n_steps=5,
                             log_every=5, desc="from_flax test")
    expected, losses_ref = params, []
    for _ in range(5):
        loss, grads = jax.value_and_grad(losses.cross_entropy(reference))(expected, (x, y))
        expected = jax.tree.map(lambda p, g: p - 0.1 * g, expected, grads)
        losses_ref.append(loss)
    np.testing.assert_allclose(history["loss"], losses_ref, rtol=1e-5)
    assert history["loss"][-1] < history["loss"][0]
    for a, b in zip(jax.tree.leaves(trained), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_nnx_init_returns_current_params_and_apply_leaves_the_module_alone():
    module = NnxMLP(nnx.Rngs(0))
    x = jnp.ones((2, D_IN))
    before = module(x)
    init_fn, apply_fn = from_flax(module)
    _, p1 = init_fn(jax.random.key(1), (2, D_IN))
    _, p2 = init_fn(jax.random.key(2), (2, D_IN))
    np.testing.assert_array_equal(ravel_pytree(p1)[0], ravel_pytree(p2)[0])  # the key is not used
    np.testing.assert_array_equal(apply_fn(p1, x), before)
    shifted = jax.tree.map(lambda p: p + 1.0, p1)
    assert not np.allclose(apply_fn(shifted, x), before)
    np.testing.assert_array_equal(module(x), before)  # apply_fn does not write into the module
    nnx.update(module, shifted)
    np.testing.assert_allclose(module(x), apply_fn(shifted, x), rtol=1e-6)
    np.testing.assert_array_equal(apply_fn(nnx.state(module, nnx.Param), x), apply_fn(shifted, x))


def test_linen_init_draws_from_its_key():
    init_fn, _ = from_flax(LinenMLP())
    _, p1 = init_fn(jax.random.key(1), (-1, D_IN))
    _, p2 = init_fn(jax.random.key(2), (-1, D_IN))
    assert not np.allclose(ravel_pytree(p1)[0], ravel_pytree(p2)[0])


def test_output_shape_follows_only_the_batch_dependent_axes():
    class Pooled(nnx.Module):
        def __init__(self, rngs):
            self.dense = nnx.Linear(D_IN, 4, rngs=rngs)

        def __call__(self, x):
            h = self.dense(x)
            return {"per_example": h, "pooled": jnp.mean(h, axis=0)}

    out_shape, _ = from_flax(Pooled(nnx.Rngs(0))).init(jax.random.key(0), (-1, D_IN))
    assert out_shape == {"per_example": (-1, 4), "pooled": (4,)}


class NnxNormDrop(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.dense = nnx.Linear(D_IN, 4, rngs=rngs)
        self.norm = nnx.BatchNorm(4, rngs=rngs)
        self.drop = nnx.Dropout(0.5, rngs=rngs)

    def __call__(self, x):
        return self.drop(self.norm(self.dense(x)))


def test_nnx_frozen_state_in_eval_mode_is_supported():
    module = NnxNormDrop(nnx.Rngs(0))
    module.eval()
    x = jax.random.normal(jax.random.key(0), (5, D_IN))
    init_fn, apply_fn = from_flax(module)
    _, params = init_fn(jax.random.key(0), (-1, D_IN))
    np.testing.assert_allclose(jax.jit(apply_fn)(params, x), module(x), rtol=1e-6)


def test_nnx_state_that_a_call_changes_is_an_error():
    module = NnxNormDrop(nnx.Rngs(0))  # training mode: BatchNorm updates its statistics, Dropout draws noise
    init_fn, apply_fn = from_flax(module)
    with pytest.raises(ValueError, match=r"non-Param state of NnxNormDrop must stay unchanged.*'mean'.*eval\(\)"):
        init_fn(jax.random.key(0), (-1, D_IN))
    params = nnx.to_pure_dict(nnx.state(module, nnx.Param))
    with pytest.raises(ValueError, match="must stay unchanged by a forward pass"):
        jax.jit(apply_fn)(params, jnp.ones((5, D_IN)))


def test_linen_collections_other_than_params_are_an_error():
    class WithStats(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.BatchNorm(use_running_average=True)(nn.Dense(2)(x))

    with pytest.raises(ValueError, match=r"must be only the 'params' collection, got also \['batch_stats'\]"):
        from_flax(WithStats()).init(jax.random.key(0), (-1, D_IN))


def test_linen_rngs_and_call_kwargs_pass_through():
    class Dropped(nn.Module):
        @nn.compact
        def __call__(self, x, deterministic: bool = True):
            return nn.Dropout(0.5, deterministic=deterministic)(nn.Dense(4)(x))

    init_fn, apply_fn = from_flax(Dropped())
    _, params = init_fn(jax.random.key(0), (-1, D_IN))
    x = jnp.ones((3, D_IN))
    clean = apply_fn(params, x)
    noisy = apply_fn(params, x, deterministic=False, rngs={"dropout": jax.random.key(1)})
    assert np.all((noisy == 0) | np.isclose(noisy, 2 * clean))
    assert np.any(noisy == 0) and not np.allclose(noisy, clean)


@pytest.mark.parametrize("bad, got", [
    (LinenMLP, "the class LinenMLP (instantiate it first)"),
    (NnxMLP, "the class NnxMLP"),
    (lambda p, x: x, "function"),
    ((None, None), "a tuple (stax triples"),
])
def test_non_flax_objects_are_a_type_error(bad, got):
    with pytest.raises(TypeError, match=r"module must be a flax\.linen\.Module or flax\.nnx\.Module instance, got "
                       + re.escape(got)):
        from_flax(bad)


def test_bad_input_shape_and_params_name_the_argument():
    init_fn, apply_fn = _model("nnx")
    with pytest.raises(ValueError, match=r"input_shape\[0\] must be a positive size or -1 \(any size\), got 0"):
        init_fn(jax.random.key(0), (0, D_IN))
    _, params = init_fn(jax.random.key(0), (-1, D_IN))
    with pytest.raises(ValueError, match="params and the parameters of NnxMLP must be pytrees of the same structure"):
        apply_fn({"hidden": params["hidden"]}, jnp.ones((1, D_IN)))
    bound = LinenMLP().bind({"params": _model("linen").init(jax.random.key(0), (1, D_IN))[1]})
    with pytest.raises(ValueError, match="module must be an unbound flax.linen.Module"):
        from_flax(bound)
