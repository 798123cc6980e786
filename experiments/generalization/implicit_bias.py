"""Implicit bias: methods whose iterates stay in span{x_i} converge to the minimum-norm interpolant.

On an underdetermined least-squares problem (n < d) every w with Xw = y is a global minimum. Gradient descent,
mini-batch SGD and heavy-ball momentum started at 0 only ever add combinations of the rows of X, so their limit is the
unique interpolant in the row space: the minimum-norm solution X⁺y. Started at w₀ ≠ 0 they converge to
X⁺y + (I − X⁺X)w₀ (the null-space part of w₀ is never touched). Adam's coordinate-wise rescaling leaves the span, and
its limit is an interpolant of larger norm.
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dl_theory import checks, losses
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots
from dl_theory.training import train


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    n: Annotated[int, checks.at_least(2)] = 50
    d: Annotated[int, checks.at_least(3)] = 200
    steps: Annotated[int, checks.count] = 20000
    batch_size: Annotated[int, checks.count] = 10

    @classmethod
    def quick(cls) -> "Config":
        return cls(n=30, d=100, steps=6000)


def _linear(w_D: jax.Array, x_NxD: jax.Array) -> jax.Array:
    return x_NxD @ w_D


_mse = losses.mse(_linear)  # (1/2N) ||Xw − y||²


def run(cfg: Config) -> Result:
    with jax.enable_x64(True):
        return _run(cfg)


def _run(cfg: Config) -> Result:
    k_x, k_y, k_w, k_sgd = jax.random.split(jax.random.key(cfg.seed), 4)
    x = jax.random.normal(k_x, (cfg.n, cfg.d), jnp.float64) / np.sqrt(cfg.d)
    y = jax.random.normal(k_y, (cfg.n,), jnp.float64)
    pinv = jnp.linalg.pinv(x)
    w_plus = pinv @ y
    lr = 1.0 / float(jnp.linalg.eigvalsh(x.T @ x / cfg.n)[-1])
    methods = {
        "GD": (optax.sgd(lr), None),
        "SGD": (optax.sgd(0.5 * lr * cfg.batch_size / cfg.n), cfg.batch_size),
        "momentum": (optax.sgd(0.5 * lr, momentum=0.9), None),
        "Adam": (optax.adam(1e-2), None),
    }
    w0 = jax.random.normal(k_w, (cfg.d,), jnp.float64)
    results, curves = {}, {}
    scale = float(jnp.linalg.norm(w_plus))
    for name, (opt, batch) in methods.items():
        for init_name, init in (("zero", jnp.zeros(cfg.d)), ("w0", w0)):
            w, hist = train(_mse, init, opt, (x, y), n_steps=cfg.steps, batch_size=batch, key=k_sgd,
                            log_every=max(1, cfg.steps // 50), desc=f"{name} from {init_name}",
                            callback=lambda step, w: {"dist": jnp.linalg.norm(w - w_plus) / scale})
            results[(name, init_name)] = {
                "residual": float(jnp.linalg.norm(x @ w - y) / jnp.linalg.norm(y)),
                "dist_min_norm": float(jnp.linalg.norm(w - w_plus) / scale),
                "dist_predicted": float(jnp.linalg.norm(w - (w_plus + w0 - pinv @ (x @ w0))) / scale)
                if init_name == "w0" else float(jnp.linalg.norm(w - w_plus) / scale),
                "norm_ratio": float(jnp.linalg.norm(w)) / scale,
            }
            curves[(name, init_name)] = (np.asarray(hist["log_step"]), np.asarray(hist["dist"]))
    tol = 1e-6
    claims = []
    for name in ("GD", "SGD", "momentum"):
        r0, r1 = results[(name, "zero")], results[(name, "w0")]
        claims.append(Claim.at_most(f"{name.lower()}-interpolates", f"{name} from 0: ||Xw − y|| / ||y||", 0.0,
                                    r0["residual"], slack=tol))
        claims.append(Claim.at_most(f"{name.lower()}-min-norm", f"{name} from 0: ||w − X⁺y|| / ||X⁺y||", 0.0,
                                    r0["dist_min_norm"], slack=tol))
        claims.append(Claim.at_most(f"{name.lower()}-from-w0", f"{name} from w₀: ||w − (X⁺y + (I − X⁺X)w₀)|| / "
                                    "||X⁺y||", 0.0, r1["dist_predicted"], slack=tol))
    adam = results[("Adam", "zero")]
    claims.append(Claim.at_least("adam-leaves-the-span", "Adam from 0 (coordinate-wise steps leave span{x_i}): "
                                 "||w − X⁺y|| / ||X⁺y|| is not small", 0.05, adam["dist_min_norm"]))
    metrics = {f"{k[0]}/{k[1]}": v for k, v in results.items()}
    return Result(claims, metrics, {"curves": curves})


def plot(result: Result):
    fig, ax = subplots(1, 1, title="Implicit bias toward the minimum-norm interpolant")
    for (name, init), (steps, dist) in result.data["curves"].items():
        if init == "zero":
            ax.plot(np.maximum(steps, 1), np.maximum(dist, 1e-16), label=f"{name} from 0")
    ax.set(xscale="log", yscale="log", xlabel="step", ylabel="||w_t − X⁺y|| / ||X⁺y||")
    ax.legend()
    return fig


EXPERIMENT = Experiment(
    id="implicit-bias",
    description="GD, SGD and momentum from 0 converge to the min-norm interpolant X⁺y; Adam does not.",
    config=Config, run=run, plot=plot)
