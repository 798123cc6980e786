r"""Lazy training: how much the empirical NTK moves during training, versus width and output scale.

A ReLU network in the NTK parameterization is trained by full-batch gradient descent on the MSE loss (digits inputs, a
smooth teacher target) for a fixed function-space time. We measure the relative NTK change :math:`\|\Theta_T -
\Theta_0\|_F / \|\Theta_0\|_F` versus width :math:`m` and fit its exponent on a log-log scale. The course notes state
:math:`O(1/m)`; the classical bounds (Jacot et al., 2018; Lee et al., 2019, Thm 2.1) give :math:`O(m^{-1/2})`, while
perturbative analyses (Dyer & Gur-Ari, 2020; Huang & Yau, 2020) predict :math:`O(1/m)` for the actual change. The claim
checks the rigorous bound: the exponent of the geometric mean over independent networks
(``dl_theory.stats.log_mean_slope``) is :math:`\le -1/2` within Student's t quantile of three standard errors (the
pooled variance of the logs has few degrees of freedom); the fitted exponent and its distance to both :math:`-1` and
:math:`-1/2` are in the metrics. The
same holds for the gap between the trained network and its linearization trained the same way, :math:`\|f_T -
f^{lin}_T\| / \|f^{lin}_T\|` on test inputs (Lee et al., 2019). The learning rate must stay below
:math:`2n/\lambda_{max}`: above it (catapult dynamics) the kernel moves by :math:`O(1)` at every width.

Lazy versus rich training (Chizat, Oyallon & Bach, 2019): the centred model :math:`h_\alpha = \alpha (f(\theta) -
f(\theta_0))` trained on :math:`\frac{1}{\alpha^2}` times the MSE loss has :math:`\alpha`-independent function-space
dynamics to first order, while the parameters move by :math:`\Delta\theta = \delta_1/\alpha + \delta_2/\alpha^2 +
\dots`. For a smooth activation the kernel is a smooth function of the parameters, so :math:`\Theta_T - \Theta_0 =
A/\alpha + B/\alpha^2 + O(\alpha^{-3})` and the local exponent :math:`p(\alpha) = d \log \|\Theta_T - \Theta_0\| / d
\log\alpha` approaches :math:`-1` with a deviation of order :math:`1/\alpha`: on a geometric grid the deviation of the
last pair's exponent is at most the larger of those of the two previous pairs (it shrinks by the grid ratio once
:math:`1/\alpha` dominates; one previous pair is not enough, since the first- and second-order terms can cancel near one
:math:`\alpha` and make the exponent cross :math:`-1` there), which is the claim. This experiment uses an erf network
for that reason, in float64 (the change at large :math:`\alpha` is below the float32 round-off of a kernel entry summed
over all parameters). With ReLU the kernel is not differentiable in the parameters: every pre-activation :math:`w_j^\top
x_i` that crosses zero switches a unit on or off, the number of crossings is proportional to :math:`1/\alpha` but their
contributions add with random signs, so their Frobenius norm scales as :math:`\alpha^{-1/2}`, and for one network they
are a random handful; over moderate :math:`\alpha` the measured ReLU exponent then lies anywhere between :math:`-1/2`
and :math:`-1` depending on the seed. For small :math:`\alpha` training is rich: the kernel moves by :math:`O(1)` and
its alignment with the target grows.
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dl_theory import checks, data, losses, models, predict
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.kernels.empirical import empirical_ntk_fn
from dl_theory.kernels.metrics import kernel_alignment, relative_frobenius_change
from dl_theory.stats import log_mean_slope
from dl_theory.training import train
from dl_theory.training.ensemble import ensemble, linearized_ensemble, stacked_init
from dl_theory.training.progress import progress

N_SE = 3.0  # standard errors of the exponent bounds' one-sided tolerance


def activation(name: str, value: str) -> None:
    """``value`` names an activation of :data:`dl_theory.models.ACTIVATIONS`."""
    if value not in models.ACTIVATIONS:
        raise checks.fail(name, f"one of {sorted(models.ACTIVATIONS)}", value)


def geometric_tail(name: str, value: tuple[float, ...]) -> None:
    """``value`` is increasing with >= 4 positive entries, the last four a geometric grid (three local exponents)."""
    checks.each(checks.positive, min_length=4)(name, value)
    a = np.asarray(value, float)
    ratios = a[-3:] / a[-4:-1]
    if not np.all(np.diff(a) > 0) or not np.allclose(ratios, ratios[0]):
        raise checks.fail(name, "an increasing tuple whose last four values are geometric", value)


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    widths: Annotated[tuple[int, ...], checks.each(checks.count, min_length=3)] = (128, 256, 512, 1024, 2048, 4096,
                                                                                  8192)
    n_seeds: Annotated[int, checks.at_least(2)] = 4  # per width: the exponent's standard error needs >= 2
    depth: Annotated[int, checks.count] = 1  # hidden layers
    n_train: Annotated[int, checks.at_least(2)] = 32
    n_test: Annotated[int, checks.count] = 64
    steps: Annotated[int, checks.count] = 200
    lr_fraction: Annotated[float, checks.probability] = 0.5  # of the largest stable rate 2n / lambda_max
    alphas: Annotated[tuple[float, ...], geometric_tail] = (0.1, 0.3, 1.0, 4.0, 16.0, 64.0, 256.0)
    alpha_width: Annotated[int, checks.count] = 512
    alpha_activation: Annotated[str, activation] = "erf"
    W_std: Annotated[float, checks.positive] = 1.5
    b_std: Annotated[float, checks.nonnegative] = 0.1

    @classmethod
    def quick(cls) -> "Config":
        return cls(widths=(128, 512, 2048), n_seeds=3, alphas=(0.1, 1.0, 4.0, 16.0, 64.0, 256.0))



def network(cfg: Config, width: int, activation: str = "relu"):
    """``depth`` hidden layers of ``width`` units and a scalar readout (stax triple, NTK parameterization)."""
    return models.mlp((width,) * cfg.depth, 1, activation=activation, W_std=cfg.W_std, b_std=cfg.b_std,
                      last_W_std=cfg.W_std)


def _data(cfg: Config):
    ds = data.digits(seed=cfg.seed)
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    x, x_test = jnp.asarray(unit(ds.x_train[: cfg.n_train])), jnp.asarray(unit(ds.x_test[: cfg.n_test]))
    w = jax.random.normal(jax.random.key(cfg.seed + 1000), (x.shape[1],))
    y = jnp.tanh(3.0 * x @ w / jnp.linalg.norm(w))[:, None]  # a smooth teacher: small RKHS norm
    return x, y, x_test


def ntk_tracking(apply_fn, x: jax.Array, y: jax.Array):
    """``callback(step, params_S)`` for ``train``: per network, the relative change of its empirical NTK on ``x``
    since step 0 and its alignment with ``y y^T``."""
    kernel_S = jax.jit(jax.vmap(lambda p: empirical_ntk_fn(apply_fn, vmap_axes=0)(x, None, p)))
    yyt = y @ y.T
    state = {}

    def callback(step: int, params_S) -> dict:
        theta_S = kernel_S(params_S)
        theta0_S = state.setdefault("theta0", theta_S)
        return {"ntk_change": jax.vmap(relative_frobenius_change)(theta_S, theta0_S),
                "target_alignment": jax.vmap(kernel_alignment, in_axes=(0, None))(theta_S, yyt)}

    return callback


def width_runs(cfg: Config, x, y, x_test, width: int, keys_S: jax.Array, lr: float) -> dict:
    """Train ``len(keys_S)`` networks and their linearizations (one ensemble each); the NTKs are tracked every
    ``steps // 10`` steps. Arrays over the networks."""
    init_fn, apply_fn, _ = network(cfg, width)
    params0 = stacked_init(init_fn, keys_S, x.shape)
    every = max(cfg.steps // 10, 1)
    apply_s, lin_s = ensemble(apply_fn), linearized_ensemble(apply_fn, params0)
    params, hist = train(losses.mse(apply_s), params0, optax.sgd(lr), (x, y[:, None]), n_steps=cfg.steps,
                         log_every=every, callback=ntk_tracking(apply_fn, x, y), desc=f"m={width}")
    params_lin, _ = train(losses.mse(lin_s), params0, optax.sgd(lr), (x, y[:, None]), n_steps=cfg.steps,
                          log_every=cfg.steps, desc=f"lin m={width}")

    @jax.jit
    def evaluate(params, params_lin):
        fx, fx_lin = apply_s(params, x_test), lin_s(params_lin, x_test)  # (M, S, 1)
        gap = jnp.linalg.norm(fx - fx_lin, axis=(0, 2)) / jnp.linalg.norm(fx_lin, axis=(0, 2))
        return gap, jnp.mean(jax.vmap(losses.squared_error, in_axes=(1, None))(apply_s(params, x), y), axis=1)

    gap, loss = evaluate(params, params_lin)
    return {"change": np.asarray(hist["ntk_change"][-1]), "trajectories": np.asarray(hist["ntk_change"]).T,
            "steps": hist["log_step"], "lin_gap": np.asarray(gap), "loss": np.asarray(loss)}


def alpha_runs(cfg: Config, x, y, lr: float) -> dict:
    r"""Centred models :math:`h_\alpha = \alpha (f(\theta) - f(\theta_0))` on the loss / alpha^2 (Chizat et al.'s
    lazy scaling), all alphas from the same init as one ensemble.

    With :math:`g = f(\theta) - f(\theta_0)`, :math:`\frac{1}{\alpha^2}\,\mathrm{mse}(h_\alpha, y) =
    \mathrm{mse}(g, y / \alpha)`, so member ``a`` is ``g`` trained on the targets ``y / alpha_a``; the NTK of
    :math:`h_\alpha` is :math:`\alpha^2` times that of ``f``, and the relative change and the alignment do not depend
    on the scale. Arrays over the alphas.
    """
    init_fn, apply_fn, _ = network(cfg, cfg.alpha_width, cfg.alpha_activation)
    _, params0 = init_fn(jax.random.key(cfg.seed), x.shape)
    alphas = jnp.asarray(cfg.alphas, x.dtype)
    params0_A = jax.tree.map(lambda p: jnp.broadcast_to(p, (len(alphas), *p.shape)), params0)
    apply_a = ensemble(apply_fn)
    g = lambda p_A, xx: apply_a(p_A, xx) - apply_fn(params0, xx)[:, None]  # noqa: E731
    targets = y[:, None] / alphas[None, :, None]  # (N, A, 1)
    params, hist = train(losses.mse(g), params0_A, optax.sgd(lr), (x, targets), n_steps=cfg.steps,
                         log_every=cfg.steps, callback=ntk_tracking(apply_fn, x, y), desc="alphas")
    per_example = jax.jit(lambda p: jax.vmap(losses.squared_error, in_axes=(1, 1))(g(p, x), targets))(params)
    loss = alphas**2 * jnp.mean(per_example, axis=1)
    return {"change": np.asarray(hist["ntk_change"][-1]), "loss": np.asarray(loss),
            "alignment_gain": np.asarray(hist["target_alignment"][-1] - hist["target_alignment"][0])}


def learning_rate(cfg: Config, x: jax.Array, y: jax.Array, activation: str) -> float:
    """``lr_fraction`` of the largest stable rate ``2n / lambda_max`` of the infinite-width NTK."""
    k_inf = jax.jit(network(cfg, 1, activation)[2], static_argnums=2)(x, None, "ntk")
    return cfg.lr_fraction * float(predict.max_learning_rate(k_inf, y.size))


def lazy_alpha(cfg: Config, x, y) -> dict:
    """The alpha sweep in float64; local exponents of the NTK change between successive alphas."""
    with jax.enable_x64(True):
        x64, y64 = jnp.asarray(x, jnp.float64), jnp.asarray(y, jnp.float64)
        lr = learning_rate(cfg, x64, y64, cfg.alpha_activation)
        runs = alpha_runs(cfg, x64, y64, lr)
    alphas = np.array(cfg.alphas, float)
    local = np.diff(np.log(runs["change"])) / np.diff(np.log(alphas))
    return {"alphas": alphas, "change": runs["change"], "local": local, "runs": runs, "lr": lr}


def run(cfg: Config) -> Result:
    x, y, x_test = _data(cfg)
    lr = learning_rate(cfg, x, y, "relu")
    key = jax.random.key(cfg.seed)
    keys = jax.random.split(key, (len(cfg.widths), cfg.n_seeds))  # independent nets: widths are not correlated
    runs = {m: width_runs(cfg, x, y, x_test, m, keys[i], lr)
            for i, m in enumerate(progress(cfg.widths, desc="ntk-lazy-training widths"))}
    widths = np.array(cfg.widths, float)
    change = np.array([runs[m]["change"] for m in cfg.widths])  # (widths, seeds)
    gap = np.array([runs[m]["lin_gap"] for m in cfg.widths])
    fit, gap_fit = log_mean_slope(widths, change.T), log_mean_slope(widths, gap.T)
    lazy = lazy_alpha(cfg, x, y)
    gains = lazy["runs"]["alignment_gain"]
    (p_0, p_1, p_last), (a1, a2) = lazy["local"][-3:], cfg.alphas[-2:]
    claims = [
        Claim.at_most("ntk-change-exponent", "fitted exponent of ||Theta_T - Theta_0||_F/||Theta_0||_F vs width "
                      f"<= -1/2 (the O(m^-1/2) bound; notes: O(1/m), see metrics), within the t quantile of {N_SE:g} "
                      "standard errors", -0.5, fit.slope, slack=fit.tolerance(N_SE)),
        Claim.at_most("linearization-gap-exponent", "fitted exponent of ||f_T - f_T^lin|| / ||f_T^lin|| (test "
                      f"inputs) vs width <= -1/2 (Lee et al. 2019, Thm 2.1), within the t quantile of {N_SE:g} "
                      "standard errors", -0.5, gap_fit.slope, slack=gap_fit.tolerance(N_SE)),
        Claim.close("lazy-alpha-exponent", f"{cfg.alpha_activation} net, NTK change of alpha (f - f_0) scales as "
                    f"1/alpha (Chizat et al. 2019): the local exponent between alpha = {a1:g} and {a2:g} deviates "
                    "from -1 by at most the larger deviation of the two previous pairs of the grid (the O(1/alpha) "
                    f"correction shrinks; alpha from {cfg.alphas[-4]:g})", -1.0, p_last,
                    atol=max(abs(p_0 + 1.0), abs(p_1 + 1.0))),
        Claim.at_least("rich-regime-alignment", "kernel-target alignment gain at the smallest alpha exceeds the "
                       "gain at the largest alpha (features are learned only when training is not lazy)", 0.0,
                       gains[0] - gains[-1]),
    ]
    metrics = {
        "learning_rate": lr, "ntk_change_fit": fit._asdict(), "linearization_gap_fit": gap_fit._asdict(),
        "distance_to_1_over_m": abs(fit.slope + 1.0), "distance_to_1_over_sqrt_m": abs(fit.slope + 0.5),
        "closer_to": "1/m" if abs(fit.slope + 1.0) < abs(fit.slope + 0.5) else "1/sqrt(m)",
        "alpha_learning_rate": lazy["lr"], "alpha_local_exponents": lazy["local"].tolist(),
        "widths": [{"width": m, "ntk_change": float(c), "lin_gap": float(g), "final_loss": float(
            np.mean(runs[m]["loss"]))} for m, c, g in zip(cfg.widths, change.mean(1), gap.mean(1),
                                                                        strict=True)],
        "alphas": [{"alpha": a, **{k: float(v[i]) for k, v in lazy["runs"].items()}}
                   for i, a in enumerate(cfg.alphas)],
    }
    plot_data = {"widths": widths, "change": change, "gap": gap, "fit": (fit.slope, fit.intercept),
                 "gap_fit": (gap_fit.slope, gap_fit.intercept), "alphas": lazy["alphas"],
                 "alpha_change": lazy["change"], "gains": np.array(gains), "alpha_activation": cfg.alpha_activation,
                 "trajectories": {m: (runs[m]["steps"], runs[m]["trajectories"][0]) for m in cfg.widths}}
    return Result(claims, metrics, plot_data)


def geometric_mean(values_WxS: np.ndarray) -> np.ndarray:
    return np.exp(np.log(values_WxS).mean(1))


def plot(result: Result):
    d = result.data
    fig, axes = subplots(1, 4, title="Lazy training: NTK change vs width and output scale")
    ax = axes[0]
    ax.plot(d["widths"], geometric_mean(d["change"]), "o", label="measured (geometric mean)")
    slope, icpt = d["fit"]
    ax.plot(d["widths"], np.exp(icpt) * d["widths"] ** slope, label=f"fit m^{slope:.2f}")
    anchor = geometric_mean(d["change"])[0] * d["widths"][0]
    theory_line(ax, d["widths"], anchor / d["widths"], label="1/m (notes)")
    theory_line(ax, d["widths"], anchor / d["widths"][0] * np.sqrt(d["widths"][0] / d["widths"]),
                label="1/√m (bound)", linestyle=":")
    ax.set(xscale="log", yscale="log", xlabel="width m", ylabel="‖Θ_T−Θ_0‖/‖Θ_0‖")
    ax.legend(fontsize=7)
    ax = axes[1]
    ax.plot(d["widths"], geometric_mean(d["gap"]), "o", label="measured (geometric mean)")
    gs, gi = d["gap_fit"]
    ax.plot(d["widths"], np.exp(gi) * d["widths"] ** gs, label=f"fit m^{gs:.2f}")
    ax.set(xscale="log", yscale="log", xlabel="width m", ylabel="‖f_T − f_T^lin‖/‖f_T^lin‖ (test)")
    ax.legend(fontsize=7)
    ax = axes[2]
    ax.plot(d["alphas"], d["alpha_change"], "o-", label="NTK change")
    theory_line(ax, d["alphas"], d["alpha_change"][-1] * d["alphas"][-1] / d["alphas"], label="1/α")
    ax.set(xscale="log", yscale="log", xlabel="output scale α", ylabel="‖Θ_T−Θ_0‖/‖Θ_0‖",
           title=f"{d['alpha_activation']} net, float64")
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
