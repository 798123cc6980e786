"""Linear latent-variable models: probabilistic PCA, factor analysis, the generative classifier, the linear autoencoder.

PPCA: on data drawn from a PPCA model, EM (from a random start) reaches the Tipping & Bishop closed form W =
U_M (Lambda_M - sigma^2 I)^(1/2), sigma^2 = mean discarded eigenvalue. They are compared through the log-likelihood
and the marginal covariance W W^T + sigma^2 I, not through the loadings, which are identifiable only up to a rotation;
the closed form is also a stationary point of the log-likelihood (its autodiff gradient vanishes). Rotation
non-identifiability is shown twice: W R gives exactly the same marginal for a random orthogonal R, and factor-analysis
EM from two random starts reaches the same log-likelihood and covariance with different loadings. EM never decreases
the likelihood (checked at every iteration) and factor analysis, which nests PPCA, fits heteroscedastic data better.

As sigma^2 -> 0 the posterior mean (W^T W + sigma^2 I)^(-1) W^T (x - mu) tends to the pseudo-inverse W^+ (x - mu); the
error is sigma^2 (W^T W)^(-1) W^+ (x - mu) + O(sigma^4), so its log-log slope against sigma^2 is 1 and its ratio to
sigma^2 tends to that first-order coefficient.

Generative classifier: with a shared covariance and any priors, Bayes' rule p(y=1|x) is exactly sigma(w^T x + b),
w = Sigma^(-1)(mu_1 - mu_0), b = -(mu_1 + mu_0)^T w / 2 + ln(pi_1/pi_0) (the notes' w = mu_1 - mu_0 is the case Sigma =
I with equal priors). Fitted by maximum likelihood (LDA) on data drawn from the model, (w, b) agrees with logistic
regression (Newton's method) on the same data within sampling error, over independent replicates.

Linear autoencoder: C = A U_k^T, D = U_k A^(-1) is optimal for every invertible A (Baldi & Hornik 1989; the notes'
U_k^T A and A^(-1) U_k^T do not even have compatible shapes), and the objective is not jointly convex: the midpoint of
the optima (C, D) and (-C, -D) has error ||X||_F^2.
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dl_theory import checks
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.models.classical.linear import logistic_loss
from dl_theory.models.generative.generative_classifier import (
    GaussianClassifier,
    class_posterior,
    fit_gaussian_classifier,
    logistic_form,
)
from dl_theory.models.generative.linear_autoencoder import pca_autoencoder, reconstruction_error
from dl_theory.models.generative.linear_gaussian import (
    LinearGaussian,
    factor_analysis_em_trace,
    log_likelihood,
    marginal_covariance,
    posterior,
    ppca,
    sample,
)
from dl_theory.optim.transforms import newton
from dl_theory.stats import loglog_slope

N_SE = 5.0  # t-statistic bound over replicates (D + 1 coordinates per claim)
EM_RTOL = 1e-6  # EM vs closed form: covariance, relative to its largest entry (linear convergence, enough steps)
FLOAT_TOL = 1e-10  # float64 identities
NEWTON_STEPS = 12


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    dim: Annotated[int, checks.at_least(3)] = 10
    latent_dim: Annotated[int, checks.count] = 3
    n: Annotated[int, checks.at_least(50)] = 5000
    noise_var: Annotated[float, checks.positive] = 0.5
    em_steps: Annotated[int, checks.count] = 6000
    sigma2s: Annotated[tuple[float, ...], checks.each(checks.positive, min_length=3)] = (
        1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 1e-5, 1e-6)
    class_dim: Annotated[int, checks.count] = 4
    class_n: Annotated[int, checks.at_least(50)] = 4000
    replicates: Annotated[int, checks.at_least(8)] = 48
    prior1: Annotated[float, checks.probability] = 0.4

    @classmethod
    def quick(cls) -> "Config":
        return cls(n=2000, em_steps=4000, class_n=2000, replicates=24)


def _truth(key: jax.Array, dim: int, latent_dim: int, noise: jax.Array) -> LinearGaussian:
    """Loadings with decreasing column scales (a clear eigengap above the noise)."""
    k_w, k_m = jax.random.split(key)
    scales = jnp.linspace(3.0, 1.5, latent_dim)
    return LinearGaussian(jax.random.normal(k_m, (dim,)), jax.random.normal(k_w, (dim, latent_dim)) * scales[None],
                          noise)


def _ppca_part(cfg: Config, key: jax.Array) -> dict:
    keys = jax.random.split(key, 6)
    truth = _truth(keys[0], cfg.dim, cfg.latent_dim, jnp.full(cfg.dim, cfg.noise_var))
    x, _ = sample(keys[1], truth, cfg.n)
    closed = ppca(x, cfg.latent_dim)
    em, em_trace = factor_analysis_em_trace(keys[2], x, cfg.latent_dim, n_iter=cfg.em_steps, isotropic=True)
    ll_closed, ll_em = (float(jnp.mean(log_likelihood(m, x))) for m in (closed, em))
    cov_closed = marginal_covariance(closed)
    cov_gap = float(jnp.max(jnp.abs(marginal_covariance(em) - cov_closed)) / jnp.max(jnp.abs(cov_closed)))

    def mean_ll(w, log_s2):
        return jnp.mean(log_likelihood(LinearGaussian(closed.mean_D, w, jnp.full(cfg.dim, jnp.exp(log_s2))), x))

    grads = jax.grad(mean_ll, argnums=(0, 1))(closed.loading_DxM, jnp.log(closed.noise_var_D[0]))
    grad_norm = float(max(jnp.max(jnp.abs(g)) for g in grads))
    rotation, _ = jnp.linalg.qr(jax.random.normal(keys[3], (cfg.latent_dim, cfg.latent_dim)))
    rotated = closed._replace(loading_DxM=closed.loading_DxM @ rotation)
    rot_cov = float(jnp.max(jnp.abs(marginal_covariance(rotated) - cov_closed)))
    rot_ll = float(jnp.max(jnp.abs(log_likelihood(rotated, x) - log_likelihood(closed, x))))
    # sigma -> 0: posterior mean -> W^+ (x - mu), first-order error sigma^2 (W^T W)^-1 W^+ (x - mu).
    w = closed.loading_DxM
    x_eval = x[:20]
    pinv_z = (x_eval - closed.mean_D[None]) @ jnp.linalg.pinv(w).T
    coefficient = float(jnp.max(jnp.abs(pinv_z @ jnp.linalg.inv(w.T @ w).T)))
    errors = np.array([float(jnp.max(jnp.abs(posterior(closed._replace(noise_var_D=jnp.full(cfg.dim, s2)),
                                                        x_eval)[0] - pinv_z))) for s2 in cfg.sigma2s])
    return dict(ll_closed=ll_closed, ll_em=ll_em, cov_gap=cov_gap, grad_norm=grad_norm, rot_cov=rot_cov,
                rot_ll=rot_ll, errors=errors, coefficient=coefficient, eig=np.linalg.eigvalsh(np.cov(np.asarray(x).T)),
                em_trace=np.asarray(em_trace),
                sigma2=float(closed.noise_var_D[0]))


def _fa_part(cfg: Config, key: jax.Array) -> dict:
    keys = jax.random.split(key, 4)
    truth = _truth(keys[0], cfg.dim, cfg.latent_dim, jnp.linspace(0.3, 1.5, cfg.dim))
    x, _ = sample(keys[1], truth, cfg.n)
    fits, traces = zip(*(factor_analysis_em_trace(k, x, cfg.latent_dim, n_iter=cfg.em_steps) for k in keys[2:]),
                       strict=True)
    ll = [float(jnp.mean(log_likelihood(f, x))) for f in fits]
    covs = [marginal_covariance(f) for f in fits]
    return dict(ll=ll, cov_gap=float(jnp.max(jnp.abs(covs[0] - covs[1])) / jnp.max(jnp.abs(covs[0]))),
                loading_gap=float(jnp.max(jnp.abs(fits[0].loading_DxM - fits[1].loading_DxM))),
                ll_ppca=float(jnp.mean(log_likelihood(ppca(x, cfg.latent_dim), x))),
                trace=np.asarray(traces[0]),
                psi_true=np.asarray(truth.noise_var_D), psi_fit=np.asarray(fits[0].noise_var_D))


def _logistic_newton(x_NxD: jax.Array, y01_N: jax.Array) -> jax.Array:
    """Logistic-regression MLE ``(w, b)`` by Newton's method (quadratic convergence from 0)."""
    xa = jnp.concatenate([x_NxD, jnp.ones((x_NxD.shape[0], 1), x_NxD.dtype)], axis=1)

    def loss(w):
        return logistic_loss(w, xa, y01_N)

    opt = newton(loss)

    def step(w, _):
        updates, _ = opt.update(jax.grad(loss)(w), opt.init(w), w)
        return optax.apply_updates(w, updates), None

    return jax.lax.scan(step, jnp.zeros(xa.shape[1], x_NxD.dtype), None, length=NEWTON_STEPS)[0]


def _classifier_part(cfg: Config, key: jax.Array, rng: np.random.Generator) -> dict:
    d = cfg.class_dim
    a = rng.normal(size=(d, d))
    cov = jnp.asarray(a @ a.T / d + 0.5 * np.eye(d))
    means = jnp.asarray(0.7 * rng.normal(size=(2, d)))
    truth = GaussianClassifier(means, cov, jnp.array([1 - cfg.prior1, cfg.prior1]))
    w_true, b_true = logistic_form(truth)
    chol = jnp.linalg.cholesky(cov)

    def draw(k, n):
        k_y, k_x = jax.random.split(k)
        y = jax.random.bernoulli(k_y, cfg.prior1, (n,)).astype(jnp.int32)
        return means[y] + jax.random.normal(k_x, (n, d)) @ chol.T, y

    x_probe, _ = draw(jax.random.fold_in(key, 0), 1000)
    bayes_gap = float(jnp.max(jnp.abs(class_posterior(truth, x_probe) - jax.nn.sigmoid(x_probe @ w_true + b_true))))
    identity = GaussianClassifier(means, jnp.eye(d), jnp.array([0.5, 0.5]))
    w_id, b_id = logistic_form(identity)
    notes_gap = float(max(jnp.max(jnp.abs(w_id - (means[1] - means[0]))),
                          jnp.abs(b_id - 0.5 * (jnp.sum(means[0] ** 2) - jnp.sum(means[1] ** 2)))))

    def one(k):
        x, y = draw(k, cfg.class_n)
        w, b = logistic_form(fit_gaussian_classifier(x, y))
        return jnp.append(w, b), _logistic_newton(x, y)

    lda, lr = (np.asarray(v) for v in jax.jit(jax.vmap(one))(jax.random.split(jax.random.fold_in(key, 1),
                                                                               cfg.replicates)))
    truth_wb = np.append(np.asarray(w_true), float(b_true))
    r = cfg.replicates

    def t_stat(v):
        return np.abs(v.mean(axis=0)) / (v.std(axis=0, ddof=1) / np.sqrt(r))

    return dict(bayes_gap=bayes_gap, notes_gap=notes_gap, lda=lda, lr=lr, truth=truth_wb,
                t_diff=t_stat(lr - lda), t_lda=t_stat(lda - truth_wb[None]), t_lr=t_stat(lr - truth_wb[None]),
                spread_ratio=float(np.mean(np.sum((lr - lda) ** 2, 1)) / np.mean(np.sum((lr - truth_wb) ** 2, 1))))


def _autoencoder_part(cfg: Config, key: jax.Array) -> dict:
    k_x, k_a, k_m = jax.random.split(key, 3)
    x = jax.random.normal(k_x, (500, cfg.dim)) @ jax.random.normal(k_m, (cfg.dim, cfg.dim))
    x = x - jnp.mean(x, axis=0)[None]
    k = cfg.latent_dim
    best = float(jnp.sum(jnp.linalg.svd(x, compute_uv=False)[k:] ** 2))
    enc, dec = pca_autoencoder(x, k, jax.random.normal(k_a, (k, k)))
    return dict(best=best, error=float(reconstruction_error(enc, dec, x)),
                midpoint=float(reconstruction_error(0.0 * enc, 0.0 * dec, x)))


def run(cfg: Config) -> Result:
    if cfg.latent_dim >= cfg.dim:
        raise checks.fail("latent_dim", f"smaller than dim = {cfg.dim}", cfg.latent_dim)
    key = jax.random.key(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    with jax.enable_x64(True):
        pp = _ppca_part(cfg, jax.random.fold_in(key, 0))
        fa = _fa_part(cfg, jax.random.fold_in(key, 1))
        clf = _classifier_part(cfg, jax.random.fold_in(key, 2), rng)
        ae = _autoencoder_part(cfg, jax.random.fold_in(key, 3))
    s2 = np.asarray(cfg.sigma2s)
    small = s2 <= 1e-3
    slope = loglog_slope(s2[small], pp["errors"][small])[0]
    smallest = int(np.argmin(s2))
    em_drop = max(float(np.max(-np.diff(t))) for t in (pp["em_trace"], fa["trace"]))
    claims = [
        Claim.close("ppca-em-loglik", "PPCA: EM mean log-likelihood = Tipping-Bishop closed form (float64)",
                    pp["ll_closed"], pp["ll_em"], rtol=FLOAT_TOL),
        Claim.at_most("ppca-em-covariance", f"PPCA: max |(WW^T + s^2 I)_EM - (...)_closed| / max |(...)_closed| after "
                      f"{cfg.em_steps} EM steps", EM_RTOL, pp["cov_gap"]),
        Claim.at_most("ppca-closed-form-stationary", "max |autodiff gradient of the mean log-likelihood| in "
                      "(W, ln s^2) at the closed form", FLOAT_TOL, pp["grad_norm"]),
        Claim.at_most("rotation-same-marginal", "max |C(WR) - C(W)| and max |log p_WR(x) - log p_W(x)| for a random "
                      "orthogonal R (exact non-identifiability)", FLOAT_TOL, max(pp["rot_cov"], pp["rot_ll"])),
        Claim.at_least("fa-loadings-differ", "factor analysis, EM from two random starts: max |W_1 - W_2| (> 0.1: the "
                       "loadings are not identified)", 0.1, fa["loading_gap"]),
        Claim.at_most("fa-same-covariance", "... while max |C_1 - C_2| / max |C_1| (the marginal is identified)",
                      EM_RTOL, fa["cov_gap"]),
        Claim.close("fa-same-loglik", "... and the two mean log-likelihoods agree", fa["ll"][0], fa["ll"][1],
                    rtol=FLOAT_TOL),
        Claim.at_most("em-monotone", "largest decrease of the mean log-likelihood over the EM steps (PPCA and FA)",
                      0.0, em_drop, slack=FLOAT_TOL),
        Claim.at_least("fa-beats-ppca", "heteroscedastic noise: FA mean log-likelihood - PPCA's (FA nests PPCA)", 0.0,
                       fa["ll"][0] - fa["ll_ppca"]),
        Claim.close("pinv-limit-slope", "log-log slope of max |E[z|x] - W^+(x - mu)| against s^2 (s^2 <= 1e-3)", 1.0,
                    slope, atol=0.01),
        Claim.close("pinv-limit-coefficient", f"error / s^2 at s^2 = {s2[smallest]:g} vs max |(W^T W)^-1 W^+(x - mu)|",
                    pp["coefficient"], pp["errors"][smallest] / s2[smallest], rtol=1e-3),
        Claim.at_most("bayes-is-logistic", "max over 1000 points |p(y=1|x) by Bayes' rule - sigma(w^T x + b)|, "
                      f"Sigma != I, prior {cfg.prior1}", FLOAT_TOL, clf["bayes_gap"]),
        Claim.at_most("notes-special-case", "Sigma = I, equal priors: max |w - (mu_1 - mu_0)|, |b - (|mu_0|^2 - "
                      "|mu_1|^2)/2|", FLOAT_TOL, clf["notes_gap"]),
        Claim.at_most("lda-matches-logistic", f"max over (w, b) of |mean(LR - LDA)| / SE over {cfg.replicates} "
                      f"replicates of n={cfg.class_n}", N_SE, float(clf["t_diff"].max())),
        Claim.at_most("lda-unbiased", "max over (w, b) of |mean(LDA) - truth| / SE", N_SE,
                      float(clf["t_lda"].max())),
        Claim.at_most("logistic-unbiased", "max over (w, b) of |mean(LR) - truth| / SE", N_SE,
                      float(clf["t_lr"].max())),
        Claim.close("autoencoder-optimum-set", "linear autoencoder C = A U_k^T, D = U_k A^-1 (random A): error / "
                    "sum_{j>k} s_j^2", 1.0, ae["error"] / ae["best"], rtol=FLOAT_TOL),
        Claim.at_least("autoencoder-not-convex", "error at the midpoint of the optima (C, D) and (-C, -D) minus the "
                       "optimum (> 0: not jointly convex)", 0.0, ae["midpoint"] - ae["best"]),
    ]
    metrics = {
        "ppca": {"loglik_closed": pp["ll_closed"], "loglik_em": pp["ll_em"], "cov_rel_gap": pp["cov_gap"],
                 "grad_at_closed_form": pp["grad_norm"], "sigma2": pp["sigma2"],
                 "sample_cov_eigenvalues": pp["eig"][::-1].tolist()},
        "factor_analysis": {"loglik": fa["ll"], "loglik_ppca": fa["ll_ppca"], "cov_rel_gap": fa["cov_gap"],
                            "loading_gap": fa["loading_gap"], "psi_true": fa["psi_true"].tolist(),
                            "psi_fit": fa["psi_fit"].tolist()},
        "pinv_limit": {"sigma2": s2.tolist(), "max_error": pp["errors"].tolist(), "slope": slope,
                       "first_order_coefficient": pp["coefficient"]},
        "classifier": {"bayes_gap": clf["bayes_gap"], "truth_wb": clf["truth"].tolist(),
                       "lda_mean": clf["lda"].mean(0).tolist(), "lr_mean": clf["lr"].mean(0).tolist(),
                       "t_lr_minus_lda": clf["t_diff"].tolist(), "mean_sq_diff_over_lr_mse": clf["spread_ratio"]},
        "autoencoder": ae,
    }
    data = {"pp": pp, "fa": fa, "clf": clf, "sigma2s": s2}
    return Result(claims, metrics, data)


def plot(result: Result):
    d = result.data
    fig, axes = subplots(1, 4, width=3.6, title="Linear latent-variable models")
    ax = axes[0]
    eig = d["pp"]["eig"][::-1]
    ax.semilogy(np.arange(1, len(eig) + 1), eig, "o-", ms=4, label="sample covariance eigenvalues")
    ax.axhline(d["pp"]["sigma2"], color="#d1495b", ls=":", label="PPCA σ² = mean discarded")
    ax.set(xlabel="index", ylabel="eigenvalue", title="PPCA closed form")
    ax.legend(fontsize=7)
    ax = axes[1]
    gap = d["pp"]["ll_closed"] - d["pp"]["em_trace"]
    steps = np.arange(1, len(gap) + 1)
    ax.loglog(steps[gap > 0], gap[gap > 0], label="PPCA EM: closed form − EM")
    ax.set(xlabel="EM step", ylabel="mean log-likelihood gap", title="EM → Tipping–Bishop optimum")
    ax.legend(fontsize=7)
    ax = axes[2]
    s2, err = d["sigma2s"], d["pp"]["errors"]
    ax.loglog(s2, err, "o", ms=4, label="max |E[z|x] − W⁺(x−μ)|")
    theory_line(ax, s2, d["pp"]["coefficient"] * s2, label="σ² ‖(WᵀW)⁻¹W⁺(x−μ)‖∞")
    ax.set(xlabel="σ²", ylabel="error", title="posterior mean → pseudo-inverse")
    ax.legend(fontsize=7)
    ax = axes[3]
    lda, lr, truth = d["clf"]["lda"], d["clf"]["lr"], d["clf"]["truth"]
    for j in range(lda.shape[1]):
        ax.plot(lr[:, j], lda[:, j], ".", ms=4, label=None)
    lo, hi = min(lda.min(), lr.min()), max(lda.max(), lr.max())
    theory_line(ax, [lo, hi], [lo, hi], label="LDA = logistic regression")
    ax.plot(truth, truth, "k*", ms=8, label="true (w, b)")
    ax.set(xlabel="logistic regression (w, b)", ylabel="LDA (w, b)", title="generative classifier vs LR")
    ax.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="linear-latent-models",
    description="PPCA closed form = EM optimum, rotation non-identifiability, posterior → pseudo-inverse, Gaussian "
                "generative classifier = logistic regression.",
    config=Config, run=run, plot=plot)
