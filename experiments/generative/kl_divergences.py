"""KL divergences: the Gaussian closed form against Monte Carlo, and forward vs reverse KL fits of one Gaussian.

The closed form KL(N(mu0, s0^2) || N(mu1, s1^2)) = (s0^2/s1^2 + (mu1 - mu0)^2/s1^2 - 1 + ln(s1^2/s0^2))/2 (and its
full-covariance version in D dimensions) is compared with a Monte-Carlo estimate of E_p[ln p - ln q] on random pairs:
every estimate lies within a few standard errors. The course notes invert the two ratios (s1^2/s0^2 and a s0^2
denominator); that formula is many standard errors away from Monte Carlo on the same pairs, and it is negative for
N(0, 1) against N(0, 1/4), which no divergence can be. The first pair is that one; the others are random with
|ln(s1^2/s0^2)| >= 0.5, where the two formulas differ.

One Gaussian q is then fitted to a bimodal mixture p. Forward KL, min_q KL(p||q), is maximum likelihood on samples of
p and its optimum is moment matching: the fitted mean lies between the modes and the variance contains the between-
mode spread sum_k pi_k (mu_k - m)^2, so both modes lie within 1/sqrt(pi_k) fitted standard deviations (mean-seeking,
covering). The sample fit is compared with the closed-form moments within standard errors. Reverse KL, min_q KL(q||p),
is non-convex: it has a local minimum at each mode and, for modes this close, a broad one covering both. From random
starts (best of the restarts by the objective), the fit sits on the heavier mode with that component's variance and
KL(q||p) = -ln pi_k up to the exponentially small overlap (mode-seeking). Each fit wins its own objective: the forward
fit has the smaller KL(p||q) (Monte Carlo, paired samples), the reverse fit the smaller KL(q||p) (quadrature).
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np

from dl_theory import checks
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots
from dl_theory.models.generative.divergences import (
    forward_kl_fit,
    kl_diag_gaussian,
    kl_gaussian,
    kl_normal_notes,
    mixture_log_prob,
    mixture_sample,
    monte_carlo_kl,
    reverse_kl,
    reverse_kl_fit,
)
from dl_theory.stats import mean_and_stderr

N_SE = 4.5  # z-score bound for the Monte-Carlo comparisons (2 * n_pairs + 2 of them; familywise ~1e-4)
NOTES_SE = 10.0  # the notes' formula must miss Monte Carlo by at least this many standard errors
MODE_TOL = 0.05  # reverse fit: mean within 0.05 component sd of the mode, variance within 5% (overlap ~ e^-20)


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    n_pairs: Annotated[int, checks.at_least(2)] = 8
    dim: Annotated[int, checks.count] = 3
    n_mc: Annotated[int, checks.at_least(100)] = 200_000
    weights: Annotated[tuple[float, ...], checks.each(checks.probability, min_length=2)] = (0.4, 0.6)
    means: Annotated[tuple[float, ...], checks.each(checks.finite, min_length=2)] = (-3.0, 3.0)
    variances: Annotated[tuple[float, ...], checks.each(checks.positive, min_length=2)] = (0.5, 0.8)
    n_restarts: Annotated[int, checks.count] = 16
    reverse_steps: Annotated[int, checks.count] = 2000
    learning_rate: Annotated[float, checks.positive] = 0.05

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_mc=20_000, n_restarts=8, reverse_steps=1200)


def _pairs(rng: np.random.Generator, n_pairs: int, dim: int):
    """1-D pairs (mu0, v0, mu1, v1), the first N(0,1) vs N(0,1/4), and D-dim full-covariance pairs."""
    log_ratio = rng.choice([-1, 1], n_pairs) * rng.uniform(0.5, 1.5, n_pairs)
    v0 = np.exp(rng.uniform(-1, 1, n_pairs))
    one_d = np.stack([rng.normal(size=n_pairs), v0, rng.normal(size=n_pairs), v0 * np.exp(log_ratio)], axis=1)
    one_d[0] = (0.0, 1.0, 0.0, 0.25)
    full = []
    for _ in range(n_pairs):
        a0, a1 = rng.normal(size=(2, dim, dim))
        full.append((rng.normal(size=dim), a0 @ a0.T / dim + 0.2 * np.eye(dim),
                     rng.normal(size=dim), a1 @ a1.T / dim + 0.2 * np.eye(dim)))
    return one_d, full


def _kl_checks(key: jax.Array, one_d: np.ndarray, full: list, n_mc: int) -> dict:
    """Closed forms, the notes' formula and Monte-Carlo estimates (all pairs of a kind at once, jitted)."""
    m0, v0, m1, v1 = (jnp.asarray(c) for c in one_d.T)
    normal_logpdf = jax.jit(lambda x, m, v: jax.scipy.stats.norm.logpdf(x, m[None], jnp.sqrt(v)[None]))
    mc, se = monte_carlo_kl(
        jax.random.fold_in(key, 0),
        jax.jit(lambda k, n: m0[None] + jnp.sqrt(v0)[None] * jax.random.normal(k, (n, len(m0))), static_argnums=1),
        lambda x: normal_logpdf(x, m0, v0), lambda x: normal_logpdf(x, m1, v1), n_mc)
    fm0, fc0, fm1, fc1 = (jnp.asarray(np.stack(c)) for c in zip(*full, strict=True))
    chol0 = jnp.linalg.cholesky(fc0)
    logpdf = jax.jit(jax.vmap(jax.vmap(jax.scipy.stats.multivariate_normal.logpdf), (0, None, None)))  # (N, P, D)
    full_mc, full_se = monte_carlo_kl(
        jax.random.fold_in(key, 1),
        jax.jit(lambda k, n: fm0[None] + jnp.einsum("pij,npj->npi", chol0, jax.random.normal(k, (n, *fm0.shape))),
                static_argnums=1),
        lambda x: logpdf(x, fm0, fc0), lambda x: logpdf(x, fm1, fc1), n_mc)
    closed = jax.jit(lambda *a: kl_diag_gaussian(*(c[:, None] for c in a)))(m0, v0, m1, v1)
    return {"closed": np.asarray(closed), "notes": np.asarray(jax.jit(kl_normal_notes)(m0, v0, m1, v1)), "mc": mc,
            "se": se, "full_closed": np.asarray(jax.jit(jax.vmap(kl_gaussian))(fm0, fc0, fm1, fc1)),
            "full_mc": full_mc, "full_se": full_se}


def run(cfg: Config) -> Result:
    if not len(cfg.weights) == len(cfg.means) == len(cfg.variances):
        raise checks.fail("weights, means, variances", "of one length", (cfg.weights, cfg.means, cfg.variances))
    checks.in_interval(1 - 1e-9, 1 + 1e-9, closed=True)("sum(weights)", sum(cfg.weights))
    key = jax.random.key(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    with jax.enable_x64(True):
        one_d, full = _pairs(rng, cfg.n_pairs, cfg.dim)
        kl = _kl_checks(jax.random.fold_in(key, 0), one_d, full, cfg.n_mc)
        weights, means, variances = (jnp.asarray(a, jnp.float64) for a in (cfg.weights, cfg.means, cfg.variances))

        def log_p(x):
            return mixture_log_prob(x, weights, means, variances)

        samples = np.asarray(jax.jit(mixture_sample, static_argnums=1)(jax.random.fold_in(key, 1), cfg.n_mc, weights,
                                                                       means, variances))
        fwd_mean, fwd_var = (float(a) for a in jax.jit(forward_kl_fit)(weights, means, variances))
        sample_mean, mean_se = mean_and_stderr(samples)
        sample_var, var_se = mean_and_stderr((samples - sample_mean) ** 2)
        sd = np.sqrt(variances)
        starts_mean = rng.uniform(means.min() - 2 * sd.max(), means.max() + 2 * sd.max(), cfg.n_restarts)
        starts_var = np.exp(rng.uniform(np.log(variances.min() / 4), np.log(4 * fwd_var), cfg.n_restarts))
        fit = jax.jit(jax.vmap(lambda m, v: reverse_kl_fit(log_p, m, v, n_steps=cfg.reverse_steps,
                                                           learning_rate=cfg.learning_rate)))
        rev_means, rev_vars = (np.asarray(a) for a in fit(jnp.asarray(starts_mean), jnp.asarray(starts_var)))
        objective = jax.jit(jax.vmap(lambda m, v: reverse_kl(log_p, m, v)))
        rev_objective = np.asarray(objective(rev_means, rev_vars))
        best = int(np.argmin(rev_objective))
        rev_mean, rev_var = float(rev_means[best]), float(rev_vars[best])

        log_ratio = jax.jit(lambda x, m, v: log_p(x) - jax.scipy.stats.norm.logpdf(x, m, jnp.sqrt(v)))
        # KL(p || q) for both fits on the same samples of p: the difference has its own (paired) standard error.
        log_ratio_fwd = np.asarray(log_ratio(samples, fwd_mean, fwd_var))
        log_ratio_rev = np.asarray(log_ratio(samples, rev_mean, rev_var))
        fwd_pq, fwd_pq_se = mean_and_stderr(log_ratio_fwd)
        rev_pq, rev_pq_se = mean_and_stderr(log_ratio_rev)
        pq_gap, pq_gap_se = mean_and_stderr(log_ratio_rev - log_ratio_fwd)
        fwd_qp, rev_qp = (float(a) for a in objective(jnp.array([fwd_mean, rev_mean]), jnp.array([fwd_var, rev_var])))

    heavy = int(np.argmax(cfg.weights))
    z_closed = np.abs(kl["closed"] - kl["mc"]) / kl["se"]
    z_full = np.abs(kl["full_closed"] - kl["full_mc"]) / kl["full_se"]
    z_notes = np.abs(kl["notes"] - kl["mc"]) / kl["se"]
    modes = np.asarray(cfg.means)
    on_mode = np.min(np.abs(rev_means[:, None] - modes[None]) / np.sqrt(np.asarray(cfg.variances))[None], axis=1)
    spread = float(np.sum(np.asarray(cfg.weights) * (modes - sample_mean) ** 2))
    coverage = float(np.max(np.sqrt(cfg.weights) * np.abs(modes - sample_mean)) / np.sqrt(sample_var))
    claims = [
        Claim.at_most("gaussian-kl-vs-mc", f"max over {cfg.n_pairs} 1-D pairs of |closed form - Monte Carlo| / SE "
                      f"({cfg.n_mc} samples each)", N_SE, float(z_closed.max())),
        Claim.at_most("full-gaussian-kl-vs-mc", f"max over {cfg.n_pairs} full-covariance pairs in D={cfg.dim} of "
                      "|closed form - Monte Carlo| / SE", N_SE, float(z_full.max())),
        Claim.at_least("notes-formula-off", "min over the 1-D pairs of |notes' inverted formula - Monte Carlo| / SE "
                       "(the notes' formula is not the KL)", NOTES_SE, float(z_notes.min())),
        Claim.at_most("notes-formula-negative", "the notes' formula at N(0,1) || N(0,1/4) is negative (a KL is >= 0; "
                      f"correct value {kl['closed'][0]:.4f}, Monte Carlo {kl['mc'][0]:.4f})", 0.0,
                      float(kl["notes"][0])),
        Claim.at_most("forward-fit-mean", "|sample mean (forward-KL fit = MLE) - moment-matching mean sum pi_k mu_k| "
                      "/ SE", N_SE, abs(sample_mean - fwd_mean) / mean_se),
        Claim.at_most("forward-fit-variance", "|sample variance - moment-matching variance| / SE", N_SE,
                      abs(sample_var - fwd_var) / var_se),
        Claim("forward-mean-between-modes", "the forward fit's mean lies strictly between the two modes",
              f"in ({modes.min()}, {modes.max()})", float(sample_mean), None,
              bool(modes.min() < sample_mean < modes.max())),
        Claim.at_least("forward-variance-covers-spread", "forward fit variance minus the between-mode spread "
                       "sum_k pi_k (mu_k - m)^2 (>= 0: the fit covers both modes)", 0.0, float(sample_var - spread)),
        Claim.at_most("forward-covers-modes", "max_k sqrt(pi_k) |mu_k - m| / s of the forward fit (<= 1: every mode "
                      "within 1/sqrt(pi_k) fitted sds)", 1.0, coverage),
        Claim.close("reverse-fit-on-heavier-mode", f"reverse-KL fit (best of {cfg.n_restarts} restarts): (mean - "
                    f"mu_k) / sigma_k for the heavier mode k={heavy}", 0.0,
                    (rev_mean - cfg.means[heavy]) / np.sqrt(cfg.variances[heavy]), atol=MODE_TOL),
        Claim.close("reverse-fit-variance", "reverse-KL fit variance / that mode's variance (mode-seeking: narrow)",
                    1.0, rev_var / cfg.variances[heavy], rtol=MODE_TOL),
        Claim.close("reverse-kl-at-mode", "KL(q_rev || p) = -ln pi_k up to the components' overlap",
                    -np.log(cfg.weights[heavy]), rev_qp, rtol=1e-3),
        Claim.at_least("forward-wins-forward-kl", "[KL(p||q_rev) - KL(p||q_fwd)] / paired SE (Monte Carlo)",
                       N_SE, pq_gap / pq_gap_se),
        Claim.at_least("reverse-wins-reverse-kl", "KL(q_fwd||p) - KL(q_rev||p) (quadrature)", 0.0, fwd_qp - rev_qp),
    ]
    metrics = {
        "one_d_pairs": one_d.tolist(),
        "kl_closed": kl["closed"].tolist(), "kl_notes": kl["notes"].tolist(), "kl_mc": kl["mc"].tolist(),
        "kl_mc_se": kl["se"].tolist(), "z_closed": z_closed.tolist(), "z_notes": z_notes.tolist(),
        "full_kl_closed": kl["full_closed"].tolist(), "full_kl_mc": kl["full_mc"].tolist(),
        "full_kl_mc_se": kl["full_se"].tolist(),
        "forward_fit": {"closed_form": [fwd_mean, fwd_var], "samples": [float(sample_mean), float(sample_var)],
                        "se": [float(mean_se), float(var_se)]},
        "reverse_fit": [rev_mean, rev_var],
        "reverse_restarts": {"start_mean": starts_mean.tolist(), "start_var": starts_var.tolist(),
                             "mean": rev_means.tolist(), "var": rev_vars.tolist(),
                             "kl_q_p": rev_objective.tolist()},
        "fraction_of_restarts_on_a_mode": float(np.mean(on_mode < MODE_TOL)),
        "kl_p_q": {"forward_fit": [float(fwd_pq), float(fwd_pq_se)], "reverse_fit": [float(rev_pq), float(rev_pq_se)]},
        "kl_q_p": {"forward_fit": fwd_qp, "reverse_fit": rev_qp},
    }
    data = {"kl": kl, "samples": samples, "mixture": (cfg.weights, cfg.means, cfg.variances),
            "fits": {"forward": (fwd_mean, fwd_var), "reverse": (rev_mean, rev_var)},
            "restarts": (rev_means, rev_vars, on_mode < MODE_TOL)}
    return Result(claims, metrics, data)


def plot(result: Result):
    d = result.data
    kl = d["kl"]
    fig, (ax1, ax2) = subplots(1, 2, width=4.8, title="KL divergences: closed form vs Monte Carlo; forward vs reverse")
    idx = np.arange(len(kl["closed"]))
    ax1.errorbar(idx, kl["mc"], yerr=2 * kl["se"], fmt="o", ms=4, capsize=2, label="Monte Carlo ± 2 SE (1-D)")
    ax1.plot(idx, kl["closed"], "k_", ms=14, mew=1.6, label="closed form")
    ax1.plot(idx, kl["notes"], "x", color="#d1495b", ms=6, label="notes' inverted formula")
    jdx = idx + len(idx) + 1
    ax1.errorbar(jdx, kl["full_mc"], yerr=2 * kl["full_se"], fmt="s", ms=4, capsize=2, color="#2a9d8f",
                 label="Monte Carlo ± 2 SE (full cov.)")
    ax1.plot(jdx, kl["full_closed"], "k_", ms=14, mew=1.6)
    ax1.axhline(0, color="0.4", lw=0.8)
    ax1.set(xlabel="pair", ylabel="KL(p0 || p1) [nats]", title="Gaussian KL")
    ax1.legend(fontsize=7)
    weights, means, variances = (np.asarray(a) for a in d["mixture"])
    grid = np.linspace(means.min() - 4 * np.sqrt(variances.max()) - 3, means.max() + 4 * np.sqrt(variances.max()) + 3,
                       600)
    density = np.sum(weights * np.exp(-0.5 * (grid[:, None] - means) ** 2 / variances)
                     / np.sqrt(2 * np.pi * variances), axis=1)
    ax2.hist(d["samples"], bins=120, density=True, color="0.85", label="samples of p")
    ax2.plot(grid, density, color="black", lw=1.2, label="target p (mixture)")
    for name, color in (("forward", "#1f5fa8"), ("reverse", "#d1495b")):
        m, v = d["fits"][name]
        ax2.plot(grid, np.exp(-0.5 * (grid - m) ** 2 / v) / np.sqrt(2 * np.pi * v), color=color,
                 label=f"{name} KL fit: N({m:.2f}, {v:.2f})")
    rev_means, _, ok = d["restarts"]
    ax2.plot(rev_means, np.full(len(rev_means), -0.02), "|", color="#d1495b", ms=10, label="reverse fits, all restarts")
    ax2.set(xlabel="x", ylabel="density", title="fit one Gaussian to a bimodal p")
    ax2.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="kl-divergences",
    description="Gaussian KL closed form vs Monte Carlo (the notes' inverted form fails); forward KL covers, reverse "
                "KL picks a mode.",
    config=Config, run=run, plot=plot)
