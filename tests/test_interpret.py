"""Shapley values against brute force over orderings and closed forms; gradients against finite differences."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dl_theory import interpret, losses, models


def _table_game(values_M):
    """A value function given by its table over the coalitions (row i of coalition_masks has the bits of i)."""
    table = jnp.asarray(values_M)
    return lambda masks_MxD: table[masks_MxD.astype(int) @ (2 ** jnp.arange(masks_MxD.shape[1]))]


def _orderings_shapley(values_M, d):
    """Brute force: the marginal contributions averaged over all d! orderings."""
    phi = np.zeros(d)
    for order in itertools.permutations(range(d)):
        before = 0
        for j in order:
            phi[j] += values_M[before | (1 << j)] - values_M[before]
            before |= 1 << j
    return phi / math.factorial(d)


@pytest.mark.parametrize("d", [1, 2, 3, 5, 6])
def test_exact_shapley_matches_all_orderings(x64, d):
    values = np.random.default_rng(d).normal(size=2**d)
    phi = interpret.exact_shapley(_table_game(values), d)
    np.testing.assert_allclose(phi, _orderings_shapley(values, d), atol=1e-12)


def test_axioms_hold_exactly(x64):
    d = 5
    rng = np.random.default_rng(0)
    u, w = rng.normal(size=2**d), rng.normal(size=2**d)
    phi_u = np.asarray(interpret.exact_shapley(_table_game(u), d))
    phi_w = np.asarray(interpret.exact_shapley(_table_game(w), d))
    assert phi_u.sum() == pytest.approx(u[-1] - u[0], abs=1e-12)  # efficiency
    np.testing.assert_allclose(interpret.exact_shapley(_table_game(2 * u - 3 * w), d), 2 * phi_u - 3 * phi_w,
                               atol=1e-12)  # linearity
    masks = interpret.coalition_masks(d)
    dummy = u[masks[:, 1:].astype(int) @ (2 ** np.arange(d - 1)) * 2]  # ignores player 0
    assert abs(float(interpret.exact_shapley(_table_game(dummy), d)[0])) < 1e-13
    swap = masks.copy()
    swap[:, [1, 2]] = swap[:, [2, 1]]
    symmetric = u + u[swap.astype(int) @ (2 ** np.arange(d))]  # v(S) = u(S) + u(swap(S)): players 1, 2 symmetric
    phi = interpret.exact_shapley(_table_game(symmetric), d)
    assert float(phi[1]) == pytest.approx(float(phi[2]), abs=1e-12)


def test_linear_model_closed_forms(x64):
    rng = np.random.default_rng(1)
    d = 7
    w, c = rng.normal(size=d), 0.3
    x, baseline, background = rng.normal(size=d), rng.normal(size=d), rng.normal(size=(40, d))
    f = lambda x_NxD: x_NxD @ w + c  # noqa: E731
    np.testing.assert_allclose(interpret.exact_shapley(interpret.interventional_value_fn(f, x, background), d),
                               w * (x - background.mean(axis=0)), atol=1e-12)
    np.testing.assert_allclose(interpret.exact_shapley(interpret.baseline_value_fn(f, x, baseline), d),
                               w * (x - baseline), atol=1e-12)


def test_too_many_features_points_to_the_sampler():
    with pytest.raises(ValueError, match="permutation_shapley"):
        interpret.exact_shapley(lambda m: m.sum(axis=1), interpret.MAX_EXACT_FEATURES + 1)


def test_permutation_sampler_is_unbiased_and_efficient(x64):
    d = 6
    values = np.random.default_rng(2).normal(size=2**d)
    exact = np.asarray(interpret.exact_shapley(_table_game(values), d))
    est = interpret.permutation_shapley(_table_game(values), d, jax.random.key(0), 2000)
    assert np.all(np.abs(np.asarray(est.values) - exact) < 5 * np.asarray(est.stderr))
    assert float(est.values.sum()) == pytest.approx(values[-1] - values[0], abs=1e-12)
    small = interpret.permutation_shapley(_table_game(values), d, jax.random.key(0), 100)
    assert float(jnp.mean(small.stderr)) > 3 * float(jnp.mean(est.stderr))  # ~ sqrt(20) times larger


def _mlp(key, d):
    init_fn, apply_fn, _ = models.mlp((16,), out_dim=2, activation="erf")
    _, params = init_fn(key, (-1, d))
    return apply_fn, params


def test_input_gradient_matches_finite_differences(x64, key):
    d = 4
    apply_fn, params = _mlp(key, d)
    x = jax.random.normal(jax.random.key(1), (3, d))
    grad = interpret.input_gradient(apply_fn, params, x, output=1)
    h = 1e-6
    fd = np.stack([(apply_fn(params, x + h * e[None])[:, 1] - apply_fn(params, x - h * e[None])[:, 1]) / (2 * h)
                   for e in np.eye(d)], axis=1)
    np.testing.assert_allclose(grad, fd, atol=1e-8)
    np.testing.assert_allclose(interpret.gradient_times_input(apply_fn, params, x, output=1), x * fd, atol=1e-8)
    with pytest.raises(ValueError, match="output must be given"):
        interpret.input_gradient(apply_fn, params, x)


def test_gradient_times_input_of_a_linear_model_is_w_times_x():
    w = jnp.array([1.0, -2.0, 0.5])
    x = jnp.array([[1.0, 2.0, 3.0], [0.0, -1.0, 4.0]])
    np.testing.assert_allclose(interpret.gradient_times_input(lambda p, x: x @ p, w, x), x * w[None], rtol=1e-6)


def test_ceteris_paribus_varies_one_feature(key):
    apply_fn, params = _mlp(key, 3)
    f = interpret.scalar_output(apply_fn, params, output=0)
    x, grid = jnp.array([0.2, -0.4, 1.0]), jnp.linspace(-2.0, 2.0, 5)
    curves = interpret.ceteris_paribus(f, x, grid, features=[2, 0])
    for row, j in zip(curves, [2, 0], strict=True):
        np.testing.assert_allclose(row, [float(f(x.at[j].set(z)[None])[0]) for z in grid], rtol=1e-5)
    with pytest.raises(ValueError, match="features"):
        interpret.ceteris_paribus(f, x, grid, features=[3])


def test_sage_and_permutation_importance(x64):
    rng = np.random.default_rng(3)
    x = jnp.asarray(rng.normal(size=(200, 4)))
    y = 2.0 * x[:, 0] + 0.5 * x[:, 1] + 0.1 * jnp.asarray(rng.normal(size=200))
    f = lambda x_NxD: 2.0 * x_NxD[:, 0] + 0.5 * x_NxD[:, 1] + 0.0 * x_NxD[:, 2]  # noqa: E731 -- ignores 2 and 3
    loss = lambda p, t: losses.squared_error(p[:, None], t[:, None])  # noqa: E731
    sage = np.asarray(interpret.sage_values(f, loss, x, y, x[:50]))
    v = interpret.sage_value_fn(f, loss, x, y, x[:50])
    full = float(v(jnp.ones((1, 4), bool))[0])
    assert sage.sum() == pytest.approx(full, abs=1e-12)  # efficiency: the risk reduction of the full model
    assert sage[2] == sage[3] == 0.0  # dummy features
    assert sage[0] > sage[1] > 0.0
    imp = interpret.permutation_importance(f, loss, x, y, jax.random.key(0), n_repeats=8)
    assert int(jnp.argmax(imp.values)) == 0 and float(imp.values[2]) == float(imp.values[3]) == 0.0
