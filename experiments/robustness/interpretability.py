"""Interpretability: gradient sensitivity, ceteris-paribus curves, exact vs sampled Shapley values, SAGE.

A tanh MLP (``models.dense_mlp``) is trained with ``training.train`` on regression data with planted relevance,
y = 3 sin(x0) + x1 + x2 x3 / 2 + noise with independent standard normal features, so feature 0 carries most of the
explainable variance and the last features none. Then, in float64:

* exact Shapley values (all 2^d coalitions, interventional value function over a background sample) satisfy the four
  axioms to rounding: efficiency (sum = f(x) - mean background prediction), symmetry (for the model symmetrized in
  features 1 and 2, at a point with x1 = x2 and a swap-invariant background), dummy (for the model with the last
  feature removed, exactly 0) and linearity (the values of f + 2g are those of f plus twice those of g); they equal
  the average of the marginal contributions over all d! orderings (brute force);
* for a linear model (``models.mlp`` with no hidden layer, trained the same way) with independent features the
  interventional values are w_j (x_j - E x_j), E x_j being the background mean (Janzing et al. 2020);
* the permutation-sampling estimator is unbiased with variance sigma^2/n, so its root-mean-square error falls as
  n^(-1/2): the fitted log-log slope over n is -1/2 within a multiple of its bootstrap standard error;
* SAGE (Shapley values of risk reduction, Covert et al. 2020) and permutation importance rank the planted feature 0
  first, and SAGE values sum to the risk reduction of the full model (efficiency);
* the slope of a ceteris-paribus curve at the observed value equals the input gradient (central differences).

The notes' "SHAP attributes predictions, SAGE attributes risk reduction" is what the two value functions encode.
"""

import itertools
import math
from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dl_theory import checks, interpret, losses, models, stats
from dl_theory.data.tabular import planted_features
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.training import train

ROUNDING = 1e-10  # float64 rounding on O(1) values summed over 2^d coalitions
PLANTED = 0  # the informative feature of planted_features
SHOWN_PERMUTATIONS = 256  # the sampled values shown next to the exact ones


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    d: Annotated[int, checks.at_least(4)] = 6
    n_train: Annotated[int, checks.at_least(100)] = 4000
    hidden: Annotated[int, checks.count] = 32
    n_steps: Annotated[int, checks.count] = 3000
    n_background: Annotated[int, checks.at_least(2)] = 64
    n_explain: Annotated[int, checks.count] = 4
    sampler_ns: Annotated[tuple[int, ...], checks.each(checks.at_least(2), min_length=3)] = (
        16, 32, 64, 128, 256, 512, 1024)
    sampler_repeats: Annotated[int, checks.at_least(4)] = 64
    n_sage: Annotated[int, checks.at_least(10)] = 512
    importance_repeats: Annotated[int, checks.at_least(2)] = 20
    n_se: Annotated[float, checks.positive] = 5.0

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_train=1500, n_steps=800, n_background=32, n_explain=2, sampler_ns=(16, 64, 256, 1024),
                   sampler_repeats=24, n_sage=256, importance_repeats=8)


def _fit(cfg: Config, key: jax.Array, model, x, y):
    init_fn, apply_fn = model[:2]
    _, params = init_fn(key, (-1, cfg.d))
    params, _ = train(losses.mse(apply_fn), params, optax.adam(1e-2), (x, y[:, None]), n_steps=cfg.n_steps,
                      batch_size=min(128, len(y)), key=jax.random.fold_in(key, 1), desc="interpretability")
    return apply_fn, jax.tree.map(lambda p: jnp.asarray(p, jnp.float64), params)


def _orderings(v_M: np.ndarray, d: int) -> np.ndarray:
    """Brute force: marginal contributions averaged over all d! orderings (coalition i has the bits of i)."""
    phi = np.zeros(d)
    for order in itertools.permutations(range(d)):
        before = 0
        for j in order:
            phi[j] += v_M[before | (1 << j)] - v_M[before]
            before |= 1 << j
    return phi / math.factorial(d)


def _axioms(cfg: Config, f, x_ExD, background_BxD) -> dict[str, float]:
    d = cfg.d
    swap = np.arange(d)
    swap[[1, 2]] = [2, 1]
    f_sym = lambda x: 0.5 * (f(x) + f(x[:, swap]))  # noqa: E731 -- symmetric in features 1 and 2
    f_dummy = lambda x: f(x.at[:, d - 1].set(0.0))  # noqa: E731 -- ignores the last feature
    sym_background = jnp.concatenate([background_BxD, background_BxD[:, swap]])
    masks = jnp.asarray(interpret.coalition_masks(d))
    worst = dict.fromkeys(("efficiency", "symmetry", "dummy", "linearity", "orderings"), 0.0)
    for x in x_ExD:
        v = interpret.interventional_value_fn(f, x, background_BxD)
        phi = interpret.exact_shapley(v, d)
        v_all = np.asarray(v(masks))
        worst["efficiency"] = max(worst["efficiency"], abs(float(phi.sum()) - (v_all[-1] - v_all[0])))
        worst["orderings"] = max(worst["orderings"], float(np.max(np.abs(_orderings(v_all, d) - np.asarray(phi)))))
        x_sym = x.at[2].set(x[1])
        phi_sym = interpret.exact_shapley(interpret.interventional_value_fn(f_sym, x_sym, sym_background), d)
        worst["symmetry"] = max(worst["symmetry"], abs(float(phi_sym[1] - phi_sym[2])))
        phi_dummy = interpret.exact_shapley(interpret.interventional_value_fn(f_dummy, x, background_BxD), d)
        worst["dummy"] = max(worst["dummy"], abs(float(phi_dummy[d - 1])))
        combined = interpret.exact_shapley(
            interpret.interventional_value_fn(lambda z: f(z) + 2.0 * f_dummy(z), x, background_BxD), d)
        worst["linearity"] = max(worst["linearity"], float(jnp.max(jnp.abs(combined - phi - 2.0 * phi_dummy))))
    return worst


def _sampler_errors(cfg: Config, key: jax.Array, value_fn, exact_D) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean error of the permutation estimator from the first n of max(ns) permutations of each independent
    repeat (nested in n, independent across repeats), shape (repeats, len(sampler_ns)); and the gains of the first
    repeat, shape (max(ns), d)."""
    n_max = max(cfg.sampler_ns)
    keys = jax.random.split(key, cfg.sampler_repeats)
    gains_RxNxD = np.asarray(jax.jit(jax.vmap(lambda k: interpret.permutation_gains(value_fn, cfg.d, k, n_max)))(keys))
    ns = np.asarray(cfg.sampler_ns)
    running_RxNxD = np.cumsum(gains_RxNxD, axis=1)[:, ns - 1, :] / ns[None, :, None]
    return np.linalg.norm(running_RxNxD - np.asarray(exact_D)[None, None, :], axis=2), gains_RxNxD[0]


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    k_data, k_test, k_net, k_lin, k_sampler, k_perm = jax.random.split(key, 6)
    x, y = planted_features(k_data, cfg.n_train, cfg.d)
    x_test, y_test = planted_features(k_test, max(cfg.n_sage, cfg.n_explain), cfg.d)
    with jax.enable_x64(True):
        apply_fn, params = _fit(cfg, k_net, models.dense_mlp((cfg.hidden,), 1), x, y)
        apply_lin, params_lin = _fit(cfg, k_lin, models.mlp((), 1), x, y)
        x, y, x_test, y_test = (jnp.asarray(a, jnp.float64) for a in (x, y, x_test, y_test))
        f = interpret.scalar_output(apply_fn, params)
        background = x[: cfg.n_background]
        test_r2 = 1.0 - float(jnp.mean((f(x_test) - y_test) ** 2) / jnp.var(y_test))

        axioms = _axioms(cfg, f, x_test[: cfg.n_explain], background)

        point = x_test[0]
        w = interpret.input_gradient(apply_lin, params_lin, point[None])[0]  # a linear model: its gradient is w
        f_lin = interpret.scalar_output(apply_lin, params_lin)
        phi_lin = interpret.exact_shapley(interpret.interventional_value_fn(f_lin, point, background), cfg.d)
        linear_gap = float(jnp.max(jnp.abs(phi_lin - w * (point - background.mean(axis=0)))))

        value_fn = interpret.interventional_value_fn(f, point, background)
        exact = interpret.exact_shapley(value_fn, cfg.d)
        errors, first_gains = _sampler_errors(cfg, k_sampler, value_fn, exact)
        rms = lambda e, axis=0: np.sqrt(np.mean(e**2, axis=axis))  # noqa: E731
        slope, intercept = stats.loglog_slope(cfg.sampler_ns, rms(errors))
        slope_se = stats.loglog_slope_stderr(cfg.sampler_ns, errors, reduce=rms, seed=cfg.seed)
        shown = min(SHOWN_PERMUTATIONS, max(cfg.sampler_ns))
        shown_mean, shown_se = stats.mean_and_stderr(first_gains[:shown])

        loss = lambda p, t: losses.squared_error(p[:, None], t[:, None])  # noqa: E731
        xs, ys = x_test[: cfg.n_sage], y_test[: cfg.n_sage]
        sage_v = interpret.sage_value_fn(f, loss, xs, ys, background)
        sage = np.asarray(interpret.exact_shapley(sage_v, cfg.d))
        sage_full = float(sage_v(jnp.ones((1, cfg.d), bool))[0])
        perm = interpret.permutation_importance(f, loss, xs, ys, k_perm, cfg.importance_repeats)

        grid = jnp.linspace(-3.0, 3.0, 61)
        curves = interpret.ceteris_paribus(f, point, grid)
        h = 1e-5
        around = interpret.ceteris_paribus(f, point, jnp.concatenate([point + h, point - h]))  # (d, 2d)
        cp_slope = (jnp.diagonal(around[:, : cfg.d]) - jnp.diagonal(around[:, cfg.d:])) / (2 * h)
        grad = interpret.input_gradient(apply_fn, params, point[None])[0]
        cp_gap = float(jnp.max(jnp.abs(cp_slope - grad)) / jnp.max(jnp.abs(grad)))
        sensitivity = jnp.mean(jnp.abs(interpret.input_gradient(apply_fn, params, xs)), axis=0)
        grad_x_input = jnp.mean(jnp.abs(interpret.gradient_times_input(apply_fn, params, xs)), axis=0)
        f_point = float(f(point[None])[0])

    sage_rank, perm_rank = int(np.argmax(sage)), int(np.argmax(np.asarray(perm.values)))
    claims = [
        Claim.at_most("efficiency", f"max over {cfg.n_explain} points |sum_j phi_j - (f(x) - E_b f(b))|, exact "
                      "Shapley values (interventional, float64)", 0.0, axioms["efficiency"], slack=ROUNDING),
        Claim.at_most("symmetry", "|phi_1 - phi_2| for the model symmetrized in features 1, 2 at x1 = x2, "
                      "swap-invariant background", 0.0, axioms["symmetry"], slack=ROUNDING),
        Claim.at_most("dummy", "|phi_last| for the model that ignores the last feature", 0.0, axioms["dummy"],
                      slack=ROUNDING),
        Claim.at_most("linearity", "max_j |phi_j(f + 2g) - phi_j(f) - 2 phi_j(g)|", 0.0, axioms["linearity"],
                      slack=ROUNDING),
        Claim.at_most("all-orderings", f"max_j |exact phi_j - mean marginal contribution over all {cfg.d}! "
                      "orderings|", 0.0, axioms["orderings"], slack=ROUNDING),
        Claim.at_most("linear-closed-form", "linear model (trained): max_j |phi_j - w_j (x_j - mean_b b_j)|", 0.0,
                      linear_gap, slack=ROUNDING),
        Claim.close("sampler-rate", f"log-log slope of the RMS error of the permutation estimator vs n "
                    f"(bootstrap SE {slope_se:.3f}, tolerance {cfg.n_se:g} SE)", -0.5, slope,
                    atol=cfg.n_se * slope_se),
        Claim("sage-ranks-planted-first", "argmax_j SAGE_j (exact, risk reduction) is the planted feature",
              PLANTED, sage_rank, None, sage_rank == PLANTED),
        Claim("permutation-ranks-planted-first", "argmax_j permutation importance is the planted feature",
              PLANTED, perm_rank, None, perm_rank == PLANTED),
        Claim.close("sage-efficiency", "sum_j SAGE_j = risk(mean prediction) - risk(model)", sage_full,
                    float(sage.sum()), atol=ROUNDING),
        Claim.at_most("ceteris-paribus-slope", "max_j |central-difference slope of the ceteris-paribus curve at x_j "
                      "- df/dx_j| / max_j |df/dx_j| (h = 1e-5, float64)", 0.0, cp_gap, slack=1e-7),
    ]
    metrics = {
        "test_r2": test_r2,
        "axiom_deviation": axioms,
        "linear_closed_form_deviation": linear_gap,
        "sampler_ns": list(cfg.sampler_ns), "sampler_rms_error": rms(errors).tolist(),
        "sampler_slope": slope, "sampler_slope_se": slope_se,
        "exact_shapley": np.asarray(exact).tolist(), "sampled_shapley": shown_mean.tolist(),
        "sampled_shapley_se": shown_se.tolist(), "sampled_shapley_permutations": shown,
        "sage": sage.tolist(), "sage_risk_reduction": sage_full,
        "permutation_importance": np.asarray(perm.values).tolist(),
        "permutation_importance_se": np.asarray(perm.stderr).tolist(),
        "mean_abs_gradient": np.asarray(sensitivity).tolist(),
        "mean_abs_gradient_x_input": np.asarray(grad_x_input).tolist(),
        "ceteris_paribus_slope_gap": cp_gap,
    }
    data = {"ns": np.asarray(cfg.sampler_ns), "rms": rms(errors), "slope": slope, "intercept": intercept,
            "exact": np.asarray(exact), "sampled": shown_mean, "sampled_se": shown_se,
            "n_shown": shown, "sage": sage, "perm": np.asarray(perm.values),
            "perm_se": np.asarray(perm.stderr), "grid": np.asarray(grid), "curves": np.asarray(curves),
            "point": np.asarray(point), "grad": np.asarray(grad), "f_point": f_point,
            "sensitivity": np.asarray(sensitivity), "grad_x_input": np.asarray(grad_x_input)}
    return Result(claims, metrics, data)


def plot(result: Result):
    d = result.data
    features = np.arange(len(d["exact"]))
    fig, axes = subplots(2, 2, width=4.4, title="Interpretability: Shapley values, SAGE, sensitivity")
    ax = axes[0, 0]
    ax.bar(features - 0.2, d["exact"], 0.4, label="exact (2^d coalitions)")
    ax.bar(features + 0.2, d["sampled"], 0.4, yerr=2 * d["sampled_se"], capsize=2,
           label=f"{d['n_shown']} permutations ± 2 SE")
    ax.set(xlabel="feature j", ylabel="φ_j", title="Shapley values of one prediction")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    ax.loglog(d["ns"], d["rms"], "o", label=f"RMS error (slope {d['slope']:.3f})")
    anchor = np.exp(d["intercept"]) * d["ns"][0] ** d["slope"]
    theory_line(ax, d["ns"], anchor * (d["ns"] / d["ns"][0]) ** -0.5, label="∝ n^(-1/2)")
    ax.set(xlabel="permutations n", ylabel="‖φ̂ − φ‖₂", title="sampling estimator")
    ax.legend(fontsize=7)
    ax = axes[1, 0]
    ax.bar(features - 0.2, d["sage"], 0.4, label="SAGE (risk reduction)")
    ax.bar(features + 0.2, d["perm"], 0.4, yerr=2 * d["perm_se"], capsize=2, label="permutation importance")
    ax.plot(features, d["sensitivity"], "k^", ms=5, label="mean |∂f/∂x_j|")
    ax.set(xlabel="feature j (0 is planted)", ylabel="importance", title="global importance")
    ax.legend(fontsize=7)
    ax = axes[1, 1]
    for j, curve in enumerate(d["curves"]):
        (line,) = ax.plot(d["grid"], curve, label=f"x_{j}")
        z = d["point"][j] + np.array([-0.6, 0.6])
        ax.plot(z, d["f_point"] + d["grad"][j] * (z - d["point"][j]), color=line.get_color(), ls=":", lw=2)
        ax.plot(d["point"][j], d["f_point"], "o", color=line.get_color(), ms=3)
    ax.set(xlabel="value of feature j, others fixed", ylabel="f", title="ceteris paribus (dotted: gradient)")
    ax.legend(fontsize=7, ncol=2)
    return fig


EXPERIMENT = Experiment(
    id="interpretability",
    description="Exact Shapley axioms, linear closed form, n^-1/2 sampler, SAGE/permutation importance, gradients.",
    config=Config, run=run, plot=plot)
