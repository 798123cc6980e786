r"""RNN gradients: BPTT is a sum over time, the backward flow is bounded by sigma_max(W)^(T-t), gates keep memory.

Three parts.

1. Backpropagation through time. ``jax.grad`` of a risk :math:`R = \sum_t \ell_t(z_t)` through the ``lax.scan``
   unroll of a tanh RNN equals the explicit sum over time
   :math:`\partial R/\partial w_{ij} = \sum_t \partial R/\partial z_t^i\, \varphi'(a_t^i)\, z_{t-1}^j` (and the same
   for U and b), computed independently in NumPy float64 with the total derivative
   :math:`\partial R/\partial z_t` accumulated backward. The notes write the last factor as :math:`z_t^{t-1}`; it
   is :math:`z_{t-1}^j`, and their :math:`\partial R/\partial u_{ik}` repeats :math:`\varphi'`, which appears once.
2. The backward flow :math:`\partial z_T/\partial z_t = \prod_{r=t+1}^T S(a_r) W` (measured by autodiff) against the
   bound :math:`\sigma_{\max}(W)^{T-t}` at every t, for W a multiple sigma of a random orthogonal matrix (so that
   :math:`\sigma_{\max}(W) = \sigma`). Below 1 the flow vanishes geometrically. Above 1 it grows in the
   near-linear regime (small inputs keep tanh' close to 1); with inputs of unit scale tanh saturates and the flow
   decays even for sigma > 1 (reported: the bound is an upper bound, exploding needs the linear regime). The bound
   needs :math:`|\varphi'| \le 1`: with :math:`\varphi = g\tanh` for a gain g > 1 the flow exceeds
   :math:`\sigma_{\max}(W)^{T-t}` (a claim shows it; the correct bound is :math:`(g\sigma_{\max})^{T-t}`).
3. Memory over sequence length: a simple RNN, an LSTM (forget bias 1) and a GRU of the same width are trained
   with Adam on the adding problem (Hochreiter & Schmidhuber 1997) for every length of a grid. The error is the test
   MSE divided by the trivial predictor's 1/6, so 1 means nothing was remembered. A cell *fails* at a length where
   that ratio is above ``fail_level``; the claim is that the simple RNN fails at a shorter length of the grid than
   either gated cell, while all three learn at the shortest length.
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np

from dl_theory import checks
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.models.sequence import gru, lstm, sequence_model, simple_rnn, unroll
from dl_theory.models.sequence.bptt import explicit_bptt, state_jacobian_norms
from dl_theory.models.sequence.tasks import adding_error
from dl_theory.training import progress

CELLS = {"simple RNN": simple_rnn, "LSTM": lstm, "GRU": gru}


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    hidden: Annotated[int, checks.at_least(2)] = 16
    flow_length: Annotated[int, checks.at_least(2)] = 60
    sigmas: Annotated[tuple[float, ...], checks.each(checks.positive, min_length=2)] = (0.6, 0.9, 1.1, 1.3)
    small_input: Annotated[float, checks.positive] = 1e-3
    gain: Annotated[float, checks.in_interval(1.0, 10.0)] = 1.5
    n_sequences: Annotated[int, checks.count] = 8
    lengths: Annotated[tuple[int, ...], checks.each(checks.at_least(2), min_length=2)] = (10, 20, 40, 60, 100)
    train_steps: Annotated[int, checks.count] = 1000
    batch_size: Annotated[int, checks.count] = 64
    learning_rate: Annotated[float, checks.positive] = 2e-2
    n_train: Annotated[int, checks.at_least(64)] = 4096
    n_test: Annotated[int, checks.at_least(64)] = 2048
    fail_level: Annotated[float, checks.probability] = 0.5
    learn_level: Annotated[float, checks.probability] = 0.25

    @classmethod
    def quick(cls) -> "Config":
        return cls(flow_length=40, n_sequences=4, lengths=(10, 50), train_steps=400, n_train=2048, n_test=1024)


def _bptt_error(key: jax.Array, cfg: Config) -> float:
    """Max relative error of jax.grad through the scan against the explicit sums, float64."""
    with jax.enable_x64(True):
        cell = simple_rnn(cfg.hidden)
        k_p, k_x, k_y = jax.random.split(key, 3)
        params = cell.init(k_p, 3)
        x = jax.random.normal(k_x, (cfg.n_sequences, 12, 3))
        target = jax.random.normal(k_y, (cfg.n_sequences, 12, cfg.hidden))
        grad = jax.jit(jax.grad(lambda p: 0.5 * jnp.sum((unroll(cell, p, x)[1] - target) ** 2)))(params)
        explicit = explicit_bptt(params, x, jax.jit(unroll, static_argnums=0)(cell, params, x)[1] - target)
        return max(float(np.max(np.abs(grad[k] - explicit[k])) / np.max(np.abs(explicit[k]))) for k in explicit)


def _flows(key: jax.Array, cfg: Config, input_scale: float, gain: float = 1.0) -> dict[float, np.ndarray]:
    """Per sigma, ||dz_T/dz_t|| of shape (sequences, T) for a (gain * tanh) RNN with W = sigma * orthogonal."""
    out = {}
    cell = simple_rnn(cfg.hidden, activation=lambda a: gain * jnp.tanh(a))
    with jax.enable_x64(True):
        norms = jax.jit(lambda p, x: state_jacobian_norms(cell, p, x))
        for i, sigma in enumerate(cfg.sigmas):
            k_p, k_x = jax.random.split(jax.random.fold_in(key, i))
            params = cell.init(k_p, cfg.hidden)  # W orthogonal: sigma_max(sigma W) = sigma
            x = input_scale * jax.random.normal(k_x, (cfg.n_sequences, cfg.flow_length, cfg.hidden))
            out[sigma] = np.asarray(norms({**params, "W": sigma * params["W"]}, x))
    return out


def _first_failure(errors: list[float], level: float) -> int:
    """Index of the first length whose error exceeds ``level`` (the grid size when none does)."""
    above = np.flatnonzero(np.asarray(errors) > level)
    return int(above[0]) if above.size else len(errors)


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    bptt_error = _bptt_error(jax.random.fold_in(key, 0), cfg)
    linear = _flows(jax.random.fold_in(key, 1), cfg, cfg.small_input)
    saturated = _flows(jax.random.fold_in(key, 1), cfg, 1.0)
    gained = _flows(jax.random.fold_in(key, 2), cfg, cfg.small_input, cfg.gain)
    lag = cfg.flow_length - np.arange(cfg.flow_length)
    bound = {s: s ** lag.astype(float) for s in cfg.sigmas}
    ratio = max(float(np.max(f[s] / bound[s][None])) for f in (linear, saturated) for s in cfg.sigmas)
    low, high = min(cfg.sigmas), max(cfg.sigmas)
    gain_ratio = max(float(np.max(gained[s] / bound[s][None])) for s in cfg.sigmas)

    lengths = sorted(cfg.lengths)
    errors, stderrs = {n: [] for n in CELLS}, {n: [] for n in CELLS}
    for j, length in enumerate(progress(lengths, desc="rnn-gradients lengths")):
        for i, name in enumerate(CELLS):
            model = sequence_model(CELLS[name](cfg.hidden), 1)
            e, se, _ = adding_error(model, jax.random.fold_in(key, 100 + 10 * j + i), length,
                                    train_steps=cfg.train_steps, learning_rate=cfg.learning_rate,
                                    batch_size=cfg.batch_size, n_train=cfg.n_train, n_test=cfg.n_test,
                                    desc=f"{name} T={length}")
            errors[name].append(e)
            stderrs[name].append(se)
    first = {n: _first_failure(errors[n], cfg.fail_level) for n in CELLS}
    gated_first = min(first["LSTM"], first["GRU"])
    fails_first = first["simple RNN"] < gated_first

    def slope(f):
        return float(np.polyfit(lag, np.log(f.mean(axis=0)), 1)[0])

    claims = [
        Claim.at_most("bptt-explicit-sum", "max relative error, jax.grad through lax.scan vs the explicit sum over "
                      "time dR/dw_ij = sum_t dR/dz_t^i phi'_t^i z_(t-1)^j (W, U, b; float64)", 1e-10, bptt_error),
        Claim.at_most("flow-bound-every-t", "max over sigma, sequences and t of ||dz_T/dz_t|| / sigma_max(W)^(T-t) "
                      "(tanh; small and unit-scale inputs; float64)", 1.0, ratio, slack=1e-12),
        Claim.at_most("vanishing", f"sigma_max = {low}: max ||dz_T/dz_0|| over sequences, at lag T = "
                      f"{cfg.flow_length} (vanishes geometrically; theory: the bound sigma^T)",
                      low ** cfg.flow_length, float(linear[low][:, 0].max()), slack=1e-12 * low ** cfg.flow_length),
        Claim.at_least("growth", f"sigma_max = {high}, inputs of scale {cfg.small_input} (near-linear regime): "
                       f"min ||dz_T/dz_0|| over sequences, at lag T = {cfg.flow_length} (grows: > 1)",
                       1.0, float(linear[high][:, 0].min())),
        Claim.at_least("bound-needs-tanh", f"phi = {cfg.gain} tanh (|phi'| up to {cfg.gain} > 1): max over "
                       "sigma, sequences and t of ||dz_T/dz_t|| / sigma_max^(T-t) (> 1: the notes' bound fails "
                       "without |phi'| <= 1)", 1.0, gain_ratio),
        Claim.at_most("all-learn-short", f"T = {lengths[0]}: max over cells of the test MSE / trivial MSE (1/6)",
                      cfg.learn_level, max(errors[n][0] for n in CELLS)),
        Claim("rnn-fails-first", f"first length of {tuple(lengths)} with test MSE / trivial > {cfg.fail_level}: "
              "simple RNN's < LSTM's and GRU's (grid size if none)", "RNN first",
              f"RNN {lengths[first['simple RNN']] if first['simple RNN'] < len(lengths) else 'none'}, gated "
              f"{lengths[gated_first] if gated_first < len(lengths) else 'none'}", None, fails_first),
    ]
    metrics = {
        "bptt_max_relative_error": bptt_error,
        "flow_bound_max_ratio": ratio,
        "gain_tanh_max_ratio": gain_ratio,
        "log_flow_slope_per_step": {"near_linear": {str(s): slope(linear[s]) for s in cfg.sigmas},
                                    "saturated": {str(s): slope(saturated[s]) for s in cfg.sigmas},
                                    "bound": {str(s): float(np.log(s)) for s in cfg.sigmas}},
        "flow_at_lag_T": {"near_linear": {str(s): float(linear[s][:, 0].mean()) for s in cfg.sigmas},
                          "saturated": {str(s): float(saturated[s][:, 0].mean()) for s in cfg.sigmas}},
        "lengths": lengths,
        "adding_relative_mse": errors,
        "adding_relative_mse_stderr": stderrs,
        "first_failing_length": {n: (lengths[i] if i < len(lengths) else None) for n, i in first.items()},
    }
    return Result(claims, metrics, {"lag": lag, "linear": linear, "saturated": saturated, "bound": bound,
                                    "lengths": lengths, "errors": errors, "stderrs": stderrs,
                                    "fail_level": cfg.fail_level})


def plot(result: Result):
    d = result.data
    fig, (ax1, ax2) = subplots(1, 2, width=4.6, title="RNN gradients: backward flow and memory")
    for s, f in d["linear"].items():
        (line,) = ax1.semilogy(d["lag"], f.mean(axis=0), "o", ms=2.5, label=f"σmax={s}")
        theory_line(ax1, d["lag"], d["bound"][s], label=None, color=line.get_color())
        ax1.semilogy(d["lag"], d["saturated"][s].mean(axis=0), ":", color=line.get_color(), lw=1)
    ax1.set(xlabel="lag T − t", ylabel="‖∂z_T/∂z_t‖₂",
            title="dots: small inputs, dotted: unit inputs, dashed: σmax^(T−t)")
    ax1.legend(fontsize=7)
    for name, e in d["errors"].items():
        ax2.errorbar(d["lengths"], e, yerr=d["stderrs"][name], marker="o", ms=4, capsize=2, label=name)
    ax2.axhline(1.0, color="0.5", ls=":", lw=1, label="trivial predictor")
    ax2.axhline(d["fail_level"], color="black", ls="--", lw=1, label="failure level")
    ax2.set(xscale="log", xlabel="sequence length T", ylabel="test MSE / trivial MSE",
            title="adding problem")
    ax2.minorticks_off()
    ax2.set_xticks(d["lengths"], [str(n) for n in d["lengths"]])
    ax2.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="rnn-gradients",
    description="BPTT = explicit sum over time; ‖∂z_T/∂z_t‖ ≤ σmax(W)^(T−t); LSTM/GRU outlast a simple RNN on adding.",
    config=Config, run=run, plot=plot)
