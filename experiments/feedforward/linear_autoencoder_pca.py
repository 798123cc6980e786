r"""Linear autoencoder = PCA: gradient descent reaches Eckart-Young, the optimum set, and the saddles (Baldi-Hornik).

The linear autoencoder L(C, D) = (1/N) ||X - X C^T D^T||_F^2 (encoder C in R^{k x d}, decoder D in R^{d x k}; the
library's dl_theory.models.generative.linear_autoencoder) on centred data with known singular values: X = sqrt(N) Q
diag(sqrt(lambda)) V^T, so the sample covariance X^T X / N has eigenvalues lambda_1 > ... > lambda_d and
eigenvectors V; the best rank-k reconstruction error is sum_{i>k} lambda_i (Eckart & Young 1936; the reference value
comes from numpy's SVD of X).

* Full-batch gradient descent (dl_theory.training.train, float64) from random inits of several scales, and from just
  beside a saddle, reaches the Eckart-Young error (relative gap at float precision): no run stops at a spurious
  local minimum. The decoder then spans the top-k eigenvectors: for any (C, D), L(C, D) - L* >= (lambda_k -
  lambda_{k+1}) sin^2 theta_max, theta_max the largest principal angle between span D and span V_k (the best
  reconstruction with decoder span S is the projection on S), so the loss tolerance bounds the angle.
* The optimum set: (A^-1 C, D A) has the same loss for every invertible A (the product D C is unchanged; the notes'
  U_k^T A and A^-1 U_k^T are the slip); checked for random A at the trained optimum, up to cond(A) eps.
* Non-convexity, measured: every critical point is C = V_S^T, D = V_S for a k-subset S of eigenvectors (up to
  GL(k)). The dense float64 Hessian (dl_theory.curvature.hessian) there has exactly k^2 zero eigenvalues (the GL(k)
  orbit) and one negative eigenvalue per inversion (i in S, j not in S, lambda_j > lambda_i), equal to
  lambda_i + lambda_j - sqrt((lambda_i - lambda_j)^2 + 4 lambda_j^2) (the 2 x 2 block [[2 lambda_j, -2 lambda_j],
  [-2 lambda_j, 2 lambda_i]] of the perturbation C_i += a v_j^T, D_i += b v_j). So the only critical points without
  negative curvature are the top-k ones (every local minimum is global, Baldi & Hornik 1989), and a negative
  eigenvalue means the objective is not convex. The linear-latent-models experiment shows the same non-convexity by
  the midpoint of (C, D) and (-C, -D).
"""

import itertools
from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.linalg

from dl_theory import checks
from dl_theory.curvature.hessian import hessian
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.models.generative.linear_autoencoder import reconstruction_error
from dl_theory.training import train

EPS = float(np.finfo(np.float64).eps)
LOSS_RTOL = 1e-10  # float64 convergence of the loss to Eckart-Young (linear rate; enough steps)
SADDLE_NUDGE = 1e-6  # perturbation of the runs started at a saddle
ZERO_EIG = 1e-8  # |Hessian eigenvalue| below this (relative to lambda_1) counts as zero


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    dim: Annotated[int, checks.at_least(3)] = 10
    latent: Annotated[int, checks.count] = 3
    n: Annotated[int, checks.at_least(20)] = 500
    decay: Annotated[float, checks.in_interval(0.0, 1.0)] = 0.7  # lambda_i = decay^(i-1)
    init_scales: Annotated[tuple[float, ...], checks.each(checks.positive)] = (0.01, 0.1, 0.5)
    inits_per_scale: Annotated[int, checks.count] = 8
    saddle_starts: Annotated[int, checks.count] = 4
    steps: Annotated[int, checks.count] = 4000
    lr: Annotated[float, checks.positive] = 0.2  # < 2 / (largest Hessian eigenvalue along the path), lambda_1 = 1
    n_transforms: Annotated[int, checks.count] = 8

    @classmethod
    def quick(cls) -> "Config":
        return cls(dim=8, n=200, inits_per_scale=3, saddle_starts=2, steps=2500, n_transforms=4)


def _data(cfg: Config, rng: np.random.Generator):
    g = rng.normal(size=(cfg.n, cfg.dim))
    q = np.linalg.qr(g - g.mean(0))[0]  # orthonormal, centred columns
    v = np.linalg.qr(rng.normal(size=(cfg.dim, cfg.dim)))[0]
    lam = cfg.decay ** np.arange(cfg.dim)
    return np.sqrt(cfg.n) * q @ np.diag(np.sqrt(lam)) @ v.T, lam, v


def _loss(params, x_NxD):
    """Mean squared reconstruction error of one autoencoder ``{"encoder", "decoder"}``."""
    return reconstruction_error(params["encoder"], params["decoder"], x_NxD) / x_NxD.shape[0]


def _sin_max_angle(decoder_DxK, v_DxK):
    """sin of the largest principal angle between span(decoder) and span(v): ||(I - V V^T) Q_decoder||_2."""
    q = jnp.linalg.qr(decoder_DxK)[0]
    return jnp.linalg.norm(q - v_DxK @ (v_DxK.T @ q), ord=2)


def _critical_point(v_DxD, subset):
    vs = jnp.asarray(v_DxD[:, list(subset)])
    return {"encoder": vs.T, "decoder": vs}


def _inversions(subset, dim):
    return [(i, j) for i in subset for j in range(dim) if j not in subset and j < i]


def _training_part(cfg: Config, x, lam, v, key) -> dict:
    k, d = cfg.latent, cfg.dim
    scales = np.repeat(np.asarray(cfg.init_scales, float), cfg.inits_per_scale)
    k_e, k_d, k_s = jax.random.split(key, 3)
    n_rand = len(scales)
    enc = jax.random.normal(k_e, (n_rand, k, d)) * scales[:, None, None] / np.sqrt(d)
    dec = jax.random.normal(k_d, (n_rand, d, k)) * scales[:, None, None] / np.sqrt(k)
    # starts beside the saddle S = {1..k-1, k+1} (swap the k-th eigenvector for the (k+1)-th)
    saddle = _critical_point(v, (*range(k - 1), k))
    k_se, k_sd = jax.random.split(k_s)
    params0 = {"encoder": jnp.concatenate([enc, saddle["encoder"][None] + SADDLE_NUDGE * jax.random.normal(
                   k_se, (cfg.saddle_starts, k, d))]),
               "decoder": jnp.concatenate([dec, saddle["decoder"][None] + SADDLE_NUDGE * jax.random.normal(
                   k_sd, (cfg.saddle_starts, d, k))])}
    x = jnp.asarray(x)
    v_k = jnp.asarray(v[:, :k])
    losses = jax.jit(jax.vmap(_loss, in_axes=(0, None)))
    angles = jax.jit(jax.vmap(_sin_max_angle, in_axes=(0, None)))

    def callback(step, params):
        return {"losses": losses(params, x), "sin_angle": angles(params["decoder"], v_k)}

    def total(params_R, batch):  # independent runs: the gradient of the sum is each run's own gradient
        return jnp.sum(jax.vmap(_loss, in_axes=(0, None))(params_R, batch[0]))

    params, hist = train(total, params0, optax.sgd(cfg.lr), (x,), n_steps=cfg.steps,
                         log_every=max(cfg.steps // 100, 1), callback=callback, desc="linear AE (GD)")
    final = np.asarray(losses(params, x))
    sub_angles = np.array([scipy.linalg.subspace_angles(np.asarray(dd), v[:, :k]).max()
                           for dd in params["decoder"]])
    return {"params": params, "final": final, "angles": sub_angles, "scales": scales, "n_random": n_rand,
            "steps": np.asarray(hist["log_step"]), "loss_trace": np.asarray(hist["losses"]),
            "angle_trace": np.asarray(hist["sin_angle"])}


def _transform_part(cfg: Config, x, params, rng) -> dict:
    c, dd = np.asarray(params["encoder"][0]), np.asarray(params["decoder"][0])
    base = float(_loss({"encoder": c, "decoder": dd}, jnp.asarray(x)))
    gaps, tols = [], []
    for _ in range(cfg.n_transforms):
        a = rng.normal(size=(cfg.latent, cfg.latent)) + 0.5 * np.eye(cfg.latent)
        moved = {"encoder": np.linalg.solve(a, c), "decoder": dd @ a}
        gaps.append(abs(float(_loss(moved, jnp.asarray(x))) - base) / base)
        tols.append(16 * (cfg.dim + cfg.latent) * np.linalg.cond(a) * EPS * float(np.sum(np.asarray(x) ** 2))
                    / cfg.n / base)
    return {"gaps": gaps, "tols": tols}


def _hessian_part(cfg: Config, x, lam, v) -> dict:
    x = jnp.asarray(x)
    loss = lambda p, batch: _loss(p, batch[0])  # noqa: E731
    dense = jax.jit(lambda p: hessian(loss, p, (x,)))
    grad = jax.jit(jax.grad(loss))
    rows = []
    for subset in itertools.combinations(range(cfg.dim), cfg.latent):
        p = _critical_point(v, subset)
        eig = np.linalg.eigvalsh(np.asarray(dense(p)))
        g = max(float(jnp.max(jnp.abs(leaf))) for leaf in jax.tree.leaves(grad(p, (x,))))
        pairs = _inversions(subset, cfg.dim)
        theory = np.sort([lam[i] + lam[j] - np.sqrt((lam[i] - lam[j]) ** 2 + 4 * lam[j] ** 2) for i, j in pairs])
        negative = eig[eig < -ZERO_EIG]
        rows.append({"subset": subset, "grad": g, "eig": eig, "n_negative": len(negative), "n_inversions": len(pairs),
                     "n_zero": int(np.sum(np.abs(eig) <= ZERO_EIG)), "negative": negative, "theory": theory,
                     "loss": float(loss(p, (x,)))})
    return {"rows": rows}


def run(cfg: Config) -> Result:
    if cfg.latent >= cfg.dim:
        raise checks.fail("latent", f"smaller than dim = {cfg.dim}", cfg.latent)
    rng = np.random.default_rng(cfg.seed)
    key = jax.random.key(cfg.seed)
    with jax.enable_x64(True):
        x, lam, v = _data(cfg, rng)
        k = cfg.latent
        s = np.linalg.svd(x, compute_uv=False)
        best = float(np.sum(s[k:] ** 2) / cfg.n)  # Eckart-Young, from numpy's SVD
        tr = _training_part(cfg, x, lam, v, key)
        tf = _transform_part(cfg, x, tr["params"], rng)
        he = _hessian_part(cfg, x, lam, v)
    gap = lam[k - 1] - lam[k]
    rel = (tr["final"] - best) / best
    angle_bound = float(np.arcsin(min(1.0, np.sqrt(LOSS_RTOL * best / gap))))
    rows = he["rows"]
    top = next(r for r in rows if r["subset"] == tuple(range(k)))
    counts_ok = all(r["n_negative"] == r["n_inversions"] for r in rows)
    eig_err = max((float(np.max(np.abs(r["negative"] - r["theory"]))) for r in rows
                   if r["n_negative"] == r["n_inversions"] and r["n_negative"] > 0), default=0.0)
    n_random = tr["n_random"]
    claims = [
        Claim.close("eckart-young-reached", f"{n_random} random inits (scales {cfg.init_scales}), {cfg.steps} GD "
                    "steps: max over runs of |L - L*| / L*, L* = sum_{i>k} s_i^2 / N from numpy's SVD", 0.0,
                    float(np.max(np.abs(rel[:n_random]))), atol=LOSS_RTOL),
        Claim.close("saddle-start-escapes", f"{cfg.saddle_starts} runs started {SADDLE_NUDGE:g} from the saddle S = "
                    "{1..k-1, k+1}: max |L - L*| / L* (GD leaves the saddle and reaches the global value)", 0.0,
                    float(np.max(np.abs(rel[n_random:]))), atol=LOSS_RTOL),
        Claim.at_most("principal-angle", "max over runs of the largest principal angle between span(decoder) and the "
                      "top-k eigenvectors (scipy.linalg.subspace_angles); bound arcsin sqrt(tol L* / (lambda_k - "
                      "lambda_{k+1}))", angle_bound, float(np.max(tr["angles"])), slack=1e-7),
        Claim("invertible-a-same-loss", f"{cfg.n_transforms} random invertible A: max |L(A^-1 C, D A) - L(C, D)| / L "
              "<= 16 (d + k) cond(A) eps ||X||^2 / (N L)", 0.0, max(tf["gaps"]), max(tf["tols"]),
              all(g <= t for g, t in zip(tf["gaps"], tf["tols"], strict=True))),
        Claim.at_most("critical-points", f"all {len(rows)} subsets S: max |grad L| at C = V_S^T, D = V_S (critical)",
                      0.0, max(r["grad"] for r in rows), slack=1e3 * EPS),
        Claim("saddle-index", "every S: #negative Hessian eigenvalues = #inversions (i in S, j not in S, lambda_j > "
              "lambda_i) (count mismatches)", 0, sum(r["n_negative"] != r["n_inversions"] for r in rows), 0,
              counts_ok),
        Claim.at_most("saddle-eigenvalues", "... and they equal lambda_i + lambda_j - sqrt((lambda_i - lambda_j)^2 + "
                      "4 lambda_j^2): max abs difference", 0.0, eig_err, slack=1e3 * EPS),
        Claim.close("orbit-zero-eigenvalues", "every S: number of zero Hessian eigenvalues = k^2 (the GL(k) "
                    "orbit; max |count - k^2|)", 0.0, max(abs(r["n_zero"] - k * k) for r in rows)),
        Claim.at_most("not-convex", "smallest Hessian eigenvalue over the critical points (< 0, below the zero "
                      "threshold: not convex)", -ZERO_EIG, min(float(r["eig"][0]) for r in rows)),
        Claim.close("only-top-k-is-minimum", "number of critical subsets without negative curvature (1: only the "
                    "top-k, every local minimum is global)", 1.0, sum(r["n_negative"] == 0 for r in rows)),
        Claim.at_least("optimum-psd", "smallest Hessian eigenvalue at the top-k critical point (>= 0 up to rounding)",
                       0.0, float(top["eig"][0]), slack=ZERO_EIG),
    ]
    metrics = {
        "eckart_young": best, "eigenvalues": lam.tolist(), "eigengap": float(gap),
        "final_relative_gap": rel.tolist(), "max_principal_angle": tr["angles"].tolist(),
        "transform_gaps": tf["gaps"],
        "critical_points": [{"subset": list(r["subset"]), "loss": r["loss"], "n_negative": r["n_negative"],
                             "n_inversions": r["n_inversions"], "n_zero": r["n_zero"],
                             "min_eigenvalue": float(r["eig"][0])} for r in rows],
    }
    return Result(claims, metrics, {"tr": tr, "he": he, "best": best, "lam": lam, "k": k})


def plot(result: Result):
    d = result.data
    tr, he, best = d["tr"], d["he"], d["best"]
    fig, axes = subplots(1, 3, width=4.2, height=3.4, title="Linear autoencoder: gradient descent finds PCA")
    ax = axes[0]
    n_random = tr["n_random"]
    gap = np.maximum((tr["loss_trace"] - best) / best, 1e-17)
    for r in range(gap.shape[1]):
        saddle = r >= n_random
        ax.semilogy(tr["steps"], gap[:, r], color="#d1495b" if saddle else "#1f5fa8", alpha=0.9 if saddle else 0.5,
                    lw=1.4 if saddle else 1.0,
                    label=("from beside a saddle" if r == n_random else "random init" if r == 0 else None))
    ax.set(xlabel="GD step", ylabel="(L − L*) / L*", title=r"reaches Eckart–Young $\sum_{i>k}\lambda_i$")
    ax.legend(fontsize=7)
    ax = axes[1]
    for r in range(tr["angle_trace"].shape[1]):
        ax.semilogy(tr["steps"], np.maximum(tr["angle_trace"][:, r], 1e-16),
                    color="#d1495b" if r >= n_random else "#1f5fa8", alpha=0.6, lw=1.0)
    ax.set(xlabel="GD step", ylabel="sin θ_max (decoder vs top-k)", title="decoder → top-k principal subspace")
    ax = axes[2]
    rows = he["rows"]
    meas = np.concatenate([r["negative"] for r in rows if len(r["negative"]) == len(r["theory"])])
    theo = np.concatenate([r["theory"] for r in rows if len(r["negative"]) == len(r["theory"])])
    ax.plot(-theo, -meas, "o", ms=4, alpha=0.6, label="negative Hessian eigenvalues, all saddles")
    lim = [0, float(np.max(-theo)) * 1.05]
    theory_line(ax, lim, lim, label="λᵢ+λⱼ−√((λᵢ−λⱼ)²+4λⱼ²)")
    ax.set(xlabel="−theory", ylabel="−measured (dense Hessian)",
           title="saddles: one descent direction per inversion")
    ax.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="linear-autoencoder-pca",
    description="Linear autoencoder trained by GD reaches Eckart-Young and the top-k subspace; optimum set D A, "
                "A^-1 C; every other critical point is a saddle (Hessian index = inversions), so not convex.",
    config=Config, run=run, plot=plot)
