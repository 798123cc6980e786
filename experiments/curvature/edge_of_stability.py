"""Edge of stability: under full-batch GD the sharpness rises to 2/eta and hovers there (Cohen et al. 2021).

A tanh MLP is trained with full-batch gradient descent and MSE on a subset of scikit-learn's digits for several
step sizes. The sharpness (top Hessian eigenvalue, by Lanczos on Hessian-vector products) first rises
("progressive sharpening") from below 2/eta; classical stability theory would have GD diverge once it exceeds
2/eta (see ``gd-rates``), but instead it settles near 2/eta while the loss keeps decreasing, non-monotonically.
"""

from dataclasses import dataclass

import jax
import numpy as np
import optax

from dl_theory import data as dl_data
from dl_theory import losses, models
from dl_theory.curvature import hessian
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.optim.convergence import max_stable_step_size
from dl_theory.training import train


@dataclass(frozen=True)
class Config:
    seed: int = 0
    etas: tuple[float, ...] = (0.15, 0.2, 0.25, 0.3, 0.35)
    n_examples: int = 500
    widths: tuple[int, ...] = (64, 32, 32, 10)
    n_steps: int = 4000
    every: int = 40  # steps between sharpness measurements
    lanczos_iters: int = 20
    tail: float = 0.4  # the final fraction of the run in which sharpness should hover at 2/eta
    band: float = 0.1  # allowed relative deviation of the tail's median sharpness from 2/eta

    @classmethod
    def quick(cls) -> "Config":
        return cls(etas=(0.25, 0.3, 0.35), n_examples=256, n_steps=1600)


def sharpness_fn(loss_fn, data, iters: int):
    """A jitted ``(params, key) -> lambda_max`` of the Hessian of ``loss_fn`` on ``data``."""

    @jax.jit
    def sharpness(params, key):
        matvec, dim = hessian.hessian_matvec(loss_fn, params, data)
        return hessian.top_eigenvalues(matvec, dim, 1, key=key, num_iters=iters)[0][0]

    return sharpness


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    data = dl_data.digits_subset(cfg.n_examples, cfg.seed)
    init_fn, apply_fn = models.dense_mlp(cfg.widths[1:-1], cfg.widths[-1])
    _, params0 = init_fn(key, (-1, cfg.widths[0]))
    loss_fn = losses.mse(apply_fn)
    sharpness = sharpness_fn(loss_fn, data, cfg.lanczos_iters)
    rows, claims = [], []
    for eta in cfg.etas:
        _, hist = train(
            loss_fn, params0, optax.sgd(eta), data, n_steps=cfg.n_steps, log_every=cfg.every,
            callback=lambda step, p: {"sharpness": sharpness(p, jax.random.fold_in(key, step))},
            desc=f"edge-of-stability eta={eta}",
        )
        s, loss, threshold = hist["sharpness"], hist["loss"], 2.0 / eta
        tail = s[int(len(s) * (1 - cfg.tail)) :]
        rows.append(dict(eta=eta, steps=hist["log_step"], sharpness=s, loss=loss))
        name = f"eta={eta:g}"
        claims += [
            Claim.at_most(f"starts-stable-{name}", f"{name}: initial sharpness < 2/eta", max_stable_step_size(eta),
                          float(s[0])),
            Claim.close(f"hovers-at-2/eta-{name}", f"{name}: median sharpness over the last {cfg.tail:.0%} of "
                        "steps = 2/eta", threshold, float(np.median(tail)), rtol=cfg.band),
            Claim.at_most(f"loss-falls-{name}", f"{name}: final loss / initial loss < 0.2", 0.2,
                          float(loss[-1] / loss[0])),
            Claim.at_least(f"non-monotone-{name}", f"{name}: the loss increases on some steps (count)", 1,
                           int(np.sum(np.diff(loss) > 0))),
        ]
    metrics = {
        "runs": [
            {"eta": r["eta"], "two_over_eta": 2 / r["eta"], "initial_sharpness": float(r["sharpness"][0]),
             "tail_median_sharpness": float(np.median(r["sharpness"][int(len(r["sharpness"]) * (1 - cfg.tail)):])),
             "final_loss": float(r["loss"][-1]), "loss_increases": int(np.sum(np.diff(r["loss"]) > 0))}
            for r in rows
        ]
    }
    return Result(claims, metrics, {"rows": rows})


def plot(result: Result):
    fig, (ax1, ax2) = subplots(1, 2, width=4.6, title="Edge of stability: full-batch GD, tanh MLP, digits (MSE)")
    for i, r in enumerate(result.data["rows"]):
        color = f"C{i}"
        ax1.plot(r["steps"], r["sharpness"], color=color, label=f"η={r['eta']:g}")
        theory_line(ax1, [r["steps"][0], r["steps"][-1]], [2 / r["eta"]] * 2, label="2/η" if i == 0 else None,
                    color=color, alpha=0.7)
        ax2.plot(np.arange(len(r["loss"])), r["loss"], color=color, lw=1.0, label=f"η={r['eta']:g}")
    ax1.set(xlabel="step", ylabel="sharpness λ_max(∇²L)")
    ax1.legend(fontsize=7)
    ax2.set(xlabel="step", ylabel="training loss", yscale="log")
    ax2.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="edge-of-stability",
    description="Full-batch GD: sharpness rises, then hovers near 2/η while the loss keeps falling non-monotonically.",
    config=Config, run=run, plot=plot)
