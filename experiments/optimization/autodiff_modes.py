"""Forward vs reverse mode: Jacobian cost scales with the input dimension in forward mode and with the output
dimension in reverse mode; manual backpropagation equals ``jax.grad``; the softmax Jacobian.

For f: R^n -> R^m (a two-hidden-layer tanh network, per example over a batch), ``jax.jacfwd`` pushes n tangents
(n JVPs) and ``jax.jacrev`` pulls m cotangents (m VJPs) after one shared primal pass. The extra cost beyond that
pass, cost(J)/cost(f) - 1, is measured exactly by XLA's FLOP count of the compiled programs over sweeps of n (m
fixed) and of m (n fixed): its log-log slope is 1 for the mode whose pass count grows and 0 for the other. The notes'
"Fwd is O(#params), reverse is O(d_out)" means this: forward mode costs one pass per input direction. Forward mode
needs no stored activations, so it is the memory-efficient one; reverse mode is the fast one for a scalar loss
(m = 1). Wall-clock time shows the same thing, less sharply: the ratio time(jacfwd)/time(jacrev) grows like n and
falls like 1/m for large dimensions. The timed claims ask for half of that slope, on minimum times over interleaved
rounds (timing noise from other processes only adds time, and hits both modes of a round alike) and without
subtracting the time of f, which at these sizes is mostly dispatch overhead.
"""

import functools
from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np

from dl_theory import checks
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.experiment.timing import best_times
from dl_theory.stats import loglog_slope

TIMED_SLOPE = 0.5  # the timed ratio's slope is +-1 for large dims (FLOP claims); half of it survives timing noise


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    hidden: Annotated[int, checks.count] = 256
    dims: Annotated[tuple[int, ...], checks.each(checks.count, min_length=2)] = (4, 8, 16, 32, 64, 128, 256, 512)
    fixed: Annotated[int, checks.count] = 4
    batch: Annotated[int, checks.count] = 64  # per-example Jacobians via vmap: compute dominates dispatch overhead
    reps: Annotated[int, checks.count] = 50

    @classmethod
    def quick(cls) -> "Config":
        return cls(hidden=128, dims=(4, 16, 64, 256), reps=30)


def _net(key, n: int, m: int, hidden: int):
    k1, k2, k3 = jax.random.split(key, 3)
    w1 = jax.random.normal(k1, (hidden, n)) / np.sqrt(n)
    w2 = jax.random.normal(k2, (hidden, hidden)) / np.sqrt(hidden)
    w3 = jax.random.normal(k3, (m, hidden)) / np.sqrt(hidden)
    # tanh at both ends keeps XLA from simplifying the identity-basis products of the first and last layers away.
    return lambda x: jnp.tanh(w3 @ jnp.tanh(w2 @ jnp.tanh(w1 @ jnp.tanh(x))))


def _sweep(cfg: Config, key, vary: str) -> dict[str, np.ndarray]:
    """FLOPs(J)/FLOPs(f) - 1 (XLA cost analysis) and time(J)/time(f) for both modes along a sweep of n or m."""
    rows = {k: [] for k in ("fwd_flops", "rev_flops", "fwd_time", "rev_time")}
    for i, d in enumerate(cfg.dims):
        n, m = (d, cfg.fixed) if vary == "n" else (cfg.fixed, d)
        f = _net(jax.random.fold_in(key, i), n, m, cfg.hidden)
        x = jnp.ones((cfg.batch, n))
        compiled = [jax.jit(jax.vmap(g)).lower(x).compile() for g in (f, jax.jacfwd(f), jax.jacrev(f))]
        f_flops, fwd_flops, rev_flops = (float(c.cost_analysis()["flops"]) for c in compiled)
        f_time, fwd_time, rev_time = best_times([functools.partial(c, x) for c in compiled], cfg.reps)
        rows["fwd_flops"].append(fwd_flops / f_flops - 1)
        rows["rev_flops"].append(rev_flops / f_flops - 1)
        rows["fwd_time"].append(fwd_time / f_time)
        rows["rev_time"].append(rev_time / f_time)
    return {k: np.asarray(v) for k, v in rows.items()}


def manual_backprop(params, x, y):
    r"""Gradients of :math:`\tfrac12\|f(x)-y\|^2` for :math:`x^\ell = \tanh(W^\ell x^{\ell-1} + b^\ell)` (linear last
    layer) by the notes' recursion :math:`\delta^\ell = \partial L/\partial x^\ell \odot \varphi'(z^\ell)`,
    :math:`\partial L/\partial x^{\ell-1} = W^{\ell\top}\delta^\ell`, :math:`\partial L/\partial W^\ell =
    \delta^\ell x^{\ell-1\top}`."""
    xs, zs = [x], []
    for i, (w, b) in enumerate(params):
        zs.append(w @ xs[-1] + b)
        xs.append(zs[-1] if i == len(params) - 1 else jnp.tanh(zs[-1]))
    dx = xs[-1] - y
    grads = []
    for i in reversed(range(len(params))):
        delta = dx if i == len(params) - 1 else dx * (1 - jnp.tanh(zs[i]) ** 2)
        grads.append((jnp.outer(delta, xs[i]), delta))
        dx = params[i][0].T @ delta
    return grads[::-1]


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    sweeps = {v: _sweep(cfg, jax.random.fold_in(key, j), v) for j, v in enumerate(("n", "m"))}
    dims = np.asarray(cfg.dims, float)
    slopes = {f"{mode}_{kind}_vs_{v}": loglog_slope(dims, sweeps[v][f"{mode}_{kind}"])[0]
              for v in ("n", "m") for mode in ("fwd", "rev") for kind in ("flops", "time")}
    # time(jacfwd)/time(jacrev): both timed at the same load, no subtraction of the (dispatch-dominated) time of f.
    slopes |= {f"fwd_over_rev_time_vs_{v}": loglog_slope(dims, sweeps[v]["fwd_time"] / sweeps[v]["rev_time"])[0]
               for v in ("n", "m")}
    with jax.enable_x64(True):
        sizes = (5, 7, 6, 3)
        keys = jax.random.split(key, len(sizes))
        params = [(jax.random.normal(k, (o, i)), jax.random.normal(jax.random.fold_in(k, 1), (o,)))
                  for k, i, o in zip(keys, sizes[:-1], sizes[1:], strict=False)]
        x, y = jnp.linspace(-1, 1, sizes[0]), jnp.ones(sizes[-1])

        def loss(p):
            h = x
            for i, (w, b) in enumerate(p):
                h = w @ h + b if i == len(p) - 1 else jnp.tanh(w @ h + b)
            return 0.5 * jnp.sum((h - y) ** 2)

        auto, manual = jax.grad(loss)(params), manual_backprop(params, x, y)
        backprop_err = max(float(jnp.max(jnp.abs(a - b))) for ga, gb in zip(auto, manual, strict=True)
                           for a, b in zip(ga, gb, strict=True))
        z = jnp.array([0.3, -1.2, 2.0, 0.1])
        s = jax.nn.softmax(z)
        softmax_err = float(jnp.max(jnp.abs(jax.jacfwd(jax.nn.softmax)(z) - (jnp.diag(s) - jnp.outer(s, s)))))
    claims = [
        Claim.close("fwd-flops-vs-n", "forward mode: FLOPs(J)/FLOPs(f) - 1 vs input dim n: log-log slope", 1.0,
                    slopes["fwd_flops_vs_n"], atol=0.05),
        Claim.close("rev-flops-vs-n", "reverse mode: FLOPs(J)/FLOPs(f) - 1 vs n: slope", 0.0,
                    slopes["rev_flops_vs_n"], atol=0.05),
        Claim.close("rev-flops-vs-m", "reverse mode: FLOPs(J)/FLOPs(f) - 1 vs output dim m: slope", 1.0,
                    slopes["rev_flops_vs_m"], atol=0.05),
        Claim.close("fwd-flops-vs-m", "forward mode: FLOPs(J)/FLOPs(f) - 1 vs m: slope", 0.0,
                    slopes["fwd_flops_vs_m"], atol=0.05),
        Claim.at_least("timed-fwd-vs-n", "timed (minimum over rounds): log-log slope of time(jacfwd)/time(jacrev) "
                       f"vs n >= {TIMED_SLOPE}", TIMED_SLOPE, slopes["fwd_over_rev_time_vs_n"]),
        Claim.at_most("timed-rev-vs-m", "timed (minimum over rounds): log-log slope of time(jacfwd)/time(jacrev) "
                      f"vs m <= -{TIMED_SLOPE}", -TIMED_SLOPE, slopes["fwd_over_rev_time_vs_m"]),
        Claim.at_most("manual-backprop", "max |delta-recursion gradient - jax.grad| (float64)", 0.0, backprop_err,
                      slack=1e-12),
        Claim.at_most("softmax-jacobian", "max |jacfwd(softmax) - (diag(s) - s s^T)| (float64)", 0.0, softmax_err,
                      slack=1e-14),
    ]
    metrics = {"slopes": slopes, "backprop_error": backprop_err, "softmax_jacobian_error": softmax_err}
    return Result(claims, metrics, {"dims": dims, "sweeps": sweeps})


def plot(result: Result):
    fig, axes = subplots(1, 2, width=4.4, title="Jacobian cost in units of one evaluation of f")
    dims = result.data["dims"]
    for ax, v, label in ((axes[0], "n", "input dim n (m fixed)"), (axes[1], "m", "output dim m (n fixed)")):
        sw = result.data["sweeps"][v]
        for i, mode in enumerate(("fwd", "rev")):
            name = "forward (jacfwd)" if mode == "fwd" else "reverse (jacrev)"
            ax.loglog(dims, sw[f"{mode}_flops"], "o-", color=f"C{i}", label=f"{name}: FLOPs(J)/FLOPs(f) − 1")
            ax.loglog(dims, sw[f"{mode}_time"], "s:", color=f"C{i}", alpha=0.7, label=f"{name}: time(J)/time(f)")
        theory_line(ax, dims, dims * sw["fwd_flops" if v == "n" else "rev_flops"][0] / dims[0], label="∝ dim")
        ax.set(xlabel=label, ylabel="cost(J) / cost(f)")
        ax.legend(fontsize=6.5)
    return fig


EXPERIMENT = Experiment(
    id="autodiff-modes",
    description="Forward-mode Jacobian cost grows with input dim, reverse with output dim; backprop = jax.grad.",
    config=Config, run=run, plot=plot)
