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

Gradient norms through depth, at initialization (ReLU, zero biases, one random input per network, many independent
networks). The per-layer gradient is read off the bias gradient, ||dL/db_l|| = ||dL/dz_l|| (z_l the pre-activation of
layer l). In a plain network with W ~ N(0, sigma^2/n) (dl_theory.models.mlp, standard parameterization) backprop
multiplies it by D_l W_{l+1}^T per layer, so ||dL/dz_l||^2 / ||dL/dz_{l+1}||^2 = (sigma^2/n) chi^2_K with K ~
Bin(n, 1/2) active units (treating W_{l+1} as independent of the backward signal, the usual mean-field step): the log
norm is a random walk with drift s(sigma, n) = (1/2) E[log(sigma^2/n) + psi(K/2) + log 2] = (1/2) log(sigma^2/2) -
O(1/n) per layer. Gradients vanish geometrically for sigma^2 < 2 (He init is the edge) and explode for sigma^2 > 2;
the claim is that the per-network fitted slope of log norm against the number of layers crossed, averaged over
networks, lies between s(sigma, n) and the infinite-width (1/2) log(sigma^2/2), widened by 4 standard errors (the
mean-field step treats the backward signal as independent of W_{l+1}, which also sets the ReLU gates of the layer
above, so its O(1/n) correction is not exact). By the positive homogeneity of ReLU, W_std = sigma
networks are the W_std = 1 networks with every layer scaled by sigma, so the slope moves by exactly log sigma; the
same draws serve every sigma; the total change over the stack, |s| (L - 1), grows linearly in L.
With skips and alpha = 1/sqrt(L) (dl_theory.models.residual) each block multiplies the backward signal by
I + alpha D W^T, a perturbation of the identity: in the wide limit E||g||^2 gains a factor 1 + alpha^2 sigma^2/2 per
block, (1 + sigma^2/(2L))^L <= e^(sigma^2/2) in total, bounded in L. At finite width the branch and its ReLU gate are
correlated (the skip path accumulates the non-negative ReLU outputs), which adds a drift of order alpha sigma/sqrt(n)
per block, so the measured total grows slowly, like sqrt(L/n), not like L. The claim: the residual net's total change
(with 4 standard errors) is below a quarter of the plain nets' at the same depth and width.
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special
import scipy.stats

from dl_theory import checks
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.models.mlp import mlp
from dl_theory.models.residual import linear_stack_matrix, path_expansion, path_length_counts, residual_mlp
from dl_theory.regularization.residual_scaling import BRANCH_ACTIVATIONS
from dl_theory.stats import mean_and_stderr
from dl_theory.theory.regions import residual_path_counts
from dl_theory.training.ensemble import stacked_init

N_SE = 4.0


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    depths: Annotated[tuple[int, ...], checks.each(checks.in_interval(1, 14, closed=True), min_length=1)] = (
        1, 2, 4, 6, 8, 10, 12)
    width: Annotated[int, checks.count] = 6
    a: Annotated[float, checks.positive] = 1.0
    n_inputs: Annotated[int, checks.count] = 16
    grad_depth: Annotated[int, checks.at_least(4)] = 50
    grad_width: Annotated[int, checks.at_least(4)] = 128
    grad_nets: Annotated[int, checks.at_least(4)] = 64
    grad_sigmas: Annotated[tuple[float, ...], checks.each(checks.positive)] = (1.0, 2.0)
    grad_residual_std: Annotated[float, checks.positive] = 1.0

    @classmethod
    def quick(cls) -> "Config":
        return cls(depths=(1, 2, 4, 6, 8), width=4, grad_depth=12, grad_width=64, grad_nets=16)


def _identity_error(key: jax.Array, depth: int, width: int, n_inputs: int) -> float:
    """max |F[0,0](x) - x| over the activations, float32 (must be exactly 0)."""
    x = jax.random.normal(key, (n_inputs, width))
    zeros = [{"w": jnp.zeros((width, width)), "b": jnp.zeros((width,))}] * depth
    return max(float(jnp.max(jnp.abs(residual_mlp(depth, alpha=1.0, activation=a).apply(zeros, x) - x)))
               for a in BRANCH_ACTIVATIONS)


def plain_drift(sigma: float, width: int) -> float:
    """s(sigma, n) = (1/2) E[log((sigma^2/n) chi^2_K)], K ~ Bin(n, 1/2) (K >= 1): the mean-field drift per layer of
    the log backward norm of a plain ReLU net (E log chi^2_K = psi(K/2) + log 2)."""
    k = np.arange(1, width + 1)
    p = scipy.stats.binom.pmf(k, width, 0.5)
    return float(0.5 * (np.log(sigma**2 / width) + np.sum(p * (scipy.special.digamma(k / 2) + np.log(2))) / p.sum()))


def _bias_gradient_fn(kind: str, cfg: Config):
    """``(init_fn, norms)``: ``norms(params_S, x_S, r_S) -> (S, L)`` gives ||dL/db_l|| for every hidden layer / block
    l of a stack of ReLU nets (zero biases), L the scalar output (a random linear readout) at one input each."""
    depth, width = cfg.grad_depth, cfg.grad_width
    if kind == "plain":
        init_fn, apply_fn, _ = mlp((width,) * depth, 1, parameterization="standard", W_std=1.0, b_std=0.0)

        def output(p, x, r):
            return apply_fn(p, x)[0, 0]

        def biases(g):
            return [g[2 * layer][1] for layer in range(depth)]
    else:
        init_fn, apply_fn = residual_mlp(depth, alpha=1.0 / np.sqrt(depth), activation="relu", W_std=1.0)

        def output(p, x, r):
            return apply_fn(p, x)[0] @ r

        def biases(g):
            return [layer["b"] for layer in g]
    return init_fn, jax.jit(jax.vmap(lambda p, x, r: jnp.stack([jnp.linalg.norm(b) for b in biases(
        jax.grad(output)(p, x, r))])))


def _scale_weights(params, sigma: float):
    """W_std = sigma from W_std = 1 (standard parameterization: W = sigma N(0, 1/n)); biases (zero) unchanged."""
    if isinstance(params[0], dict):
        return [{"w": sigma * p["w"], "b": p["b"]} for p in params]
    return [(sigma * p[0], p[1]) if len(p) else p for p in params]


def _slopes(norms_SxL: np.ndarray) -> np.ndarray:
    """Per-network slope of log norm against the number of layers crossed from the top (layer L: 0)."""
    crossed = np.arange(norms_SxL.shape[1])[::-1]
    return np.polyfit(crossed, np.log(norms_SxL).T, 1)[0]


def _gradient_part(cfg: Config, key: jax.Array) -> dict:
    k_p, k_x, k_r = jax.random.split(key, 3)
    x_S = jax.random.normal(k_x, (cfg.grad_nets, 1, cfg.grad_width))
    r_S = jax.random.normal(k_r, (cfg.grad_nets, cfg.grad_width)) / np.sqrt(cfg.grad_width)
    out = {"plain": {}, "residual": {}}
    for i, kind in enumerate(out):
        init_fn, norms = _bias_gradient_fn(kind, cfg)
        params_S = stacked_init(init_fn, jax.random.split(jax.random.fold_in(k_p, i), cfg.grad_nets),
                                (1, cfg.grad_width))
        sigmas = cfg.grad_sigmas if kind == "plain" else (cfg.grad_residual_std,)
        for sigma in sigmas:
            g = np.asarray(norms(_scale_weights(params_S, sigma), x_S, r_S))
            slope, slope_se = mean_and_stderr(_slopes(g))
            total, total_se = mean_and_stderr(_slopes(g) * (cfg.grad_depth - 1))
            out[kind][sigma] = {"norms": g, "slope": float(slope), "slope_se": float(slope_se),
                                "total": float(total), "total_se": float(total_se),
                                "drift": plain_drift(sigma, cfg.grad_width)}
    return out


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
    grads = _gradient_part(cfg, jax.random.fold_in(key, 10_000))
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
    res = grads["residual"][cfg.grad_residual_std]
    for sigma, g in grads["plain"].items():
        trend = "vanishing" if sigma**2 < 2 else "exploding" if sigma**2 > 2 else "critical"
        infinite = 0.5 * np.log(sigma**2 / 2)
        claims.append(Claim.close(
            f"plain-gradient-slope-w{sigma:g}", f"plain ReLU net, depth {cfg.grad_depth}, width {cfg.grad_width}, "
            f"W_std={sigma:g} ({trend}): mean over {cfg.grad_nets} nets of the slope of log||dL/dz_l|| per layer "
            f"crossed lies between the finite-width mean-field drift s(sigma, n) = {g['drift']:.4f} and the "
            f"infinite-width (1/2) log(sigma^2/2) = {infinite:.4f}, each widened by 4 SE (theory: the midpoint)",
            (g["drift"] + infinite) / 2, g["slope"], atol=abs(infinite - g["drift"]) / 2 + N_SE * g["slope_se"]))
    smallest = min(abs(g["total"]) for g in grads["plain"].values())
    claims.append(Claim.at_most(
        "residual-gradient-bounded", f"residual net (alpha = 1/sqrt(L), W_std={cfg.grad_residual_std:g}), same depth: "
        "|total change of log||dL/dz_l|| over the stack| + 4 SE <= 1/4 of the smallest plain net's |total| "
        "(plain: |slope| (L-1), geometric)", smallest / 4, abs(res["total"]) + N_SE * res["total_se"]))
    metrics = {"alpha": float(alpha), "per_depth": {str(d): r for d, r in rows.items()},
               "gradients": {kind: {f"W_std={s:g}": {k: v for k, v in g.items() if k != "norms"}
                                    for s, g in by_sigma.items()} for kind, by_sigma in grads.items()}}
    return Result(claims, metrics, {"rows": rows, "alpha": alpha, "grads": grads})


def plot(result: Result):
    rows, alpha = result.data["rows"], result.data["alpha"]
    fig, (ax1, ax2, ax3) = subplots(1, 3, width=4.4, title="Residual networks: 2^L paths and gradients through depth")
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
    colors = ["#1f5fa8", "#d1495b", "#e9a23b", "#6a4c93"]
    for kind, by_sigma in result.data["grads"].items():
        for j, (sigma, g) in enumerate(by_sigma.items()):
            logs = np.log(g["norms"])
            layer = np.arange(1, logs.shape[1] + 1)
            mean, se = mean_and_stderr(logs)
            color = "#2a9d8f" if kind == "residual" else colors[j % 4]
            ax3.semilogy(layer, np.exp(mean), color=color, lw=2,
                         label=f"{kind}, W_std={sigma:g}" + (", α=1/√L" if kind == "residual" else ""))
            ax3.fill_between(layer, np.exp(mean - se), np.exp(mean + se), color=color, alpha=0.2)
            if kind == "plain":
                theory_line(ax3, layer, np.exp(mean[-1] + g["drift"] * (layer[-1] - layer)), label=None)
    ax3.plot([], [], color="black", ls="--", label="mean-field drift s(σ, n)")
    ax3.set(xlabel="layer l (input → output)", ylabel="geometric mean ‖∂L/∂z_l‖",
            title="gradient norms at init: plain vs residual")
    ax3.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="residual-paths",
    description="Residual blocks: F[0,0] = id exactly; L blocks expand into 2^L paths, binom(L, k) of length k; "
                "plain-net gradients vanish/explode geometrically with depth, residual ones stay bounded.",
    config=Config, run=run, plot=plot)
