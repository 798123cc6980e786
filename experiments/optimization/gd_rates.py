"""Gradient-descent rates of the notes (§2/§3) against exact GD runs.

Strongly convex quadratics (bound max_i|1-eta lambda_i|^t at every step; eta = 2/(L+mu) contracts at exactly
(kappa-1)/(kappa+1)); divergence beyond eta = 2/lambda_max; the strongly convex bound (1-eta mu)^t on a
non-quadratic function; the convex bound ||x0-x*||^2/(2 eta t) on rank-deficient least squares; the non-convex
stationarity bound; linear convergence at (1-mu/L)^t for PL functions (the notes' ||w-y||^2/2 + lambda||w||^2,
wide least squares, and the non-convex x^2 + 3 sin^2 x of Karimi et al. 2016); sublinear convergence on x^4
(f ~ t^-2); Newton solving a quadratic in one step. Runs in float64.

The notes pair the PL rate (1-mu/L)^t with eta = 2/(L+mu); the descent-lemma proof gives (1-mu/L)^t at eta = 1/L
and only 1 - 4 mu^2/(L+mu)^2 per step at 2/(L+mu); both are checked.
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dl_theory import checks, optim
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.optim import convergence as cv
from dl_theory.stats import loglog_slope

RTOL = 1e-9  # float64 round-off allowance for "measured <= bound"


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    dim: Annotated[int, checks.at_least(4)] = 50  # dim // 2 rows for the wide least squares
    kappa: Annotated[float, checks.in_interval(1.0, float("inf"))] = 20.0
    n_steps: Annotated[int, checks.at_least(10)] = 400
    quartic_steps: Annotated[int, checks.at_least(100)] = 20000  # slope fit over the last 90%

    @classmethod
    def quick(cls) -> "Config":
        return cls(dim=20, n_steps=200, quartic_steps=5000)


def _spd(key, eigenvalues):
    q, _ = jnp.linalg.qr(jax.random.normal(key, (len(eigenvalues), len(eigenvalues))))
    return q @ jnp.diag(eigenvalues) @ q.T, q


def _bound_claim(id_, statement, measured, predicted, atol=0.0):
    """measured <= predicted at every step; the reported ratio skips a t = 0 where the two are equal."""
    check = cv.compare_to_bound(measured, predicted, rtol=RTOL, atol=atol)
    if len(measured) == len(predicted) and np.isclose(float(measured[0]), float(predicted[0])):
        tail = cv.compare_to_bound(measured[1:], predicted[1:], rtol=RTOL, atol=atol)
        check = check._replace(worst_ratio=tail.worst_ratio)
    return Claim(id_, statement, "<= 1", check.worst_ratio, f"rtol {RTOL:g}", check.holds), check


def _quadratic(cfg, key, t):
    lam = jnp.linspace(1.0, cfg.kappa, cfg.dim)
    q_DxD, basis = _spd(key, lam)
    x_star = jnp.ones(cfg.dim)
    f = lambda x: 0.5 * (x - x_star) @ q_DxD @ (x - x_star)
    L, mu = cv.curvature_from_hessian(jax.hessian(f)(x_star))
    x0 = x_star + basis @ jnp.linspace(1.0, 2.0, cfg.dim)
    d0 = float(jnp.linalg.norm(x0 - x_star))
    eta_opt = cv.step_size_strongly_convex(float(L), float(mu))
    curves, ratio = {}, 0.0
    for name, eta in (("1/L", 1 / float(L)), ("2/(L+μ)", eta_opt), ("1.9/L", 1.9 / float(L))):
        dist = jnp.linalg.norm(cv.gradient_descent(f, x0, eta, cfg.n_steps).xs - x_star[None, :], axis=1)
        bound = cv.quadratic_rate(t, eta, lam, d0)
        # Float64 floor: each step rounds the iterate (~x*) by ~eps ||x*||, and GD contracts these errors by rho per
        # step, so they add up to at most eps ||x*|| / (1 - rho); once the bound falls below that (long runs), the
        # computed distance stays at the floor.
        floor = float(np.finfo(np.float64).eps * jnp.linalg.norm(x_star) / (1 - cv.contraction_factor(eta, lam)))
        ratio = max(ratio, cv.compare_to_bound(dist[1:], bound[1:] + floor, rtol=RTOL).worst_ratio)
        curves[name] = (dist, bound)
    # Starting on the two extreme eigenvectors, eta = 2/(L+mu) contracts the error by exactly (kappa-1)/(kappa+1).
    x0_ext = x_star + basis[:, 0] + basis[:, -1]
    xs = cv.gradient_descent(f, x0_ext, eta_opt, 20).xs
    errs = jnp.linalg.norm(xs - x_star[None, :], axis=1)
    rho = float(jnp.exp(jnp.mean(jnp.log(errs[1:] / errs[:-1]))))
    diverge = {}
    for factor in (0.95, 1.05):
        run = cv.gradient_descent(f, x0, factor * cv.max_stable_step_size(float(L)), cfg.n_steps)
        diverge[factor] = float(jnp.linalg.norm(run.xs[-1] - x_star) / d0)
    kappa = float(L / mu)
    claims = [
        Claim("quadratic-bound", "||x_t-x*|| <= max_i|1-eta lambda_i|^t ||x0-x*|| + eps ||x*|| / (1 - rho) (the "
              "float64 floor) at every t, eta in {1/L, 2/(L+mu), 1.9/L} (worst ratio, t >= 1)", "<= 1", ratio,
              f"rtol {RTOL:g}", ratio <= 1 + RTOL),
        Claim.close("optimal-step-contraction", "per-step contraction at eta = 2/(L+mu) = (kappa-1)/(kappa+1)",
                    (kappa - 1) / (kappa + 1), rho, rtol=1e-9),
        Claim.at_most("stable-below-2/lambda_max", "||x_T-x*||/||x0-x*|| at eta = 0.95 * 2/lambda_max <= "
                      "max_i|1-eta lambda_i|^T", float(cv.contraction_factor(0.95 * 2 / float(L), lam)) ** cfg.n_steps,
                      diverge[0.95], slack=1e-12),
        Claim.at_least("diverges-above-2/lambda_max", "||x_T-x*||/||x0-x*|| at eta = 1.05 * 2/lambda_max > 1 "
                       "(GD diverges)", 1.0, diverge[1.05]),
    ]
    return claims, curves, diverge


def _other_bounds(cfg, key, t):
    claims, curves = [], {}
    k1, k2, k3 = jax.random.split(key, 3)
    # Strongly convex, non-quadratic: Hessian = Q + diag(sech^2 x) in [1, kappa + 1].
    q_DxD, _ = _spd(k1, jnp.linspace(1.0, cfg.kappa, cfg.dim))
    f = lambda x: 0.5 * x @ q_DxD @ x + jnp.sum(jnp.log(jnp.cosh(x)))
    mu, L = 1.0, cfg.kappa + 1.0
    x0 = jax.random.normal(k2, (cfg.dim,)) * 3
    run = cv.gradient_descent(f, x0, 1 / L, cfg.n_steps)
    dist_sq = jnp.sum(run.xs**2, axis=1)
    claim, check = _bound_claim("strongly-convex-bound", "||x_t-x*||^2 <= (1-eta mu)^t ||x0-x*||^2, eta = 1/L "
                                "(worst ratio)", dist_sq, cv.strongly_convex_rate(t, 1 / L, mu, dist_sq[0]))
    claims.append(claim)
    curves["strongly convex ||x−x*||²"] = (check.measured, check.predicted)
    # Convex, not strongly convex: wide least squares from 0 (converges to the min-norm solution).
    a_NxD = jax.random.normal(k3, (cfg.dim // 2, cfg.dim)) / np.sqrt(cfg.dim)
    b_N = jnp.ones(cfg.dim // 2)
    f = lambda x: 0.5 * jnp.sum((a_NxD @ x - b_N) ** 2)
    lam = jnp.linalg.eigvalsh(a_NxD @ a_NxD.T)
    L, mu_pl = float(lam[-1]), float(lam[0])  # PL constant = smallest non-zero eigenvalue of A^T A
    x_star = jnp.linalg.pinv(a_NxD) @ b_N
    run = cv.gradient_descent(f, jnp.zeros(cfg.dim), 1 / L, cfg.n_steps)
    claim, check = _bound_claim("convex-bound", "f(x_t)-f* <= ||x0-x*||^2/(2 eta t), eta = 1/L (worst ratio)",
                                run.fs[1:] - f(x_star), cv.convex_rate(t[1:], 1 / L, float(x_star @ x_star)))
    claims.append(claim)
    curves["convex f−f*"] = (check.measured, check.predicted)
    claim, _ = _bound_claim("pl-least-squares", "wide least squares (PL, not strongly convex): f(x_t)-f* <= "
                            "(1-mu/L)^t (f(x0)-f*) (worst ratio)", run.fs - f(x_star),
                            cv.pl_rate(t, 1 / L, mu_pl, L, float(run.fs[0] - f(x_star))), atol=1e-14)
    claims.append(claim)
    # Non-convex, L = 9.2: min_i ||grad f(x_i)||^2 <= 2 (f(x0) - f*) / (eta (t+1)).
    f = lambda x: jnp.sum(jnp.cos(3 * x) + 0.1 * x**2)
    grid = np.linspace(-10, 10, 400001)
    f_star = cfg.dim * np.min(np.cos(3 * grid) + 0.1 * grid**2)
    run = cv.gradient_descent(f, jnp.linspace(-3, 3, cfg.dim), 1 / 9.2, cfg.n_steps)
    best = np.minimum.accumulate(np.asarray(run.grad_sq))
    claim, check = _bound_claim("nonconvex-bound", "min_i ||grad f(x_i)||^2 <= 2(f0-f*)/(eta(t+1)), eta = 1/L "
                                "(worst ratio)", best, cv.nonconvex_rate(t, 1 / 9.2, float(run.fs[0] - f_star)))
    claims.append(claim)
    curves["non-convex min‖∇f‖²"] = (check.measured, check.predicted)
    return claims, curves


def _pl(cfg, t):
    claims, curves = [], {}
    # The notes' PL example f(w) = ||w-y||^2/2 + lam ||w||^2 has Hessian (1+2 lam) I: mu = L, one step at 1/L.
    lam_reg, y = 0.3, jnp.linspace(-1, 1, cfg.dim)
    f = lambda w: 0.5 * jnp.sum((w - y) ** 2) + lam_reg * jnp.sum(w**2)
    L = 1 + 2 * lam_reg
    run = cv.gradient_descent(f, jnp.zeros(cfg.dim), 1 / L, 3)
    f_star = f(y / L)
    claims.append(Claim.at_most("notes-pl-example", "f = ||w-y||^2/2 + lam||w||^2: mu = L, so (1-mu/L)^1 = 0: "
                                "f(x_1)-f* after one step at eta = 1/L", 0.0, float(run.fs[1] - f_star), slack=1e-14))
    # Non-convex PL: x^2 + 3 sin^2 x (mu = 1/32, L = 8, f* = 0).
    f = lambda x: jnp.sum(x**2 + 3 * jnp.sin(x) ** 2)
    mu, L = 1 / 32, 8.0
    x0 = jnp.linspace(-4, 4, cfg.dim)
    run = cv.gradient_descent(f, x0, 1 / L, cfg.n_steps)
    claim, check = _bound_claim("pl-nonconvex", "x^2 + 3 sin^2 x: f(x_t) <= (1-mu/L)^t f(x0), eta = 1/L "
                                "(worst ratio)", run.fs, cv.pl_rate(t, 1 / L, mu, L, float(run.fs[0])), atol=1e-300)
    claims.append(claim)
    curves["PL non-convex f−f*"] = (check.measured, check.predicted)
    eta = 2 / (L + mu)
    run2 = cv.gradient_descent(f, x0, eta, cfg.n_steps)
    claim, _ = _bound_claim("pl-notes-step", "at the notes' eta = 2/(L+mu) the proven factor is "
                            "1-4mu^2/(L+mu)^2 (worst ratio)", run2.fs, cv.pl_rate(t, eta, mu, L, float(run2.fs[0])),
                            atol=1e-300)
    claims.append(claim)
    mask = np.asarray(run.fs) > 1e-200
    mu_run = float(cv.pl_constant_along_run(run.fs[mask], run.grad_sq[mask], 0.0))
    claims.append(Claim.at_least("pl-constant-along-run", "min_t ||grad f||^2 / (2 f) along the run >= mu = 1/32",
                                 mu, mu_run))
    return claims, curves


def run(cfg: Config) -> Result:
    with jax.enable_x64(True):
        key = jax.random.key(cfg.seed)
        t = jnp.arange(cfg.n_steps + 1)
        k1, k2 = jax.random.split(key)
        claims, quad_curves, diverge = _quadratic(cfg, k1, t)
        more, curves = _other_bounds(cfg, k2, t)
        pl_claims, pl_curves = _pl(cfg, t)
        claims += more + pl_claims
        # x^4: strictly but not strongly convex; x_t ~ (8 eta t)^(-1/2), so f(x_t) ~ t^-2.
        run4 = cv.gradient_descent(lambda x: jnp.sum(x**4), jnp.ones(1), 0.05, cfg.quartic_steps)
        steps = np.arange(cfg.quartic_steps // 10, cfg.quartic_steps + 1)
        slope, _ = loglog_slope(steps, np.asarray(run4.fs)[steps])
        claims.append(Claim.close("quartic-sublinear", "f = x^4: log-log slope of f(x_t) vs t", -2.0, slope, atol=0.05))
        # Newton: one step on a quadratic.
        q_DxD, _ = _spd(key, jnp.linspace(1.0, cfg.kappa, cfg.dim))
        b_D = jnp.ones(cfg.dim)
        f = lambda p: 0.5 * p @ q_DxD @ p - b_D @ p
        opt, p0 = optim.newton(f), jnp.full(cfg.dim, 5.0)
        p1 = optax.apply_updates(p0, opt.update(jax.grad(f)(p0), opt.init(p0), p0)[0])
        err = float(jnp.linalg.norm(p1 - jnp.linalg.solve(q_DxD, b_D)) / jnp.linalg.norm(p0))
        claims.append(Claim.at_most("newton-one-step", "Newton on a quadratic: ||x_1-x*||/||x_0|| after one step",
                                    0.0, err, slack=1e-10))
        to_np = lambda d: {k: tuple(np.asarray(v) for v in pair) for k, pair in d.items()}
        data = {"quadratic": to_np(quad_curves), "bounds": to_np({**curves, **pl_curves}),
                "quartic": np.asarray(run4.fs)}
    metrics = {"divergence_ratio": {str(k): v for k, v in diverge.items()}, "quartic_slope": slope,
               "newton_error": err}
    return Result(claims, metrics, data)


def plot(result: Result):
    fig, axes = subplots(1, 3, width=4.2, title="Gradient-descent rates: measured (solid) vs bounds (dashed)")
    for i, (name, (dist, bound)) in enumerate(result.data["quadratic"].items()):
        axes[0].semilogy(dist, color=f"C{i}", label=f"η={name}")
        theory_line(axes[0], np.arange(len(bound)), bound, label=None, color=f"C{i}")
    axes[0].set(xlabel="t", ylabel="‖x_t − x*‖", title="quadratic: max|1−ηλ|^t")
    axes[0].legend(fontsize=7)
    for i, (name, (meas, bound)) in enumerate(result.data["bounds"].items()):
        axes[1].loglog(np.arange(1, len(meas) + 1), np.maximum(meas, 1e-300), color=f"C{i}", label=name)
        theory_line(axes[1], np.arange(1, len(bound) + 1), bound, label=None, color=f"C{i}")
    axes[1].set(xlabel="t + 1", ylabel="measured quantity", ylim=(1e-16, None), title="convex, non-convex, PL")
    axes[1].legend(fontsize=6.5)
    fs = result.data["quartic"]
    t = np.arange(1, len(fs))
    axes[2].loglog(t, fs[1:], label="f(x_t), f = x⁴")
    theory_line(axes[2], t, fs[-1] * (t / t[-1]) ** -2.0, label="∝ t⁻²")
    axes[2].set(xlabel="t", ylabel="f(x_t)", title="x⁴: sublinear")
    axes[2].legend()
    return fig


EXPERIMENT = Experiment(
    id="gd-rates",
    description="GD rates of the notes (strongly convex, quadratic, convex, non-convex, PL, x⁴, Newton) vs exact runs.",
    config=Config, run=run, plot=plot)
