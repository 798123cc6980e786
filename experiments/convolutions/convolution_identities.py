"""Convolution identities, each against an independent reference, and the cost of separable kernels.

The library's correlate/convolve (on ``lax.conv_general_dilated``) are checked against ``scipy.signal`` in every
padding mode, in 1-D and 2-D; convolution commutes ('full' mode); the Toeplitz matrix (W_h)_{k,j} = h_{j-k+1}
(1-based, the notes' index is garbled) is ``scipy.linalg.toeplitz`` of its first column and row and, with the kernel
flipped, ``scipy.linalg.convolution_matrix``; the doubly block Toeplitz matrix reproduces the 2-D correlation. The
FFT turns circular convolution into a product: with zero padding to D + K - 1 it is the linear convolution, without
it the wrapped-around ('aliased') linear convolution, checked against ``numpy.fft``. Cross-correlation is convolution
with the flipped kernel, and reversing the output swaps its arguments. Correlation commutes with shifts (exactly, for
a signal away from the zero-padded boundary); with stride S only shifts by multiples of S commute (by S/S-th of the
shift), a shift by 1 gives an output that is no shift of the unshifted one. The gradient of sum(v * tanh(x star h))
with respect to h is x star g for g = v * tanh'(.) (a correlation with the input), and for a convolution layer it is
flip(x) * g, the notes' formula; both against ``jax.grad``.

Shapes: floor((H + 2P - K)/S) + 1 matches the shapes ``lax.conv_general_dilated`` gives over a grid of (H, K, P,
S), and C_out (C_in prod K + 1) matches the parameter count of ``flax.linen.Conv``. A separable q x q kernel u v^T
on a d x d image costs q (d-q+1)(2d-q+1) multiply-adds in two 1-D passes against (d-q+1)^2 q^2 for the direct sum:
O(d q (d-q)) vs O((d-q)^2 q^2) (the notes write v in R^p). Both counts are checked exactly, against the nonzeros of
the matrices that perform them (one multiply-add per nonzero of the doubly block Toeplitz matrix, and of the two
one-axis pass matrices, whose product is that matrix) and against XLA's FLOP count of the compiled programs (2 per
multiply-add). Wall-clock times of both over a range of q are reported with their fitted log-log slopes as metrics,
not as claims: XLA's CPU convolutions are not the naive sums (the direct one grows more slowly than q^2).
"""

import functools
from dataclasses import dataclass
from typing import Annotated

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
import scipy.signal
from jax import lax

from dl_theory import checks
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.experiment.timing import best_times
from dl_theory.models.convolution import (
    PADDINGS,
    circular_convolve,
    conv_param_count,
    convolve,
    correlate,
    direct_madds,
    doubly_block_toeplitz,
    fft_convolve,
    output_size,
    rank_one_factors,
    separable_correlate,
    separable_madds,
    toeplitz_matrix,
)
from dl_theory.stats import loglog_slope

FLOAT_REL = 1e-12  # float64 identities: max |a - b| / max(1, max |b|)
BROKEN = 0.1  # a stride-breaking shift leaves a relative mismatch of order 1 (white signal); at least this


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    length: Annotated[int, checks.at_least(8)] = 64
    kernel_sizes: Annotated[tuple[int, ...], checks.each(checks.count)] = (1, 2, 3, 4, 5, 8)
    image: Annotated[int, checks.at_least(8)] = 16
    kernel_2d: Annotated[tuple[int, ...], checks.each(checks.count, min_length=2)] = (3, 4)
    shift: Annotated[int, checks.count] = 3
    max_input: Annotated[int, checks.count] = 12
    max_kernel: Annotated[int, checks.count] = 6
    max_padding: Annotated[int, checks.at_least(0)] = 3
    max_stride: Annotated[int, checks.count] = 4
    count_sizes: Annotated[tuple[int, ...], checks.each(checks.at_least(2), min_length=1)] = (8, 12, 16)
    time_size: Annotated[int, checks.at_least(8)] = 256
    time_kernels: Annotated[tuple[int, ...], checks.each(checks.count, min_length=3)] = (3, 5, 9, 17, 33, 65)
    time_batch: Annotated[int, checks.count] = 4
    time_reps: Annotated[int, checks.count] = 15

    @classmethod
    def quick(cls) -> "Config":
        return cls(kernel_sizes=(1, 4, 5), max_input=8, max_kernel=4, max_padding=2, max_stride=3, count_sizes=(8,),
                   time_size=128,
                   time_kernels=(3, 9, 17, 33), time_reps=7)


def _rel(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


def _against_scipy(rng, cfg: Config) -> dict:
    """Max relative error of every identity that has a scipy/numpy reference, by identity."""
    err = {k: 0.0 for k in ("scipy", "commute", "toeplitz", "block_toeplitz", "fft_linear", "fft_circular", "flip")}
    x2 = rng.normal(size=(cfg.image, cfg.image + 1))
    h2 = rng.normal(size=tuple(cfg.kernel_2d))
    cases = [(rng.normal(size=cfg.length), rng.normal(size=k)) for k in cfg.kernel_sizes] + [(x2, h2)]
    for x, h in cases:
        for mode in PADDINGS:
            err["scipy"] = max(err["scipy"], _rel(correlate(x, h, padding=mode), scipy.signal.correlate(x, h, mode)),
                               _rel(convolve(x, h, padding=mode), scipy.signal.convolve(x, h, mode)))
            err["fft_linear"] = max(err["fft_linear"], _rel(fft_convolve(x, h, mode=mode),
                                                            scipy.signal.convolve(x, h, mode)))
        full = np.asarray(convolve(x, h, padding="full"))
        err["commute"] = max(err["commute"], _rel(convolve(h, x, padding="full"), full))
        corr = np.asarray(correlate(x, h, padding="full"))
        err["flip"] = max(err["flip"], _rel(convolve(x, np.flip(h), padding="full"), corr),
                          _rel(np.flip(corr), correlate(h, x, padding="full")),
                          _rel(correlate(np.flip(x), np.flip(h), padding="full"), np.flip(corr)))
        aliased = np.zeros(x.shape)  # linear convolution folded modulo the signal's shape
        for idx in np.ndindex(full.shape):
            aliased[tuple(i % n for i, n in zip(idx, x.shape, strict=True))] += full[idx]
        ref = np.real(np.fft.ifftn(np.fft.fftn(x) * np.fft.fftn(h, s=x.shape, axes=tuple(range(x.ndim)))))
        err["fft_circular"] = max(err["fft_circular"], _rel(circular_convolve(x, h), ref),
                                  _rel(circular_convolve(x, h), aliased))
        if x.ndim == 1:
            k, d = h.size, x.size
            first_col = np.r_[h[0], np.zeros(d - k)]
            first_row = np.r_[h, np.zeros(d - k)]
            err["toeplitz"] = max(err["toeplitz"], _rel(toeplitz_matrix(h, d), scipy.linalg.toeplitz(first_col,
                                                                                                   first_row)),
                                  *(_rel(toeplitz_matrix(h, d, padding=m, flip=True),
                                         scipy.linalg.convolution_matrix(h, d, m)) for m in PADDINGS))
        else:
            err["block_toeplitz"] = max(
                _rel(doubly_block_toeplitz(h, x.shape, padding=m, flip=f) @ x.ravel(),
                     (scipy.signal.convolve if f else scipy.signal.correlate)(x, h, m).ravel())
                for m in PADDINGS for f in (False, True))
    k = max(cfg.kernel_sizes)  # ones * ones: circular = K everywhere, the linear convolution starts 1, 2, ..., K
    circular_vs_linear = _rel(circular_convolve(np.ones(cfg.length), np.ones(k)),
                              convolve(np.ones(cfg.length), np.ones(k), padding="full")[:cfg.length])
    return err | {"circular_vs_linear": circular_vs_linear}


def _equivariance(rng, cfg: Config) -> dict:
    k, s = max(cfg.kernel_sizes), cfg.shift
    x = np.zeros(cfg.length)
    x[2 * k + s: -2 * k - s] = rng.normal(size=cfg.length - 4 * k - 2 * s)  # zeros where a shift could wrap
    h = rng.normal(size=k)
    out = np.asarray(correlate(x, h, padding="same"))
    shifted = _rel(correlate(np.roll(x, s), h, padding="same"), np.roll(out, s))
    m = max(cfg.kernel_2d) + 1  # zeros where a shift by one could wrap
    x2 = np.zeros((cfg.image, cfg.image))
    x2[m:-m, m:-m] = rng.normal(size=(cfg.image - 2 * m, cfg.image - 2 * m))
    h2 = rng.normal(size=tuple(cfg.kernel_2d))
    shifted_2d = _rel(correlate(np.roll(x2, (1, -1), (0, 1)), h2, padding="same"),
                      np.roll(correlate(x2, h2, padding="same"), (1, -1), (0, 1)))
    strided = np.asarray(correlate(x, h, padding="same", stride=2))
    by_two = _rel(correlate(np.roll(x, 2), h, padding="same", stride=2), np.roll(strided, 1))
    by_one = np.asarray(correlate(np.roll(x, 1), h, padding="same", stride=2))
    mismatch = min(np.linalg.norm(by_one - np.roll(strided, m)) / np.linalg.norm(strided)
                   for m in range(-len(strided) // 2, len(strided) // 2))
    return {"shift": max(shifted, shifted_2d), "stride_shift_by_2": by_two, "stride_shift_by_1": float(mismatch),
            "x": x, "h": h}


def _kernel_gradient(rng, cfg: Config) -> dict:
    x = jnp.asarray(rng.normal(size=(cfg.image, cfg.image + 1)))
    h = jnp.asarray(rng.normal(size=tuple(cfg.kernel_2d)))
    v = jnp.asarray(rng.normal(size=correlate(x, h).shape))
    err = 0.0
    for layer, formula in ((correlate, lambda g: correlate(x, g)), (convolve, lambda g: convolve(jnp.flip(x), g))):
        auto = jax.grad(lambda h, layer=layer: jnp.sum(v * jnp.tanh(layer(x, h))))(h)
        g = v * (1 - jnp.tanh(layer(x, h)) ** 2)
        err = max(err, _rel(formula(g), auto))
    return {"kernel_grad": err}


def _shapes(cfg: Config) -> dict:
    checked, mismatches = 0, 0
    for n in range(1, cfg.max_input + 1):
        for k in range(1, cfg.max_kernel + 1):
            for p in range(cfg.max_padding + 1):
                for s in range(1, cfg.max_stride + 1):
                    if k > n + 2 * p:
                        continue
                    shape = jax.eval_shape(lambda x, w, p=p, s=s: lax.conv_general_dilated(x, w, (s,), ((p, p),)),
                                           jax.ShapeDtypeStruct((1, 1, n), jnp.float32),
                                           jax.ShapeDtypeStruct((1, 1, k), jnp.float32)).shape
                    checked += 1
                    mismatches += shape[-1] != output_size(n, k, p, s)
    params_checked, params_mismatches = 0, 0
    for kernel in ((3,), (5,), (3, 3), (2, 5), (3, 3, 3)):
        for c_in, c_out in ((1, 1), (3, 8), (16, 4)):
            for bias in (True, False):
                variables = jax.eval_shape(nn.Conv(c_out, kernel, use_bias=bias).init, jax.random.key(0),
                                           jnp.zeros((1, *(8,) * len(kernel), c_in)))
                count = sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(variables))
                params_checked += 1
                params_mismatches += count != conv_param_count(kernel, c_in, c_out, bias)
    return {"shape_cases": checked, "shape_mismatches": int(mismatches), "param_cases": params_checked,
            "param_mismatches": int(params_mismatches)}


def _separable_counts(rng, cfg: Config) -> dict:
    """Multiply-adds by formula vs nonzeros of the matrices that do them (q = 1..d, about 6 per d), and at q = d/2
    the separable identities: pass product, SVD factors, two-pass correlation."""
    rows, product_err, rank_err = [], 0.0, 0.0
    for d in cfg.count_sizes:
        for q in sorted({1, 2, *range(3, d + 1, max(1, d // 4)), d // 2, d}):
            u, v = rng.normal(size=q), rng.normal(size=q)
            full = np.asarray(doubly_block_toeplitz(np.outer(u, v), (d, d)))
            pass_rows = np.kron(np.eye(d), toeplitz_matrix(v, d))  # every row with v: d x (d-q+1) outputs
            pass_cols = np.kron(toeplitz_matrix(u, d), np.eye(d - q + 1))  # then every column with u
            rows.append((d, q, np.count_nonzero(full), direct_madds(d, q),
                         np.count_nonzero(pass_rows) + np.count_nonzero(pass_cols), separable_madds(d, q)))
            if q != d // 2:
                continue
            product_err = max(product_err, _rel(pass_cols @ pass_rows, full))
            factors = rank_one_factors(np.outer(u, v))
            x = rng.normal(size=(d, d))
            rank_err = max(rank_err, _rel(np.outer(factors.u, factors.v), np.outer(u, v)),
                           float(factors.residual) / float(np.linalg.norm(np.outer(u, v))),
                           _rel(separable_correlate(x, u, v), correlate(x, np.outer(u, v))))
    rows = np.asarray(rows)
    return {"count_rows": rows, "direct_count_mismatch": int(np.sum(rows[:, 2] != rows[:, 3])),
            "separable_count_mismatch": int(np.sum(rows[:, 4] != rows[:, 5])), "pass_product": product_err,
            "rank_one": rank_err}


def _timings(key, cfg: Config) -> dict:
    d = cfg.time_size
    x = jax.random.normal(key, (cfg.time_batch, d, d))
    direct_t, separable_t, direct_flops, separable_flops = [], [], [], []
    for q in cfg.time_kernels:
        u, v = jax.random.normal(jax.random.fold_in(key, q), (2, q))
        w = jnp.outer(u, v)
        compiled = [jax.jit(jax.vmap(f)).lower(x).compile()
                    for f in (lambda im, w=w: correlate(im, w), lambda im, u=u, v=v: separable_correlate(im, u, v))]
        direct_flops.append(compiled[0].cost_analysis()["flops"] / cfg.time_batch)
        separable_flops.append(compiled[1].cost_analysis()["flops"] / cfg.time_batch)
        t_direct, t_separable = best_times([functools.partial(c, x) for c in compiled], cfg.time_reps)
        direct_t.append(t_direct)
        separable_t.append(t_separable)
    qs = np.asarray(cfg.time_kernels, float)
    direct_m = np.asarray([direct_madds(d, q) for q in cfg.time_kernels], float)
    separable_m = np.asarray([separable_madds(d, q) for q in cfg.time_kernels], float)
    return {"q": qs, "direct_time": np.asarray(direct_t), "separable_time": np.asarray(separable_t),
            "direct_madds": direct_m, "separable_madds": separable_m,
            "xla_flops_err": max(_rel(np.asarray(direct_flops), 2 * direct_m),
                                 _rel(np.asarray(separable_flops), 2 * separable_m))}


def run(cfg: Config) -> Result:
    rng = np.random.default_rng(cfg.seed)
    with jax.enable_x64(True):
        ident = _against_scipy(rng, cfg)
        equi = _equivariance(rng, cfg)
        grad = _kernel_gradient(rng, cfg)
        counts = _separable_counts(rng, cfg)
    shapes = _shapes(cfg)
    timing = _timings(jax.random.key(cfg.seed), cfg)
    q = timing["q"]
    slopes = {name: loglog_slope(q, timing[name])[0]
              for name in ("direct_time", "separable_time", "direct_madds", "separable_madds")}
    f64 = dict(slack=FLOAT_REL)
    claims = [
        Claim.at_most("matches-scipy", "correlate/convolve (lax) vs scipy.signal.correlate/convolve, 1-D and 2-D, "
                      "valid/same/full: max relative error", 0.0, ident["scipy"], **f64),
        Claim.at_most("commutativity", "x * h = h * x ('full'), 1-D and 2-D: max relative error", 0.0,
                      ident["commute"], **f64),
        Claim.at_most("toeplitz-1d", "W_h with (W_h)_{k,j} = h_{j-k+1} vs scipy.linalg.toeplitz, and its flipped "
                      "form vs scipy.linalg.convolution_matrix (valid/same/full)", 0.0, ident["toeplitz"], **f64),
        Claim.at_most("toeplitz-2d", "doubly block Toeplitz matrix @ vec(x) vs scipy.signal correlate/convolve "
                      "(valid/same/full)", 0.0, ident["block_toeplitz"], **f64),
        Claim.at_most("fft-linear", "FFT of both signals zero-padded to D+K-1 = linear convolution (scipy), every "
                      "mode", 0.0, ident["fft_linear"], **f64),
        Claim.at_most("fft-circular", "FFT without padding = circular convolution: numpy.fft reference and the "
                      "linear convolution folded modulo D", 0.0, ident["fft_circular"], **f64),
        Claim.close("fft-circular-not-linear", "without padding the FFT product is not the linear convolution: "
                    f"x = 1_D, h = 1_K (K={max(cfg.kernel_sizes)}): max |circular - first D linear outputs| / "
                    "max |linear| = (K-1)/K",
                    (max(cfg.kernel_sizes) - 1) / max(cfg.kernel_sizes), ident["circular_vs_linear"],
                    atol=FLOAT_REL),
        Claim.at_most("flip-identities", "x star h = x * flip(h); reverse(x star h) = h star x; flip(x) star flip(h) "
                      "= reverse(x star h) ('full')", 0.0, ident["flip"], **f64),
        Claim.at_most("translation-equivariance", f"correlate(shift_s x) = shift_s correlate(x) (1-D s={cfg.shift}, "
                      "2-D (1,-1); signal away from the boundary)", 0.0, equi["shift"], **f64),
        Claim.at_most("stride-equivariance-multiple", "stride 2: a shift by 2 shifts the output by 1", 0.0,
                      equi["stride_shift_by_2"], **f64),
        Claim.at_least("stride-breaks-equivariance", "stride 2: after a shift by 1 the output is no shift of the "
                       f"original (min over output shifts of the relative mismatch) >= {BROKEN}", BROKEN,
                       equi["stride_shift_by_1"]),
        Claim.at_most("kernel-gradient", "grad_h sum(v tanh(x star h)) = x star (v tanh') and for a convolution "
                      "layer flip(x) * (v tanh'), vs jax.grad", 0.0, grad["kernel_grad"], **f64),
        Claim.at_most("output-size", f"floor((H+2P-K)/S)+1 vs lax.conv_general_dilated shapes over "
                      f"{shapes['shape_cases']} (H, K, P, S): mismatches", 0, shapes["shape_mismatches"]),
        Claim.at_most("param-count", f"C_out (C_in prod K + 1) vs flax.linen.Conv over {shapes['param_cases']} "
                      "layers (with/without bias): mismatches", 0, shapes["param_mismatches"]),
        Claim.at_most("direct-madds", "(d-q+1)^2 q^2 vs nonzeros of the doubly block Toeplitz matrix: mismatches", 0,
                      counts["direct_count_mismatch"]),
        Claim.at_most("separable-madds", "q(d-q+1)(2d-q+1) vs nonzeros of the row-pass and column-pass matrices: "
                      "mismatches", 0, counts["separable_count_mismatch"]),
        Claim.at_most("separable-product", "column pass @ row pass = doubly block Toeplitz of u v^T; SVD rank-1 "
                      "factors recover u v^T (residual 0); two 1-D passes = 2-D correlation", 0.0,
                      max(counts["pass_product"], counts["rank_one"]), **f64),
        Claim.at_most("xla-flops", "XLA's FLOP count of the compiled direct and two-pass programs = 2 x the "
                      "multiply-add formulas (relative)", 0.0, timing["xla_flops_err"], **f64),
    ]
    metrics = {
        **{f"max_rel_err_{k}": v for k, v in ident.items()},
        "equivariance_err": equi["shift"], "stride_shift_by_1_mismatch": equi["stride_shift_by_1"],
        "kernel_grad_err": grad["kernel_grad"], **shapes,
        "timing_d": cfg.time_size, "timing_q": q.tolist(),
        "direct_seconds": timing["direct_time"].tolist(), "separable_seconds": timing["separable_time"].tolist(),
        "direct_over_separable_time": (timing["direct_time"] / timing["separable_time"]).tolist(),
        "direct_over_separable_madds": (timing["direct_madds"] / timing["separable_madds"]).tolist(),
        "slope_direct_time_vs_q": slopes["direct_time"], "slope_separable_time_vs_q": slopes["separable_time"],
        "slope_direct_madds_vs_q": slopes["direct_madds"], "slope_separable_madds_vs_q": slopes["separable_madds"],
    }
    return Result(claims, metrics, {"timing": timing, "counts": counts["count_rows"], "equi": equi, "cfg": cfg})


def plot(result: Result):
    d = result.data
    timing, rows, equi, cfg = d["timing"], d["counts"], d["equi"], d["cfg"]
    fig, (ax1, ax2, ax3) = subplots(1, 3, width=4.3, title="Convolution identities and separable kernels")
    x, h = equi["x"], equi["h"]
    with jax.enable_x64(True):
        out = np.asarray(correlate(x, h, padding="same"))
        moved = np.asarray(correlate(np.roll(x, cfg.shift), h, padding="same"))
    ax1.plot(out, label="h ⋆ x")
    ax1.plot(moved, label=f"h ⋆ shift_{cfg.shift}(x)")
    ax1.plot(np.roll(out, cfg.shift), "k:", lw=1, label=f"shift_{cfg.shift}(h ⋆ x)")
    ax1.set(xlabel="n", title="translation equivariance ('same')")
    ax1.legend(fontsize=7)
    for d_size in np.unique(rows[:, 0]):
        sel = rows[:, 0] == d_size
        (line,) = ax2.plot(rows[sel, 1], rows[sel, 2], "o", ms=4, label=f"direct, d={d_size}")
        ax2.plot(rows[sel, 1], rows[sel, 4], "s", ms=4, mfc="none", color=line.get_color(),
                 label=f"separable, d={d_size}")
        theory_line(ax2, rows[sel, 1], rows[sel, 3], label=None, color=line.get_color(), linewidth=0.8)
        theory_line(ax2, rows[sel, 1], rows[sel, 5], label=None, color=line.get_color(), linewidth=0.8)
    ax2.set(yscale="log", xlabel="kernel size q", ylabel="multiply-adds",
            title="counts (markers: matrix nonzeros; dashed: formulas)")
    ax2.legend(fontsize=7)
    q = timing["q"]
    for name, label in (("direct", "direct q×q"), ("separable", "two 1-D passes")):
        (line,) = ax3.plot(q, timing[f"{name}_time"] * 1e3, "o-", label=f"{label} (time)")
        scale = timing[f"{name}_time"][-1] * 1e3 / timing[f"{name}_madds"][-1]
        theory_line(ax3, q, timing[f"{name}_madds"] * scale, label=f"{label}: madds (scaled)",
                    color=line.get_color())
    ax3.set(xscale="log", yscale="log", xlabel="kernel size q", ylabel="ms per image batch",
            title=f"timed, d={int(cfg.time_size)}")
    ax3.set_xticks(q, [str(int(k)) for k in q])
    ax3.minorticks_off()
    ax3.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="convolution-identities",
    description="Convolution identities vs scipy/numpy (Toeplitz, FFT, flips, equivariance, kernel gradient, "
                "shapes, parameter counts); separable kernels' multiply-adds and timings.",
    config=Config, run=run, plot=plot)
