"""Linear models (§2.1): pseudo-inverse, ridge, GD's implicit bias to the min-norm solution, SGD, logistic loss.

All checks run in float64. Gradient descent from 0 on an underdetermined least-squares problem stays in the row
space of X, so it converges to the minimum-norm solution X^+ y; from w_0 != 0 it converges to X^+ y plus the
null-space part of w_0, which it never changes.
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dl_theory import checks
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.config import ConfigError
from dl_theory.experiment.plotting import subplots
from dl_theory.models.classical.linear import (
    logistic_grad,
    logistic_loss,
    min_norm_solution,
    mse_grad,
    mse_loss,
    ridge_solution,
    sgd_step,
)
from dl_theory.stats import loglog_slope
from dl_theory.training import train


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    n: Annotated[int, checks.at_least(2)] = 40
    d: Annotated[int, checks.at_least(3)] = 100  # d > n: an underdetermined problem
    gd_steps: Annotated[int, checks.at_least(100)] = 20_000  # logged every gd_steps // 100 steps
    lambdas: Annotated[tuple[float, ...], checks.each(checks.positive, min_length=3)] = tuple(
        10.0 ** np.arange(-9, 1))

    def __post_init__(self):
        if self.d <= self.n:
            raise ConfigError(f"d must be > n={self.n} (an underdetermined least-squares problem), got {self.d}")

    @classmethod
    def quick(cls) -> "Config":
        return cls(n=30, d=60, gd_steps=5_000)


def _identities(z: jax.Array) -> dict[str, float]:
    """Max errors of the notes' sigmoid/tanh identities on a grid, derivatives by autodiff."""
    s = jax.nn.sigmoid
    d1, d2 = jax.vmap(jax.grad(s)), jax.vmap(jax.grad(jax.grad(s)))
    dtanh = jax.vmap(jax.grad(jnp.tanh))
    err = lambda a, b: float(jnp.max(jnp.abs(a - b)))
    return {"σ(z)+σ(−z)=1": err(s(z) + s(-z), 1.0), "σ'=σ(1−σ)": err(d1(z), s(z) * (1 - s(z))),
            "σ''=σ(1−σ)(1−2σ)": err(d2(z), s(z) * (1 - s(z)) * (1 - 2 * s(z))),
            "tanh=2σ(2z)−1": err(jnp.tanh(z), 2 * s(2 * z) - 1), "tanh'=1−tanh²": err(dtanh(z), 1 - jnp.tanh(z) ** 2)}


def run(cfg: Config) -> Result:
    with jax.enable_x64(True):
        return _run(cfg)


def _run(cfg: Config) -> Result:
    k_x, k_y, k_w, k_c, k_i = jax.random.split(jax.random.key(cfg.seed), 5)
    x = jax.random.normal(k_x, (cfg.n, cfg.d), jnp.float64) / np.sqrt(cfg.d)
    y = jax.random.normal(k_y, (cfg.n,), jnp.float64)
    w_plus = min_norm_solution(x, y)
    scale = float(jnp.linalg.norm(w_plus))

    lambdas = np.asarray(cfg.lambdas)
    ridge_gap = np.array([float(jnp.linalg.norm(ridge_solution(x, y, lam) - w_plus)) / scale for lam in lambdas])
    # first-order regime: lambda << sigma_min^2, but above the float64 floor of solving with cond(X'X + lambda I)
    fit = (lambdas >= 1e-7) & (lambdas <= 1e-3)
    ridge_slope, _ = loglog_slope(lambdas[fit], ridge_gap[fit])
    lam = 0.1
    w_ridge = ridge_solution(x, y, lam)
    ridge_stationarity = float(jnp.linalg.norm(x.T @ (x @ w_ridge - y) + lam * w_ridge))

    lr = 1.0 / float(jnp.linalg.eigvalsh(x.T @ x / cfg.n)[-1])  # 1/L for the loss ||Xw-y||^2/(2n)
    w0 = jax.random.normal(k_w, (cfg.d,), jnp.float64)
    null_part = w0 - jnp.linalg.pinv(x) @ (x @ w0)

    def distance(step, w):
        return {"dist": jnp.linalg.norm(w - w_plus) / scale}

    def loss(w, batch):
        return mse_loss(w, *batch)

    runs = {}
    for name, start in (("from 0", jnp.zeros(cfg.d)), ("from w0", w0)):
        w, hist = train(loss, start, optax.sgd(lr), (x, y), n_steps=cfg.gd_steps, log_every=cfg.gd_steps // 100,
                        callback=distance, desc=f"GD {name}")
        runs[name] = (w, hist)
    gd_gap = float(runs["from 0"][1]["dist"][-1])
    w0_gap = float(jnp.linalg.norm(runs["from w0"][0] - (w_plus + null_part)) / scale)

    xi, yi, wi = jax.random.normal(k_c, (3, cfg.d), jnp.float64)
    sgd_error = float(jnp.max(jnp.abs(sgd_step(wi, xi, yi[0], 0.1)
                                      - (wi - 0.1 * jax.grad(lambda w: 0.5 * (yi[0] - w @ xi) ** 2)(wi)))))
    y01 = (jax.random.uniform(k_i, (cfg.n,)) > 0.5).astype(jnp.float64)
    w_rand = jax.random.normal(k_w, (cfg.d,), jnp.float64)
    logistic_error = float(jnp.max(jnp.abs(logistic_grad(w_rand, x, y01) - jax.grad(logistic_loss)(w_rand, x, y01))))
    mse_error = float(jnp.max(jnp.abs(mse_grad(w_rand, x, y) - jax.grad(mse_loss)(w_rand, x, y))))
    z = x @ w_rand * 5
    ce = -y01 * jnp.log(jax.nn.sigmoid(z)) - (1 - y01) * jnp.log(1 - jax.nn.sigmoid(z))
    ce_error = float(jnp.max(jnp.abs(ce - (-jnp.log(jax.nn.sigmoid((2 * y01 - 1) * z))))))
    identities = _identities(jnp.linspace(-8.0, 8.0, 321))

    machine = 1e-12
    claims = [
        Claim.at_most("pinv-limit", f"||w_ridge(λ={lambdas[0]:.0e}) − X⁺y|| / ||X⁺y||", 0.0, ridge_gap[0],
                      slack=1e-6),
        Claim.close("ridge-rate", "slope of ||w_ridge(λ) − X⁺y|| vs λ on log-log, λ in [1e-7, 1e-3]", 1.0,
                    ridge_slope, atol=0.05),
        Claim.at_most("ridge-closed-form", "||∇(½||Xw−y||² + λ/2||w||²)|| at (XᵀX+λI)⁻¹Xᵀy", 0.0,
                      ridge_stationarity, slack=1e-10),
        Claim.at_most("gd-min-norm", f"||w_GD − X⁺y|| / ||X⁺y|| after {cfg.gd_steps} steps from 0 (n={cfg.n} < "
                      f"d={cfg.d})", 0.0, gd_gap, slack=1e-6),
        Claim.at_most("gd-keeps-null-space", "||w_GD(w0) − (X⁺y + P_null w0)|| / ||X⁺y||", 0.0, w0_gap,
                      slack=1e-6),
        Claim.at_most("sgd-update", "|w + η(y − wᵀx)x − (w − η∇½(y − wᵀx)²)|", 0.0, sgd_error, slack=machine),
        Claim.at_most("mse-gradient", "|(XᵀXw − Xᵀy)/n − autodiff|", 0.0, mse_error, slack=machine),
        Claim.at_most("logistic-gradient", "|mean[σ(wᵀx)−y]x − autodiff|", 0.0, logistic_error, slack=machine),
        Claim.at_most("cross-entropy-form", "|−y log σ(z) − (1−y) log(1−σ(z)) − (−log σ((2y−1)z))|", 0.0, ce_error,
                      slack=1e-10),
        Claim.at_most("sigmoid-tanh-identities", "max error of σ(z)+σ(−z)=1, σ'=σ(1−σ), σ''=σ(1−σ)(1−2σ), "
                      "tanh=2σ(2z)−1, tanh'=1−tanh² on [−8, 8]", 0.0, max(identities.values()), slack=machine),
    ]
    metrics = {"ridge_gap": dict(zip(map(str, lambdas), ridge_gap.tolist(), strict=True)),
               "ridge_slope": ridge_slope, "gd_gap": gd_gap, "gd_w0_gap": w0_gap,
               "null_space_norm_of_w0": float(jnp.linalg.norm(null_part) / scale), "identities": identities}
    return Result(claims, metrics, {"lambdas": lambdas, "ridge_gap": ridge_gap, "identities": identities,
                                    "runs": {k: (h["log_step"], h["dist"]) for k, (_, h) in runs.items()},
                                    "null": float(jnp.linalg.norm(null_part) / scale)})


def plot(result: Result):
    d = result.data
    fig, (ax1, ax2, ax3) = subplots(1, 3, title="Linear models: pseudo-inverse, ridge and GD's implicit bias")
    ax1.loglog(d["lambdas"], d["ridge_gap"], "o-")
    ax1.set(xlabel="ridge λ", ylabel="||w_ridge(λ) − X⁺y|| / ||X⁺y||", title="ridge → pseudo-inverse (∝ λ)")
    for name, (steps, dist) in d["runs"].items():
        ax2.semilogy(np.maximum(steps, 1), np.maximum(dist, 1e-17), label=f"GD {name}")
    ax2.axhline(d["null"], color="black", ls="--", lw=1, label="||P_null w0|| (never changes)")
    ax2.set(xlabel="GD step", ylabel="distance to X⁺y (relative)", title="GD from 0 → min-norm solution")
    ax2.legend()
    names = list(d["identities"])
    ax3.barh(range(len(names)), np.maximum(list(d["identities"].values()), 1e-18))
    ax3.set(xscale="log", yticks=range(len(names)), yticklabels=names, xlabel="max error (float64)",
            title="σ and tanh identities")
    return fig


EXPERIMENT = Experiment(
    id="linear-models",
    description="Pseudo-inverse = ridge limit; GD from 0 finds the min-norm solution; ridge, SGD, logistic identities.",
    config=Config, run=run, plot=plot)
