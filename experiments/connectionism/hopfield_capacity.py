"""Hopfield capacity: retrieval vs load alpha = s/n, energy descent, and exact fixed points.

Random ±1 patterns are stored with Hebbian weights and asynchronous dynamics start from a stored pattern. Below the
critical load alpha_c ~ 0.138 (Amit, Gutfreund & Sompolinsky 1985) the dynamics stay in a retrieval state whose
overlap with the pattern is at least 0.967; above it that state is gone and the overlap collapses. The collapse point
of a finite network is where the mean final overlap first drops below 0.9 (linear interpolation on the alpha grid,
with a bootstrap standard error over trials): the onset of the collapse. At finite n it sits above alpha_c, because
fluctuations of order n^(-1/2) keep runs in retrieval beyond alpha_c, and it moves down toward alpha_c as n grows. The
claims are that the collapse at the largest n lies within 15% of alpha_c (the shift is still of order 10% at n ~ 10^3)
and, as a second claim, that it moved down from the smallest n to the largest (the a + b/sqrt(n) extrapolation is
reported as a metric). Smaller n get proportionally more trials (n_trials times n_max/n), so every size has a
comparable standard error.

The dynamics keep the pattern overlaps instead of the weight matrix (exact integers, O(s) per update, see
:func:`~dl_theory.models.classical.hopfield.retrieve_hebbian`), so the energy E(x) is known exactly after every single
update at every n, and also before the first one (E(x_0)); the claim is that no update raises it. An independent
check runs a few of the smallest-n cases through the weight-matrix dynamics with a full O(n^2) energy after every
update and requires the same trajectory. Exact fixed points are counted around the perfect-recall capacities
n/(2 ln n) and n/(4 ln n) (McEliece et al. 1987; the notes' log_2 is a typo).
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np

from dl_theory import checks
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.models.classical.hopfield import hebbian_fixed_points, hebbian_weights, retrieve, retrieve_hebbian
from dl_theory.theory.hopfield import ALPHA_C, capacity_all, capacity_most, fixed_point_probability
from dl_theory.training.progress import progress

COLLAPSE = 0.9  # mean overlap level between the retrieval branch (>= 0.967 up to alpha_c) and the collapsed state
NEAR = 0.15  # "near alpha_c": the largest-n collapse within 15% of it (finite-size shift ~10% at n ~ 1e3)
RETRIEVAL_ALPHA = 0.08  # well below alpha_c: retrieval overlap >= 0.95 at every n


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    ns: Annotated[tuple[int, ...], checks.each(checks.at_least(50), min_length=2)] = (100, 250, 500, 1000, 2000)
    alphas: Annotated[tuple[float, ...], checks.each(checks.in_interval(0.0, 1.0), min_length=3)] = (
        0.08, 0.11, 0.12, 0.13, 0.135, 0.14, 0.145, 0.15, 0.155, 0.16, 0.17, 0.18, 0.2, 0.22, 0.25, 0.3)
    n_trials: Annotated[int, checks.at_least(4)] = 32
    max_sweeps: Annotated[int, checks.count] = 30
    capacity_factors: Annotated[tuple[float, ...], checks.each(checks.positive)] = (0.5, 1.0, 1.5, 2.0, 3.0)
    fixed_point_trials: Annotated[int, checks.count] = 200
    matrix_check_n: Annotated[int, checks.at_least(2)] = 100
    matrix_check_runs: Annotated[int, checks.count] = 8
    bootstrap: Annotated[int, checks.at_least(20)] = 200

    @classmethod
    def quick(cls) -> "Config":
        return cls(ns=(100, 1000), n_trials=32, fixed_point_trials=40, matrix_check_runs=4,
                   alphas=(0.08, 0.12, 0.13, 0.14, 0.15, 0.16, 0.17, 0.18, 0.2, 0.22, 0.25))


def _patterns(key: jax.Array, s: int, n: int) -> jax.Array:
    return jnp.where(jax.random.bernoulli(key, 0.5, (s, n)), 1, -1).astype(jnp.int8)


def _retrieval_runs(key: jax.Array, n: int, counts: np.ndarray, n_trials: int, max_sweeps: int):
    """Final overlaps, max energy change per update (E(x_0) included) and overlap consistency per (alpha, trial).

    Every run uses the same visiting order; the trials stay independent because the patterns are i.i.d. and
    exchangeable over units, so a fixed order is as good as a random one.
    """
    s_max = int(counts.max())
    k_order, k_patterns = jax.random.split(key)

    def one(ks):
        k, s = ks
        patterns = _patterns(k, s_max, n)
        mask = jnp.arange(s_max) < s
        run = retrieve_hebbian(patterns, patterns[0], k_order, max_sweeps, mask)
        trace = jnp.concatenate([run.initial_energy[None], run.energies.ravel()])
        return (run.x @ patterns[0].astype(jnp.int32)) / n, jnp.max(jnp.diff(trace)), run.converged

    s_grid = jnp.repeat(jnp.asarray(counts), n_trials)
    with jax.enable_x64(True):  # exact int64 energies; one alpha's trials at a time bounds the memory
        batched = jax.jit(lambda keys, s_grid: jax.lax.map(one, (keys, s_grid), batch_size=n_trials))
        overlap, rise, converged = batched(jax.random.split(k_patterns, len(s_grid)), s_grid)
    shape = (len(counts), n_trials)
    return np.asarray(overlap).reshape(shape), int(np.max(rise)), np.asarray(converged).reshape(shape)


def _matrix_check(key: jax.Array, n: int, counts: np.ndarray, runs: int, max_sweeps: int) -> tuple[bool, int]:
    """The weight-matrix dynamics with a full energy after every update against the overlap dynamics.

    Returns whether every run had the same trajectory (final state, E(x_0) and every energy) and the max energy
    change over every update of the weight-matrix runs, the first one included.
    """
    s_max = int(counts.max())

    @jax.jit
    @jax.vmap
    def one(k, s):
        k_p, k_o = jax.random.split(k)
        patterns = _patterns(k_p, s_max, n)
        mask = jnp.arange(s_max) < s
        full = retrieve(hebbian_weights(patterns, mask, normalize=False), patterns[0], k_o, max_sweeps,
                        track_every_update=True)
        fast = retrieve_hebbian(patterns, patterns[0], k_o, max_sweeps, mask)
        trace = jnp.concatenate([full.initial_energy[None], full.energies.ravel()])
        same = (jnp.all(full.x == fast.x) & jnp.all(full.energies == fast.energies)
                & (full.initial_energy == fast.initial_energy))
        return same, jnp.max(jnp.diff(trace))

    s_grid = jnp.asarray(np.resize(counts, runs))
    same, rise = one(jax.random.split(key, runs), s_grid)
    return bool(np.all(same)), int(np.max(rise))


def _fixed_fractions(key: jax.Array, n: int, counts: np.ndarray, n_trials: int) -> np.ndarray:
    """Per trial, the fraction of the s stored patterns that are exact fixed points; shape (len(counts), trials)."""
    s_max = int(np.max(counts))

    @jax.jit
    @jax.vmap
    def one(k, s):
        mask = jnp.arange(s_max) < s
        return jnp.sum(hebbian_fixed_points(_patterns(k, s_max, n), mask)) / s

    s_grid = jnp.repeat(jnp.asarray(counts), n_trials)
    return np.asarray(one(jax.random.split(key, len(s_grid)), s_grid)).reshape(len(counts), n_trials)


def crossing(alphas: np.ndarray, curve: np.ndarray, level: float) -> float:
    """First alpha where ``curve`` drops below ``level`` (linear interpolation); nan if it never does."""
    below = np.flatnonzero(curve < level)
    if below.size == 0 or below[0] == 0:
        return float("nan")
    j = below[0]
    a0, a1, c0, c1 = alphas[j - 1], alphas[j], curve[j - 1], curve[j]
    return float(a0 + (c0 - level) * (a1 - a0) / (c0 - c1))


def collapse_point(rng: np.random.Generator, alphas: np.ndarray, overlap: np.ndarray,
                   reps: int) -> tuple[float, float]:
    """Where the mean final overlap first drops below ``COLLAPSE``, and its bootstrap standard error (the trials of
    every alpha resampled ``reps`` times)."""
    estimate = crossing(alphas, overlap.mean(axis=1), COLLAPSE)
    trials = overlap.shape[1]
    boot = [crossing(alphas, np.take_along_axis(overlap, rng.integers(0, trials, overlap.shape), 1).mean(axis=1),
                     COLLAPSE) for _ in range(reps)]
    return estimate, float(np.nanstd(boot, ddof=1))


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    alphas = np.asarray(sorted(cfg.alphas), float)
    overlap, alpha_c, alpha_c_se, rise, converged, fixed = {}, {}, {}, {}, {}, {}
    for i, n in enumerate(progress(cfg.ns, desc="hopfield-capacity")):
        counts = np.maximum(np.round(alphas * n).astype(int), 1)
        trials = cfg.n_trials * max(1, max(cfg.ns) // n)
        overlap[n], rise[n], conv = _retrieval_runs(jax.random.fold_in(key, i), n, counts, trials, cfg.max_sweeps)
        converged[n] = conv.mean(axis=1)
        alpha_c[n], alpha_c_se[n] = collapse_point(rng, alphas, overlap[n], cfg.bootstrap)
        fp_counts = np.maximum(np.round(np.asarray(cfg.capacity_factors) * capacity_most(n)).astype(int), 1)
        fixed[n] = (fp_counts, _fixed_fractions(jax.random.fold_in(key, 1000 + i), n, fp_counts,
                                                cfg.fixed_point_trials))
    check_counts = np.maximum(np.round(alphas * cfg.matrix_check_n).astype(int), 1)
    same, matrix_rise = _matrix_check(jax.random.fold_in(key, 3000), cfg.matrix_check_n, check_counts,
                                      cfg.matrix_check_runs, cfg.max_sweeps)

    ns = sorted(cfg.ns)
    largest, smallest = ns[-1], ns[0]
    finite = [n for n in ns if np.isfinite(alpha_c[n])]
    extrapolated, finite_size_slope = (np.polyfit(1 / np.sqrt(finite), [alpha_c[n] for n in finite], 1)[::-1]
                                       if len(finite) >= 2 else (np.nan, np.nan))
    retrieval = min(float(overlap[n][alphas <= RETRIEVAL_ALPHA].mean(axis=1).min(initial=1.0)) for n in ns)
    most = {n: fixed[n][1][int(np.argmin(np.abs(np.asarray(cfg.capacity_factors) - 1.0)))].mean() for n in ns}
    s_all = max(int(round(float(capacity_all(largest)))), 1)
    all_fixed = _fixed_fractions(jax.random.fold_in(key, 2000), largest, np.array([s_all]), cfg.fixed_point_trials)[0]
    shift = alpha_c[smallest] - alpha_c[largest]
    agree = bool(same and matrix_rise <= 0)
    claims = [
        Claim.at_most("energy-every-update", "max energy change over every single update, the first one from "
                      "E(x0) included (exact integer energies, every n, alpha and trial) <= 0", 0.0,
                      float(max(rise.values()))),
        Claim("matrix-dynamics-agree", f"n={cfg.matrix_check_n}, {cfg.matrix_check_runs} runs: the weight-matrix "
              "dynamics with a full O(n^2) energy after every update give the same states and energies, and no "
              "update raises that energy", True, agree, None, agree),
        Claim.close("collapse-at-largest-n", f"alpha where the mean final overlap first drops below {COLLAPSE} at "
                    f"n={largest} (bootstrap SE {alpha_c_se[largest]:.4f}), within {NEAR:.0%} of alpha_c", ALPHA_C,
                    alpha_c[largest], rtol=NEAR),
        Claim.at_least("collapse-moves-down", f"finite-size trend: collapse at n={smallest} minus collapse at "
                       f"n={largest} > 0 (the collapse moves down toward alpha_c as n grows)", 0.0, float(shift)),
        Claim.at_least("retrieval-below-capacity", f"min over n and alpha <= {RETRIEVAL_ALPHA} of the mean final "
                       "overlap", 0.95, retrieval),
        Claim.at_least("most-fixed-at-n/2ln(n)", "min over n of the fraction of stored patterns that are exact "
                       "fixed points at s = n/(2 ln n)", 0.5, float(min(most.values()))),
        Claim.at_least("all-fixed-at-n/4ln(n)", f"fraction of trials with every pattern fixed at s = n/(4 ln n), "
                       f"n={largest}", 0.9, float(np.mean(all_fixed == 1.0))),
    ]
    metrics = {
        "alpha_c_estimate": {str(n): alpha_c[n] for n in ns},
        "alpha_c_se": {str(n): alpha_c_se[n] for n in ns},
        "alpha_c_extrapolated_a_plus_b_over_sqrt_n": float(extrapolated),
        "alpha_c_finite_size_slope_b": float(finite_size_slope),
        "mean_overlap": {str(n): overlap[n].mean(axis=1).tolist() for n in ns},
        "converged_fraction": {str(n): converged[n].tolist() for n in ns},
        "max_energy_change_per_update": {str(n): rise[n] for n in ns},
        "alphas": alphas.tolist(),
        "fixed_fraction": {str(n): {"s": fixed[n][0].tolist(), "measured": fixed[n][1].mean(axis=1).tolist(),
                                    "gaussian_approx": fixed_point_probability(n, fixed[n][0]).tolist()}
                           for n in ns},
        "notes_log2_capacity_over_correct": float(np.log(2)),
    }
    return Result(claims, metrics, {"alphas": alphas, "overlap": overlap, "alpha_c": alpha_c, "fixed": fixed,
                                    "ns": ns, "factors": cfg.capacity_factors})


def plot(result: Result):
    d = result.data
    fig, (ax1, ax2) = subplots(1, 2, width=4.6, title="Hopfield network capacity")
    for n in d["ns"]:
        m = d["overlap"][n]
        ax1.errorbar(d["alphas"], m.mean(axis=1), yerr=m.std(axis=1, ddof=1) / np.sqrt(m.shape[1]), marker="o",
                     ms=3, capsize=2, label=f"n={n} (α̂c={d['alpha_c'][n]:.3f})")
    ax1.axvline(ALPHA_C, color="black", ls="--", lw=1.2, label="αc ≈ 0.138")
    ax1.axhline(COLLAPSE, color="0.5", ls=":", lw=1)
    ax1.set(xlabel="α = s / n", ylabel="final overlap with the stored pattern", title="retrieval from a pattern")
    ax1.legend(fontsize=7)
    for n in d["ns"]:
        counts, frac = d["fixed"][n]
        x = counts / capacity_most(n)
        (line,) = ax2.plot(x, frac.mean(axis=1), "o", ms=4, label=f"n={n}")
        grid = np.linspace(max(counts.min(), 2), counts.max(), 100)
        theory_line(ax2, grid / capacity_most(n), fixed_point_probability(n, grid), label=None,
                    color=line.get_color(), alpha=0.8)
    ax2.axvline(1.0, color="black", ls=":", lw=1)
    ax2.set(xlabel="s / (n / 2 ln n)", ylabel="fraction of patterns that are fixed points",
            title="exact fixed points (dashed: Gaussian approx.)")
    ax2.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="hopfield-capacity",
    description="Hebbian Hopfield net: energy descent, overlap collapse near α≈0.138, fixed points vs n/(2 ln n).",
    config=Config, run=run, plot=plot)
