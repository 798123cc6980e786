r"""LRU: a stable diagonal linear recurrence, its ring initialization, and the parallel scan against the sequential one.

The Linear Recurrent Unit (Orvieto et al. 2023; the notes §9.3) runs :math:`x_t = \lambda \odot x_{t-1} +
\gamma \odot B u_t` with :math:`\lambda = \exp(-e^{\nu} + i\varphi)`. Claims:

* stability by construction: :math:`|\lambda| = \exp(-e^\nu) < 1` over a wide grid of real parameters (float64;
  the hypothesis property test covers every float) and for the parameters a training run ends with;
* ring initialization: :math:`|\lambda|^2 \sim U[r_{\min}^2, r_{\max}^2]` (uniform on the annulus by area) and
  :math:`\varphi \sim U[0, \varphi_{\max}]`. The Kolmogorov–Smirnov distance of n draws is at most the DKW radius
  :math:`\sqrt{\ln(2/\alpha)/(2n)}`, which a correct sampler exceeds with probability at most alpha (so the claim
  holds at any seed but a fraction alpha of them); drawing :math:`|\lambda|` itself uniformly exceeds it (power);
* the parallel scan (``lax.associative_scan`` with :math:`(a_i, b_i) \bullet (a_j, b_j) = (a_j a_i, a_j b_i + b_j)`)
  equals the sequential ``lax.scan`` to rounding, in complex64 and complex128;
* depth: the longest chain of combines (counted by the operator itself, not by a formula) is T - 1 for the
  sequential scan and at most :math:`2\lceil\log_2 T\rceil` for the parallel one, whose total work is at most 2T;
* a two-block LRU model (the recurrence is linear, so the product value x marker of the adding problem needs a
  first block's GLU before a second block's recurrence can sum it) learns the adding problem at a length where a
  simple tanh RNN of the same width and the same number of Adam steps fails (test MSE relative to the trivial 1/6
  below ``learn_level`` and above ``fail_level``; each with the learning rate that suits it). It trains with the
  sequential scan, which is faster on a CPU; the outputs are the same.

Wall time of both scans over T is measured on the current backend and reported as measured with its log-log slope
(metrics, not claims): on a CPU the sequential scan is usually faster, because the parallel one does about twice
the work and a CPU has few lanes to spread it over; the speed-up of the parallel scan is a GPU/TPU result.
"""

import functools
import math
from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats as sps

from dl_theory import checks
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.experiment.timing import best_times
from dl_theory.models.sequence import sequence_model, simple_rnn
from dl_theory.models.sequence.linear_scan import combine_depth, combine_work, parallel_scan, sequential_scan
from dl_theory.models.sequence.lru import eigenvalues, lru_model, ring_init
from dl_theory.models.sequence.tasks import adding_error
from dl_theory.stats import loglog_slope

SCAN_TOLERANCE = {"complex64": 1e-4, "complex128": 1e-12}  # max |parallel - sequential| / max |x|


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    r_min: Annotated[float, checks.in_interval(0.0, 1.0, closed=True)] = 0.4
    r_max: Annotated[float, checks.probability] = 0.99
    max_phase: Annotated[float, checks.positive] = math.pi
    n_ring: Annotated[int, checks.at_least(100)] = 100_000
    alpha: Annotated[float, checks.probability] = 1e-6
    state_dim: Annotated[int, checks.count] = 64
    scan_length: Annotated[int, checks.at_least(2)] = 8192
    depth_lengths: Annotated[tuple[int, ...], checks.each(checks.at_least(2), min_length=3)] = tuple(
        2**k for k in range(1, 17))
    timing_lengths: Annotated[tuple[int, ...], checks.each(checks.at_least(2), min_length=2)] = (
        256, 1024, 4096, 16384, 65536)
    timing_repeats: Annotated[int, checks.count] = 7
    task_length: Annotated[int, checks.at_least(2)] = 50
    train_steps: Annotated[int, checks.count] = 1000
    lru_learning_rate: Annotated[float, checks.positive] = 5e-3
    lru_width: Annotated[int, checks.count] = 16
    rnn_learning_rate: Annotated[float, checks.positive] = 2e-2
    fail_level: Annotated[float, checks.probability] = 0.5
    learn_level: Annotated[float, checks.probability] = 0.25

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_ring=20_000, scan_length=1024, depth_lengths=(2, 3, 10, 64, 100, 1000),
                   timing_lengths=(256, 1024, 4096), timing_repeats=3)


def _scan_error(key: jax.Array, cfg: Config, dtype: str) -> float:
    """Max |parallel - sequential| / max |x| over a batch of LRU recurrences of ``scan_length`` steps."""
    with jax.enable_x64(dtype == "complex128"):
        k_l, k_b = jax.random.split(key)
        nu, phi = ring_init(k_l, cfg.state_dim, cfg.r_min, cfg.r_max, cfg.max_phase)
        lam = eigenvalues(nu, phi).astype(dtype)
        b = jax.random.normal(k_b, (cfg.scan_length, 2, cfg.state_dim)).astype(dtype)
        seq, par = jax.jit(sequential_scan)(lam[None, None], b), jax.jit(parallel_scan)(lam[None, None], b)
        return float(jnp.max(jnp.abs(par - seq)) / jnp.max(jnp.abs(seq)))


def _timings(key: jax.Array, cfg: Config) -> dict[str, list[float]]:
    """Best-of-``timing_repeats`` wall time (s) of each jitted scan over every T (complex64, batch 1)."""
    lam = eigenvalues(*ring_init(key, cfg.state_dim, cfg.r_min, cfg.r_max, cfg.max_phase))[None]
    out = {"sequential": [], "parallel": []}
    for length in cfg.timing_lengths:
        b = jax.random.normal(jax.random.fold_in(key, length), (length, cfg.state_dim)).astype(lam.dtype)
        best = best_times([functools.partial(jax.jit(scan), lam, b) for scan in (sequential_scan, parallel_scan)],
                          cfg.timing_repeats)
        for name, t in zip(("sequential", "parallel"), best, strict=True):
            out[name].append(t)
    return out


def _ring_distances(key: jax.Array, cfg: Config) -> dict[str, float]:
    """KS distances (and p-values) of the ring init's |lambda|^2 and phase, and of a uniform-radius draw."""
    nu, phi = ring_init(key, cfg.n_ring, cfg.r_min, cfg.r_max, cfg.max_phase)
    with jax.enable_x64(True):
        modulus_sq = np.asarray(jnp.abs(eigenvalues(np.float64(nu), np.float64(phi))) ** 2)
    lo, hi = cfg.r_min**2, cfg.r_max**2
    radius = cfg.r_min + (cfg.r_max - cfg.r_min) * np.asarray(jax.random.uniform(jax.random.fold_in(key, 1),
                                                                                 (cfg.n_ring,)))
    ring = sps.kstest(modulus_sq, sps.uniform(lo, hi - lo).cdf)
    phase = sps.kstest(np.asarray(phi), sps.uniform(0, cfg.max_phase).cdf)
    naive = sps.kstest(radius**2, sps.uniform(lo, hi - lo).cdf)
    return {"ring_D": ring.statistic, "ring_p": ring.pvalue, "phase_D": phase.statistic, "phase_p": phase.pvalue,
            "uniform_radius_D": naive.statistic, "uniform_radius_p": naive.pvalue}


def run(cfg: Config) -> Result:
    if not cfg.r_min < cfg.r_max:
        raise checks.fail("r_min", f"< r_max = {cfg.r_max}", cfg.r_min)
    key = jax.random.key(cfg.seed)
    with jax.enable_x64(True):
        nu, phi = np.meshgrid(np.linspace(-30, 30, 601), np.linspace(-10, 10, 41))
        grid_max = float(jnp.max(jnp.abs(eigenvalues(nu, phi))))
    ks = _ring_distances(jax.random.fold_in(key, 0), cfg)
    dkw = math.sqrt(math.log(2 / cfg.alpha) / (2 * cfg.n_ring))
    errors = {d: _scan_error(jax.random.fold_in(key, 1), cfg, d) for d in SCAN_TOLERANCE}
    lengths = sorted(cfg.depth_lengths)
    depth = {a: [combine_depth(n, a) for n in lengths] for a in ("sequential", "parallel")}
    work = [combine_work(n, "parallel") for n in lengths]
    log_depth_ratio = max(d / (2 * math.ceil(math.log2(n))) for d, n in zip(depth["parallel"], lengths, strict=True))
    timings = _timings(jax.random.fold_in(key, 2), cfg)

    task = dict(batch_size=64, n_train=2048, n_test=1024)
    lru_net = lru_model(cfg.lru_width, cfg.lru_width, 2, 1, pool="last", norm=False, r_min=0.9, r_max=0.999,
                        max_phase=math.pi / 5, parallel=False)
    lru_score = adding_error(lru_net, jax.random.fold_in(key, 3), cfg.task_length, train_steps=cfg.train_steps,
                             learning_rate=cfg.lru_learning_rate, desc="LRU adding", **task)
    rnn_score = adding_error(sequence_model(simple_rnn(cfg.lru_width), 1), jax.random.fold_in(key, 4),
                             cfg.task_length, train_steps=cfg.train_steps, learning_rate=cfg.rnn_learning_rate,
                             desc="RNN adding", **task)
    trained_max = max(float(jnp.max(jnp.abs(eigenvalues(b["lru"]["nu"], b["lru"]["phi"]))))
                      for b in lru_score.params["blocks"])

    claims = [
        Claim("modulus-below-one", "min of 1 - |lambda| = 1 - exp(-exp(nu)) over nu in [-30, 30], phi in [-10, 10] "
              "(float64) > 0", "> 0", 1 - grid_max, None, grid_max < 1),
        Claim("trained-modulus-below-one", "max |lambda| of the trained LRU model (float32) < 1", "< 1",
              trained_max, None, trained_max < 1),
        Claim.at_most("ring-uniform-annulus", f"KS distance of |lambda|^2 of {cfg.n_ring} ring-init draws from "
                      f"U[r_min^2, r_max^2] <= DKW radius at alpha = {cfg.alpha}", dkw, ks["ring_D"]),
        Claim.at_most("ring-phase-uniform", f"KS distance of the phases from U[0, {cfg.max_phase:.4g}] <= DKW radius",
                      dkw, ks["phase_D"]),
        Claim.at_least("uniform-radius-rejected", "KS distance of |lambda|^2 when |lambda| (not |lambda|^2) is drawn "
                       "uniformly > DKW radius (the test has power)", dkw, ks["uniform_radius_D"]),
        *[Claim.at_most(f"scan-equal-{d}", f"max |parallel - sequential| / max |x|, T = {cfg.scan_length}, "
                        f"{cfg.state_dim} states, {d}", tol, errors[d]) for d, tol in SCAN_TOLERANCE.items()],
        Claim("sequential-depth", f"sequential scan: longest combine chain = T - 1 for every T in {lengths[0]}.."
              f"{lengths[-1]}", "T - 1", int(max(abs(d - (n - 1)) for d, n in zip(depth["sequential"], lengths,
                                                                                    strict=True))), 0,
              all(d == n - 1 for d, n in zip(depth["sequential"], lengths, strict=True))),
        Claim.at_most("parallel-depth-log", "parallel scan: max over T of depth / (2 ceil(log2 T))", 1.0,
                      log_depth_ratio),
        Claim.at_most("parallel-work", "parallel scan: max over T of combines / T", 2.0,
                      max(w / n for w, n in zip(work, lengths, strict=True))),
        Claim.at_most("lru-learns-adding", f"two-block LRU, adding problem T = {cfg.task_length}: test MSE / trivial "
                      f"(SE {lru_score.stderr:.3f})", cfg.learn_level, lru_score.relative_mse),
        Claim.at_least("rnn-fails-adding", f"simple tanh RNN, same T, width and steps: test MSE / trivial "
                       f"(SE {rnn_score.stderr:.3f})",
                       cfg.fail_level, rnn_score.relative_mse),
    ]
    metrics = {
        "ks": ks, "dkw_radius": dkw, "scan_relative_error": errors,
        "depth_lengths": lengths, "depth": depth, "parallel_work": work,
        "parallel_depth_vs_log2T_slope": float(np.polyfit(np.log2(lengths), depth["parallel"], 1)[0]),
        "depth_loglog_slope": {a: loglog_slope(lengths, depth[a])[0] for a in depth},
        "backend": jax.default_backend(),
        "timing_lengths": list(cfg.timing_lengths), "wall_time_s": timings,
        "wall_time_loglog_slope": {a: loglog_slope(cfg.timing_lengths, t)[0] for a, t in timings.items()},
        "parallel_over_sequential_time_at_largest_T": timings["parallel"][-1] / timings["sequential"][-1],
        "adding_relative_mse": {"lru": lru_score.relative_mse, "simple_rnn": rnn_score.relative_mse},
        "adding_relative_mse_stderr": {"lru": lru_score.stderr, "simple_rnn": rnn_score.stderr},
        "trained_max_modulus": trained_max,
    }
    return Result(claims, metrics, {"lengths": lengths, "depth": depth, "timing_lengths": cfg.timing_lengths,
                                    "timings": timings, "backend": jax.default_backend()})


def plot(result: Result):
    d = result.data
    fig, (ax1, ax2) = subplots(1, 2, width=4.4, title="LRU: parallel vs sequential scan")
    n = np.asarray(d["lengths"])
    for name, marker in (("sequential", "o"), ("parallel", "s")):
        ax1.loglog(n, np.maximum(d["depth"][name], 1), marker, ms=4, label=f"{name} (measured)")
    theory_line(ax1, n, n - 1, label="T − 1")
    theory_line(ax1, n, 2 * np.ceil(np.log2(n)), label="2⌈log₂T⌉", color="0.4")
    ax1.set(xlabel="sequence length T", ylabel="depth (longest chain of combines)", title="depth")
    ax1.legend(fontsize=7)
    for name, marker in (("sequential", "o-"), ("parallel", "s-")):
        ax2.loglog(d["timing_lengths"], d["timings"][name], marker, ms=4, label=name)
    ax2.set(xlabel="sequence length T", ylabel="wall time (s, best of repeats)",
            title=f"wall time on {d['backend']}")
    ax2.minorticks_off()
    ax2.set_xticks(d["timing_lengths"], [str(n) for n in d["timing_lengths"]])
    ax2.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="lru",
    description="LRU: |λ|<1 always, ring init uniform on the annulus, associative scan = sequential, depth log T vs T.",
    config=Config, run=run, plot=plot)
