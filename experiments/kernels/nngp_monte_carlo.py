"""NNGP by Monte Carlo over random networks, GP regression in feature form, and Bayesian linear regression.

Course notes §6.3. A random one-hidden-layer network :math:`f(x) = v_0 + m^{-1/2}\\sum_j v_j \\varphi(\\theta_j^\\top
x)` is a Gaussian process with the NNGP kernel :math:`k` as :math:`m \\to \\infty` (Neal, 1994); for one hidden layer
the covariance over random networks equals :math:`k` at *any* width, so the estimate :math:`\\tilde K =
\\Phi\\Phi^\\top` from the features :math:`\\varphi(x) = B^{-1/2}(f_1(x), \\dots, f_B(x))` of ``B`` random networks has
relative error :math:`\\propto B^{-1/2}`. GP regression with :math:`\\tilde K` can be done with a ``B x B`` solve:
:math:`\\mathbb{E}[f(x) | y] = \\varphi(x)^\\top(\\Phi^\\top\\Phi + \\sigma^2 I_B)^{-1}\\Phi^\\top y` and
:math:`\\mathrm{Var}[f(x) | y] = \\sigma^2\\varphi(x)^\\top(\\Phi^\\top\\Phi + \\sigma^2 I_B)^{-1}\\varphi(x)`, equal to
the ``n x n`` forms by the push-through and Woodbury identities. Bayesian linear regression with :math:`w \\sim
\\mathcal N(0, I)`, :math:`y = Xw + \\varepsilon` has posterior mean :math:`X^\\top(XX^\\top + \\sigma^2 I_n)^{-1}y =
(X^\\top X + \\sigma^2 I_d)^{-1}X^\\top y` (ridge with :math:`\\lambda = \\sigma^2`), and its predictions are those of a
GP with the linear kernel :math:`XX^\\top`. (The notes' posterior-mean formula for :math:`p(w | X, y)` is garbled; the
correct one is used.)
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import numpy as np

from dl_theory import checks, data, models, predict
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.kernels.monte_carlo import monte_carlo_kernel_fn
from dl_theory.stats import loglog_slope, loglog_slope_stderr

N_SE = 3.0  # standard errors of the statistical claims' tolerance


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    width: Annotated[int, checks.count] = 512
    W_std: Annotated[float, checks.positive] = 1.5
    b_std: Annotated[float, checks.nonnegative] = 1.0
    n_kernel_points: Annotated[int, checks.at_least(2)] = 16  # inputs on which the MC kernel meets the NNGP
    max_log2_b: Annotated[int, checks.at_least(2)] = 11  # B = 1, 2, 4, ..., 2^max_log2_b random networks
    n_repeats: Annotated[int, checks.at_least(16)] = 64  # independent repeats: the bootstrap's and the error law's
    n_train: Annotated[int, checks.at_least(2)] = 60  # 1-D regression for the GP posterior
    n_features: Annotated[int, checks.count] = 32
    noise_std: Annotated[float, checks.positive] = 0.2
    blr_dim: Annotated[int, checks.at_least(2)] = 5
    n_conditioning_draws: Annotated[int, checks.at_least(100)] = 200_000
    mc_kernel_fn_samples: Annotated[int, checks.count] = 64

    @classmethod
    def quick(cls) -> "Config":
        return cls(width=256, max_log2_b=9, n_conditioning_draws=50_000)


def network(cfg: Config):
    """The notes' one-hidden-layer ReLU network (stax triple, NTK parameterization, scalar output)."""
    return models.mlp((cfg.width,), 1, W_std=cfg.W_std, b_std=cfg.b_std, last_W_std=cfg.W_std)


def random_features(cfg: Config, key: jax.Array, x: jax.Array, n_nets: int) -> jax.Array:
    """``(n, n_nets)`` outputs :math:`f_b(x_i)` of independent random networks (unnormalized features)."""
    init_fn, apply_fn, _ = network(cfg)
    one = lambda k: apply_fn(init_fn(k, x.shape)[1], x)[:, 0]
    return jax.jit(lambda keys: jax.lax.map(one, keys, batch_size=64))(jax.random.split(key, n_nets)).T


def feature_posterior(phi_NxB, phi_test_MxB, y_N, noise_var):
    """GP posterior mean and variance from the ``B x B`` system (features already scaled by ``B^{-1/2}``)."""
    phi_NxB, phi_test_MxB, y_N = (np.asarray(a, np.float64) for a in (phi_NxB, phi_test_MxB, y_N))
    a_BxB = phi_NxB.T @ phi_NxB + noise_var * np.eye(phi_NxB.shape[1])
    mean = phi_test_MxB @ np.linalg.solve(a_BxB, phi_NxB.T @ y_N)
    var = noise_var * np.sum(phi_test_MxB * np.linalg.solve(a_BxB, phi_test_MxB.T).T, axis=1)
    return mean, var


def _mc_convergence(cfg: Config, key: jax.Array):
    x = data.gaussian(jax.random.fold_in(key, 0), cfg.n_kernel_points, 4)
    exact = np.asarray(network(cfg)[2](x, None, "nngp"))
    sizes = 2 ** np.arange(cfg.max_log2_b + 1)
    f = np.asarray(random_features(cfg, jax.random.fold_in(key, 1), x, cfg.n_repeats * int(sizes[-1])))
    samples = np.einsum("irb,jrb->rbij", *(2 * [f.reshape(len(x), cfg.n_repeats, -1)]))  # one kernel per net
    running = np.cumsum(samples, axis=1)[:, sizes - 1] / sizes[None, :, None, None]
    errors = np.linalg.norm(running - exact, axis=(2, 3)) / np.linalg.norm(exact)
    rms = np.sqrt(np.mean(errors**2, axis=0))
    cov_eigs = np.clip(np.linalg.eigvalsh(np.cov(samples.reshape(-1, exact.size).T)), 0.0, None)
    predicted = np.sqrt(cov_eigs.sum() / sizes) / np.linalg.norm(exact)
    n_mc = cfg.mc_kernel_fn_samples
    mc = monte_carlo_kernel_fn(*network(cfg)[:2], jax.random.fold_in(key, 10_000), n_mc)(x, None, "nngp")
    mc_error = float(np.linalg.norm(np.asarray(mc) - exact) / np.linalg.norm(exact))
    return sizes, errors, rms, predicted, n_mc, mc_error, cov_eigs / np.sum(exact**2)


def mean_sq_error_interval(cov_eigs: np.ndarray, n_repeats: int, n_nets: int, seed: int,
                           tail: float = 0.00135) -> tuple[float, float]:
    r"""Central ``1 - 2 tail`` interval of the mean over ``n_repeats`` of :math:`\|\bar K_B - K\|^2` (relative).

    The mean of ``B = n_nets`` i.i.d. kernels is Gaussian for large ``B`` with covariance :math:`C/B`, :math:`C` the
    per-network covariance of the kernel entries; so :math:`\|\bar K_B - K\|^2 = \sum_k \lambda_k \chi^2_1 / B`
    over the eigenvalues :math:`\lambda_k` of :math:`C`, and its mean over ``R`` independent repeats is
    :math:`\sum_k \lambda_k \chi^2_R / (R B)`. The quantiles of that weighted chi-square law are taken by
    simulation. A t-interval of the sample mean would not do: the law is skewed (a few :math:`\lambda_k` dominate),
    and its sample standard deviation moves with its sample mean.
    """
    draws = np.random.default_rng(seed).chisquare(n_repeats, size=(20_000, cov_eigs.size)) @ cov_eigs
    lo, hi = np.quantile(draws / (n_repeats * n_nets), [tail, 1.0 - tail])
    return float(lo), float(hi)


def _gp_regression(cfg: Config, key: jax.Array):
    rng = np.random.default_rng(cfg.seed)
    x = rng.uniform(-3.0, 3.0, size=(cfg.n_train, 1))
    y = np.sin(x[:, 0]) + cfg.noise_std * rng.normal(size=cfg.n_train)
    x_test = np.linspace(-4.0, 4.0, 101)[:, None]
    noise_var = cfg.noise_std**2
    f_all = random_features(cfg, key, np.concatenate([x, x_test]), cfg.n_features) / np.sqrt(cfg.n_features)
    phi, phi_test = f_all[: cfg.n_train], f_all[cfg.n_train :]
    feat_mean, feat_var = feature_posterior(phi, phi_test, y, noise_var)
    gp = predict.gp_inference(phi @ phi.T, y[:, None], diag_reg=noise_var, diag_reg_absolute_scale=True)
    kern_mean, kern_cov = gp("nngp", phi_test @ phi.T, phi_test @ phi_test.T)
    kernel_fn = jax.jit(network(cfg)[2], static_argnums=2)
    k_all = kernel_fn(np.concatenate([x, x_test]), None, "nngp")
    k_dd, k_td, k_tt = k_all[: cfg.n_train, : cfg.n_train], k_all[cfg.n_train :, : cfg.n_train], k_all[
        cfg.n_train :, cfg.n_train :]
    exact = predict.gp_inference(k_dd, y[:, None], diag_reg=noise_var, diag_reg_absolute_scale=True)(
        "nngp", k_td, k_tt)
    return dict(x=x, y=y, x_test=x_test, feat_mean=feat_mean, feat_var=feat_var, kern_mean=kern_mean[:, 0],
                kern_var=np.diagonal(kern_cov), exact_mean=exact.mean[:, 0], exact_var=np.diagonal(exact.covariance))


def _bayesian_linear_regression(cfg: Config, key: jax.Array):
    x, y, _ = (np.asarray(a, np.float64) for a in data.teacher_student(key, 30, cfg.blr_dim, cfg.noise_std))
    rng = np.random.default_rng(cfg.seed + 1)
    x_test = rng.normal(size=(10, cfg.blr_dim))
    s2, d, n = cfg.noise_std**2, cfg.blr_dim, x.shape[0]
    sigma_yy = x @ x.T + s2 * np.eye(n)
    post_mean = x.T @ np.linalg.solve(sigma_yy, y)  # Gaussian conditioning of (w, y)
    post_cov = np.eye(d) - x.T @ np.linalg.solve(sigma_yy, x)
    ridge = np.linalg.solve(x.T @ x + s2 * np.eye(d), x.T @ y)
    gp = predict.gp_inference(x @ x.T, y[:, None], diag_reg=s2, diag_reg_absolute_scale=True)(
        "nngp", x_test @ x.T, x_test @ x_test.T)
    rel = lambda a, b: float(np.max(np.abs(np.asarray(a) - b)) / np.max(np.abs(b)))
    woodbury = s2 * np.linalg.inv(x.T @ x + s2 * np.eye(d))
    diffs = {"conditioning = ridge": rel(post_mean, ridge),
             "ridge = GP(linear) mean": rel(gp.mean[:, 0], x_test @ ridge),
             "Woodbury: I - X'S^-1X = s2 (X'X + s2 I)^-1": rel(post_cov, woodbury),
             "GP(linear) cov = x' Sigma_post x": rel(gp.covariance, x_test @ post_cov @ x_test.T)}
    # Conditioning by Monte Carlo on a small problem: regress w on y over joint draws; E[w|y] = A y.
    xs, n_draws = x[:3, :2], cfg.n_conditioning_draws
    w = rng.normal(size=(n_draws, 2))
    ys = w @ xs.T + cfg.noise_std * rng.normal(size=(n_draws, 3))
    a_hat = np.linalg.lstsq(ys, w, rcond=None)[0].T
    syy = xs @ xs.T + s2 * np.eye(3)
    a_exact = xs.T @ np.linalg.inv(syy)
    cond_cov = np.eye(2) - a_exact @ xs
    stderr = np.sqrt(np.outer(np.diag(cond_cov), np.diag(np.linalg.inv(syy))) / n_draws)
    return diffs, float(np.max(np.abs(a_hat - a_exact) / stderr))


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    with jax.enable_x64(True):
        sizes, errors, rms, predicted, n_mc, mc_error, cov_eigs = _mc_convergence(cfg, jax.random.fold_in(key, 0))
        reg = _gp_regression(cfg, jax.random.fold_in(key, 1))
        diffs, max_z = _bayesian_linear_regression(cfg, jax.random.fold_in(key, 2))
    slope, _ = loglog_slope(sizes, rms)
    # rows are repeats, resampled jointly across B (the running averages share their networks)
    root_mean_square = lambda e, axis: np.sqrt(np.mean(e**2, axis=axis))  # noqa: E731
    slope_se = loglog_slope_stderr(sizes, errors, reduce=root_mean_square, seed=cfg.seed)
    sq_last = errors[:, -1] ** 2  # squared relative errors at the largest B, one per independent repeat
    sq_mean = float(sq_last.mean())
    sq_lo, sq_hi = mean_sq_error_interval(cov_eigs, cfg.n_repeats, int(sizes[-1]), cfg.seed)
    rel = lambda a, b: float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(np.asarray(b))))
    form_mean, form_var = rel(reg["feat_mean"], reg["kern_mean"]), rel(reg["feat_var"], reg["kern_var"])
    tol = 1e-9  # float64 round-off on well-conditioned systems
    claims = [
        Claim.close("mc-rate", f"log-log slope of the rms relative error of Phi Phi^T (B = 1..{sizes[-1]} nets, "
                    f"{cfg.n_repeats} repeats) vs B, within {N_SE:g} bootstrap standard errors", -0.5,
                    slope, atol=N_SE * slope_se),
        Claim("mc-error-size", f"mean squared relative error at B = {sizes[-1]} over {cfg.n_repeats} repeats "
              "lies in the central 99.73% interval of its law sum_k lambda_k chi2_R / (R B) (lambda_k: eigenvalues "
              "of the per-network kernel covariance; mean sum Var / (B ||K||^2))", float(predicted[-1] ** 2),
              sq_mean, f"[{sq_lo:.4g}, {sq_hi:.4g}]", sq_lo <= sq_mean <= sq_hi),
        Claim.at_most("mc-kernel-fn", f"monte_carlo_kernel_fn with {n_mc} nets: relative error <= 3x the "
                      "predicted rms error", float(3 * predicted[int(np.log2(n_mc))]), mc_error),
        Claim.at_most("feature-form-mean", f"GP posterior mean: B x B feature form (B = {cfg.n_features}) vs "
                      f"n x n form (n = {cfg.n_train}), max relative difference", 0.0, form_mean, slack=tol),
        Claim.at_most("feature-form-variance", "GP posterior variance: sigma^2 phi'(Phi'Phi + sigma^2 I)^-1 phi "
                      "vs K** - K*X (K + sigma^2 I)^-1 KX*, max relative difference", 0.0, form_var, slack=tol),
        *[Claim.at_most(f"blr-{i}", f"Bayesian linear regression: {name} (max relative difference)", 0.0,
                        value, slack=tol) for i, (name, value) in enumerate(diffs.items())],
        Claim.at_most("conditioning-monte-carlo", "E[w|y] = X'(XX' + s2 I)^-1 y: max |z| of the least-squares "
                      f"fit of w on y over {cfg.n_conditioning_draws} joint draws", 4.5, max_z),
    ]
    metrics = {"mc_slope": slope, "mc_slope_stderr": slope_se, "mc_mean_sq_error": sq_mean,
               "mc_mean_sq_error_interval": [sq_lo, sq_hi],
               "mc_rms": dict(zip(map(str, sizes.tolist()), rms.tolist(), strict=True)),
               "mc_predicted": predicted.tolist(), "mc_kernel_fn_error": mc_error,
               "feature_vs_kernel_mean": form_mean,
               "feature_vs_kernel_var": form_var, "blr": diffs, "conditioning_max_z": max_z,
               "feature_vs_exact_nngp_mean": rel(reg["feat_mean"], reg["exact_mean"])}
    return Result(claims, metrics, {"sizes": sizes, "rms": rms, "predicted": predicted, "reg": reg,
                                    "n_features": cfg.n_features,
                                    "diffs": {**diffs, "feature vs n x n mean": form_mean,
                                              "feature vs n x n variance": form_var}})


def plot(result: Result):
    d = result.data
    fig, (ax1, ax2, ax3) = subplots(1, 3, title="NNGP by Monte Carlo; GP regression in feature form")
    ax1.plot(d["sizes"], d["rms"], "o-", label="rms ‖ΦΦᵀ − K‖_F / ‖K‖_F")
    theory_line(ax1, d["sizes"], d["predicted"], label="√(Σ Var / B) / ‖K‖ ∝ B^(-1/2)")
    ax1.set(xscale="log", yscale="log", xlabel="random networks B", ylabel="relative error")
    ax1.legend(fontsize=7)
    reg = d["reg"]
    xt = np.asarray(reg["x_test"][:, 0])
    for mean, var, label in ((reg["exact_mean"], reg["exact_var"], "analytic NNGP"),
                             (reg["feat_mean"], reg["feat_var"], f"B = {d['n_features']} random nets")):
        mean, sd = np.asarray(mean), np.sqrt(np.maximum(np.asarray(var), 0))
        line = ax2.plot(xt, mean, label=label)[0]
        ax2.fill_between(xt, mean - 2 * sd, mean + 2 * sd, color=line.get_color(), alpha=0.15)
    ax2.scatter(np.asarray(reg["x"][:, 0]), np.asarray(reg["y"]), s=8, color="black", label="data")
    ax2.set(xlabel="x", ylabel="posterior mean ± 2 sd")
    ax2.legend(fontsize=7)
    names = list(d["diffs"])
    ax3.scatter([max(d["diffs"][n], 1e-17) for n in names], range(len(names)), color="#2a9d8f", zorder=3)
    ax3.axvline(np.finfo(np.float64).eps, **{"color": "black", "linestyle": "--"})
    ax3.set_yticks(range(len(names)), names, fontsize=6.5)
    ax3.set(xscale="log", xlim=(1e-17, 1e-6), xlabel="max relative difference",
            title="identities in float64 (dashed: eps)")
    return fig


EXPERIMENT = Experiment(
    id="nngp-monte-carlo",
    description="Covariance of B random nets → NNGP (error ~B^-1/2); feature-form GP = n×n form; "
                "BLR = ridge = GP.",
    config=Config, run=run, plot=plot)
