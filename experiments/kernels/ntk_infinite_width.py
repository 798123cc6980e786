"""Empirical NTK and NNGP at initialization converge to the analytic infinite-width kernels as width grows.

For a deep MLP in the NTK parameterization, the empirical NTK :math:`\\Theta_m = J J^\\top` of a width-``m`` network
fluctuates around its infinite-width limit :math:`\\Theta` (Jacot et al., 2018) with standard deviation
:math:`O(m^{-1/2})` (Hanin & Nica, 2020), and so does the empirical NNGP :math:`\\frac1m \\sum_c f_c f_c^\\top` of a
width-``m`` readout (Lee et al., 2018). The relative Frobenius error, root-mean-squared over random inits, is fitted
against ``m`` on a log-log scale; theory predicts slope ``-1/2``. Analytic kernels come from ``dl_theory.stax``,
empirical ones from ``dl_theory.kernels.empirical``.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import matplotlib.ticker
import numpy as np

from dl_theory import data, stax
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.kernels.empirical import empirical_nngp_fn, empirical_ntk_fn
from dl_theory.stats import loglog_slope
from dl_theory.training.progress import progress

_ACTIVATIONS = {"relu": stax.Relu, "erf": stax.Erf}


@dataclass(frozen=True)
class Config:
    seed: int = 0
    widths: tuple[int, ...] = (128, 256, 512, 1024, 2048)
    activations: tuple[str, ...] = ("relu", "erf")
    depth: int = 2  # hidden layers
    n_inputs: int = 12
    input_dim: int = 16
    n_seeds: int = 48  # the error is dominated by a few random directions (e.g. an overall scale): rms needs many
    W_std: float = 1.5
    b_std: float = 0.1
    slope_atol: float = 0.1

    @classmethod
    def quick(cls) -> "Config":
        return cls(widths=(128, 256, 512, 1024), activations=("relu",), n_inputs=8, n_seeds=24)


def mlp(cfg: Config, width: int, activation: str, out_dim: int):
    """``depth`` hidden layers of ``width`` units, then a ``Dense(out_dim)`` readout (stax triple)."""
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation: expected one of {sorted(_ACTIVATIONS)}, got {activation!r}.")
    hidden = [stax.Dense(width, W_std=cfg.W_std, b_std=cfg.b_std), _ACTIVATIONS[activation]()] * cfg.depth
    return stax.serial(*hidden, stax.Dense(out_dim, W_std=cfg.W_std, b_std=cfg.b_std))


def relative_errors(
    cfg: Config, x: jax.Array, key: jax.Array, width: int, activation: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(n_seeds, 2)`` relative Frobenius errors of the empirical (NTK, NNGP), one empirical NTK, the analytic NTK.

    The NTK is that of a scalar-output network; the NNGP that of a width-``m`` readout averaged over its channels.
    """
    init_ntk, apply_ntk, kernel_fn = mlp(cfg, width, activation, 1)
    init_nngp, apply_nngp, _ = mlp(cfg, width, activation, width)
    exact = kernel_fn(x, None, ("ntk", "nngp"))
    ntk_fn, nngp_fn = empirical_ntk_fn(apply_ntk), empirical_nngp_fn(apply_nngp)
    rel = lambda k, k_exact: jnp.linalg.norm(k - k_exact) / jnp.linalg.norm(k_exact)

    def one(k):
        k_ntk, k_nngp = jax.random.split(k)
        ntk = ntk_fn(x, None, init_ntk(k_ntk, x.shape)[1])
        nngp = nngp_fn(x, None, init_nngp(k_nngp, x.shape)[1])
        return jnp.stack([rel(ntk, exact.ntk), rel(nngp, exact.nngp)]), ntk

    errors, ntks = jax.jit(lambda keys: jax.lax.map(one, keys))(jax.random.split(key, cfg.n_seeds))
    return np.asarray(errors), np.asarray(ntks[0]), np.asarray(exact.ntk)


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    x = data.gaussian(jax.random.fold_in(key, 0), cfg.n_inputs, cfg.input_dim)
    claims, metrics, curves, examples = [], {}, {}, {}
    cases = [(a, m) for a in cfg.activations for m in cfg.widths]
    for i, (act, width) in enumerate(progress(cases, desc="ntk-infinite-width")):
        errors, ntk, exact = relative_errors(cfg, x, jax.random.fold_in(key, i + 1), width, act)
        curves.setdefault(act, []).append(np.sqrt(np.mean(errors**2, axis=0)))
        examples.setdefault(act, {})[width] = (ntk, exact)
    for act in cfg.activations:
        rms = np.array(curves[act])  # (n_widths, 2): NTK, NNGP
        for j, name in enumerate(("ntk", "nngp")):
            slope, intercept = loglog_slope(cfg.widths, rms[:, j])
            metrics[f"{act}_{name}_slope"] = slope
            metrics[f"{act}_{name}_rms_rel_error"] = dict(zip(map(str, cfg.widths), rms[:, j].tolist(), strict=True))
            claims.append(Claim.close(
                f"{act}-{name}-slope", f"{act}: log-log slope of the rms relative Frobenius error of the empirical "
                f"{name.upper()} vs width (fitted over m = {cfg.widths[0]}..{cfg.widths[-1]}) equals -1/2",
                -0.5, slope, atol=cfg.slope_atol))
        claims.append(Claim.at_most(
            f"{act}-ntk-error-shrinks", f"{act}: rms relative NTK error at m = {cfg.widths[-1]} is at most the "
            f"error at m = {cfg.widths[0]} scaled by (m_min/m_max)^(1/2), with 50% slack",
            float(rms[0, 0] * np.sqrt(cfg.widths[0] / cfg.widths[-1]) * 1.5), float(rms[-1, 0])))
    return Result(claims, metrics, {"curves": curves, "examples": examples, "widths": cfg.widths})


def plot(result: Result):
    widths = np.array(result.data["widths"])
    fig, (ax1, ax2) = subplots(1, 2, title="Empirical kernels → infinite-width kernels")
    for act, rms in result.data["curves"].items():
        rms = np.array(rms)
        ax1.plot(widths, rms[:, 0], "o-", label=f"{act}: NTK")
        ax1.plot(widths, rms[:, 1], "s-", label=f"{act}: NNGP")
    theory_line(ax1, widths, rms[0, 0] * np.sqrt(widths[0] / widths), label="∝ m^(-1/2)")
    ax1.set(xscale="log", yscale="log", xlabel="width m", ylabel="rms ‖K_m − K‖_F / ‖K‖_F")
    ax1.set_xticks(widths, [str(w) for w in widths], minor=False)
    ax1.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax1.legend(fontsize=7)
    act = next(iter(result.data["examples"]))
    for width in (widths[0], widths[-1]):
        ntk, exact = result.data["examples"][act][int(width)]
        ax2.scatter(exact.ravel(), ntk.ravel(), s=10, alpha=0.7, label=f"m = {width}")
    lim = [min(ax2.get_xlim()[0], ax2.get_ylim()[0]), max(ax2.get_xlim()[1], ax2.get_ylim()[1])]
    theory_line(ax2, lim, lim, label="y = x")
    ax2.set(xlabel="analytic NTK entry", ylabel="empirical NTK entry (one init)", title=act)
    ax2.legend()
    return fig


EXPERIMENT = Experiment(
    id="ntk-infinite-width",
    description="Empirical NTK/NNGP at init converge to the analytic kernels; relative error ~ m^(-1/2).",
    config=Config, run=run, plot=plot)
