"""Normalization as pure functions against flax.linen's BatchNorm, LayerNorm and WeightNorm on the same inputs."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dl_theory.regularization.normalization import (
    BatchStats,
    batch_norm_eval,
    batch_norm_train,
    layer_norm,
    update_running_stats,
    weight_norm,
)


def test_batch_norm_matches_flax_train_running_and_eval(key):
    """Three training steps (flax momentum 0.9, eps 1e-5, biased batch variance), then evaluation."""
    kx, ks, kb = jax.random.split(key, 3)
    batches = 2.0 + 3.0 * jax.random.normal(kx, (3, 16, 5))
    scale, bias = 1 + 0.1 * jax.random.normal(ks, (5,)), 0.1 * jax.random.normal(kb, (5,))
    bn = nn.BatchNorm(momentum=0.9, epsilon=1e-5)
    variables = bn.init(key, batches[0], use_running_average=False)
    variables = {"params": {"scale": scale, "bias": bias}, "batch_stats": variables["batch_stats"]}
    running = BatchStats(jnp.zeros(5), jnp.ones(5))  # flax's initial running statistics
    for z in batches:
        out, updates = bn.apply(variables, z, use_running_average=False, mutable=["batch_stats"])
        mine, stats = batch_norm_train(z, scale, bias)
        np.testing.assert_allclose(mine, out, rtol=1e-5, atol=1e-5)
        running = update_running_stats(running, stats, momentum=0.9)
        variables = {**variables, **updates}
        np.testing.assert_allclose(running.mean_D, variables["batch_stats"]["mean"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(running.var_D, variables["batch_stats"]["var"], rtol=1e-5, atol=1e-6)
    z = jax.random.normal(jax.random.fold_in(key, 9), (4, 5))
    np.testing.assert_allclose(batch_norm_eval(z, running, scale, bias),
                               bn.apply(variables, z, use_running_average=True), rtol=1e-5, atol=1e-5)


def test_layer_norm_matches_flax(key):
    z = 1.5 + 2.0 * jax.random.normal(key, (6, 7))
    ln = nn.LayerNorm()  # epsilon 1e-6
    scale, bias = jnp.linspace(0.5, 1.5, 7), jnp.linspace(-1, 1, 7)
    np.testing.assert_allclose(layer_norm(z, scale, bias),
                               ln.apply({"params": {"scale": scale, "bias": bias}}, z), rtol=1e-5, atol=1e-5)


def test_weight_norm_matches_flax_dense_and_has_norm_g(key):
    x = jax.random.normal(key, (3, 4))
    layer = nn.WeightNorm(nn.Dense(5, use_bias=False))
    variables = layer.init(key, x)
    v = variables["params"]["layer_instance"]["kernel"]
    g = 0.5 + jax.random.uniform(jax.random.fold_in(key, 1), (5,))
    variables["params"]["layer_instance/kernel/scale"] = g
    np.testing.assert_allclose(x @ weight_norm(v, g, eps=1e-12), layer.apply(variables, x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(jnp.linalg.norm(weight_norm(v, g), axis=0), g, rtol=1e-6)


def test_weight_norm_gradient_is_orthogonal_to_v(key, x64):
    kv, kx = jax.random.split(key)
    v, g, x = jax.random.normal(kv, (4, 3)), jnp.array([0.5, 1.0, 2.0]), jax.random.normal(kx, (8, 4))
    grad_v = jax.grad(lambda v: jnp.sum(jnp.tanh(x @ weight_norm(v, g)) ** 2))(v)
    cosine = jnp.sum(grad_v * v, axis=0) / (jnp.linalg.norm(grad_v, axis=0) * jnp.linalg.norm(v, axis=0))
    np.testing.assert_allclose(cosine, 0.0, atol=1e-12)


def test_batch_norm_train_has_zero_mean_unit_variance(key):
    out, stats = batch_norm_train(5.0 + 2.0 * jax.random.normal(key, (64, 3)), eps=0.0)
    np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.var(0), 1.0, rtol=1e-5)
    assert stats.mean_D.shape == stats.var_D.shape == (3,)


@pytest.mark.parametrize("call, match", [
    (lambda: batch_norm_train(jnp.ones((1, 3))), "z_NxD"),
    (lambda: batch_norm_train(jnp.ones((4, 3)), eps=-1.0), "eps"),
    (lambda: update_running_stats(BatchStats(jnp.zeros(2), jnp.ones(2)), BatchStats(jnp.zeros(2), jnp.ones(2)),
                                  momentum=1.0), "momentum"),
    (lambda: layer_norm(jnp.ones((3, 1))), "z_NxD"),
    (lambda: weight_norm(jnp.ones((3, 2)), jnp.ones(3)), "g_O"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
