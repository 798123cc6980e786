"""Cost of attention vs sequence length n: softmax attention is quadratic, an RNN and linear attention linear.

Softmax attention forms the n x n score matrix QKᵀ/√d_k: O(n² d) time and O(n²) memory for its intermediates. An RNN
carries a fixed-size state through n steps: O(n d²) time, and beyond the state only its n outputs are stored. Linear
attention (φ = elu + 1) in its parallel causal form keeps prefix sums of φ(k)vᵀ, O(n d_k d_v) time and memory; in its
recurrent form it carries the constant-size state S = Σ φ(k)vᵀ, z = Σ φ(k), like an RNN.

Measured per n:

* on one jitted forward pass (batch 1, one head; linear attention in its parallel form), the compiled program's
  floating-point operation count (XLA ``cost_analysis``) and the bytes of its intermediates
  (``memory_analysis().temp_size_in_bytes``): deterministic, so their log-log exponents in n are claimed within 0.1
  of theory (softmax 2 for both; linear attention 1 for both; the RNN's intermediates, its time-major outputs, 1).
  XLA counts a ``lax.scan`` body once, so the RNN's operation count is not a per-n measurement and is not claimed.
* wall time, the fastest of interleaved repeats (every round times every method at every n, so load on the machine
  hits all alike, and the fastest repeat is the one least slowed by other processes; medians are reported too):
  softmax attention at batch 1; the RNN and the recurrent form of linear attention consume the n tokens into their
  final state (what a prompt costs before generation), at a batch large enough that a step's work, not its
  dispatch, is timed, and without storing n outputs, whose memory traffic out of cache would otherwise be timed. (The
  parallel form's prefix sums run O(log n) passes over n·d² numbers on XLA's CPU backend, so its time grows faster
  than n at these sizes; its operation count and memory are the linear ones above.) One claim compares softmax
  attention's fitted time exponent with the midpoint 1.5 between linear and quadratic growth (it lies well above).
  The exponents of the RNN and of linear attention are reported as metrics, not claimed: at these sizes a 2-core
  machine shared with other jobs moves a few-millisecond scan by factors of 2 between sizes (cache and scheduling),
  so a bound on them would flake; their linear cost is claimed through the memory and operation counts above.

Generation (the notes' slip corrected: linear attention costs O(1) per generated token and O(n) in total; softmax
attention with a KV cache O(n) per token and O(n²) in total): one decoding step of softmax attention against a cache
of L tokens compiles to an operation count ∝ L (claimed exponent 1 within 0.1) and its cache holds 2·L·d numbers,
while a linear-attention step has one operation count and one state size (d_k·d_v + d_k numbers) at every position.
Generating n tokens with each step function under ``lax.scan`` is timed as a metric. Exactness: the recurrent form of
linear attention equals its parallel causal form, and token-by-token KV-cache attention equals the full causal
forward pass, both in float64.
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
from dl_theory.experiment.timing import wall_times
from dl_theory.models import attention as att
from dl_theory.models.sequence.cells import simple_rnn
from dl_theory.models.sequence.rnn import unroll
from dl_theory.stats import loglog_slope

METHODS = ("softmax", "rnn", "linear")
THEORY = {"softmax": 2.0, "rnn": 1.0, "linear": 1.0}  # exponent in n of time, and of the intermediates' bytes
MIDPOINT = 1.5  # between linear (1) and quadratic (2) growth
EXPONENT_ATOL = 0.1  # compiled operation counts and buffer sizes: exact power laws up to lower-order terms


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    ns: Annotated[tuple[int, ...], checks.each(checks.at_least(16), min_length=3)] = (512, 1024, 2048, 4096)
    dim: Annotated[int, checks.at_least(2)] = 64
    scan_batch: Annotated[int, checks.count] = 64
    repeats: Annotated[int, checks.at_least(3)] = 7
    cache_lengths: Annotated[tuple[int, ...], checks.each(checks.count, min_length=3)] = (
        256, 512, 1024, 2048, 4096, 8192)
    generate_ns: Annotated[tuple[int, ...], checks.each(checks.count, min_length=2)] = (256, 512, 1024, 2048)
    generate_batch: Annotated[int, checks.count] = 8
    exact_length: Annotated[int, checks.at_least(2)] = 64

    @classmethod
    def quick(cls) -> "Config":
        return cls(ns=(256, 512, 1024, 2048), repeats=5, generate_ns=(128, 256, 512, 1024), exact_length=32)


def _forward_fns(dim: int, recurrent_output: str):
    """The three forward passes as functions of ``(q, k, v)`` (the RNN reads ``q`` as its input sequence).

    ``recurrent_output="sequence"``: every step's output, linear attention in its parallel form; ``"state"``: the
    RNN's and recurrent linear attention's state after the n tokens (nothing of size n stored).
    """
    cell = simple_rnn(dim)
    rnn_params = cell.init(jax.random.key(0), dim)
    which = 1 if recurrent_output == "sequence" else 0
    linear = (att.linear_attention if recurrent_output == "sequence"
              else lambda q, k, v: att.linear_attention_recurrent(q, k, v)[0])
    return {
        "softmax": lambda q, k, v: att.dot_product_attention(q, k, v, is_causal=True),
        "rnn": lambda q, k, v: unroll(cell, rnn_params, q[:, :, 0])[which],
        "linear": linear,
    }


def _inputs(key: jax.Array, n: int, dim: int, batch: int = 1) -> tuple[jax.Array, ...]:
    return tuple(jax.random.normal(k, (batch, n, 1, dim)) for k in jax.random.split(key, 3))


def _compiled_costs(fn, args) -> tuple[float, float]:
    compiled = jax.jit(fn).lower(*args).compile()
    return float(compiled.cost_analysis()["flops"]), float(compiled.memory_analysis().temp_size_in_bytes)


def _wall_times(fns: dict, args: dict, repeats: int) -> dict:
    """Wall times per (name, n) over ``repeats`` rounds, each round timing every entry once: ``(repeats,)`` arrays."""
    jitted = {name: jax.jit(fn) for name, fn in fns.items()}
    times = wall_times([functools.partial(jitted[name], *a) for (name, _), a in args.items()], repeats,
                       desc="attention-complexity: timing")
    return dict(zip(args, times.T, strict=True))


def _generation_fns():
    """Token-by-token generation of n outputs: softmax with a KV cache, linear attention with its state."""
    return {"softmax-kv": lambda q, k, v: att.kv_cache_attention(q, k, v)[1],
            "linear-state": lambda q, k, v: att.linear_attention_recurrent(q, k, v)[1]}


def _step_costs(cache_lengths: tuple[int, ...], dim: int) -> tuple[np.ndarray, float, np.ndarray, int]:
    """Compiled operation count of one KV-cache step per cache length, of one linear step, and state sizes (bytes)."""
    token = jnp.ones((1, 1, dim))
    kv_flops, kv_bytes = [], []
    for length in cache_lengths:
        cache = att.kv_cache_init(1, length, 1, dim, dim)._replace(length=jnp.asarray(length - 1, jnp.int32))
        kv_flops.append(_compiled_costs(att.kv_cache_step, (cache, token, token, token))[0])
        kv_bytes.append(cache.k_BxLxHxK.nbytes + cache.v_BxLxHxV.nbytes)
    state = att.linear_state_init(1, 1, dim, dim)
    linear_flops = _compiled_costs(att.linear_attention_step, (state, token, token, token))[0]
    return np.asarray(kv_flops), linear_flops, np.asarray(kv_bytes), state.s_BxHxKxV.nbytes + state.z_BxHxK.nbytes


def _exactness(key: jax.Array, length: int) -> tuple[float, float]:
    """Max |recurrent - parallel| linear attention and max |KV cache - causal forward| softmax, float64."""
    with jax.enable_x64(True):
        q, k, v = (jax.random.normal(kk, (2, length, 2, 8), jnp.float64) for kk in jax.random.split(key, 3))
        linear = jnp.max(jnp.abs(att.linear_attention_recurrent(q, k, v)[1] - att.linear_attention(q, k, v)))
        kv = jnp.max(jnp.abs(att.kv_cache_attention(q, k, v)[1] - att.dot_product_attention(q, k, v,
                                                                                               is_causal=True)))
        return float(linear), float(kv)


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    k_fwd, k_gen, k_exact = jax.random.split(key, 3)
    ns, gen_ns = sorted(cfg.ns), sorted(cfg.generate_ns)
    fwd = _forward_fns(cfg.dim, "sequence")
    one = {n: _inputs(jax.random.fold_in(k_fwd, n), n, cfg.dim) for n in ns}
    costs = {m: np.array([_compiled_costs(fwd[m], one[n]) for n in ns]) for m in METHODS}
    flops, temp = ({m: c[:, i] for m, c in costs.items()} for i in (0, 1))
    timed = _forward_fns(cfg.dim, "state")
    batched = {n: _inputs(jax.random.fold_in(k_fwd, n), n, cfg.dim, cfg.scan_batch) for n in ns}
    fwd_args = {(m, n): one[n] if m == "softmax" else batched[n] for m in METHODS for n in ns}
    gen = _generation_fns()
    gen_args = {(m, n): _inputs(jax.random.fold_in(k_gen, n), n, cfg.dim, cfg.generate_batch)
                for m in gen for n in gen_ns}
    times = _wall_times({**timed, **gen}, {**fwd_args, **gen_args}, cfg.repeats)
    fwd_time = {m: np.array([times[(m, n)].min() for n in ns]) for m in METHODS}
    fwd_median = {m: np.array([np.median(times[(m, n)]) for n in ns]) for m in METHODS}
    gen_time = {m: np.array([times[(m, n)].min() for n in gen_ns]) for m in gen}
    kv_flops, linear_flops, kv_bytes, state_bytes = _step_costs(tuple(sorted(cfg.cache_lengths)), cfg.dim)
    linear_gap, kv_gap = _exactness(k_exact, cfg.exact_length)

    slope = lambda x, y: loglog_slope(x, y)[0]  # noqa: E731
    time_exp = {m: slope(ns, fwd_time[m]) for m in METHODS}
    gen_exp = {m: slope(gen_ns, gen_time[m]) for m in gen}
    lengths = sorted(cfg.cache_lengths)
    claims = [
        Claim.close("softmax-flops-n2", "log-log exponent in n of the compiled operation count of causal softmax "
                    "attention", 2.0, slope(ns, flops["softmax"]), atol=EXPONENT_ATOL),
        Claim.close("linear-flops-n", "the same for causal linear attention (parallel form, prefix sums)", 1.0,
                    slope(ns, flops["linear"]), atol=EXPONENT_ATOL),
        Claim.close("softmax-memory-n2", "log-log exponent in n of the bytes of the compiled intermediates "
                    "(XLA temp buffers) of softmax attention: the n x n scores", 2.0, slope(ns, temp["softmax"]),
                    atol=EXPONENT_ATOL),
        Claim.close("linear-memory-n", "the same for linear attention (prefix sums of φ(k)vᵀ, n·d² numbers)", 1.0,
                    slope(ns, temp["linear"]), atol=EXPONENT_ATOL),
        Claim.close("rnn-memory-n", "the same for the RNN under lax.scan (its time-major outputs, n·d numbers)",
                    1.0, slope(ns, temp["rnn"]), atol=EXPONENT_ATOL),
        Claim.at_least("softmax-time-quadratic", f"fitted wall-time exponent of softmax attention (fastest of "
                       f"{cfg.repeats} interleaved repeats) above the linear/quadratic midpoint", MIDPOINT,
                       time_exp["softmax"]),
        Claim.close("kv-step-flops-linear-in-cache", "log-log exponent in the cache length L of the compiled "
                    "operation count of one softmax decoding step (O(L) per token, O(n²) in total)", 1.0,
                    slope(lengths, kv_flops), atol=EXPONENT_ATOL),
        Claim.at_most("linear-recurrent-equals-parallel", "max |recurrent - parallel causal| linear attention, "
                      "float64", 1e-12, linear_gap),
        Claim.at_most("kv-cache-equals-causal", "max |token-by-token KV-cache attention - causal softmax "
                      "attention|, float64", 1e-12, kv_gap),
    ]
    metrics = {
        "ns": ns, "dim": cfg.dim,
        "flops": {m: flops[m].tolist() for m in METHODS},
        "temp_bytes": {m: temp[m].tolist() for m in METHODS},
        "min_seconds": {m: fwd_time[m].tolist() for m in METHODS},
        "median_seconds": {m: fwd_median[m].tolist() for m in METHODS},
        "time_exponent": time_exp,
        "median_time_exponent": {m: slope(ns, fwd_median[m]) for m in METHODS},
        "generate_ns": gen_ns, "generate_batch": cfg.generate_batch,
        "generate_seconds": {m: gen_time[m].tolist() for m in gen},
        "generate_time_exponent": gen_exp,
        "generate_seconds_per_token": {m: (gen_time[m] / np.asarray(gen_ns)).tolist() for m in gen},
        "cache_lengths": lengths, "kv_step_flops": kv_flops.tolist(), "kv_cache_bytes": kv_bytes.tolist(),
        "linear_step_flops": linear_flops, "linear_state_bytes": state_bytes,
        "rnn_flops_note": "XLA counts a lax.scan body once; the RNN's operation count is not a per-n measurement",
    }
    return Result(claims, metrics, {"ns": np.asarray(ns), "flops": flops, "temp": temp, "time": fwd_time,
                                    "gen_ns": np.asarray(gen_ns), "gen_time": gen_time,
                                    "lengths": np.asarray(lengths), "kv_flops": kv_flops,
                                    "linear_flops": linear_flops})


def _with_slope(ax, x, y, theory: float, label: str) -> None:
    (line,) = ax.plot(x, y, "o-", ms=4, label=f"{label} (slope {loglog_slope(x, y)[0]:.2f})")
    theory_line(ax, x, y[-1] * (x / x[-1]) ** theory, label=None, color=line.get_color(), alpha=0.6)


def plot(result: Result):
    d = result.data
    fig, axes = subplots(1, 3, width=4.2, title="Cost of attention vs sequence length (dashed: n² or n)")
    for m in METHODS:
        _with_slope(axes[0], d["ns"], d["time"][m], THEORY[m], m)
        _with_slope(axes[1], d["ns"], d["temp"][m], THEORY[m], m)
    axes[0].set(xscale="log", yscale="log", xlabel="sequence length n", ylabel="seconds (fastest repeat)",
                title="wall time (RNN, linear: recurrent, to the state)")
    axes[1].set(xscale="log", yscale="log", xlabel="sequence length n", ylabel="XLA temp bytes",
                title="compiled intermediates (linear: parallel form)")
    for m, theory in (("softmax-kv", 2.0), ("linear-state", 1.0)):
        _with_slope(axes[2], d["gen_ns"], d["gen_time"][m], theory, m)
    axes[2].set(xscale="log", yscale="log", xlabel="tokens generated n", ylabel="seconds (fastest repeat)",
                title="generating n tokens")
    for ax, x in zip(axes, (d["ns"], d["ns"], d["gen_ns"]), strict=True):
        ax.minorticks_off()
        ax.set_xticks(x, [str(int(v)) for v in x])
        ax.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="attention-complexity",
    description="softmax attention O(n²) vs RNN and linear attention O(n): compiled flops, memory, wall time.",
    config=Config, run=run, plot=plot)
