"""Exact region counts against brute force: activation patterns on a fine grid, dense evaluation, closed forms."""

import jax
import numpy as np
import pytest

from dl_theory.models.mlp import dense_mlp
from dl_theory.models.regions import arrangement_regions, line_breakpoints, tent_map_params
from dl_theory.theory.regions import montufar_count, residual_path_counts, zaslavsky_count


def _grid_patterns(w, b, box, n=1201):
    g = np.linspace(-box, box, n)
    xy = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    codes = (xy @ w.T + b[None, :] > 0) @ (2 ** np.arange(len(b)))  # one integer per activation pattern
    return len(np.unique(codes))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_box_count_matches_grid_activation_patterns(seed):
    """Cross-check only: 4 lines in a box, well-spread cells (a fine grid sees every cell of these small cases)."""
    rng = np.random.default_rng(seed)
    w, b = rng.normal(size=(4, 2)), rng.uniform(-1, 1, 4)
    assert arrangement_regions(w, b, box=2.0) == _grid_patterns(w, b, 2.0)


@pytest.mark.parametrize("m", [1, 2, 5, 12])
def test_plane_count_is_zaslavsky(m):
    rng = np.random.default_rng(m)
    assert arrangement_regions(rng.normal(size=(m, 2)), rng.normal(size=m)) == zaslavsky_count(m, 2)


def test_degenerate_arrangements():
    # three concurrent lines through the origin: 6 cells, not 7; a repeated line and a zero unit add nothing
    w = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0], [0.0, 0.0]])
    assert arrangement_regions(w, np.zeros(5)) == 6
    # parallel lines: x = -1, 0, 1 give 4 strips; a line outside the box is not counted
    assert arrangement_regions(np.array([[1.0, 0.0]] * 3), np.array([-1.0, 0.0, 1.0])) == 4
    assert arrangement_regions(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([5.0, 0.0]), box=2.0) == 2


def test_line_breakpoints_match_dense_evaluation():
    init, apply = dense_mlp((6, 6, 6), 1, activation=jax.nn.relu)
    _, params = init(jax.random.key(3), (2,))
    rng = np.random.default_rng(3)
    params = [{"w": np.asarray(p["w"]), "b": 0.3 * rng.normal(size=p["b"].shape)} for p in params]
    x0, v = np.array([0.2, -0.4]), np.array([0.6, 0.8])
    ts = line_breakpoints(params, x0, v, (-2.0, 2.0))
    # every hidden pre-activation keeps its sign strictly inside each piece; dense points cover every piece
    t = np.linspace(-2.0, 2.0, 40001)
    x = x0[None, :] + t[:, None] * v[None, :]
    h, patterns = x, []
    for p in params[:-1]:
        z = h @ p["w"] + p["b"][None, :]
        patterns.append(z > 0)
        h = np.maximum(z, 0.0)
    pattern = np.concatenate(patterns, axis=1)
    changes = t[1:][np.any(pattern[1:] != pattern[:-1], axis=1)]
    assert len(changes) == len(ts)
    np.testing.assert_allclose(changes, ts, atol=4.0 / 40000)
    # the net is affine between breakpoints: second differences vanish away from them
    with jax.enable_x64(True):
        y = np.asarray(apply(params, x))[:, 0]
    curvature = np.abs(np.diff(y, 2))
    near = np.min(np.abs(t[1:-1, None] - ts[None, :]), axis=1) < 2 * 4.0 / 40000
    assert curvature[~near].max() < 1e-9


def test_tent_map_values_and_pieces(x64):
    _, apply = dense_mlp((2,) * 5, 1, activation=jax.nn.relu)
    x = np.linspace(0.0, 1.0, 2**5 + 1)
    np.testing.assert_array_equal(np.asarray(apply(tent_map_params(5), x[:, None]))[:, 0], np.arange(33) % 2)
    np.testing.assert_allclose(line_breakpoints(tent_map_params(5), [0.0], [1.0]), x[1:-1])


def test_closed_forms():
    assert [zaslavsky_count(m, 1) for m in range(4)] == [1, 2, 3, 4]
    assert zaslavsky_count(4, 2) == 11 and zaslavsky_count(3, 3) == 8
    assert montufar_count((4, 4, 4), 1) == 4 * 4 * 5 and montufar_count((5,), 2) == 16
    assert residual_path_counts(4) == [1, 4, 6, 4, 1]
    with pytest.raises(ValueError, match="t_range"):
        line_breakpoints(tent_map_params(1), [0.0], [1.0], (1.0, 0.0))
    with pytest.raises(ValueError, match="w_Mx2"):
        arrangement_regions(np.ones((3, 3)), np.ones(3))
