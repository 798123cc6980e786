r"""Edge of stability: under full-batch GD the sharpness rises to 2/eta and hovers there (Cohen et al. 2021).

A tanh MLP is trained with full-batch gradient descent and MSE on a subset of scikit-learn's digits for several step
sizes. The sharpness (top Hessian eigenvalue, by Lanczos on Hessian-vector products) starts at :math:`\lambda_0`, and
each step size is set by its edge, :math:`2/\eta = r\,\lambda_0` with :math:`r > 1`, so that every run starts in the
stable region of the initial quadratic model whatever the initialisation. Classical stability theory would have GD
diverge once the sharpness exceeds :math:`2/\eta` (on a quadratic, GD's iterate grows along any eigenvalue above
:math:`2/\eta`, see ``gd-rates``). Instead the sharpness first rises ("progressive sharpening"): the claim is an
unbroken climb, up at every measurement, from at most :math:`\lambda_0` to the first measurement at or above
:math:`2/\eta`, so that the climb covers the whole gap :math:`2/\eta - \lambda_0`. Then it settles near
:math:`2/\eta` while the loss keeps decreasing, non-monotonically.
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import numpy as np
import optax

from dl_theory import checks, losses, models
from dl_theory import data as dl_data
from dl_theory.curvature import hessian
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.training import train


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    # the edges 2/eta in units of the initial sharpness lambda_0 (> 1: each run starts stable)
    edge_ratios: Annotated[tuple[float, ...], checks.each(checks.in_interval(1.0, float("inf")))] = (
        1.15, 1.25, 1.35, 1.45, 1.55)
    n_examples: Annotated[int, checks.at_least(10)] = 500
    widths: Annotated[tuple[int, ...], checks.each(checks.count, min_length=3)] = (64, 32, 32, 10)
    n_steps: Annotated[int, checks.count] = 4000
    every: Annotated[int, checks.count] = 40  # steps between sharpness measurements
    lanczos_iters: Annotated[int, checks.count] = 20
    tail: Annotated[float, checks.probability] = 0.4  # the final fraction of the run, where sharpness hovers at 2/eta
    band: Annotated[float, checks.probability] = 0.1  # allowed relative deviation of the tail's median from 2/eta

    @classmethod
    def quick(cls) -> "Config":
        return cls(edge_ratios=(1.2, 1.35, 1.5), n_examples=256, n_steps=1600)


def sharpness_fn(loss_fn, data, iters: int):
    """A jitted ``(params, key) -> lambda_max`` of the Hessian of ``loss_fn`` on ``data``."""

    @jax.jit
    def sharpness(params, key):
        matvec, dim = hessian.hessian_matvec(loss_fn, params, data)
        return hessian.top_eigenvalues(matvec, dim, 1, key=key, num_iters=iters)[0][0]

    return sharpness


def climb_into_edge(sharpness: np.ndarray, threshold: float) -> tuple[float, int | None]:
    """The steady climb that ends at the first measurement ``>= threshold``, as a fraction of ``threshold - s[0]``.

    Returns ``(rise, index)``: ``index`` is the first measurement at or above ``threshold`` and ``rise`` is its
    sharpness minus the one where the unbroken run of increases leading to it begins, divided by the initial gap
    ``threshold - sharpness[0]`` (at least 1 when the climb starts at or below ``sharpness[0]``). No climb gives a rise
    of 0: ``(0.0, None)`` if the run never reaches ``threshold``, ``(0.0, 0)`` if it starts there.
    """
    above = np.flatnonzero(sharpness >= threshold)
    if not above.size:
        return 0.0, None
    end = start = int(above[0])
    if end == 0:
        return 0.0, 0
    while start > 0 and sharpness[start - 1] < sharpness[start]:
        start -= 1
    return float((sharpness[end] - sharpness[start]) / (threshold - sharpness[0])), end


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    data = dl_data.digits_subset(cfg.n_examples, cfg.seed)
    init_fn, apply_fn = models.dense_mlp(cfg.widths[1:-1], cfg.widths[-1])
    _, params0 = init_fn(key, (-1, cfg.widths[0]))
    loss_fn = losses.mse(apply_fn)
    sharpness = sharpness_fn(loss_fn, data, cfg.lanczos_iters)
    lambda0 = float(sharpness(params0, jax.random.fold_in(key, 0)))
    rows, claims = [], []
    for ratio in cfg.edge_ratios:
        eta = 2.0 / (ratio * lambda0)
        _, hist = train(
            loss_fn, params0, optax.sgd(eta), data, n_steps=cfg.n_steps, log_every=cfg.every,
            callback=lambda step, p: {"sharpness": sharpness(p, jax.random.fold_in(key, step))},
            desc=f"edge-of-stability 2/eta={ratio:g} lambda_0",
        )
        s, loss, threshold = hist["sharpness"], hist["loss"], 2.0 / eta
        tail = s[int(len(s) * (1 - cfg.tail)) :]
        rise, edge = climb_into_edge(np.asarray(s), threshold)
        rows.append(dict(eta=eta, ratio=ratio, steps=hist["log_step"], sharpness=s, loss=loss, rise=rise,
                         edge_step=None if edge is None else int(hist["log_step"][edge])))
        name, at = f"edge={ratio:g}", f"2/eta = {ratio:g} lambda_0"
        claims += [
            Claim.at_least(f"sharpens-{name}", f"{at}: progressive sharpening: the sharpness climbs, up at every "
                           "measurement, into its first value >= 2/eta (that climb / (2/eta - lambda_0))", 1.0, rise),
            Claim.close(f"hovers-at-2/eta-{name}", f"{at}: median sharpness over the last {cfg.tail:.0%} of steps = "
                        "2/eta", threshold, float(np.median(tail)), rtol=cfg.band),
            Claim.at_most(f"loss-falls-{name}", f"{at}: final loss / initial loss < 0.2", 0.2,
                          float(loss[-1] / loss[0])),
            Claim.at_least(f"non-monotone-{name}", f"{at}: the loss increases on some steps (count)", 1,
                           int(np.sum(np.diff(loss) > 0))),
        ]
    metrics = {
        "runs": [
            {"edge_ratio": r["ratio"], "eta": r["eta"], "two_over_eta": 2 / r["eta"],
             "initial_sharpness": float(r["sharpness"][0]),
             "tail_median_sharpness": float(np.median(r["sharpness"][int(len(r["sharpness"]) * (1 - cfg.tail)):])),
             "climb_over_two_over_eta": r["rise"], "first_step_at_edge": r["edge_step"],
             "final_loss": float(r["loss"][-1]), "loss_increases": int(np.sum(np.diff(r["loss"]) > 0))}
            for r in rows
        ]
    }
    return Result(claims, metrics, {"rows": rows})


def plot(result: Result):
    fig, (ax1, ax2) = subplots(1, 2, width=4.6, title="Edge of stability: full-batch GD, tanh MLP, digits (MSE)")
    for i, r in enumerate(result.data["rows"]):
        color = f"C{i}"
        ax1.plot(r["steps"], r["sharpness"], color=color, label=f"2/η={r['ratio']:g}λ₀")
        if r["edge_step"] is not None:  # the end of the progressive-sharpening climb
            ax1.plot([r["edge_step"]], [2 / r["eta"]], "o", color=color, ms=4)
        theory_line(ax1, [r["steps"][0], r["steps"][-1]], [2 / r["eta"]] * 2, label="2/η" if i == 0 else None,
                    color=color, alpha=0.7)
        ax2.plot(np.arange(len(r["loss"])), r["loss"], color=color, lw=1.0, label=f"2/η={r['ratio']:g}λ₀")
    ax1.set(xlabel="step", ylabel="sharpness λ_max(∇²L)")
    ax1.legend(fontsize=7)
    ax2.set(xlabel="step", ylabel="training loss", yscale="log")
    ax2.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="edge-of-stability",
    description="Full-batch GD: sharpness rises, then hovers near 2/η while the loss keeps falling non-monotonically.",
    config=Config, run=run, plot=plot)
