"""Cover's theorem: the probability that random labels of s Gaussian points in R^n are linearly separable.

Each trial draws s standard Gaussian points (in general position almost surely) and uniform +-1 labels and decides
separability exactly by LP feasibility. The frequency is compared with C(s, n)/2^s = P[Bin(s-1, 1/2) <= n-1]. The
separable count at each (n, s) is exactly Binomial(n_trials, C(s, n)/2^s), so every point gets an exact two-sided
binomial test, and the claim is on the smallest p-value times the number of points (Bonferroni): under the theory it
falls below 0.27% (the rate of a single 3-SE test) with probability at most 0.27%, whatever the number of points. A
"within 3 SE at every point" rule would fail far more often, since it is a maximum over many points and the normal
approximation is poor where C(s, n)/2^s is near 0 or 1; the standardized residuals are still plotted.
"""

from dataclasses import dataclass
from fractions import Fraction
from typing import Annotated

import numpy as np
from scipy import stats

from dl_theory import checks
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots
from dl_theory.models.classical.max_margin import is_separable
from dl_theory.stats import proportion_stderr
from dl_theory.theory.cover import cover_count, separable_probability
from dl_theory.training.progress import bar

FAMILY_RATE = float(2 * stats.norm.sf(3.0))  # 0.27%: the false-alarm rate of one two-sided 3-SE test


def binomial_p_value(successes: int, trials: int, p: float) -> float:
    """Two-sided exact binomial p-value: twice the smaller tail probability of ``successes`` (at most 1)."""
    tail = min(stats.binom.cdf(successes, trials, p), stats.binom.sf(successes - 1, trials, p))
    return float(min(1.0, 2 * tail))


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    dims: Annotated[tuple[int, ...], checks.each(checks.count, min_length=2)] = (4, 8, 16, 32)  # "sharpens" compares n
    alphas: Annotated[tuple[float, ...], checks.each(checks.positive)] = (
        0.5, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 3.5)
    n_trials: Annotated[int, checks.at_least(30)] = 1000  # the normal approximation behind the SE rule

    @classmethod
    def quick(cls) -> "Config":
        return cls(dims=(4, 8, 16), alphas=(1.0, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0), n_trials=300)


def run(cfg: Config) -> Result:
    rng = np.random.default_rng(cfg.seed)
    grid = [(n, int(round(a * n))) for n in cfg.dims for a in cfg.alphas]
    frequency = {}
    with bar(len(grid) * cfg.n_trials, "cover-capacity (LPs)") as progress_bar:
        for n, s in grid:
            hits = 0
            for _ in range(cfg.n_trials):
                hits += is_separable(rng.standard_normal((s, n)), rng.choice([-1.0, 1.0], size=s))
            frequency[n, s] = hits / cfg.n_trials
            progress_bar.update(cfg.n_trials)

    theory = {k: float(separable_probability(k[1], k[0])) for k in grid}
    random_points = [k for k in grid if 0 < theory[k] < 1]
    z = {k: (frequency[k] - theory[k]) / proportion_stderr(theory[k], cfg.n_trials) for k in random_points}
    p_values = [binomial_p_value(round(frequency[k] * cfg.n_trials), cfg.n_trials, theory[k]) for k in random_points]
    adjusted_p = float(min(1.0, len(random_points) * min(p_values, default=1.0)))
    certain = [k for k in grid if theory[k] == 1.0]
    width = {n: frequency.get((n, int(round(1.5 * n))), np.nan) - frequency.get((n, int(round(2.5 * n))), np.nan)
             for n in cfg.dims}
    largest = max(cfg.dims)
    claims = [
        Claim.at_least("binomial-test", f"min over {len(random_points)} (n, s) points of the Bonferroni-adjusted "
                       "two-sided exact binomial p-value of the separable count under C(s,n)/2^s (family-wise rate "
                       "0.27%, that of one 3-SE test)", FAMILY_RATE, adjusted_p),
        Claim("s-le-n-always", "every labelling of s <= n points is separable", 1.0,
              min((frequency[k] for k in certain), default=1.0), 0.0, all(frequency[k] == 1.0 for k in certain)),
        Claim.at_most("half-at-2n", "max over n of |C(2n,n)/2^(2n) - 1/2| in exact integer arithmetic", 0.0,
                      float(max(abs(Fraction(cover_count(2 * n, n), 2 ** (2 * n)) - Fraction(1, 2))
                                for n in cfg.dims))),
        Claim.close("half-at-2n-measured", f"measured P(s=2n) at n={largest} (tolerance 3 SE)", 0.5,
                    frequency[largest, 2 * largest], atol=3 * float(proportion_stderr(0.5, cfg.n_trials))),
        Claim("sharpens", "measured P(1.5n) - P(2.5n) grows with n", "increasing",
              [round(width[n], 4) for n in cfg.dims], None,
              bool(np.all(np.diff([width[n] for n in cfg.dims]) > 0))),
        Claim("counting-recursion", "C(s+1,n) = C(s,n) + C(s,n-1) for 1 <= s,n <= 30", True, True, None,
              all(cover_count(s + 1, n) == cover_count(s, n) + cover_count(s, n - 1)
                  for s in range(1, 31) for n in range(2, 31))),
    ]
    metrics = {"max_abs_z": float(max(abs(v) for v in z.values())), "bonferroni_adjusted_p": adjusted_p,
               "points": [{"n": n, "s": s, "measured": frequency[n, s], "theory": theory[n, s],
                           "z": float(z.get((n, s), 0.0))} for n, s in grid],
               "transition_width": {str(n): width[n] for n in cfg.dims}}
    return Result(claims, metrics, {"grid": grid, "frequency": frequency, "dims": cfg.dims,
                                    "n_trials": cfg.n_trials})


def plot(result: Result):
    fig, (ax1, ax2) = subplots(1, 2, width=4.6, title="Cover's theorem: capacity of the perceptron is 2n")
    d = result.data
    for n in d["dims"]:
        s_dense = np.arange(1, int(4 * n) + 1)
        (line,) = ax1.plot(s_dense / n, separable_probability(s_dense, n), lw=1.2, label=f"C(s,n)/2^s, n={n}")
        pts = [(s, d["frequency"][m, s]) for m, s in d["grid"] if m == n]
        s_pts, p_pts = np.array(pts).T
        err = 3 * proportion_stderr(separable_probability(s_pts.astype(int), n), d["n_trials"])
        ax1.errorbar(s_pts / n, p_pts, yerr=err, fmt="o", ms=3.5, color=line.get_color(), capsize=2)
        z = (p_pts - separable_probability(s_pts.astype(int), n)) / np.maximum(
            proportion_stderr(separable_probability(s_pts.astype(int), n), d["n_trials"]), 1e-12)
        ax2.plot(s_pts / n, z, "o-", ms=3.5, color=line.get_color(), label=f"n={n}")
    ax1.axvline(2.0, color="black", ls=":", lw=1)
    ax1.axhline(0.5, color="black", ls=":", lw=1)
    ax1.set(xlabel="α = s / n", ylabel="P(separable)", title="LP feasibility (dots, ±3 SE) vs theory")
    ax1.legend(fontsize=7)
    ax2.axhspan(-3, 3, color="0.9")
    ax2.set(xlabel="α = s / n", ylabel="(measured − theory) / SE", title="standardized residuals", ylim=(-4.5, 4.5))
    ax2.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="cover-capacity",
    description="Fraction of separable random labelings (exact LP) vs Cover's C(s,n)/2^s; 1/2 at s = 2n.",
    config=Config, run=run, plot=plot)
