"""Tests of the §1 models: the perceptron (against a plain-Python reference and Novikoff's invariants), separability
and the maximum-margin classifier (brute force over directions in 2-D, KKT conditions in higher dimension), and the
Hopfield network (Hebbian weights, exact integer energy, monotone descent, fixed points)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

from dl_theory.models.classical.hopfield import (
    energy,
    hebbian_fixed_points,
    hebbian_weights,
    is_fixed_point,
    retrieve,
    retrieve_hebbian,
)
from dl_theory.models.classical.max_margin import is_separable, max_margin
from dl_theory.models.classical.perceptron import margins, perceptron, with_bias
from dl_theory.theory.perceptron import novikoff_bound

XOR_X = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
XOR_Y = np.array([1.0, 1.0, -1.0, -1.0])

# --- perceptron ----------------------------------------------------------------------------------------------


def _reference_perceptron(x, y, max_epochs):
    """The textbook rule in plain Python: cyclic passes, update w += y x when y w.x <= 0."""
    w, counts, path = np.zeros(x.shape[1]), np.zeros(len(x), int), []
    for epoch in range(1, max_epochs + 1):
        mistakes = 0
        for i in range(len(x)):
            if y[i] * (w @ x[i]) <= 0:
                w = w + y[i] * x[i]
                counts[i] += 1
                mistakes += 1
                path.append(w.copy())
        if mistakes == 0:
            return w, counts, True, epoch, np.array(path)
    return w, counts, False, max_epochs, np.array(path)


def _integer_separable(seed, s=40, d=4):
    """Integer points labelled by an integer teacher (all arithmetic is exact in float32)."""
    rng = np.random.default_rng(seed)
    teacher = rng.integers(-3, 4, d)
    x = rng.integers(-4, 5, (4 * s, d))
    x = x[x @ teacher != 0][:s]
    return x.astype(np.float32), np.sign(x @ teacher).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1])
def test_perceptron_matches_reference(seed):
    x, y = _integer_separable(seed)
    w_ref, counts_ref, converged_ref, epochs_ref, path_ref = _reference_perceptron(x, y, 500)
    assert converged_ref
    run = perceptron(x, y, max_epochs=500, max_updates=len(path_ref) + 3)
    np.testing.assert_array_equal(run.w, w_ref)
    np.testing.assert_array_equal(run.counts, counts_ref)
    assert bool(run.converged) and int(run.epochs) == epochs_ref
    np.testing.assert_array_equal(run.w_path[: len(path_ref)], path_ref)
    np.testing.assert_array_equal(run.w_path[len(path_ref):], 0.0)
    assert np.all(y * (x @ np.asarray(run.w)) > 0)  # separates the data
    np.testing.assert_array_equal(x.T @ (np.asarray(run.counts) * y), run.w)  # w = sum_i alpha_i y_i x_i


def test_perceptron_on_xor_does_not_converge():
    run = perceptron(XOR_X, XOR_Y, max_epochs=7)
    w_ref, counts_ref, converged_ref, epochs_ref, _ = _reference_perceptron(XOR_X, XOR_Y, 7)
    assert not bool(run.converged) and not converged_ref and int(run.epochs) == epochs_ref == 7
    np.testing.assert_array_equal(run.counts, counts_ref)
    np.testing.assert_array_equal(run.w, w_ref)


def test_perceptron_novikoff_invariants():
    rng = np.random.default_rng(3)
    d, s, gamma = 5, 200, 0.15
    w_star = rng.normal(size=d)
    w_star /= np.linalg.norm(w_star)
    x = rng.normal(size=(4 * s, d))
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1.0)  # inside the unit ball
    x = x[np.abs(x @ w_star) >= gamma][:s]
    y = np.sign(x @ w_star)
    radius, margin = np.linalg.norm(x, axis=1).max(), np.min(y * (x @ w_star))
    bound = novikoff_bound(radius, margin)
    run = perceptron(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), max_epochs=int(bound) + 2,
                     max_updates=int(bound) + 1)
    t_total = int(run.counts.sum())
    assert bool(run.converged) and 0 < t_total <= bound
    path = np.asarray(run.w_path[:t_total], np.float64)
    t = np.arange(1, t_total + 1)
    assert np.all(np.sum(path**2, axis=1) <= t * radius**2 * (1 + 1e-5))  # ||w_t||^2 <= t R^2
    assert np.all(path @ w_star >= t * margin * (1 - 1e-5))  # w_t . w* >= t gamma


def test_perceptron_helpers():
    x = jnp.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(with_bias(x), [[0, 1, 1], [2, 3, 1], [4, 5, 1]])
    w, y = jnp.array([3.0, 4.0]), jnp.array([1.0, -1.0, 1.0])
    np.testing.assert_allclose(margins(w, x, y), np.array([4.0, -18.0, 32.0]) / 5.0, rtol=1e-6)
    with pytest.raises(ValueError, match=r"y_N must have shape \(3,\)"):
        perceptron(x, jnp.ones(2), max_epochs=3)


# --- separability and the maximum margin ---------------------------------------------------------------------


def _separable_data(rng, s, d, gamma):
    w_star = rng.normal(size=d)
    w_star /= np.linalg.norm(w_star)
    x = rng.normal(size=(6 * s, d))
    x = x[np.abs(x @ w_star) >= gamma][:s]
    return x, np.sign(x @ w_star)


def test_is_separable():
    assert not is_separable(XOR_X, XOR_Y)
    assert not is_separable(np.asarray(with_bias(XOR_X)), XOR_Y)  # XOR needs more than a bias
    x, y = _separable_data(np.random.default_rng(0), 50, 3, 0.1)
    assert is_separable(x, y)
    assert not is_separable(np.vstack([x, np.zeros(3)]), np.append(y, 1.0))  # the origin has no side
    assert is_separable(x[:3], -y[:3])  # 3 points in general position in R^3: every labeling
    with pytest.raises(ValueError, match="labels y must be -1 or"):
        is_separable(x, (y > 0).astype(float))
    with pytest.raises(ValueError, match="need x of shape"):
        is_separable(x, y[:-1])


def test_max_margin_brute_force_2d():
    rng = np.random.default_rng(4)
    x, y = _separable_data(rng, 25, 2, 0.2)
    result = max_margin(x, y)
    assert np.linalg.norm(result.w) == pytest.approx(1.0, abs=1e-12)
    assert result.violation <= 1e-8
    assert np.min(y * (x @ result.w)) == pytest.approx(result.margin, rel=1e-7)
    step = 2 * np.pi / 400_000
    theta = np.arange(0, 2 * np.pi, step)
    directions = np.stack([np.cos(theta), np.sin(theta)])
    grid = np.min(y[:, None] * (x @ directions), axis=0)
    best = grid.max()
    radius = np.linalg.norm(x, axis=1).max()
    # the continuous maximum is at least the grid's and at most R * step / 2 above it (Lipschitz in the angle)
    assert best - 1e-9 <= result.margin <= best + radius * step / 2
    best_direction = directions[:, grid.argmax()]
    assert np.arccos(np.clip(best_direction @ result.w, -1, 1)) < 1e-3


@pytest.mark.parametrize("s, d", [(30, 5), (12, 8)])
def test_max_margin_kkt(s, d):
    """KKT for min |w|^2/2 s.t. y_i w.x_i >= 1: w = sum alpha_i y_i x_i, alpha >= 0 on active constraints only."""
    x, y = _separable_data(np.random.default_rng(s + d), s, d, 0.05)
    result = max_margin(x, y)
    w_qp = result.w / result.margin  # the QP solution: margin 1 / |w_qp|
    functional = y * (x @ w_qp)
    assert functional.min() >= 1 - 1e-7  # primal feasibility
    active = functional <= 1 + 1e-6
    alpha, residual = optimize.nnls((y[active, None] * x[active]).T, w_qp)  # stationarity with alpha >= 0
    assert residual <= 1e-6 * np.linalg.norm(w_qp)
    assert 1 <= active.sum() <= d
    # any other feasible separator with functional margin >= 1 is at least as long (optimality, sampled)
    others = result.w[None, :] + 0.3 * np.random.default_rng(0).normal(size=(200, d))
    scaled = others / np.min(y[:, None] * (x @ others.T), axis=0)[:, None].clip(1e-12)
    feasible = np.min(y[:, None] * (x @ others.T), axis=0) > 0
    assert np.all(np.linalg.norm(scaled[feasible], axis=1) >= np.linalg.norm(w_qp) * (1 - 1e-7))


def test_max_margin_rejects_inseparable_data():
    with pytest.raises(ValueError, match="not linearly separable"):
        max_margin(XOR_X, XOR_Y)


# --- Hopfield ------------------------------------------------------------------------------------------------


def _patterns(seed, s, n):
    return np.where(np.random.default_rng(seed).random((s, n)) < 0.5, 1, -1).astype(np.int32)


def test_hebbian_weights():
    p = _patterns(0, 4, 9)
    expected = p.T @ p
    np.fill_diagonal(expected, 0)
    w_int = hebbian_weights(p, normalize=False)
    assert w_int.dtype == jnp.int32
    np.testing.assert_array_equal(w_int, expected)
    np.testing.assert_allclose(hebbian_weights(p), expected / 9, rtol=1e-6)
    masked = p[[0, 2]].T @ p[[0, 2]]
    np.fill_diagonal(masked, 0)
    np.testing.assert_array_equal(hebbian_weights(p, jnp.array([1, 0, 1, 0]), normalize=False), masked)


def test_energy_is_exact_integer():
    n = 31
    w = hebbian_weights(_patterns(1, 5, n), normalize=False)
    rng = np.random.default_rng(2)
    w_np = np.asarray(w, np.int64)
    for _ in range(5):
        x = np.where(rng.random(n) < 0.5, 1, -1)
        b = rng.integers(-3, 4, n)
        off_diagonal = sum(w_np[i, j] * x[i] * x[j] for i in range(n) for j in range(n) if i != j)
        assert off_diagonal % 2 == 0
        e = energy(w, jnp.asarray(x, jnp.int32))
        assert jnp.issubdtype(e.dtype, jnp.integer) and int(e) == -off_diagonal // 2
        assert int(energy(w, jnp.asarray(x, jnp.int32), jnp.asarray(b, jnp.int32))) == -off_diagonal // 2 - b @ x
        assert float(energy(w / n, jnp.asarray(x, jnp.float32))) == pytest.approx(-off_diagonal / (2 * n), rel=1e-6)


def test_retrieve_energy_never_increases():
    n, s = 40, 6
    p = _patterns(3, s, n)
    w = hebbian_weights(p, normalize=False)
    rng = np.random.default_rng(4)
    noisy = p[0] * np.where(rng.random(n) < 0.3, -1, 1)
    run = retrieve(w, jnp.asarray(noisy), jax.random.key(5), max_sweeps=8, track_every_update=True)
    energies = np.asarray(run.energies).ravel()  # chronological: sweep by sweep, update by update
    assert energies.dtype.kind == "i" and energies.shape == (8 * n,)
    assert np.all(np.diff(energies) <= 0)
    assert energies[0] <= int(energy(w, jnp.asarray(noisy)))
    assert bool(run.converged) and 1 <= int(run.sweeps) < 8
    assert int(energy(w, run.x)) == energies[-1]
    assert bool(is_fixed_point(w, run.x))
    per_sweep = retrieve(w, jnp.asarray(noisy), jax.random.key(5), max_sweeps=8)
    np.testing.assert_array_equal(per_sweep.energies, np.asarray(run.energies)[:, -1])
    np.testing.assert_array_equal(per_sweep.x, run.x)
    with pytest.raises(ValueError, match=r"w_NxN must be \(40, 40\)"):
        retrieve(w[:5, :5], jnp.asarray(noisy), jax.random.key(0), max_sweeps=2)


def _fixed_by_brute_force(w, x):
    """Applies the asynchronous update to each unit of x in turn (without changing x): does any unit flip?"""
    for i in range(len(x)):
        h = w[i] @ x
        new = 1 if h > 0 else (-1 if h < 0 else x[i])
        if new != x[i]:
            return False
    return True


def test_is_fixed_point():
    n = 30
    single = _patterns(5, 1, n)
    assert bool(is_fixed_point(hebbian_weights(single), single[0]))
    for s in (2, 4, 8):
        p = _patterns(s, s, n)
        w = np.asarray(hebbian_weights(p, normalize=False))
        candidates = np.concatenate([p, _patterns(100 + s, 10, n)])
        for x in candidates:
            assert bool(is_fixed_point(w, x)) == _fixed_by_brute_force(w, x)
    w = np.zeros((3, 3), np.int32)  # zero fields keep every unit: everything is fixed
    assert bool(is_fixed_point(w, np.array([1, -1, 1])))


@pytest.mark.parametrize("n,s,flip", [(40, 6, 0.3), (60, 12, 0.1), (50, 1, 0.4)])
def test_retrieve_hebbian_equals_weight_matrix_dynamics(n, s, flip):
    """Same visiting order, same trajectory: final state, E(x0) and the energy after every update agree exactly."""
    p = _patterns(10 + s, s + 2, n)
    mask = np.arange(s + 2) < s
    x0 = p[0] * np.where(np.random.default_rng(s).random(n) < flip, -1, 1)
    full = retrieve(hebbian_weights(p, mask, normalize=False), jnp.asarray(x0), jax.random.key(s), 6,
                    track_every_update=True)
    fast = retrieve_hebbian(p, jnp.asarray(x0), jax.random.key(s), 6, mask)
    np.testing.assert_array_equal(fast.x, full.x)
    np.testing.assert_array_equal(fast.energies, full.energies)
    assert int(fast.initial_energy) == int(full.initial_energy) == int(energy(hebbian_weights(p, mask, False), x0))
    assert int(fast.sweeps) == int(full.sweeps) and bool(fast.converged) == bool(full.converged)
    trace = np.concatenate([[int(fast.initial_energy)], np.asarray(fast.energies).ravel()])
    assert np.all(np.diff(trace) <= 0)
    with pytest.raises(ValueError, match=rf"x0_N must have shape \({n},\)"):
        retrieve_hebbian(p, jnp.ones(n + 1), jax.random.key(0), 2)


def test_hebbian_fixed_points_match_is_fixed_point():
    n = 45
    for s in (1, 3, 7, 15):
        p = _patterns(200 + s, s + 3, n)
        mask = np.arange(s + 3) < s
        w = hebbian_weights(p, mask, normalize=False)
        expected = [bool(is_fixed_point(w, x)) for x in p[:s]]
        got = np.asarray(hebbian_fixed_points(p, mask))
        np.testing.assert_array_equal(got[:s], expected)
        assert not got[s:].any()  # masked-out patterns are not reported as stored fixed points
        np.testing.assert_array_equal(hebbian_fixed_points(p[:s]), expected)
