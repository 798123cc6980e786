"""ReLU linear regions: exact Zaslavsky counts in the plane, 2^L tent-map pieces, and few pieces at random init.

One hidden layer of m ReLU units on R^2 with Gaussian weights and biases (generic with probability 1) has one
switching line per unit; its activation regions are the cells of that line arrangement, counted exactly by adding the
lines one at a time (no grid), and the count equals Zaslavsky's sum_{i<=2} binom(m, i) for every m and every net. The
depth-L composition of the two-unit tent map has exactly 2^L pieces on [0, 1]: its breakpoints are found exactly by
walking the line layer by layer. Depth can therefore create exponentially many pieces, and Montúfar et al. (2014)
construct width-w depth-L nets with w^(L-1) (w + 1) pieces along a line. Random He-initialised nets do not: along
random segments (mean ± SE over nets and lines) the number of pieces grows like the number of neurons N = w L
(Hanin & Rolnick 2019), not exponentially in depth. The claims: from the shallowest to the deepest net the mean count
grows by at most the factor N_max / N_min (plus 5 SE of the ratio), and at the largest depth it is below 1% of the
Montúfar count (plus 5 SE). The mean count per neuron is reported as a metric.
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import numpy as np

from dl_theory import checks
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.models.mlp import dense_mlp
from dl_theory.models.regions import arrangement_regions, line_breakpoints, tent_map_params
from dl_theory.stats import mean_and_stderr
from dl_theory.theory.regions import montufar_count, tent_pieces, zaslavsky_count

BELOW = 0.01  # "far below" the Montúfar count: under 1% of it


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    units: Annotated[tuple[int, ...], checks.each(checks.count, min_length=1)] = tuple(range(3, 41))
    nets_per_m: Annotated[int, checks.count] = 10
    tent_depths: Annotated[tuple[int, ...], checks.each(checks.in_interval(1, 20, closed=True), min_length=1)] = (
        tuple(range(1, 17)))
    width: Annotated[int, checks.at_least(2)] = 16
    depths: Annotated[tuple[int, ...], checks.each(checks.count, min_length=2)] = (1, 2, 3, 4, 6, 8, 10)
    n_nets: Annotated[int, checks.at_least(4)] = 200
    half_length: Annotated[float, checks.positive] = 3.0
    b_std: Annotated[float, checks.nonnegative] = 0.1

    @classmethod
    def quick(cls) -> "Config":
        return cls(units=tuple(range(3, 21)), nets_per_m=3, tent_depths=tuple(range(1, 11)), depths=(1, 2, 4),
                   n_nets=40)


def _random_net_pieces(key: jax.Array, rng: np.random.Generator, cfg: Config, depth: int) -> np.ndarray:
    """Pieces along a random unit-direction segment [-T, T] through a N(0, I) point, for He-initialised nets."""
    init, _ = dense_mlp((cfg.width,) * depth, 1, activation=jax.nn.relu)
    init = jax.jit(init, static_argnums=1)
    counts = []
    for k in jax.random.split(key, cfg.n_nets):
        params = [{"w": np.sqrt(2.0) * np.asarray(p["w"]), "b": cfg.b_std * rng.normal(size=p["b"].shape)}
                  for p in init(k, (2,))[1]]
        x0, v = rng.normal(size=2), rng.normal(size=2)
        t = (-cfg.half_length, cfg.half_length)
        counts.append(len(line_breakpoints(params, x0, v / np.linalg.norm(v), t)) + 1)
    return np.asarray(counts)


def run(cfg: Config) -> Result:
    rng = np.random.default_rng(cfg.seed)
    zas_errors, regions = [], {}
    for m in cfg.units:
        for _ in range(cfg.nets_per_m):
            r = arrangement_regions(rng.normal(size=(m, 2)), rng.normal(size=m))
            zas_errors.append(abs(r - zaslavsky_count(m, 2)))
            regions.setdefault(m, r)
    tent = {L: len(line_breakpoints(tent_map_params(L), [0.0], [1.0], (0.0, 1.0))) + 1 for L in cfg.tent_depths}
    depths = sorted(cfg.depths)
    key = jax.random.key(cfg.seed)
    pieces = {L: _random_net_pieces(jax.random.fold_in(key, L), rng, cfg, L) for L in depths}
    stats = {L: mean_and_stderr(pieces[L]) for L in depths}
    mean = {L: float(stats[L][0]) for L in depths}
    se = {L: float(stats[L][1]) for L in depths}
    lo, hi = depths[0], depths[-1]
    ratio = mean[hi] / mean[lo]
    ratio_se = ratio * np.hypot(se[hi] / mean[hi], se[lo] / mean[lo])
    montufar = montufar_count((cfg.width,) * hi, 1)
    claims = [
        Claim.close("zaslavsky-exact", f"m = {min(cfg.units)}..{max(cfg.units)}, {cfg.nets_per_m} Gaussian nets "
                    "each: max |exact region count - sum_{i<=2} binom(m, i)|", 0.0, float(max(zas_errors))),
        Claim.close("tent-map-pieces", f"L = {min(tent)}..{max(tent)}: max |exact pieces of the tent map on [0, 1] - "
                    "2^L|", 0.0, float(max(abs(p - tent_pieces(L)) for L, p in tent.items()))),
        Claim.at_most("random-nets-linear-in-neurons", f"mean pieces at L={hi} / at L={lo} (width {cfg.width}, "
                      f"segment length {2 * cfg.half_length:g}) <= N ratio {hi}/{lo} (+5 SE)", hi / lo, ratio,
                      slack=5 * ratio_se),
        Claim.at_most("random-nets-far-below-montufar", f"mean pieces at L={hi} (+5 SE) <= {BELOW:.0%} of the "
                      f"Montúfar count w^(L-1)(w+1) = {montufar}", BELOW * montufar, mean[hi] + 5 * se[hi]),
    ]
    metrics = {
        "regions_first_net": {str(m): r for m, r in regions.items()},
        "tent_pieces": {str(L): p for L, p in tent.items()},
        "random_pieces_mean": {str(L): mean[L] for L in depths},
        "random_pieces_se": {str(L): se[L] for L in depths},
        "random_pieces_per_neuron": {str(L): mean[L] / (cfg.width * L) for L in depths},
        "montufar_count": {str(L): montufar_count((cfg.width,) * L, 1) for L in depths},
    }
    return Result(claims, metrics, {"regions": regions, "tent": tent, "mean": mean, "se": se, "width": cfg.width})


def plot(result: Result):
    d = result.data
    fig, (ax1, ax2) = subplots(1, 2, width=4.4, title="Linear regions of ReLU networks")
    ms = np.array(sorted(d["regions"]))
    ax1.plot(ms, [d["regions"][m] for m in ms], "o", ms=4, label="exact count (one net per m)")
    theory_line(ax1, ms, [zaslavsky_count(int(m), 2) for m in ms], label="Zaslavsky 1 + m + m(m-1)/2")
    ax1.set(xlabel="hidden units m (input R²)", ylabel="activation regions", title="one hidden layer")
    ax1.legend(fontsize=7)
    tl = np.array(sorted(d["tent"]))
    ax2.semilogy(tl, [d["tent"][L] for L in tl], "s", ms=4, label="tent map (exact)")
    theory_line(ax2, tl, 2.0**tl, label="2^L")
    depths = np.array(sorted(d["mean"]))
    w = d["width"]
    ax2.errorbar(depths, [d["mean"][L] for L in depths], yerr=[d["se"][L] for L in depths], fmt="o", ms=4, capsize=2,
                 label=f"random He nets, width {w} (mean ± SE)")
    ax2.plot(depths, w * depths + 1, ":", color="0.4", label="N + 1 (neurons)")
    ax2.plot(depths, [montufar_count((w,) * int(L), 1) for L in depths], "--", color="C3",
             label="Montúfar w^(L-1)(w+1)")
    ax2.set(xlabel="depth L", ylabel="linear pieces along a segment", title="1-D pieces: depth vs random init")
    ax2.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="relu-linear-regions",
    description="ReLU regions: exact Zaslavsky counts in R², 2^L tent-map pieces, random nets ~ #neurons pieces.",
    config=Config, run=run, plot=plot)
