"""MLP/CNN builders: forward pass against a direct jnp computation, parameterizations, kernels vs Monte Carlo."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dl_theory import stax
from dl_theory.models import cnn, mlp


@pytest.mark.parametrize("parameterization", ["ntk", "standard"])
def test_mlp_forward_matches_direct_computation(key, parameterization):
    init_fn, apply_fn, _ = mlp((7, 5), out_dim=2, parameterization=parameterization, W_std=1.3, b_std=0.2)
    x = jax.random.normal(key, (4, 3))
    out_shape, params = init_fn(jax.random.key(1), x.shape)
    assert out_shape == (4, 2)
    h = x
    dense_params = [p for p in params if p != ()]
    for i, (W, b) in enumerate(dense_params):
        n_in = h.shape[-1]
        w_std = 1.0 if i == len(dense_params) - 1 else 1.3
        if parameterization == "ntk":
            h = w_std / np.sqrt(n_in) * h @ W + 0.2 * b
        else:
            h = h @ W + b
        if i < len(dense_params) - 1:
            h = jax.nn.relu(h)
    np.testing.assert_allclose(apply_fn(params, x), h, rtol=1e-5, atol=1e-6)


def test_standard_parameterization_init_variance(key):
    init_fn, _, _ = mlp((4000,), W_std=1.5, parameterization="standard")
    _, params = init_fn(key, (1, 50))
    W = params[0][0]
    # Var W = W_std^2 / n_in in the standard parameterization; relative standard error of the sample variance
    # of m i.i.d. Gaussians is sqrt(2/m)
    m = W.size
    assert abs(float(jnp.var(W)) / (1.5**2 / 50) - 1) < 4 * np.sqrt(2 / m)


def test_mlp_nngp_matches_monte_carlo(key):
    _, _, kernel_fn = mlp((256,), W_std=1.4, b_std=0.1)
    init_fn, apply_fn, _ = mlp((256,), W_std=1.4, b_std=0.1)
    x = jax.random.normal(key, (3, 4))
    draws = 400
    outs = jax.vmap(lambda k: apply_fn(init_fn(k, x.shape)[1], x))(jax.random.split(jax.random.key(7), draws))
    products = jnp.einsum("sio,sjo->sij", outs, outs)  # one output channel per draw
    mean, se = products.mean(0), products.std(0, ddof=1) / np.sqrt(draws)
    analytic = kernel_fn(x, None, "nngp")
    # finite width 256 adds O(1/width) bias, far below the sampling error here
    assert np.all(np.abs(mean - analytic) <= 4 * se + 1e-3)


def test_cnn_shapes_and_errors(key):
    init_fn, apply_fn, kernel_fn = cnn((4, 6), out_dim=3, filter_shape=(3, 3))
    x = jax.random.normal(key, (2, 5, 5, 2))
    out_shape, params = init_fn(key, x.shape)
    assert out_shape == (2, 3) and apply_fn(params, x).shape == (2, 3)
    assert kernel_fn(x, None, "ntk").shape == (2, 2)
    with pytest.raises(ValueError, match="pooling"):
        cnn((4,), pooling="max")
    with pytest.raises(ValueError, match="activation"):
        mlp((4,), activation="softplus")
    with pytest.raises(ValueError, match="hidden"):
        mlp((0,))


def test_cnn_per_layer_filters_and_strides_match_the_stax_layers(key):
    kw = dict(W_std=1.0, b_std=0.0, parameterization="standard")
    init_fn, apply_fn, _ = cnn((6, 4), out_dim=2, filter_shape=((9,), (3,)), strides=((2,), (1,)), activation="erf",
                               **kw)
    ref_init, ref_apply, _ = stax.serial(stax.Conv(6, (9,), (2,), "SAME", **kw), stax.Erf(),
                                         stax.Conv(4, (3,), (1,), "SAME", **kw), stax.Erf(), stax.GlobalAvgPool(),
                                         stax.Dense(2, **kw))
    x = jax.random.normal(key, (3, 40, 1))
    _, params = init_fn(jax.random.key(1), x.shape)
    _, ref_params = ref_init(jax.random.key(1), x.shape)
    np.testing.assert_array_equal(apply_fn(params, x), ref_apply(ref_params, x))
    assert params[0][0].shape == (9, 1, 6)
    with pytest.raises(ValueError, match="one per convolution"):
        cnn((6, 4), filter_shape=((9,), (3,), (3,)))
