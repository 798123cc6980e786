"""Residual paths: the zero-parameter block is the identity, and L blocks unroll into 2^L paths.

A residual block x + alpha (phi(x W + b) - phi(0)) with W = 0, b = 0 returns x exactly for every activation, so
F[0, 0] = id holds bit for bit at any depth (checked in float32 for identity, ReLU and tanh). For linear branches the
stack is the matrix product of (I + alpha W_k); expanding it gives one term per subset of branches taken: the
enumerated terms sum to the product up to float64 rounding (tolerance: the standard summation / product rounding
bound, (2^L + L d) machine epsilons times the sum of the terms' magnitudes), there are exactly 2^L of them, binom(L, k)
of length k, and the residual model's forward pass agrees with the product. The plot shows the path-length histogram
against binom(L, k) and the mean norm of a length-k path (with alpha ~ 1/sqrt(L) most of the mass is on short paths,
the "ensemble of shallow networks" view of Veit et al. 2016). The notes' residual-scaling slip (alpha^2 = a^2/L, not
alpha/a) is the regularization experiment's concern; here alpha = a / sqrt(L_max).
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np

from dl_theory import checks
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.models.residual import linear_stack_matrix, path_expansion, path_length_counts, residual_mlp
from dl_theory.regularization.residual_scaling import BRANCH_ACTIVATIONS
from dl_theory.theory.regions import residual_path_counts


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    depths: Annotated[tuple[int, ...], checks.each(checks.in_interval(1, 14, closed=True), min_length=1)] = (
        1, 2, 4, 6, 8, 10, 12)
    width: Annotated[int, checks.count] = 6
    a: Annotated[float, checks.positive] = 1.0
    n_inputs: Annotated[int, checks.count] = 16

    @classmethod
    def quick(cls) -> "Config":
        return cls(depths=(1, 2, 4, 6, 8), width=4)


def _identity_error(key: jax.Array, depth: int, width: int, n_inputs: int) -> float:
    """max |F[0,0](x) - x| over the activations, float32 (must be exactly 0)."""
    x = jax.random.normal(key, (n_inputs, width))
    zeros = [{"w": jnp.zeros((width, width)), "b": jnp.zeros((width,))}] * depth
    return max(float(jnp.max(jnp.abs(residual_mlp(depth, alpha=1.0, activation=a).apply(zeros, x) - x)))
               for a in BRANCH_ACTIVATIONS)


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    alpha = cfg.a / np.sqrt(max(cfg.depths))
    eps = np.finfo(np.float64).eps
    rows = {}
    for i, depth in enumerate(sorted(cfg.depths)):
        k_id, k_w, k_x = jax.random.split(jax.random.fold_in(key, i), 3)
        with jax.enable_x64(True):
            model = residual_mlp(depth, alpha=alpha, activation="identity")
            _, params = model.init(k_w, (cfg.width,))
            x = jax.random.normal(k_x, (cfg.n_inputs, cfg.width), dtype=jnp.float64)
            y_model = np.asarray(model.apply(params, x))
        w_col = np.stack([np.asarray(p["w"]).T for p in params])  # row convention y W  ->  column convention W^T y
        terms, lengths = path_expansion(w_col, alpha)
        product = linear_stack_matrix(w_col, alpha)
        scale = float(np.abs(terms).sum(axis=0).max())
        rows[depth] = {
            "identity_error": _identity_error(k_id, depth, cfg.width, cfg.n_inputs),
            "expansion_error": float(np.abs(terms.sum(axis=0) - product).max()),
            "expansion_tolerance": (2**depth + depth * cfg.width) * eps * scale,
            "model_error": float(np.abs(y_model - np.asarray(x) @ product.T).max()),
            "model_tolerance": (depth * cfg.width + 2) * eps * float(np.abs(np.asarray(x)).max()) * scale,
            "n_paths": len(terms),
            "by_length": path_length_counts(lengths, depth).tolist(),
            "norm_by_length": [float(np.linalg.norm(terms[lengths == k], axis=(1, 2)).mean())
                               for k in range(depth + 1)],
        }
    depths = sorted(rows)
    claims = [
        Claim.close("identity-at-zero", "max over depths, activations (identity, relu, tanh) and inputs of "
                    "|F[0,0](x) - x| in float32 (exactly 0)", 0.0, max(r["identity_error"] for r in rows.values())),
        Claim("expansion-equals-product", "every depth: max entry of |sum of the 2^L path terms - prod(I + alpha W_k)| "
              "<= (2^L + L d) eps * max entry of sum |terms| (float64)", 0.0,
              max(r["expansion_error"] for r in rows.values()), max(r["expansion_tolerance"] for r in rows.values()),
              all(r["expansion_error"] <= r["expansion_tolerance"] for r in rows.values())),
        Claim("model-equals-product", "every depth: the residual_mlp forward pass (identity branches, float64) equals "
              "x prod(I + alpha W_k)^T up to rounding", 0.0, max(r["model_error"] for r in rows.values()),
              max(r["model_tolerance"] for r in rows.values()),
              all(r["model_error"] <= r["model_tolerance"] for r in rows.values())),
        Claim.close("path-count", f"enumerated paths at L={depths[-1]} (2^L)", 2 ** depths[-1],
                    rows[depths[-1]]["n_paths"]),
        Claim.close("paths-by-length", "every depth and k: |#enumerated paths of length k - binom(L, k)|, max", 0.0,
                    max(int(np.abs(np.subtract(r["by_length"], residual_path_counts(d))).max())
                        for d, r in rows.items())),
    ]
    metrics = {"alpha": float(alpha), "per_depth": {str(d): r for d, r in rows.items()}}
    return Result(claims, metrics, {"rows": rows, "alpha": alpha})


def plot(result: Result):
    rows, alpha = result.data["rows"], result.data["alpha"]
    fig, (ax1, ax2) = subplots(1, 2, width=4.4, title="Residual networks as 2^L paths")
    for depth, r in rows.items():
        if depth < 2:
            continue
        k = np.arange(depth + 1)
        (line,) = ax1.plot(k, r["by_length"], "o", ms=4, label=f"L={depth}")
        theory_line(ax1, k, residual_path_counts(depth), label=None, color=line.get_color())
        ax2.semilogy(k, r["norm_by_length"], "o-", ms=3, color=line.get_color(), label=f"L={depth}")
    ax1.set(xlabel="path length k (branches taken)", ylabel="number of paths", yscale="log",
            title="enumerated vs binom(L, k) (dashed)")
    ax1.legend(fontsize=7)
    ax2.set(xlabel="path length k", ylabel="mean ‖α^k W…W‖_F", title=f"path norm by length (α={alpha:.2f})")
    ax2.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="residual-paths",
    description="Residual blocks: F[0,0] = id exactly; L blocks expand into 2^L paths, binom(L, k) of length k.",
    config=Config, run=run, plot=plot)
