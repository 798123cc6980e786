"""Offline tabular data: the biased population's planted rates, the bundled diabetes set, the split."""

import jax
import numpy as np
import pytest

from dl_theory.data.tabular import biased_population, diabetes_sex, planted_features, recorded_base_rates, split


def test_biased_population_has_the_planted_rates():
    data = biased_population(jax.random.key(0), 20000, base_rates=(0.5, 0.3), label_flip=0.2)
    expected = recorded_base_rates((0.5, 0.3), 0.2)
    for a in (0, 1):
        y = data.y_N[data.a_N == a]
        assert abs(y.mean() - expected[a]) < 5 * np.sqrt(expected[a] * (1 - expected[a]) / len(y))
    assert np.all(data.y_N <= data.y_true_N)  # label bias only removes positives ...
    assert np.all(data.y_N[data.a_N == 0] == data.y_true_N[data.a_N == 0])  # ... of the protected group
    assert data.x_NxD.shape == (20000, 3)
    again = biased_population(jax.random.key(0), 20000, base_rates=(0.5, 0.3), label_flip=0.2)
    np.testing.assert_array_equal(data.x_NxD, again.x_NxD)


def test_diabetes_sex_is_the_bundled_data():
    data = diabetes_sex()
    assert data.x_NxD.shape == (442, 9)
    assert np.bincount(data.a_N).tolist() == [235, 207]  # sex values 1 and 2
    assert data.y_N.sum() == 221  # above the median of the target
    np.testing.assert_allclose(data.x_NxD.mean(axis=0), 0.0, atol=1e-12)
    assert diabetes_sex(include_sex=True).x_NxD.shape == (442, 10)


def test_split_partitions_the_rows():
    data = diabetes_sex()
    train, test = split(data, 0.25, seed=0)
    assert (len(train.y_N), len(test.y_N)) == (332, 110)
    both = np.concatenate([train.x_NxD, test.x_NxD])
    assert sorted(map(tuple, both)) == sorted(map(tuple, data.x_NxD))


def test_planted_features_formula():
    x, y = planted_features(jax.random.key(1), 50, d=5, noise=0.0)
    np.testing.assert_allclose(y, 3 * np.sin(x[:, 0]) + x[:, 1] + 0.5 * x[:, 2] * x[:, 3], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: biased_population(jax.random.key(0), 10, base_rates=(0.5, 1.5)), "base_rates"),
    (lambda: biased_population(jax.random.key(0), 0), "n must be"),
    (lambda: split(diabetes_sex(), 1.0, 0), "test_fraction"),
    (lambda: planted_features(jax.random.key(0), 10, d=3), "d must be"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
