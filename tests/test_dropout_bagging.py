"""Dropout and bagging against independent references: flax's Dropout statistics, exhaustive mask sums, sklearn's
depth-1 regression tree, and the variance of an average of correlated Gaussians."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.tree import DecisionTreeRegressor

from dl_theory.models.mlp import dense_mlp
from dl_theory.regularization.bagging import average_variance, bagged_predict, bootstrap_indices, regression_stump
from dl_theory.regularization.dropout import (
    all_masks,
    dropout_mask,
    dropout_mlp_apply,
    inverted_dropout,
    mask_probabilities,
    normalized_geometric_mean,
    weight_scaled,
)


def test_inverted_dropout_values_and_rate(key):
    x = jnp.arange(1.0, 2001.0)
    out = np.asarray(inverted_dropout(key, x, 0.25))
    kept = out != 0
    np.testing.assert_allclose(out[kept], np.asarray(x)[kept] / 0.75, rtol=1e-6)
    assert abs(kept.mean() - 0.75) < 4 * np.sqrt(0.75 * 0.25 / 2000)
    np.testing.assert_array_equal(inverted_dropout(key, x, 0.5, deterministic=True), x)


def test_masked_mlp_with_ones_is_the_plain_mlp_and_scalar_masks_are_weight_scaling(key):
    init, apply = dense_mlp((5,), 2)
    _, params = init(key, (3,))
    x = jax.random.normal(jax.random.fold_in(key, 1), (4, 3))
    np.testing.assert_allclose(dropout_mlp_apply(params, x, [jnp.ones(3), jnp.ones(5)]), apply(params, x), rtol=1e-6)
    np.testing.assert_allclose(dropout_mlp_apply(params, x, [0.8, 0.5]), apply(weight_scaled(params, (0.8, 0.5)), x),
                               rtol=1e-5, atol=1e-6)


def test_exhaustive_masks_give_the_weight_scaled_linear_model(key, x64):
    masks = all_masks(4)
    assert masks.shape == (16, 4) and len({tuple(m) for m in masks}) == 16
    probs = mask_probabilities(masks, 0.3)
    np.testing.assert_allclose(probs.sum(), 1.0, rtol=1e-14)
    init, apply = dense_mlp((), 3)
    _, params = init(key, (4,))
    x = jax.random.normal(key, (2, 4))
    members = np.stack([np.asarray(dropout_mlp_apply(params, x, [m])) for m in masks])
    np.testing.assert_allclose(np.tensordot(probs, members, axes=1), apply(weight_scaled(params, 0.3), x),
                               rtol=1e-12)
    log_p = members - np.log(np.exp(members).sum(-1, keepdims=True))
    geo = np.exp(np.tensordot(probs, log_p, axes=1))
    np.testing.assert_allclose(normalized_geometric_mean(log_p, probs), geo / geo.sum(-1, keepdims=True), rtol=1e-12)


def test_regression_stump_matches_sklearn(key):
    x = np.asarray(jax.random.uniform(key, (30,)), np.float64)
    y = np.sin(6 * x) + 0.1 * np.asarray(jax.random.normal(jax.random.fold_in(key, 1), (30,)))
    x_test = np.linspace(-0.1, 1.1, 50)
    tree = DecisionTreeRegressor(max_depth=1).fit(x[:, None], y)
    np.testing.assert_allclose(regression_stump(x, y, x_test), tree.predict(x_test[:, None]), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(regression_stump(np.ones(5), np.arange(5.0), x_test), 2.0)


def test_bootstrap_and_bagged_predict(key):
    idx = np.asarray(bootstrap_indices(key, 50, 400))
    assert idx.shape == (400, 50) and idx.min() >= 0 and idx.max() < 50
    # fraction of distinct points in a bootstrap sample -> 1 - (1 - 1/n)^n
    distinct = np.mean([len(set(row)) / 50 for row in idx])
    assert abs(distinct - (1 - (1 - 1 / 50) ** 50)) < 0.01
    x, y = jnp.linspace(0, 1, 20), jnp.linspace(0, 1, 20) ** 2
    mean, members = bagged_predict(regression_stump, key, x, y, jnp.array([0.1, 0.9]), 7)
    assert members.shape == (7, 2)
    np.testing.assert_allclose(mean, members.mean(0), rtol=1e-6)


def test_average_variance_matches_correlated_gaussians(key):
    sigma2, rho, b = 2.0, 0.3, 5
    cov = sigma2 * (rho * np.ones((b, b)) + (1 - rho) * np.eye(b))
    np.testing.assert_allclose(average_variance(sigma2, rho, b), np.ones(b) @ cov @ np.ones(b) / b**2, rtol=1e-6)


@pytest.mark.parametrize("call, match", [
    (lambda: inverted_dropout(jax.random.key(0), jnp.ones(3), 1.0), "rate"),
    (lambda: inverted_dropout(jax.random.key(0), jnp.ones(3), -0.1), "rate"),
    (lambda: dropout_mask(jax.random.key(0), (3,), 1.5), "rate"),
    (lambda: all_masks(21), "d"),
    (lambda: average_variance(1.0, 1.5, 3), "rho"),
    (lambda: bootstrap_indices(jax.random.key(0), 0, 3), "n"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
