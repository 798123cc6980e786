"""Double descent of minimum-norm least squares (Hastie et al., 2019) and of random ReLU features on real data.

Isotropic Gaussian features, ``y = x·β + ε``: the measured excess risk ||β̂ − β||² of β̂ = X⁺y (averaged over
trials) is compared with the exact finite-sample expectation and with the asymptotic curve of Hastie, Montanari,
Rosset & Tibshirani (2019); it diverges at the interpolation threshold p = n and descends again for p > n.
Random ReLU features φ(x) = max(0, Wx) on scikit-learn digits show the same peak at p ≈ n_train.
"""

from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np

from dl_theory import checks, data
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.theory.double_descent import asymptotic_min_norm_risk, finite_min_norm_risk


def _brackets_threshold(name: str, value: Any) -> None:
    """The ratios must reach 1.1 (the second-descent reference), lie on both sides of 1 and go beyond 1.1."""
    if not (min(value) < 1 < 1.1 < max(value)) or min(abs(np.asarray(value) - 1.1)) > 0.05:
        raise checks.fail(name, "ratios below 1 and above 1.1, one of them within 0.05 of 1.1", value)


def _around_n(name: str, value: Any) -> None:
    """At least three distinct widths: a peak needs neighbours."""
    if len(set(value)) < 3:
        raise checks.fail(name, "at least 3 distinct widths", value)


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    n: Annotated[int, checks.at_least(10)] = 200
    gammas: Annotated[tuple[float, ...], checks.each(checks.positive), _brackets_threshold] = (
        0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2, 1.25, 1.3, 1.5, 1.75, 2.0,
        2.5, 3.0, 4.0)
    trials: Annotated[int, checks.at_least(2)] = 200
    r2: Annotated[float, checks.positive] = 1.0
    noise_var: Annotated[float, checks.positive] = 0.25
    rf_train: Annotated[int, checks.in_interval(10, 1348, closed=True)] = 300
    rf_widths: Annotated[tuple[int, ...], checks.each(checks.count), _around_n] = (
        20, 50, 100, 150, 200, 250, 280, 300, 320, 350, 400, 500, 700, 1000, 2000, 4000)
    rf_seeds: Annotated[int, checks.count] = 10

    @classmethod
    def quick(cls) -> "Config":
        return cls(n=100, trials=60, gammas=(0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0, 4.0),
                   rf_widths=(30, 100, 200, 270, 300, 330, 400, 800, 2000), rf_seeds=3)


def _measured_risk(rng: np.random.Generator, n: int, p: int, trials: int, r2: float, noise_var: float) -> np.ndarray:
    """||X⁺y − β||² over ``trials`` draws, via the normal equations of the smaller side (batched, float64)."""
    risks = []
    for start in range(0, trials, 25):
        m = min(25, trials - start)
        x = rng.standard_normal((m, n, p))
        beta = rng.standard_normal((m, p))
        beta *= np.sqrt(r2) / np.linalg.norm(beta, axis=1, keepdims=True)
        y = np.einsum("mnp,mp->mn", x, beta) + np.sqrt(noise_var) * rng.standard_normal((m, n))
        xt = np.swapaxes(x, 1, 2)
        if p <= n:  # least squares: (XᵀX)β̂ = Xᵀy
            beta_hat = np.linalg.solve(xt @ x, np.einsum("mpn,mn->mp", xt, y)[..., None])[..., 0]
        else:  # minimum-norm interpolant: β̂ = Xᵀ(XXᵀ)⁻¹y
            beta_hat = np.einsum("mpn,mn->mp", xt, np.linalg.solve(x @ xt, y[..., None])[..., 0])
        risks.append(np.sum((beta_hat - beta) ** 2, axis=1))
    return np.concatenate(risks)


def _random_features_curve(rng: np.random.Generator, cfg: Config) -> np.ndarray:
    ds = data.digits(seed=cfg.seed)
    x_tr, x_te = ds.x_train[: cfg.rf_train].astype(np.float64), ds.x_test.astype(np.float64)
    targets = np.eye(10)
    y_tr, y_te = targets[ds.y_train[: cfg.rf_train]] - 0.1, targets[ds.y_test] - 0.1
    errors = np.zeros((cfg.rf_seeds, len(cfg.rf_widths)))
    for s in range(cfg.rf_seeds):
        w_full = rng.standard_normal((x_tr.shape[1], max(cfg.rf_widths))) / np.sqrt(x_tr.shape[1])
        for j, p in enumerate(cfg.rf_widths):
            phi_tr, phi_te = np.maximum(x_tr @ w_full[:, :p], 0), np.maximum(x_te @ w_full[:, :p], 0)
            coef = np.linalg.lstsq(phi_tr, y_tr, rcond=None)[0]
            errors[s, j] = np.mean(np.sum((phi_te @ coef - y_te) ** 2, axis=1))
    return errors


def run(cfg: Config) -> Result:
    rng = np.random.default_rng(cfg.seed)
    gammas = np.asarray(cfg.gammas)
    ps = np.maximum(1, np.round(gammas * cfg.n)).astype(int)
    samples = [_measured_risk(rng, cfg.n, int(p), cfg.trials, cfg.r2, cfg.noise_var) for p in ps]
    mean = np.array([s.mean() for s in samples])
    se = np.array([s.std(ddof=1) / np.sqrt(len(s)) for s in samples])
    exact = finite_min_norm_risk(cfg.n, ps, cfg.r2, cfg.noise_var)
    asym = asymptotic_min_norm_risk(ps / cfg.n, cfg.r2, cfg.noise_var)
    away = np.abs(ps / cfg.n - 1) >= 0.2  # heavy tails near the peak: finite variance needs |p − n| > 3
    z = np.abs(mean - exact) / se
    with np.errstate(invalid="ignore"):  # inf / inf at p = n, excluded below
        rel_asym = np.abs(mean - asym) / asym
    peak = ps[np.argmax(mean)] / cfg.n
    rf = _random_features_curve(rng, cfg)
    # Near interpolation a feature active on only a few training images makes the least-squares fit nearly singular,
    # so the test MSE of one feature draw is heavy-tailed there; the median over draws locates the peak robustly.
    rf_median = np.median(rf, axis=0)
    rf_peak = cfg.rf_widths[int(np.argmax(rf_median))] / cfg.rf_train
    claims = [
        Claim.at_most("finite-sample-formula", "max over |p/n − 1| ≥ 0.2 of |measured − exact E R| / standard error",
                      4.0, float(z[away].max())),
        Claim.at_most("hastie-asymptotic-agreement", "max over |p/n − 1| ≥ 0.2 of |measured − Hastie R(γ)| / R(γ) "
                      f"(n={cfg.n})", 0.15, float(rel_asym[away].max())),
        Claim.close("peak-at-interpolation-threshold", "p/n at the largest measured risk", 1.0, float(peak),
                    atol=0.1),
        Claim.close("random-features-peak", f"random ReLU features on digits (n={cfg.rf_train}): width/n at the "
                    "largest median test MSE over feature draws", 1.0, float(rf_peak), atol=0.25),
        Claim.at_most("second-descent", "risk at the largest p/n ÷ risk at p/n = 1.1 (< 1: it descends again)",
                      1.0, float(mean[np.argmax(gammas)] / mean[np.argmin(np.abs(gammas - 1.1))])),
    ]
    metrics = {"p": ps.tolist(), "measured": mean.tolist(), "stderr": se.tolist(), "exact": exact.tolist(),
               "asymptotic": asym.tolist(), "rf_widths": list(cfg.rf_widths), "rf_median_test_mse": rf_median.tolist()}
    return Result(claims, metrics, {"gammas": ps / cfg.n, "mean": mean, "se": se, "exact": exact, "rf": rf,
                                    "rf_widths": np.asarray(cfg.rf_widths) / cfg.rf_train, "cfg": cfg})


def plot(result: Result):
    d = result.data
    cfg = d["cfg"]
    fig, (ax1, ax2) = subplots(1, 2, title="Double descent")
    grid = np.linspace(0.05, max(d["gammas"]), 800)
    grid = grid[np.abs(grid - 1) > 0.01]
    theory_line(ax1, grid[grid < 1], asymptotic_min_norm_risk(grid[grid < 1], cfg.r2, cfg.noise_var),
                label="Hastie et al. asymptotic")
    theory_line(ax1, grid[grid > 1], asymptotic_min_norm_risk(grid[grid > 1], cfg.r2, cfg.noise_var), label=None)
    ax1.errorbar(d["gammas"], d["mean"], yerr=2 * d["se"], fmt="o", ms=3.5, label=f"measured (n={cfg.n})")
    ax1.axvline(1.0, color="gray", linewidth=0.8)
    ax1.set(xscale="log", yscale="log", xlabel="γ = p/n", ylabel="excess risk ||β̂ − β||²", ylim=(1e-2, 1e2))
    ax1.legend()
    low, median, high = np.percentile(d["rf"], [25, 50, 75], axis=0)
    ax2.errorbar(d["rf_widths"], median, yerr=(median - low, high - median), fmt="o-", ms=3.5,
                 label="median, quartiles over feature draws")
    ax2.legend()
    ax2.axvline(1.0, color="gray", linewidth=0.8)
    ax2.set(xscale="log", yscale="log", xlabel="features / training examples", ylabel="test MSE",
            title=f"random ReLU features, digits (n={cfg.rf_train})")
    return fig


EXPERIMENT = Experiment(
    id="double-descent",
    description="Min-norm least squares: measured risk vs Hastie et al. closed form, peak at p = n; random features.",
    config=Config, run=run, plot=plot)
