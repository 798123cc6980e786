"""Hessian spectrum of a small classifier: matrix-free estimates vs the dense eigendecomposition.

A tanh MLP is trained briefly with cross-entropy on a subset of scikit-learn's digits. At the trained point the
dense Hessian (``jax.hessian``) gives the exact spectrum; the matrix-free routines see only Hessian-vector
products: Lanczos top-k (vs ``eigh``), Hutchinson's trace (vs the exact trace, in standard errors), and the
stochastic-Lanczos-quadrature density (its moments vs the exact ones; its distribution vs the eigenvalue
histogram). The spectrum has the bulk-plus-outliers shape reported by Sagun et al. (2017), Ghorbani et al. (2019)
and Papyan (2019): most eigenvalues near zero and a few large ones.
"""

from dataclasses import dataclass

import jax
import numpy as np
import optax

from dl_theory import data as dl_data
from dl_theory import losses, models
from dl_theory.curvature import hessian
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots
from dl_theory.training import train


@dataclass(frozen=True)
class Config:
    seed: int = 0
    n_examples: int = 512
    widths: tuple[int, ...] = (64, 16, 10)
    train_steps: int = 150
    learning_rate: float = 0.5
    k: int = 5
    lanczos_iters: int = 80
    trace_probes: int = 300
    slq_probes: int = 16
    slq_iters: int = 60
    batch_size: int = 128

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_examples=256, widths=(64, 12, 10), trace_probes=200, slq_probes=10, slq_iters=40)


def wasserstein1(nodes_a, weights_a, nodes_b, weights_b) -> float:
    """W1 distance between two discrete measures on the line: the integral of |F_a - F_b|."""
    x = np.concatenate([nodes_a, nodes_b])
    w = np.concatenate([weights_a, -np.asarray(weights_b)])
    order = np.argsort(x)
    cdf_gap = np.cumsum(w[order])[:-1]
    return float(np.sum(np.abs(cdf_gap) * np.diff(x[order])))


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    k_init, k_top, k_trace, k_slq = jax.random.split(key, 4)
    data = dl_data.digits_subset(cfg.n_examples, cfg.seed)
    init_fn, apply_fn = models.dense_mlp(cfg.widths[1:-1], cfg.widths[-1])
    loss_fn = losses.cross_entropy(apply_fn)
    params, hist = train(loss_fn, init_fn(k_init, (-1, cfg.widths[0]))[1], optax.sgd(cfg.learning_rate), data,
                         n_steps=cfg.train_steps, log_every=cfg.train_steps, desc="hessian-spectrum training")
    matvec, dim = hessian.hessian_matvec(loss_fn, params, data, batch_size=cfg.batch_size)
    with jax.enable_x64(True):
        lam = np.linalg.eigvalsh(np.asarray(hessian.hessian(loss_fn, params, data), np.float64))[::-1]

    top, _ = jax.jit(lambda k: hessian.top_eigenvalues(matvec, dim, cfg.k, key=k, num_iters=cfg.lanczos_iters))(k_top)
    rel_err = np.abs(np.asarray(top) - lam[: cfg.k]) / np.abs(lam[: cfg.k])
    tr = jax.jit(lambda k: hessian.trace(matvec, dim, key=k, num_probes=cfg.trace_probes, chunk_size=50))(k_trace)
    exact_trace = float(np.sum(lam))
    z_trace = abs(float(tr.mean) - exact_trace) / float(tr.stderr)
    sd = jax.jit(lambda k: hessian.spectral_density(matvec, dim, key=k, num_probes=cfg.slq_probes,
                                                    num_iters=cfg.slq_iters))(k_slq)
    nodes, weights = np.asarray(sd.nodes, np.float64), np.asarray(sd.weights, np.float64)
    moment_z = {}
    for p in (1, 2):
        per_probe = np.sum(weights * nodes**p, axis=1)
        se = per_probe.std(ddof=1) / np.sqrt(len(per_probe))
        moment_z[p] = abs(per_probe.mean() - np.mean(lam**p)) / se
    w1 = wasserstein1(nodes.ravel(), weights.ravel() / cfg.slq_probes, lam, np.full(dim, 1.0 / dim))
    width = lam[0] - lam[-1]
    bulk = np.median(np.abs(lam))
    claims = [
        Claim.at_most("lanczos-top-k", f"max relative error of the top-{cfg.k} Lanczos eigenvalues vs eigh", 1e-4,
                      float(rel_err.max())),
        Claim.at_most("hutchinson-trace", f"|Hutchinson trace - tr H| in standard errors ({cfg.trace_probes} "
                      "Rademacher probes)", 3.0, z_trace),
        Claim.at_most("slq-first-moment", "|SLQ mean eigenvalue - tr(H)/D| in standard errors", 3.0, moment_z[1]),
        Claim.at_most("slq-second-moment", "|SLQ mean squared eigenvalue - tr(H^2)/D| in standard errors", 3.0,
                      moment_z[2]),
        Claim.at_most("slq-density-vs-histogram", "W1(SLQ measure, exact eigenvalue measure) / spectral width",
                      0.01, w1 / width),
        Claim.at_least("bulk-plus-outliers", "lambda_max / median |lambda| (a few outliers far above a bulk at 0)",
                       20.0, float(lam[0] / bulk)),
    ]
    metrics = {
        "dim": dim, "train_loss": [float(hist["loss"][0]), float(hist["loss"][-1])],
        "top_eigenvalues_exact": lam[: cfg.k].tolist(), "top_eigenvalues_lanczos": np.asarray(top).tolist(),
        "trace_exact": exact_trace, "trace_estimate": float(tr.mean), "trace_stderr": float(tr.stderr),
        "slq_moment_z": {str(k): float(v) for k, v in moment_z.items()}, "w1_over_width": w1 / width,
        "median_abs_eigenvalue": float(bulk), "fraction_below_1pct_of_max": float(np.mean(np.abs(lam) < 0.01 * lam[0])),
    }
    return Result(claims, metrics, {"lam": lam, "grid": np.asarray(sd.grid), "density": np.asarray(sd.density),
                                    "top": np.asarray(top)})


def plot(result: Result):
    fig, (ax1, ax2) = subplots(1, 2, width=4.6, title="Hessian spectrum of a trained tanh MLP (digits)")
    lam = result.data["lam"]
    ax1.hist(lam, bins=120, density=True, color="#bbbbbb", label="exact eigenvalues (eigh)")
    ax1.plot(result.data["grid"], result.data["density"], color="C0", label="SLQ density")
    ax1.set(xlabel="eigenvalue", ylabel="density", yscale="log", ylim=(1e-2, None))
    ax1.legend(fontsize=7.5)
    k = len(result.data["top"])
    ax2.plot(np.arange(1, 31), lam[:30], "o", color="#777777", ms=4, label="eigh")
    ax2.plot(np.arange(1, k + 1), result.data["top"], "x", color="C1", ms=7, label="Lanczos top-k")
    ax2.set(xlabel="index i", ylabel="λ_i", title="largest eigenvalues")
    ax2.legend()
    return fig


EXPERIMENT = Experiment(
    id="hessian-spectrum",
    description="Lanczos top-k, Hutchinson trace and SLQ density of a trained MLP's Hessian vs dense eigh.",
    config=Config, run=run, plot=plot)
