"""Novikoff's theorem: the perceptron makes at most R^2/gamma^2 updates on separable data.

For planted-margin data in several dimensions and margins, every trial's update count stays below R^2/gamma^2
(with gamma the teacher's margin on the sample), the two invariants of the proof hold after every update, and the
iterates stay in the span of the data.
"""

import functools
from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np

from dl_theory import checks, data
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.models.classical.perceptron import margins, perceptron
from dl_theory.theory.perceptron import novikoff_bound
from dl_theory.training.progress import progress


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    dims: Annotated[tuple[int, ...], checks.each(checks.at_least(2))] = (2, 10, 50)
    margins: Annotated[tuple[float, ...], checks.each(checks.in_interval(0.0, 1.0))] = (0.025, 0.05, 0.1, 0.2)
    n_points: Annotated[int, checks.at_least(2)] = 500
    n_trials: Annotated[int, checks.count] = 50
    span_dim: Annotated[int, checks.at_least(2)] = 100  # fewer points than dimensions: span(x) is a proper subspace
    span_points: Annotated[int, checks.count] = 30

    @classmethod
    def quick(cls) -> "Config":
        return cls(dims=(2, 10), margins=(0.05, 0.1, 0.2), n_points=200, n_trials=20)


@functools.partial(jax.jit, static_argnames=("n_trials", "n_points", "dim", "max_updates"))
def _trials(key: jax.Array, margin: jax.Array, *, n_trials: int, n_points: int, dim: int,
            max_updates: int) -> dict[str, jax.Array]:
    """Runs the perceptron on ``n_trials`` planted-margin samples; returns per-trial quantities of the theorem.

    ``max_updates`` (static: the shape of the recorded path) must be at least the Novikoff bound of ``margin``, which
    is traced, so one compile serves every margin of a dimension.
    """

    @jax.vmap
    def one(k):
        x, y, w_star = data.planted_margin(k, n_points, dim, margin)
        run = perceptron(x, y, max_epochs=max_updates + 1, max_updates=max_updates)
        radius = jnp.max(jnp.linalg.norm(x, axis=1))
        gamma = jnp.min(margins(w_star, x, y))
        t = jnp.arange(1, max_updates + 1)
        recorded = t <= run.counts.sum()
        norm_gap = jnp.where(recorded, t * radius**2 - jnp.sum(run.w_path**2, axis=1), jnp.inf) / (t * radius**2)
        align_gap = jnp.where(recorded, run.w_path @ w_star - t * gamma, jnp.inf) / (t * gamma)
        cosine = jnp.where(recorded, run.w_path @ w_star / jnp.linalg.norm(run.w_path, axis=1), jnp.nan)
        return dict(updates=run.counts.sum(), converged=run.converged, radius=radius, gamma=gamma,
                    norm_gap=norm_gap.min(), align_gap=align_gap.min(), cosine=cosine)

    return one(jax.random.split(key, n_trials))


def _span_residual(key: jax.Array, cfg: Config) -> tuple[float, float]:
    """Relative distance of the final w from span(x), and from the explicit sum of alpha_i y_i x_i."""
    x, y, _ = data.planted_margin(key, cfg.span_points, cfg.span_dim, 0.1)
    run = perceptron(x, y, max_epochs=200)
    q, _ = jnp.linalg.qr(x.T)
    residual = jnp.linalg.norm(run.w - q @ (q.T @ run.w)) / jnp.linalg.norm(run.w)
    explicit = jnp.linalg.norm(run.w - x.T @ (run.counts * y)) / jnp.linalg.norm(run.w)
    return float(residual), float(explicit)


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    cases = [(d, g) for d in cfg.dims for g in cfg.margins]
    rows = []
    max_updates = int(np.ceil(novikoff_bound(1.0, min(cfg.margins)))) + 1  # the largest bound: one path shape
    for i, (dim, margin) in enumerate(progress(cases, desc="perceptron-novikoff")):
        out = _trials(jax.random.fold_in(key, i), jnp.float32(margin), n_trials=cfg.n_trials, n_points=cfg.n_points,
                      dim=dim, max_updates=max_updates)
        out = jax.tree_util.tree_map(np.asarray, out)
        out["bound"] = (out["radius"] / out["gamma"]) ** 2
        rows.append(dict(dim=dim, margin=margin, **out))
    updates = np.concatenate([r["updates"] for r in rows])
    bounds = np.concatenate([r["bound"] for r in rows])
    span_residual, explicit_residual = _span_residual(jax.random.fold_in(key, len(cases)), cfg)
    float_eps = 1e-5
    claims = [
        Claim.at_most("updates-below-bound", "max over all trials of updates / (R^2/gamma^2) <= 1", 1.0,
                      float(np.max(updates / bounds))),
        Claim("all-converged", "every run separates its data (a mistake-free pass)", 1.0,
              float(np.mean(np.concatenate([r["converged"] for r in rows]))), 0.0,
              all(r["converged"].all() for r in rows)),
        Claim.at_least("norm-invariant", "min over updates of (t R^2 - ||w_t||^2) / (t R^2) >= 0", 0.0,
                       float(min(r["norm_gap"].min() for r in rows)), slack=float_eps),
        Claim.at_least("alignment-invariant", "min over updates of (w_t . w* - t gamma) / (t gamma) >= 0", 0.0,
                       float(min(r["align_gap"].min() for r in rows)), slack=float_eps),
        Claim.at_most("in-span", f"||w - P_span(x) w|| / ||w|| with {cfg.span_points} points in "
                      f"R^{cfg.span_dim}", 0.0, span_residual, slack=float_eps),
        Claim.at_most("explicit-expansion", "||w - sum_i alpha_i y_i x_i|| / ||w||", 0.0, explicit_residual,
                      slack=float_eps),
    ]
    metrics = {
        "cases": [{"dim": r["dim"], "margin": r["margin"], "mean_updates": float(r["updates"].mean()),
                   "max_updates": int(r["updates"].max()), "mean_bound": float(r["bound"].mean())} for r in rows],
        "max_updates_over_bound": float(np.max(updates / bounds)),
        "mean_updates_over_bound": float(np.mean(updates / bounds)),
    }
    example = rows[-1]
    return Result(claims, metrics, {"rows": rows, "updates": updates, "bounds": bounds, "example": example})


def plot(result: Result):
    fig, (ax1, ax2, ax3) = subplots(1, 3, title="Perceptron convergence (Novikoff)")
    for r in result.data["rows"]:
        ax1.scatter(r["bound"], r["updates"], s=9, alpha=0.6, label=f"n={r['dim']}, γ={r['margin']}")
    lim = [1, result.data["bounds"].max() * 1.3]
    theory_line(ax1, lim, lim, label="t = R²/γ²")
    ax1.set(xscale="log", yscale="log", xlabel="R²/γ²", ylabel="updates until separation")
    ax1.legend(fontsize=6.5, ncol=2)
    ratio = result.data["updates"] / result.data["bounds"]
    ax2.hist(ratio, bins=30, color="#1f5fa8")
    ax2.axvline(1.0, **{"color": "black", "linestyle": "--"})
    ax2.set(xlabel="updates / (R²/γ²)", ylabel="trials", title="all below 1")
    ex = result.data["example"]
    for trial in range(min(5, len(ex["updates"]))):
        cos = ex["cosine"][trial][: int(ex["updates"][trial])]  # recorded updates only (the path is padded)
        t = np.arange(1, len(cos) + 1)
        ax3.plot(t, cos, alpha=0.8)
        theory_line(ax3, t, np.sqrt(t) * ex["gamma"][trial] / ex["radius"][trial],
                    label="√t γ/R" if trial == 0 else None, alpha=0.5)
    ax3.set(xlabel="update t", ylabel="cos∠(w_t, w*)", ylim=(0, 1.05),
            title=f"n={ex['dim']}, γ={ex['margin']}")
    ax3.legend()
    return fig


EXPERIMENT = Experiment(
    id="perceptron-novikoff",
    description="Perceptron updates stay below R²/γ² (Novikoff); iterates stay in the span of the data.",
    config=Config, run=run, plot=plot)
