r"""Lazy training: how much the empirical NTK moves during training, versus width and output scale.

A ReLU network in the NTK parameterization is trained by full-batch gradient descent on the MSE loss (digits
inputs, a smooth teacher target) for a fixed function-space time. We measure

* the relative NTK change :math:`\|\Theta_T - \Theta_0\|_F / \|\Theta_0\|_F` versus width :math:`m` and fit its
  exponent on a log-log scale. The course notes state :math:`O(1/m)`; the classical bounds (Jacot et al., 2018;
  Lee et al., 2019, Thm 2.1) give :math:`O(m^{-1/2})`, while perturbative analyses (Dyer & Gur-Ari, 2020;
  Huang & Yau, 2020) predict :math:`O(1/m)` for the actual change. The claim checks the rigorous bound (exponent
  :math:`\le -1/2`); the fitted exponent and its distance to both :math:`-1` and :math:`-1/2` are in the metrics;
* the gap between the trained network and its linearization trained the same way (Lee et al., 2019):
  :math:`\|f_T - f^{lin}_T\| / \|f^{lin}_T\|` on test inputs, bounded by :math:`O(m^{-1/2})`;
* lazy versus rich training (Chizat, Oyallon & Bach, 2019): the centred model
  :math:`h_\alpha = \alpha (f(\theta) - f(\theta_0))` trained on :math:`\frac{1}{2n\alpha^2}\|h_\alpha - y\|^2`
  has :math:`\alpha`-independent function-space dynamics to first order, while parameters move
  :math:`O(1/\alpha)`: the NTK change scales as :math:`1/\alpha` (lazy, large :math:`\alpha`) and is
  :math:`O(1)` with growing kernel-target alignment for small :math:`\alpha` (rich).

Measured (one hidden layer, digits inputs, n = 32): full preset (widths 128-8192, 4 seeds) NTK-change exponent
-0.83 +- 0.06 (per seed -0.68 to -0.93), closer to the notes' 1/m than to 1/sqrt(m) and inside the rigorous
O(m^-1/2) bound; linearization-gap exponent -0.57; NTK change vs alpha exponent -1.12 (theory -1). Quick preset
(4 widths, 2 seeds): -0.82 +- 0.11, -0.61, -0.87. The learning
rate must stay below 2n/lambda_max: above it (catapult dynamics) the kernel moves by O(1) at every width.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dl_theory import data, predict, stax
from dl_theory.dynamics.ntk_tracking import ntk_tracking_callback
from dl_theory.dynamics.taylor import linearize
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.kernels.empirical import empirical_ntk_fn
from dl_theory.stats import loglog_slope
from dl_theory.training import train
from dl_theory.training.progress import progress


@dataclass(frozen=True)
class Config:
    seed: int = 0
    widths: tuple[int, ...] = (128, 256, 512, 1024, 2048, 4096, 8192)
    n_seeds: int = 4
    depth: int = 1  # hidden layers
    n_train: int = 32
    n_test: int = 64
    steps: int = 200
    lr_fraction: float = 0.5  # of the largest stable rate 2n / lambda_max of the infinite-width NTK
    alphas: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
    alpha_width: int = 512
    W_std: float = 1.5
    b_std: float = 0.1

    @classmethod
    def quick(cls) -> "Config":
        return cls(widths=(128, 512, 2048, 8192), n_seeds=2, alphas=(0.1, 1.0, 4.0, 16.0))


def _network(cfg: Config, width: int):
    layers = [stax.Dense(width, W_std=cfg.W_std, b_std=cfg.b_std), stax.Relu()] * cfg.depth
    return stax.serial(*layers, stax.Dense(1, W_std=cfg.W_std, b_std=cfg.b_std))


def _data(cfg: Config):
    ds = data.digits(seed=cfg.seed)
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    x, x_test = jnp.asarray(unit(ds.x_train[: cfg.n_train])), jnp.asarray(unit(ds.x_test[: cfg.n_test]))
    w = jax.random.normal(jax.random.key(cfg.seed + 1000), (x.shape[1],))
    y = jnp.tanh(3.0 * x @ w / jnp.linalg.norm(w))[:, None]  # a smooth teacher: small RKHS norm
    return x, y, x_test


def _mse(apply_fn):
    return lambda p, batch: 0.5 * jnp.mean((apply_fn(p, batch[0]) - batch[1]) ** 2)


def width_run(cfg: Config, x, y, x_test, width: int, seed: int, lr: float) -> dict:
    """Train one network and its linearization; the NTK is tracked every ``steps // 10`` steps."""
    init_fn, apply_fn, _ = _network(cfg, width)
    _, params0 = init_fn(jax.random.key(seed), x.shape)
    track = ntk_tracking_callback(empirical_ntk_fn(apply_fn, vmap_axes=0), x, y)
    every = max(cfg.steps // 10, 1)
    params, hist = train(_mse(apply_fn), params0, optax.sgd(lr), (x, y), n_steps=cfg.steps, log_every=every,
                         callback=track, desc=f"m={width}")
    f_lin = linearize(apply_fn, params0)
    params_lin, _ = train(_mse(f_lin), params0, optax.sgd(lr), (x, y), n_steps=cfg.steps, log_every=cfg.steps,
                          desc=f"lin m={width}")
    fx, fx_lin = apply_fn(params, x_test), f_lin(params_lin, x_test)
    return {"change": float(hist["ntk_change"][-1]), "trajectory": hist["ntk_change"], "steps": hist["log_step"],
            "lin_gap": float(jnp.linalg.norm(fx - fx_lin) / jnp.linalg.norm(fx_lin)),
            "loss": float(hist["loss"][-1])}


def alpha_run(cfg: Config, x, y, alpha: float, lr: float) -> dict:
    """Centred model alpha (f(theta) - f(theta_0)) on the loss / alpha^2 (Chizat et al.'s lazy scaling)."""
    init_fn, apply_fn, _ = _network(cfg, cfg.alpha_width)
    _, params0 = init_fn(jax.random.key(cfg.seed), x.shape)
    h = lambda p, xx: alpha * (apply_fn(p, xx) - apply_fn(params0, xx))  # noqa: E731
    track = ntk_tracking_callback(empirical_ntk_fn(h, vmap_axes=0), x, y)
    loss = lambda p, batch: _mse(h)(p, batch) / alpha**2  # noqa: E731
    _, hist = train(loss, params0, optax.sgd(lr), (x, y), n_steps=cfg.steps, log_every=cfg.steps, callback=track,
                    desc=f"alpha={alpha}")
    return {"change": float(hist["ntk_change"][-1]), "loss": float(hist["loss"][-1]) * alpha**2,
            "alignment_gain": float(hist["target_alignment"][-1] - hist["target_alignment"][0])}


def run(cfg: Config) -> Result:
    x, y, x_test = _data(cfg)
    k_inf = _network(cfg, 1)[2](x, None, "ntk")
    lr = cfg.lr_fraction * float(predict.max_learning_rate(k_inf, y.size))
    runs = {m: [width_run(cfg, x, y, x_test, m, cfg.seed + s, lr) for s in range(cfg.n_seeds)]
            for m in progress(cfg.widths, desc="ntk-lazy-training widths")}
    widths = np.array(cfg.widths, float)
    change = np.array([[r["change"] for r in runs[m]] for m in cfg.widths])
    gap = np.array([[r["lin_gap"] for r in runs[m]] for m in cfg.widths])
    slope, intercept = loglog_slope(widths, change.mean(1))
    per_seed = [loglog_slope(widths, change[:, s])[0] for s in range(cfg.n_seeds)]
    slope_se = float(np.std(per_seed, ddof=1) / np.sqrt(cfg.n_seeds)) if cfg.n_seeds > 1 else float("nan")
    gap_slope, gap_intercept = loglog_slope(widths, gap.mean(1))
    alphas = np.array(cfg.alphas, float)
    lazy = [alpha_run(cfg, x, y, a, lr) for a in progress(cfg.alphas, desc="ntk-lazy-training alphas")]
    a_change = np.array([r["change"] for r in lazy])
    big = alphas >= 1.0
    alpha_slope, alpha_intercept = loglog_slope(alphas[big], a_change[big])
    gains = [r["alignment_gain"] for r in lazy]
    claims = [
        Claim.at_most("ntk-change-exponent", "fitted exponent of ||Theta_T - Theta_0||_F/||Theta_0||_F vs width "
                      "<= -1/2 (the O(m^-1/2) bound; notes: O(1/m), see metrics)", -0.5, slope, slack=0.1),
        Claim.at_most("linearization-gap-exponent", "fitted exponent of ||f_T - f_T^lin|| / ||f_T^lin|| (test "
                      "inputs) vs width <= -1/2 (Lee et al. 2019, Thm 2.1)", -0.5, gap_slope, slack=0.15),
        Claim.close("lazy-alpha-exponent", "NTK change of alpha (f - f_0) scales as 1/alpha for alpha >= 1 "
                    "(Chizat et al. 2019)", -1.0, alpha_slope, atol=0.2),
        Claim.at_least("rich-regime-alignment", "kernel-target alignment gain at the smallest alpha exceeds the "
                       "gain at the largest alpha (features are learned only when training is not lazy)", 0.0,
                       gains[0] - gains[-1]),
    ]
    metrics = {
        "learning_rate": lr, "ntk_change_exponent": slope, "ntk_change_exponent_stderr": slope_se,
        "ntk_change_fit": {"log_intercept": intercept, "per_seed_exponents": per_seed},
        "distance_to_1_over_m": abs(slope + 1.0), "distance_to_1_over_sqrt_m": abs(slope + 0.5),
        "closer_to": "1/m" if abs(slope + 1.0) < abs(slope + 0.5) else "1/sqrt(m)",
        "linearization_gap_exponent": gap_slope, "linearization_gap_fit_log_intercept": gap_intercept,
        "lazy_alpha_exponent": alpha_slope,
        "widths": [{"width": m, "ntk_change": float(c), "lin_gap": float(g), "final_loss": float(
            np.mean([r["loss"] for r in runs[m]]))} for m, c, g in zip(cfg.widths, change.mean(1), gap.mean(1),
                                                                        strict=True)],
        "alphas": [{"alpha": a, **r} for a, r in zip(cfg.alphas, lazy, strict=True)],
    }
    plot_data = {"widths": widths, "change": change, "gap": gap, "fit": (slope, intercept),
                 "gap_fit": (gap_slope, gap_intercept), "alphas": alphas, "alpha_change": a_change,
                 "alpha_fit": (alpha_slope, alpha_intercept), "gains": np.array(gains),
                 "trajectories": {m: (runs[m][0]["steps"], runs[m][0]["trajectory"]) for m in cfg.widths}}
    return Result(claims, metrics, plot_data)


def plot(result: Result):
    d = result.data
    fig, axes = subplots(1, 4, title="Lazy training: NTK change vs width and output scale")
    ax = axes[0]
    ax.errorbar(d["widths"], d["change"].mean(1), yerr=d["change"].std(1), fmt="o", label="measured")
    slope, icpt = d["fit"]
    ax.plot(d["widths"], np.exp(icpt) * d["widths"] ** slope, label=f"fit m^{slope:.2f}")
    anchor = d["change"].mean(1)[0] * d["widths"][0]
    theory_line(ax, d["widths"], anchor / d["widths"], label="1/m (notes)")
    theory_line(ax, d["widths"], anchor / d["widths"][0] * np.sqrt(d["widths"][0] / d["widths"]),
                label="1/√m (bound)", linestyle=":")
    ax.set(xscale="log", yscale="log", xlabel="width m", ylabel="‖Θ_T−Θ_0‖/‖Θ_0‖")
    ax.legend(fontsize=7)
    ax = axes[1]
    ax.plot(d["widths"], d["gap"].mean(1), "o", label="measured")
    gs, gi = d["gap_fit"]
    ax.plot(d["widths"], np.exp(gi) * d["widths"] ** gs, label=f"fit m^{gs:.2f}")
    ax.set(xscale="log", yscale="log", xlabel="width m", ylabel="‖f_T − f_T^lin‖/‖f_T^lin‖ (test)")
    ax.legend(fontsize=7)
    ax = axes[2]
    ax.plot(d["alphas"], d["alpha_change"], "o-", label="NTK change")
    theory_line(ax, d["alphas"], d["alpha_change"][-1] * d["alphas"][-1] / d["alphas"], label="1/α")
    ax.set(xscale="log", yscale="log", xlabel="output scale α", ylabel="‖Θ_T−Θ_0‖/‖Θ_0‖")
    twin = ax.twinx()
    twin.plot(d["alphas"], d["gains"], "s:", color="#b04020", label="alignment gain")
    twin.set_ylabel("Δ A(Θ, yyᵀ)", color="#b04020")
    ax.legend(fontsize=7)
    ax = axes[3]
    for m, (steps, traj) in d["trajectories"].items():
        ax.plot(steps, traj, label=f"m={m}")
    ax.set(xlabel="GD step", ylabel="‖Θ_t−Θ_0‖/‖Θ_0‖", title="during training (seed 0)")
    ax.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="ntk-lazy-training",
    description="Relative NTK change vs width (fitted exponent vs 1/m and 1/√m), linearization gap, lazy vs rich (α).",
    config=Config, run=run, plot=plot)
