"""Adding and copy problems: structure, targets, and the trivial predictor's error."""

import jax
import numpy as np
import pytest

from dl_theory.data.sequences import ADDING_TRIVIAL_MSE, adding_problem, copy_problem


def test_adding_problem_structure_and_trivial_mse():
    x, y = adding_problem(jax.random.key(0), 20_000, 9)
    x, y = np.asarray(x), np.asarray(y)
    assert x.shape == (20_000, 9, 2) and y.shape == (20_000, 1)
    markers = x[..., 1]
    assert np.all(markers.sum(axis=1) == 2)
    assert np.all(markers[:, :4].sum(axis=1) == 1) and np.all(markers[:, 4:].sum(axis=1) == 1)
    np.testing.assert_allclose(y[:, 0], (x[..., 0] * markers).sum(axis=1), rtol=1e-6)
    sq = (y[:, 0] - 1.0) ** 2
    assert abs(sq.mean() - ADDING_TRIVIAL_MSE) < 5 * sq.std() / np.sqrt(sq.size)


def test_copy_problem_layout():
    x, y = copy_problem(jax.random.key(1), 50, 6, n_copy=3, n_symbols=4)
    tokens, y = np.argmax(np.asarray(x), axis=-1), np.asarray(y)
    assert x.shape == (50, 12, 6) and y.shape == (50, 12)
    np.testing.assert_array_equal(y[:, -3:], tokens[:, :3])
    assert np.all((tokens[:, :3] >= 1) & (tokens[:, :3] <= 4))
    assert np.all(tokens[:, 3:9] == 0) and np.all(tokens[:, 9] == 5) and np.all(tokens[:, 10:] == 0)
    assert np.all(y[:, :9] == 0)


@pytest.mark.parametrize("make,match", [
    (lambda: adding_problem(jax.random.key(0), 4, 1), "length"),
    (lambda: adding_problem(jax.random.key(0), 0, 5), "n"),
    (lambda: copy_problem(jax.random.key(0), 4, -1), "delay"),
    (lambda: copy_problem(jax.random.key(0), 4, 3, n_symbols=1), "n_symbols"),
])
def test_bad_input_raises(make, match):
    with pytest.raises(ValueError, match=match):
        make()
