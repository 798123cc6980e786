"""Regularization on a quadratic: weight decay's spectral shrinkage, coupled vs decoupled decay, early stopping as
implicit L2, the L1 proximal step and ISTA, and the branch scaling that keeps deep residual stacks bounded.

Least squares y = X theta* with X^T X / n = H = Q diag(lambda) Q^T is the quadratic (theta - theta*)^T H (theta -
theta*)/2. Weight decay mu moves its minimizer to Q diag(lambda_i/(lambda_i+mu)) Q^T theta*; gradient descent with
``optax.add_decayed_weights`` reaches it at the rate max_i |1 - eta(lambda_i + mu)|^t (float64). An L2 penalty and
decoupled weight decay are the same update for SGD (the same minibatches give the same iterates) and not for Adam:
Adam with the penalty in its gradient stops at the penalized minimizer, AdamW (decay after Adam's rescaling) stops
elsewhere (its iterates stay within ||theta||_inf of order 1/mu).

Early stopping: GD from 0 applies the filter 1 - (1 - eta lambda_i)^t, weight decay lambda_i/(lambda_i + mu). The
step count whose iterate is nearest to the weight-decay solution lies between the smallest and largest
per-eigenvalue matching steps t_i = ln(1 + lambda_i/mu)/(-ln(1 - eta lambda_i)), all <= 1/(eta mu): t ~ 1/(eta mu)
(the notes write 1/lambda in one place) within that derived hull, one step of rounding allowed.

L1: the soft threshold sgn(b) max(0, |b| - beta) is compared with scipy's bounded scalar minimization of
(a - b)^2/2 + beta |a| over a grid of (b, beta): the prox is never worse in objective (float rounding), and the
argmins agree to the sqrt(eps) resolution of a minimizer found by comparing function values. ISTA on
||Xw - y||^2/2 + lambda ||w||_1 is compared with scikit-learn's ``Lasso(alpha)``, which minimizes the same objective
divided by n (alpha = lambda/n); the tolerance is sklearn's stopping duality gap turned into a distance by strong
convexity, ||w - w*|| <= sqrt(2 gap / sigma_min(X^T X)).

Residual scaling: for y_k = alpha W_k phi(y_{k-1}) + y_{k-1} with W_k ~ N(0, sigma_w^2/d), E||y_L||^2/||x||^2 =
(1 + alpha^2 sigma_w^2)^L for the identity phi (exact): alpha = a/sqrt(L) stays below e^{a^2 sigma_w^2} for every
depth, alpha = 1 doubles per block (the notes' "alpha^2 = alpha/a" should read alpha^2 = a^2/L). Monte-Carlo means
over random inits are compared within five standard errors; ReLU branches (He weights, at most the same bound) are
shown alongside.
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.optimize
from sklearn.linear_model import Lasso

from dl_theory import checks
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.models.classical.linear import mse_loss, ridge_solution
from dl_theory.regularization import (
    coupled_weight_decay,
    decoupled_weight_decay,
    early_stopping_filter,
    gd_trajectory,
    ista,
    lasso_objective,
    linear_second_moment,
    matching_steps,
    residual_stack,
    ridge_filter,
    ridge_shrinkage,
    soft_threshold,
)
from dl_theory.stats import loglog_slope, mean_and_stderr
from dl_theory.training import train

K_SE = 5.0  # Monte-Carlo claims: within 5 standard errors
FLOAT_REL = 1e-12  # float64 identities (relative)
SKLEARN_TOL = 1e-12  # Lasso(tol=...): duality gap at stop <= tol * ||y||^2 (unscaled objective)
ADAM_STATIONARY = 1e-6  # Adam with the penalty ends at the penalized minimizer (relative distance)
ADAMW_APART = 1e-2  # AdamW ends this far (relative) from it at least


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    dim: Annotated[int, checks.at_least(2)] = 20
    n_samples: Annotated[int, checks.at_least(4)] = 200
    mu: Annotated[float, checks.positive] = 1.0
    spectrum: Annotated[tuple[float, ...], checks.each(checks.positive, min_length=2)] = (0.2, 5.0)  # lambda/mu
    eta_lambda_max: Annotated[float, checks.in_interval(0.0, 1.0)] = 0.1  # eta * lambda_max: small steps
    theta_scale: Annotated[float, checks.positive] = 3.0  # theta* ~ N(0, scale^2): ridge entries beyond 1/mu
    gd_steps: Annotated[int, checks.count] = 3000
    sgd_steps: Annotated[int, checks.count] = 500
    batch_size: Annotated[int, checks.count] = 20
    adam_lr: Annotated[float, checks.positive] = 0.01
    adam_steps: Annotated[int, checks.count] = 4000
    prox_grid: Annotated[int, checks.at_least(3)] = 41
    prox_betas: Annotated[tuple[float, ...], checks.each(checks.positive)] = (0.25, 0.5, 1.0, 2.0)
    lasso_n: Annotated[int, checks.at_least(2)] = 60
    lasso_dim: Annotated[int, checks.at_least(2)] = 20
    lasso_alpha: Annotated[float, checks.positive] = 0.1
    ista_steps: Annotated[int, checks.count] = 3000
    width: Annotated[int, checks.at_least(2)] = 32
    depths: Annotated[tuple[int, ...], checks.each(checks.count, min_length=3)] = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    explode_depths: Annotated[tuple[int, ...], checks.each(checks.count, min_length=3)] = (1, 2, 4, 8, 12, 16)
    a: Annotated[float, checks.positive] = 1.0
    inits: Annotated[int, checks.at_least(10)] = 400

    @classmethod
    def quick(cls) -> "Config":
        return cls(gd_steps=2000, adam_steps=3000, prox_grid=21, ista_steps=2000, width=16, depths=(1, 4, 16, 64),
                   explode_depths=(1, 4, 8, 12), inits=200)


def _quadratic(key, cfg: Config):
    """X with X^T X / n = Q diag(lambda) Q^T exactly, theta*, and y = X theta*."""
    k_q, k_u, k_lam, k_theta = jax.random.split(key, 4)
    q_DxD = jnp.linalg.qr(jax.random.normal(k_q, (cfg.dim, cfg.dim)))[0]
    u_NxD = jnp.linalg.qr(jax.random.normal(k_u, (cfg.n_samples, cfg.dim)))[0]
    lo, hi = np.log(cfg.mu * np.asarray(cfg.spectrum)[[0, -1]])
    lam_D = jnp.exp(jax.random.uniform(k_lam, (cfg.dim,), minval=lo, maxval=hi))
    x_NxD = np.sqrt(cfg.n_samples) * (u_NxD * jnp.sqrt(lam_D)[None, :]) @ q_DxD.T
    theta_D = cfg.theta_scale * jax.random.normal(k_theta, (cfg.dim,))
    return x_NxD, x_NxD @ theta_D, lam_D, q_DxD, theta_D


def _weight_decay(key, cfg: Config, x_NxD, y_N, lam_D, theta_D) -> dict:
    hessian = x_NxD.T @ x_NxD / cfg.n_samples
    eta = cfg.eta_lambda_max / float(lam_D.max())
    loss = lambda w, batch: mse_loss(w, *batch)  # noqa: E731
    w0 = jnp.zeros(cfg.dim)
    closed = ridge_shrinkage(hessian, theta_D, cfg.mu)
    solved = ridge_solution(x_NxD, y_N, cfg.n_samples * cfg.mu)
    gd, _ = train(loss, w0, coupled_weight_decay(optax.identity(), cfg.mu, eta), (x_NxD, y_N),
                  n_steps=cfg.gd_steps, log_every=cfg.gd_steps, desc="weight decay GD")
    rate = float(jnp.max(jnp.abs(1 - eta * (lam_D + cfg.mu))))
    sgd = {}
    for name, make in (("l2", coupled_weight_decay), ("decoupled", decoupled_weight_decay)):
        sgd[name], _ = train(loss, w0, make(optax.identity(), cfg.mu, eta), (x_NxD, y_N), n_steps=cfg.sgd_steps,
                             batch_size=cfg.batch_size, key=key, log_every=cfg.sgd_steps, desc=f"SGD {name}")
    adam, adam_dist = {}, {}
    for name, make in (("l2", coupled_weight_decay), ("decoupled", decoupled_weight_decay)):
        adam[name], hist = train(loss, w0, make(optax.scale_by_adam(), cfg.mu, cfg.adam_lr), (x_NxD, y_N),
                                 n_steps=cfg.adam_steps, log_every=cfg.adam_steps // 20, desc=f"Adam {name}",
                                 callback=lambda step, w: {"dist": jnp.linalg.norm(w - closed)})
        adam_dist[name] = (np.asarray(hist["log_step"]), np.asarray(hist["dist"]) / float(jnp.linalg.norm(closed)))
    norm = float(jnp.linalg.norm(closed))
    return {
        "closed_vs_solve": float(jnp.max(jnp.abs(closed - solved))) / norm,
        "gd_error": float(jnp.linalg.norm(gd - closed)),
        "gd_bound": rate ** cfg.gd_steps * norm + FLOAT_REL * norm,
        "sgd_gap": float(jnp.max(jnp.abs(sgd["l2"] - sgd["decoupled"]))) / float(jnp.linalg.norm(sgd["l2"])),
        "adam_l2_dist": float(jnp.linalg.norm(adam["l2"] - closed)) / norm,
        "adamw_dist": float(jnp.linalg.norm(adam["decoupled"] - closed)) / norm,
        "adamw_linf_times_mu": float(jnp.max(jnp.abs(adam["decoupled"]))) * cfg.mu,
        "ridge_linf_times_mu": float(jnp.max(jnp.abs(closed))) * cfg.mu,
        "adam_dist": adam_dist, "eta": eta, "closed": closed,
    }


def _early_stopping(cfg: Config, lam_D, q_DxD, theta_D, eta: float, closed) -> dict:
    hessian = (q_DxD * lam_D[None, :]) @ q_DxD.T
    horizon = int(np.ceil(3 / (eta * cfg.mu)))
    path = gd_trajectory(hessian, theta_D, eta, horizon)
    steps = jnp.arange(horizon + 1)
    filt = early_stopping_filter(lam_D[None, :], eta, steps[:, None].astype(lam_D.dtype))
    spectral = (filt * (q_DxD.T @ theta_D)[None, :]) @ q_DxD.T
    dist = jnp.linalg.norm(path - closed[None, :], axis=1)
    t_best = int(jnp.argmin(dist))
    t_i = matching_steps(lam_D, eta, cfg.mu)
    ridge_path = [ridge_shrinkage(hessian, theta_D, m) for m in np.geomspace(cfg.mu / 30, cfg.mu * 30, 60)]
    return {
        "trajectory_vs_filter": float(jnp.max(jnp.abs(path - spectral))) / float(jnp.linalg.norm(theta_D)),
        "t_best": t_best, "t_theory": 1 / (eta * cfg.mu), "t_lo": float(t_i.min()), "t_hi": float(t_i.max()),
        "dist": np.asarray(dist) / float(jnp.linalg.norm(closed)), "path": np.asarray(path @ q_DxD),
        "ridge_path": np.asarray(jnp.stack(ridge_path) @ q_DxD), "closed": np.asarray(closed @ q_DxD),
        "lam": np.asarray(lam_D),
        "ridge_by_factor": {f: np.asarray(ridge_shrinkage(hessian, theta_D, f * cfg.mu) @ q_DxD)
                            for f in (0.25, 1.0, 4.0)},
    }


def _proximal(cfg: Config) -> dict:
    grid = np.linspace(-3, 3, cfg.prox_grid)
    arg_err, obj_gap, numeric = 0.0, -np.inf, []
    for beta in cfg.prox_betas:
        prox = np.asarray(soft_threshold(grid, beta))
        for b, p in zip(grid, prox, strict=True):
            f = lambda a, b=b, beta=beta: 0.5 * (a - b) ** 2 + beta * abs(a)  # noqa: E731
            num = scipy.optimize.minimize_scalar(f, bounds=(-abs(b) - 1, abs(b) + 1), method="bounded",
                                                 options={"xatol": 1e-12})
            numeric.append((beta, b, num.x))
            arg_err = max(arg_err, abs(num.x - p))
            obj_gap = max(obj_gap, (f(p) - num.fun) / max(1.0, abs(num.fun)))
    return {"prox_arg_err": arg_err, "prox_obj_gap": obj_gap, "numeric": np.asarray(numeric),
            "prox_arg_tol": 10 * np.sqrt(np.finfo(float).eps) * (1 + np.max(np.abs(grid)))}


def _lasso(key, cfg: Config) -> dict:
    k_x, k_w, k_noise = jax.random.split(key, 3)
    x_NxD = jax.random.normal(k_x, (cfg.lasso_n, cfg.lasso_dim))
    w_true = jnp.where(jnp.arange(cfg.lasso_dim) < cfg.lasso_dim // 4, 1.0, 0.0) * jax.random.normal(
        k_w, (cfg.lasso_dim,))
    y_N = x_NxD @ w_true + 0.5 * jax.random.normal(k_noise, (cfg.lasso_n,))
    lam = cfg.lasso_n * cfg.lasso_alpha
    w_ista = np.asarray(ista(x_NxD, y_N, lam, cfg.ista_steps))
    sk = Lasso(alpha=cfg.lasso_alpha, fit_intercept=False, tol=SKLEARN_TOL, max_iter=1_000_000)
    w_sk = sk.fit(np.asarray(x_NxD), np.asarray(y_N)).coef_
    x_np, y_np = np.asarray(x_NxD), np.asarray(y_N)
    sigma_min = float(np.linalg.eigvalsh(x_np.T @ x_np)[0])
    return {"lasso_dist": float(np.linalg.norm(w_ista - w_sk)),
            "lasso_tol": float(np.sqrt(2 * SKLEARN_TOL * (y_np @ y_np) / sigma_min)),
            "lasso_objective_ista": float(lasso_objective(x_NxD, y_N, w_ista, lam)),
            "lasso_objective_sklearn": float(lasso_objective(x_NxD, y_N, w_sk, lam)),
            "lasso_nonzeros": int(np.sum(w_ista != 0)), "w_ista": w_ista, "w_sklearn": w_sk}


def _residual_moments(key, cfg: Config, activation: str, w_std: float) -> dict:
    """Mean and standard error over ``inits`` random stacks of ||y_L||^2 / ||x||^2 for alpha = a/sqrt(L) at every
    L in ``depths`` and alpha = 1 at every L in ``explode_depths``. One stack of the largest depth per init serves
    every case: depth L zeroes the branches past block L."""
    x_1xD = jnp.ones((1, cfg.width)) / np.sqrt(cfg.width)
    deepest = max(cfg.depths + cfg.explode_depths)
    cases = [(d, cfg.a / np.sqrt(d)) for d in cfg.depths] + [(d, 1.0) for d in cfg.explode_depths]
    alphas_PxL = jnp.stack([jnp.where(jnp.arange(deepest) < d, alpha, 0.0) for d, alpha in cases])
    init_fn = residual_stack(deepest, alpha=1.0, activation=activation, W_std=w_std)[0]

    def per_init(k):
        w = init_fn(k, x_1xD.shape)[1]
        return jax.vmap(lambda a: jnp.sum(residual_stack(deepest, alpha=a, activation=activation, W_std=w_std)[1](
            w, x_1xD) ** 2))(alphas_PxL)

    sq_IxP = jax.jit(lambda keys: jax.lax.map(per_init, keys, batch_size=25))(jax.random.split(key, cfg.inits))
    mean, se = mean_and_stderr(np.asarray(sq_IxP))
    n = len(cfg.depths)
    return {"scaled": (mean[:n], se[:n]), "one": (mean[n:], se[n:])}


def _residual(key, cfg: Config) -> dict:
    return {activation: _residual_moments(jax.random.fold_in(key, j), cfg, activation, w_std)
            for j, (activation, w_std) in enumerate((("identity", 1.0), ("relu", np.sqrt(2.0))))}


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    keys = jax.random.split(key, 4)
    with jax.enable_x64(True):
        x_NxD, y_N, lam_D, q_DxD, theta_D = _quadratic(keys[0], cfg)
        wd = _weight_decay(keys[1], cfg, x_NxD, y_N, lam_D, theta_D)
        es = _early_stopping(cfg, lam_D, q_DxD, theta_D, wd["eta"], wd["closed"])
        prox = _proximal(cfg)
        lasso = _lasso(keys[2], cfg)
    res = _residual(keys[3], cfg)

    depths, explode = np.asarray(cfg.depths), np.asarray(cfg.explode_depths)
    lin_scaled, lin_se = res["identity"]["scaled"]
    lin_one, lin_one_se = res["identity"]["one"]
    z_scaled = np.abs(lin_scaled - np.asarray(linear_second_moment(depths, cfg.a / np.sqrt(depths)))) / lin_se
    z_one = np.abs(lin_one - np.asarray(linear_second_moment(explode, 1.0))) / lin_one_se
    relu_scaled, relu_se = res["relu"]["scaled"]
    relu_bound = float(np.exp(cfg.a**2 * 2.0))
    growth_one = {a: float(np.exp(np.polyfit(explode, np.log(res[a]["one"][0]), 1)[0])) for a in res}
    es_ok = es["t_lo"] - 1 <= es["t_best"] <= es["t_hi"] + 1
    claims = [
        Claim.at_most("ridge-closed-form", "|Q diag(lambda/(lambda+mu)) Q^T theta* - (X^T X + n mu I)^-1 X^T y| / "
                      "||theta_mu|| (eigendecomposition vs linear solve, float64)", 0.0, wd["closed_vs_solve"],
                      slack=FLOAT_REL),
        Claim.at_most("gd-weight-decay", f"||theta_T - theta_mu|| after T={cfg.gd_steps} GD steps with optax "
                      "add_decayed_weights <= max_i|1-eta(lambda_i+mu)|^T ||theta_mu|| + float64 floor",
                      wd["gd_bound"], wd["gd_error"]),
        Claim.at_most("sgd-l2-equals-decoupled", f"SGD, same minibatches: max |L2-penalty iterate - decoupled-decay "
                      f"iterate| / ||theta|| after {cfg.sgd_steps} steps (the same update)", 0.0, wd["sgd_gap"],
                      slack=FLOAT_REL),
        Claim.at_most("adam-l2-stationary", f"Adam with the L2 penalty in its gradient ({cfg.adam_steps} steps) ends "
                      "at the penalized minimizer theta_mu: relative distance", ADAM_STATIONARY, wd["adam_l2_dist"]),
        Claim.at_least("adamw-differs", "AdamW (decay after Adam's rescaling) ends elsewhere: relative distance to "
                       f"theta_mu >= {ADAMW_APART}", ADAMW_APART, wd["adamw_dist"]),
        Claim.at_most("gd-spectral-filter", "GD from 0 on the quadratic: max |theta_t - Q diag(1-(1-eta lambda)^t) "
                      "Q^T theta*| / ||theta*|| over the trajectory (float64)", 0.0, es["trajectory_vs_filter"],
                      slack=FLOAT_REL),
        Claim("early-stopping-t", "step t* nearest to the weight-decay solution lies in [min t_i - 1, max t_i + 1], "
              "t_i = ln(1+lambda_i/mu)/(-ln(1-eta lambda_i)) <= 1/(eta mu) (theory: 1/(eta mu))", es["t_theory"],
              float(es["t_best"]), f"[{es['t_lo'] - 1:.2f}, {es['t_hi'] + 1:.2f}]", es_ok),
        Claim.at_most("soft-threshold-objective", "max over the (b, beta) grid of [f(prox) - f(scipy minimizer)] / "
                      "max(1, |f|): the soft threshold is never worse (float rounding)", 0.0, prox["prox_obj_gap"],
                      slack=4 * float(np.finfo(float).eps)),
        Claim.at_most("soft-threshold-argmin", "max |soft threshold - scipy bounded minimizer| over the grid "
                      "(resolution 10 sqrt(eps) (1 + max|b|) of a minimizer found by comparing values)",
                      prox["prox_arg_tol"], prox["prox_arg_err"]),
        Claim.at_most("ista-vs-sklearn", "||w_ISTA - w_sklearn|| for lambda = n alpha; tolerance sqrt(2 tol ||y||^2 / "
                      "sigma_min(X^T X)) from sklearn's stopping duality gap", lasso["lasso_tol"], lasso["lasso_dist"]),
        Claim.at_most("residual-scaled-linear", f"identity branches, alpha = {cfg.a}/sqrt(L): max over L of "
                      "|MC mean ||y_L||^2 - (1+a^2/L)^L| / SE", K_SE, float(z_scaled.max())),
        Claim.at_most("residual-alpha1-linear", "identity branches, alpha = 1: max over L of |MC mean ||y_L||^2 - "
                      "2^L| / SE (geometric growth)", K_SE, float(z_one.max())),
        Claim.at_most("residual-scaled-relu-bounded", f"ReLU branches (He), alpha = {cfg.a}/sqrt(L): max over L of "
                      "(MC mean - 5 SE) <= e^{2 a^2} (depth-free bound)", relu_bound,
                      float(np.max(relu_scaled - K_SE * relu_se))),
    ]
    metrics = {
        **{k: wd[k] for k in ("closed_vs_solve", "gd_error", "gd_bound", "sgd_gap", "adam_l2_dist", "adamw_dist",
                              "adamw_linf_times_mu", "ridge_linf_times_mu", "eta")},
        "t_best": es["t_best"], "t_theory_1_over_eta_mu": es["t_theory"], "t_match_lo": es["t_lo"],
        "t_match_hi": es["t_hi"], "t_best_times_eta_mu": es["t_best"] * wd["eta"] * cfg.mu,
        "distance_at_1_over_eta_mu": float(es["dist"][int(round(es["t_theory"]))]),
        "distance_at_t_best": float(es["dist"][es["t_best"]]),
        **{k: prox[k] for k in ("prox_arg_err", "prox_obj_gap")},
        **{k: lasso[k] for k in ("lasso_dist", "lasso_tol", "lasso_objective_ista", "lasso_objective_sklearn",
                                 "lasso_nonzeros")},
        "residual_depths": depths.tolist(), "residual_explode_depths": explode.tolist(),
        "residual_mean_sq_norm": {a: {"scaled": res[a]["scaled"][0].tolist(), "scaled_se": res[a]["scaled"][1].tolist(),
                                      "alpha1": res[a]["one"][0].tolist(), "alpha1_se": res[a]["one"][1].tolist()}
                                  for a in res},
        "residual_alpha1_growth_per_block": growth_one,
        "residual_scaled_slope_vs_depth": {a: loglog_slope(depths, res[a]["scaled"][0])[0] for a in res},
    }
    return Result(claims, metrics, {"es": es, "wd": wd, "lasso": lasso, "res": res, "cfg": cfg,
                                    "prox_numeric": prox["numeric"]})


def plot(result: Result):
    d = result.data
    es, wd, res, cfg = d["es"], d["wd"], d["res"], d["cfg"]
    fig, axes = subplots(2, 3, width=4.2, title="Regularization: weight decay, early stopping, L1, residual scaling")
    ax = axes[0, 0]
    u = np.geomspace(0.01, 100, 200)
    eta = wd["eta"]
    theory_line(ax, u, ridge_filter(u * cfg.mu, cfg.mu), label="weight decay λ/(λ+μ)")
    for t in (0.5, 1.0, 2.0):
        steps = t / (eta * cfg.mu)
        ax.plot(u, early_stopping_filter(np.minimum(u * cfg.mu, 1 / eta), eta, steps),
                label=f"GD, t = {t:g}/(ημ)", lw=1.2 + (t == 1.0))
    ax.plot(es["lam"] / cfg.mu, 0 * es["lam"], "|", color="black", ms=10, label="spectrum")
    ax.set(xscale="log", xlabel="λ / μ", ylabel="shrinkage factor", title="spectral filters")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    order = np.argsort(es["lam"])
    i, j = order[0], order[-1]
    ax.plot(es["path"][:, i], es["path"][:, j], ".-", ms=2, label="GD path θ_t")
    ax.plot(es["ridge_path"][:, i], es["ridge_path"][:, j], "-", color="black", lw=1, label="ridge path θ_μ (all μ)")
    ax.plot(*es["closed"][[i, j]], "k*", ms=10, label="θ_μ")
    ax.plot(*es["path"][es["t_best"], [i, j]], "o", mfc="none", ms=8, label=f"θ_t*, t*={es['t_best']}")
    for factor, marker in ((0.25, "^"), (1.0, "s"), (4.0, "v")):
        t = int(round(1 / (eta * cfg.mu * factor)))
        if t < len(es["path"]):
            ax.plot(*es["path"][t, [i, j]], marker, color="C1", ms=6, label=f"θ_t, t = 1/(η·{factor:g}μ)")
            ax.plot(*es["ridge_by_factor"][factor][[i, j]], marker, color="black", mfc="none", ms=6,
                    label=f"θ_μ', μ' = {factor:g}μ")
    ax.set(xlabel="flattest eigen-direction", ylabel="steepest eigen-direction", title="trajectories overlaid")
    ax.legend(fontsize=7)
    ax = axes[0, 2]
    ax.plot(es["dist"], label="||θ_t − θ_μ|| / ||θ_μ||")
    ax.axvline(es["t_best"], color="C1", label="t*")
    ax.axvline(1 / (eta * cfg.mu), color="black", ls="--", label="1/(ημ)")
    ax.axvspan(es["t_lo"], es["t_hi"], color="0.85", label="[min t_i, max t_i]")
    ax.set(yscale="log", xlabel="GD step t", title="early stopping ≈ weight decay")
    ax.legend(fontsize=7)
    ax = axes[1, 0]
    b = np.linspace(-3, 3, 121)
    for k, beta in enumerate(cfg.prox_betas):
        ax.plot(b, soft_threshold(b, beta), color=f"C{k}", label=f"β={beta:g}")
        num = d["prox_numeric"][d["prox_numeric"][:, 0] == beta]
        ax.plot(num[:, 1], num[:, 2], "o", color=f"C{k}", mfc="none", ms=3)
    ax.set(xlabel="b", ylabel="argmin ½(a−b)² + β|a|", title="soft threshold (o: scipy minimizer)")
    ax.legend(fontsize=7)
    ax = axes[1, 1]
    for name, label in (("l2", "Adam + L2 penalty"), ("decoupled", "AdamW (decoupled)")):
        steps, dist = wd["adam_dist"][name]
        ax.plot(np.maximum(steps, 1), np.maximum(dist, 1e-17), "o-", ms=3, label=label)
    ax.set(xscale="log", yscale="log", xlabel="step", ylabel="||θ − θ_μ|| / ||θ_μ||",
           title="coupled vs decoupled decay (Adam)")
    ax.legend(fontsize=7)
    ax = axes[1, 2]
    for act, style in (("identity", "o-"), ("relu", "s-")):
        r = res[act]
        ax.errorbar(cfg.depths, r["scaled"][0], yerr=r["scaled"][1], fmt=style, ms=3, label=f"{act}, α = a/√L")
        ax.errorbar(cfg.explode_depths, r["one"][0], yerr=r["one"][1], fmt=style, ms=3, label=f"{act}, α = 1")
    depths = np.asarray(cfg.depths, float)
    theory_line(ax, depths, linear_second_moment(depths, cfg.a / np.sqrt(depths)), label="(1 + a²/L)^L")
    theory_line(ax, np.asarray(cfg.explode_depths), 2.0 ** np.asarray(cfg.explode_depths), label="2^L", color="0.4")
    ax.axhline(np.exp(cfg.a**2), color="black", ls=":", lw=1, label="e^{a²}")
    ax.set(xscale="log", yscale="log", xlabel="depth L", ylabel="E ||y_L||² / ||x||²", title="residual scaling")
    ax.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="regularization",
    description="Weight decay's spectral shrinkage, L2 vs decoupled decay, early stopping ≈ L2, soft threshold/ISTA, "
                "residual scaling.",
    config=Config, run=run, plot=plot)
