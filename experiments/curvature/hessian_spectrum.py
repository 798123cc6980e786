r"""Hessian spectrum of a small classifier: matrix-free estimates vs the dense eigendecomposition.

A tanh MLP is trained briefly with cross-entropy on a subset of scikit-learn's digits. At the trained point the dense
Hessian (``jax.hessian``) gives the exact spectrum; the matrix-free routines of :mod:`dl_theory.curvature` see only
Hessian-vector products: Lanczos top-k (vs ``eigh``), Hutchinson's trace (vs the exact trace) and the
stochastic-Lanczos-quadrature density (its moments vs the exact ones, its distribution vs the eigenvalue histogram).

Hutchinson's estimate :math:`\frac1m\sum_j v_j^\top H v_j` with Rademacher probes is unbiased with variance
:math:`\sigma^2/m`, :math:`\sigma^2 = 2(\|H\|_F^2 - \sum_i H_{ii}^2)` (Hutchinson 1989; Avron & Toledo 2011), and the
dense Hessian gives :math:`\sigma` exactly, so the claim measures the error in units of this exact standard error:
under the central limit theorem it exceeds 3 with probability 0.27%. The per-probe values :math:`v^\top H v` are
right-skewed (a few large eigenvalues dominate them), and the Studentized error, divided by the probes' own sample
standard deviation, has a heavier lower tail: a probe set that misses the large values has both a low mean and a low
spread. The library's standard error is reported next to the exact one as a metric.

The spectrum has the bulk-plus-outliers shape reported by Sagun et al. (2017), Ghorbani et al. (2019) and Papyan
(2019): most eigenvalues near zero and a few large ones.
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import numpy as np
import optax

from dl_theory import checks, losses, models, stats
from dl_theory import data as dl_data
from dl_theory.curvature import hessian
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots
from dl_theory.training import train

Count = Annotated[int, checks.count]


@dataclass(frozen=True)
class Config:
    seed: int = 0
    n_examples: Annotated[int, checks.at_least(10)] = 512
    widths: Annotated[tuple[int, ...], checks.each(checks.count, min_length=3)] = (64, 16, 10)
    train_steps: Count = 150
    learning_rate: Annotated[float, checks.positive] = 0.5
    k: Count = 5
    lanczos_iters: Count = 80
    trace_probes: Annotated[int, checks.at_least(30)] = 300  # a central limit for the trace's z-score
    slq_probes: Annotated[int, checks.at_least(30)] = 32  # a central limit for the moments' z-scores
    slq_iters: Annotated[int, checks.at_least(2)] = 60  # Gauss quadrature exact for the 2nd moment from m = 2
    batch_size: Count = 128

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_examples=256, widths=(64, 12, 10), trace_probes=200, slq_iters=20)


def trained_params(cfg: Config, key: jax.Array, loss_fn, data):
    """The MLP after ``train_steps`` full-batch SGD steps from its initialisation, and the loss history."""
    init_fn, _ = models.dense_mlp(cfg.widths[1:-1], cfg.widths[-1])
    params0 = init_fn(key, (-1, cfg.widths[0]))[1]
    return train(loss_fn, params0, optax.sgd(cfg.learning_rate), data, n_steps=cfg.train_steps,
                 log_every=cfg.train_steps, desc="hessian-spectrum training")


def dense_hessian(loss_fn, params, data) -> np.ndarray:
    """The symmetrised dense Hessian ``H_DxD`` in float64 (computed in the parameters' float32)."""
    h = np.asarray(jax.jit(lambda p: hessian.hessian(loss_fn, p, data))(params), np.float64)
    return 0.5 * (h + h.T)


def hutchinson_stderr(a_DxD: np.ndarray, num_probes: int) -> float:
    r"""The exact standard error :math:`\sqrt{2(\|A\|_F^2 - \sum_i A_{ii}^2)/m}` of Hutchinson's estimate of
    :math:`\operatorname{tr}A` from ``num_probes`` Rademacher probes."""
    return float(np.sqrt(2.0 * (np.sum(a_DxD**2) - np.sum(np.diag(a_DxD) ** 2)) / num_probes))


def slq_moment_z(nodes: np.ndarray, weights: np.ndarray, h_DxD: np.ndarray, p: int) -> float:
    r"""|SLQ estimate of :math:`\frac1D\operatorname{tr}H^p` - its exact value| in exact standard errors.

    With unit probes :math:`v/\sqrt D` and :math:`p \le 2m - 1` the quadrature of each probe equals :math:`v^\top H^p
    v / D`, so the estimate is Hutchinson's for :math:`H^p / D` and :func:`hutchinson_stderr` gives its error.
    """
    h_p = np.linalg.matrix_power(h_DxD, p) / h_DxD.shape[0]
    estimate = np.mean(np.sum(weights * nodes**p, axis=1))
    return float(abs(estimate - np.trace(h_p)) / hutchinson_stderr(h_p, nodes.shape[0]))


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    k_init, k_top, k_trace, k_slq = jax.random.split(key, 4)
    data = dl_data.digits_subset(cfg.n_examples, cfg.seed)
    loss_fn = losses.cross_entropy(models.dense_mlp(cfg.widths[1:-1], cfg.widths[-1])[1])
    params, hist = trained_params(cfg, k_init, loss_fn, data)
    matvec, dim = hessian.hessian_matvec(loss_fn, params, data, batch_size=cfg.batch_size)
    h_DxD = dense_hessian(loss_fn, params, data)
    lam = np.linalg.eigvalsh(h_DxD)[::-1]

    top, _ = jax.jit(lambda k: hessian.top_eigenvalues(matvec, dim, cfg.k, key=k, num_iters=cfg.lanczos_iters))(k_top)
    rel_err = np.abs(np.asarray(top) - lam[: cfg.k]) / np.abs(lam[: cfg.k])
    tr = jax.jit(lambda k: hessian.trace(matvec, dim, key=k, num_probes=cfg.trace_probes, chunk_size=50))(k_trace)
    exact_trace, exact_se = float(np.trace(h_DxD)), hutchinson_stderr(h_DxD, cfg.trace_probes)
    z_trace = abs(float(tr.mean) - exact_trace) / exact_se
    sd = jax.jit(lambda k: hessian.spectral_density(matvec, dim, key=k, num_probes=cfg.slq_probes,
                                                    num_iters=cfg.slq_iters))(k_slq)
    nodes, weights = np.asarray(sd.nodes, np.float64), np.asarray(sd.weights, np.float64)
    moment_z = {p: slq_moment_z(nodes, weights, h_DxD, p) for p in (1, 2)}
    w1 = stats.wasserstein1(nodes.ravel(), weights.ravel(), lam, None)
    width = lam[0] - lam[-1]
    bulk = np.median(np.abs(lam))
    claims = [
        Claim.at_most("lanczos-top-k", f"max relative error of the top-{cfg.k} Lanczos eigenvalues vs eigh", 1e-4,
                      float(rel_err.max())),
        Claim.at_most("hutchinson-trace", f"|Hutchinson trace - tr H| in exact standard errors sqrt(2(||H||_F^2 - "
                      f"sum H_ii^2)/m) ({cfg.trace_probes} Rademacher probes)", 3.0, z_trace),
        Claim.at_most("slq-first-moment", "|SLQ mean eigenvalue - tr(H)/D| in exact standard errors", 3.0,
                      moment_z[1]),
        Claim.at_most("slq-second-moment", "|SLQ mean squared eigenvalue - tr(H^2)/D| in exact standard errors", 3.0,
                      moment_z[2]),
        Claim.at_most("slq-density-vs-histogram", "W1(SLQ measure, exact eigenvalue measure) / spectral width",
                      0.01, w1 / width),
        Claim.at_least("bulk-plus-outliers", "lambda_max / median |lambda| (a few outliers far above a bulk at 0)",
                       20.0, float(lam[0] / bulk)),
    ]
    metrics = {
        "dim": dim, "train_loss": [float(hist["loss"][0]), float(hist["loss"][-1])],
        "top_eigenvalues_exact": lam[: cfg.k].tolist(), "top_eigenvalues_lanczos": np.asarray(top).tolist(),
        "trace_exact": exact_trace, "trace_estimate": float(tr.mean), "trace_stderr_exact": exact_se,
        "trace_stderr_estimated": float(tr.stderr),
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
