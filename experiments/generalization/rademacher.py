"""Rademacher complexity: Monte Carlo vs closed-form bounds for norm-bounded linear classes; a wide net fits noise.

For Gaussian samples of growing size n, the empirical Rademacher complexity of {x ↦ w·x : ||w||₂ ≤ B} (computed
exactly per sign draw as a dual norm, averaged over draws) lies between (B/(√2 n))√Σ||x_i||² and (B/n)√Σ||x_i||²; the
ℓ1-ball class stays below Massart's bound. Averaged over the sample too, the ℓ2-class complexity is exactly
B·E||g||/√n with g ~ N(0, I_d), because Σσ_i x_i ~ N(0, n I_d) for any signs; its Monte-Carlo estimate over fresh
samples and signs decays with log-log slope −1/2 within three bootstrap standard errors. A wide ReLU network reaches
zero training error on randomly labelled digits: on n points its class attains the largest possible Rademacher
complexity, so a bound through it cannot explain generalization (Zhang et al., 2017).
"""

from dataclasses import dataclass
from typing import Annotated, Any

import jax
import jax.numpy as jnp
import matplotlib.ticker
import numpy as np
import optax
from scipy.special import gammaln

from dl_theory import checks, data, losses, models
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.generalization.rademacher import (
    l1_massart_bound,
    l2_lower_bound,
    l2_upper_bound,
    linear_sup_l1,
    linear_sup_l2,
    rademacher_signs,
)
from dl_theory.stats import loglog_slope, loglog_slope_stderr
from dl_theory.training import train


def _three_sizes(name: str, value: Any) -> None:
    """A slope fit needs at least three distinct sample sizes."""
    if len(set(value)) < 3:
        raise checks.fail(name, "at least 3 distinct sample sizes", value)


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    ns: Annotated[tuple[int, ...], checks.each(checks.at_least(2)), _three_sizes] = (25, 50, 100, 200, 400, 800, 1600,
                                                                                      3200)
    d: Annotated[int, checks.count] = 20
    bound: Annotated[float, checks.positive] = 1.0
    draws: Annotated[int, checks.at_least(2)] = 4000
    slope_draws: Annotated[int, checks.at_least(10)] = 1000
    noise_n: Annotated[int, checks.at_least(10)] = 500
    width: Annotated[int, checks.count] = 2048
    noise_steps: Annotated[int, checks.count] = 3000

    @classmethod
    def quick(cls) -> "Config":
        return cls(ns=(25, 50, 100, 200, 400, 800), draws=2000, slope_draws=500, noise_n=200, width=1024,
                   noise_steps=1500)


def _random_label_train_error(key: jax.Array, cfg: Config) -> float:
    """Training error of a wide one-hidden-layer ReLU net fitted to digits with uniformly random labels (10 classes)."""
    ds = data.digits(seed=cfg.seed)
    k_lab, k_init, _ = jax.random.split(key, 3)
    x = jnp.asarray(ds.x_train[: cfg.noise_n])
    y = jax.random.randint(k_lab, (cfg.noise_n,), 0, 10)
    init, apply, _ = models.mlp((cfg.width,), out_dim=10, W_std=np.sqrt(2), b_std=0.0, parameterization="standard")
    _, params = init(k_init, (-1, x.shape[1]))
    params, _ = train(losses.cross_entropy(apply), params, optax.adam(1e-3), (x, y), n_steps=cfg.noise_steps,
                      desc="random labels")
    return float(jnp.mean(losses.zero_one(apply(params, x), y)))


def expected_l2_complexity(n: np.ndarray, d: int, bound: float) -> np.ndarray:
    r"""The ℓ2 class's complexity averaged over Gaussian samples: :math:`B\,\mathbb E\|g\|/\sqrt n` with
    :math:`\mathbb E\|g\| = \sqrt2\,\Gamma((d+1)/2)/\Gamma(d/2)`, :math:`g \sim N(0, I_d)`."""
    return bound * np.sqrt(2) * np.exp(gammaln((d + 1) / 2) - gammaln(d / 2)) / np.sqrt(np.asarray(n, float))


def _fresh_sample_sups(rng: np.random.Generator, n: int, cfg: Config) -> np.ndarray:
    """``slope_draws`` values of sup_{||w||₂≤B} (1/n)Σσ_i w·x_i, each on a fresh Gaussian sample and fresh signs."""
    sups = []
    for start in range(0, cfg.slope_draws, 50):
        m = min(50, cfg.slope_draws - start)
        x = rng.standard_normal((m, n, cfg.d), dtype=np.float32)
        signs = rng.choice(np.array([-1.0, 1.0], np.float32), size=(m, n))
        sups.append(cfg.bound * np.linalg.norm(np.einsum("mn,mnd->md", signs, x), axis=1) / n)
    return np.concatenate(sups)


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    rows = []
    for i, n in enumerate(cfg.ns):
        k_x, k_s = jax.random.split(jax.random.fold_in(key, i))
        x = jax.random.normal(k_x, (n, cfg.d))
        signs = rademacher_signs(k_s, cfg.draws, n)
        sup2, sup1 = linear_sup_l2(x, signs, cfg.bound), linear_sup_l1(x, signs, cfg.bound)
        rows.append(dict(n=n, l2=float(sup2.mean()), l2_se=float(sup2.std() / np.sqrt(cfg.draws)),
                         l2_upper=float(l2_upper_bound(x, cfg.bound)), l2_lower=float(l2_lower_bound(x, cfg.bound)),
                         l1=float(sup1.mean()), l1_se=float(sup1.std() / np.sqrt(cfg.draws)),
                         l1_massart=float(l1_massart_bound(x, cfg.bound))))
    ns = np.array([r["n"] for r in rows])
    rng = np.random.default_rng([cfg.seed, 1])
    fresh_RxB = np.stack([_fresh_sample_sups(rng, int(n), cfg) for n in ns], axis=1)
    slope, _ = loglog_slope(ns, fresh_RxB.mean(0))
    slope_se = loglog_slope_stderr(ns, fresh_RxB, seed=cfg.seed)
    expected = expected_l2_complexity(ns, cfg.d, cfg.bound)
    upper_gap = max((r["l2"] - 3 * r["l2_se"]) / r["l2_upper"] for r in rows)
    lower_gap = min((r["l2"] + 3 * r["l2_se"]) / r["l2_lower"] for r in rows)
    massart_gap = max((r["l1"] - 3 * r["l1_se"]) / r["l1_massart"] for r in rows)
    train_err = _random_label_train_error(jax.random.fold_in(key, 100), cfg)
    claims = [
        Claim.at_most("l2-below-jensen-bound", "max over n of (MC estimate − 3 SE) / ((B/n)√Σ||x_i||²)", 1.0,
                      upper_gap),
        Claim.at_least("l2-above-khintchine-bound", "min over n of (MC estimate + 3 SE) / ((B/(√2n))√Σ||x_i||²)",
                       1.0, lower_gap),
        Claim.close("n-to-the-minus-half", "log-log slope vs n of the ℓ2-class complexity averaged over fresh "
                    f"Gaussian samples and signs ({cfg.slope_draws} per n), within 3 bootstrap standard errors",
                    -0.5, slope, atol=3 * slope_se),
        Claim.at_most("l1-below-massart", "max over n of (MC estimate − 3 SE) / Massart bound, ℓ1-ball class", 1.0,
                      massart_gap),
        Claim.at_most("wide-net-fits-random-labels", f"training error of a width-{cfg.width} ReLU net on "
                      f"{cfg.noise_n} randomly labelled digits", 0.0, train_err),
    ]
    metrics = {"rows": rows, "slope": slope, "slope_stderr": slope_se, "expected_l2": expected.tolist(),
               "fresh_sample_l2": fresh_RxB.mean(0).tolist(), "random_labels_train_error": train_err}
    return Result(claims, metrics, {"rows": rows, "fresh": fresh_RxB.mean(0), "expected": expected})


def plot(result: Result):
    rows = result.data["rows"]
    ns = np.array([r["n"] for r in rows])
    fig, ax = subplots(1, 1, width=5.5, height=3.8, title="Empirical Rademacher complexity, linear classes (B = 1)")
    ax.errorbar(ns, [r["l2"] for r in rows], yerr=[2 * r["l2_se"] for r in rows], fmt="o", label="ℓ2 ball: Monte Carlo")
    theory_line(ax, ns, [r["l2_upper"] for r in rows], label="(B/n)√Σ||x||² (upper)")
    theory_line(ax, ns, [r["l2_lower"] for r in rows], label="… /√2 (lower)", linestyle=":")
    ax.errorbar(ns, [r["l1"] for r in rows], yerr=[2 * r["l1_se"] for r in rows], fmt="s", label="ℓ1 ball: Monte Carlo")
    theory_line(ax, ns, [r["l1_massart"] for r in rows], label="Massart bound (ℓ1)", color="#d1495b")
    ax.plot(ns, result.data["fresh"], "^", ms=4, label="ℓ2 ball, averaged over samples too")
    theory_line(ax, ns, result.data["expected"], label="B·E||g||/√n (exact average)", linestyle="-.", color="gray")
    ax.set(xscale="log", yscale="log", xlabel="n", ylabel="empirical Rademacher complexity")
    ax.set_xticks(ns, [str(n) for n in ns], minor=False)
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="rademacher",
    description="Rademacher complexity of norm-bounded linear classes vs closed-form bounds (~n^-1/2); nets fit noise.",
    config=Config, run=run, plot=plot)
