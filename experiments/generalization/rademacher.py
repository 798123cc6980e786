"""Rademacher complexity: Monte Carlo vs closed-form bounds for norm-bounded linear classes; a wide net fits noise.

For Gaussian samples of growing size n, the empirical Rademacher complexity of {x ↦ w·x : ||w||₂ ≤ B} (computed
exactly per sign draw as a dual norm, averaged over draws) lies between (B/(√2 n))√Σ||x_i||² and (B/n)√Σ||x_i||² and
decays like n^{-1/2}; the ℓ1-ball class stays below Massart's bound. A wide ReLU network reaches zero training error on
randomly labelled digits while its test error stays at chance: its Rademacher complexity on n points is maximal.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import matplotlib.ticker
import numpy as np
import optax

from dl_theory import data, stax
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
from dl_theory.stats import loglog_slope
from dl_theory.training import train


@dataclass(frozen=True)
class Config:
    seed: int = 0
    ns: tuple[int, ...] = (25, 50, 100, 200, 400, 800, 1600, 3200)
    d: int = 20
    bound: float = 1.0
    draws: int = 4000
    noise_n: int = 500
    width: int = 2048
    noise_steps: int = 3000

    @classmethod
    def quick(cls) -> "Config":
        return cls(ns=(25, 50, 100, 200, 400, 800), draws=2000, noise_n=200, width=1024, noise_steps=1500)


def _random_label_fit(key: jax.Array, cfg: Config) -> tuple[float, float]:
    """Train/test error of a wide one-hidden-layer ReLU net on digits with uniformly random labels (10 classes)."""
    ds = data.digits(seed=cfg.seed)
    k_lab, k_init, k_train = jax.random.split(key, 3)
    x, x_test = jnp.asarray(ds.x_train[: cfg.noise_n]), jnp.asarray(ds.x_test)
    y = jax.random.randint(k_lab, (cfg.noise_n,), 0, 10)
    y_test = jax.random.randint(jax.random.fold_in(k_lab, 1), (len(x_test),), 0, 10)
    std = dict(parameterization="standard", b_std=0.0)
    init, apply, _ = stax.serial(stax.Dense(cfg.width, W_std=np.sqrt(2), **std), stax.Relu(), stax.Dense(10, **std))
    _, params = init(k_init, (-1, x.shape[1]))

    def loss(p, batch):
        xb, yb = batch
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(apply(p, xb)), yb[:, None], axis=1))

    params, _ = train(loss, params, optax.adam(1e-3), (x, y), n_steps=cfg.noise_steps, desc="random labels")
    train_err = float(jnp.mean(jnp.argmax(apply(params, x), -1) != y))
    test_err = float(jnp.mean(jnp.argmax(apply(params, x_test), -1) != y_test))
    return train_err, test_err


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
    l2 = np.array([r["l2"] for r in rows])
    slope, _ = loglog_slope(ns, l2)
    upper_gap = max((r["l2"] - 3 * r["l2_se"]) / r["l2_upper"] for r in rows)
    lower_gap = min((r["l2"] + 3 * r["l2_se"]) / r["l2_lower"] for r in rows)
    massart_gap = max((r["l1"] - 3 * r["l1_se"]) / r["l1_massart"] for r in rows)
    train_err, test_err = _random_label_fit(jax.random.fold_in(key, 100), cfg)
    claims = [
        Claim.at_most("l2-below-jensen-bound", "max over n of (MC estimate − 3 SE) / ((B/n)√Σ||x_i||²)", 1.0,
                      upper_gap),
        Claim.at_least("l2-above-khintchine-bound", "min over n of (MC estimate + 3 SE) / ((B/(√2n))√Σ||x_i||²)",
                       1.0, lower_gap),
        Claim.close("n-to-the-minus-half", "log-log slope of the ℓ2-class complexity vs n", -0.5, slope, atol=0.05),
        Claim.at_most("l1-below-massart", "max over n of (MC estimate − 3 SE) / Massart bound, ℓ1-ball class", 1.0,
                      massart_gap),
        Claim.at_most("wide-net-fits-random-labels", f"training error of a width-{cfg.width} ReLU net on "
                      f"{cfg.noise_n} randomly labelled digits", 0.0, train_err),
        Claim.at_least("random-labels-test-at-chance", "its test error on fresh random labels (chance = 0.9)",
                       0.9, test_err, slack=0.05),
    ]
    metrics = {"rows": rows, "slope": slope, "random_labels": {"train_error": train_err, "test_error": test_err}}
    return Result(claims, metrics, {"rows": rows})


def plot(result: Result):
    rows = result.data["rows"]
    ns = np.array([r["n"] for r in rows])
    fig, ax = subplots(1, 1, width=5.5, height=3.8, title="Empirical Rademacher complexity, linear classes (B = 1)")
    ax.errorbar(ns, [r["l2"] for r in rows], yerr=[2 * r["l2_se"] for r in rows], fmt="o", label="ℓ2 ball: Monte Carlo")
    theory_line(ax, ns, [r["l2_upper"] for r in rows], label="(B/n)√Σ||x||² (upper)")
    theory_line(ax, ns, [r["l2_lower"] for r in rows], label="… /√2 (lower)", linestyle=":")
    ax.errorbar(ns, [r["l1"] for r in rows], yerr=[2 * r["l1_se"] for r in rows], fmt="s", label="ℓ1 ball: Monte Carlo")
    theory_line(ax, ns, [r["l1_massart"] for r in rows], label="Massart bound (ℓ1)", color="#d1495b")
    ax.set(xscale="log", yscale="log", xlabel="n", ylabel="empirical Rademacher complexity")
    ax.set_xticks(ns, [str(n) for n in ns], minor=False)
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="rademacher",
    description="Rademacher complexity of norm-bounded linear classes vs closed-form bounds (~n^-1/2); nets fit noise.",
    config=Config, run=run, plot=plot)
