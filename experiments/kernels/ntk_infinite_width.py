"""Empirical NTK and NNGP at initialization converge to the analytic infinite-width kernels as width grows.

For a deep MLP in the NTK parameterization, the empirical NTK :math:`\\Theta_m = J J^\\top` of a width-``m`` network
fluctuates around its infinite-width limit :math:`\\Theta` (Jacot et al., 2018) with standard deviation
:math:`O(m^{-1/2})` (Hanin & Nica, 2020), and so does the empirical NNGP :math:`\\frac1m \\sum_c f_c f_c^\\top` of a
width-``m`` readout (Lee et al., 2018). More precisely, at fixed depth :math:`\\sqrt m(\\Theta_m - \\Theta)` converges
in law to a centred Gaussian matrix (Yang, 2019; Hanin & Nica, 2020), so the relative Frobenius error :math:`e_m =
\\|K_m - K\\|_F/\\|K\\|_F` is :math:`m^{-1/2}` times a variable whose law does not depend on ``m`` in the limit, and
:math:`\\mathbb E \\log e_m = -\tfrac12 \\log m + c + O(1/m)`. The claims fit the mean of :math:`\\log e_m` over
independent inits against :math:`\\log m` (the log of the geometric mean; ``dl_theory.stats.log_mean_slope``) and allow
three standard errors, with Student's t quantile for the pooled variance's degrees of freedom: the slope is a linear
combination of the per-width means, which come from independent networks, so its standard error is exact. The log is
used because the squared error has a heavy right tail (a few inits dominate a root mean square over a few dozen inits,
and its bootstrap standard error is then too small), while the law of :math:`\\log e_m` is close to normal. Analytic
kernels come from ``dl_theory.stax``, empirical ones from ``dl_theory.kernels.empirical``, the networks from
``dl_theory.models.mlp``.
"""

from dataclasses import dataclass
from functools import partial
from typing import Annotated

import jax
import jax.numpy as jnp
import matplotlib.ticker
import numpy as np

from dl_theory import checks, data, models
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.kernels.empirical import empirical_nngp_fn, empirical_ntk_fn
from dl_theory.stats import log_mean_slope
from dl_theory.training.progress import progress

N_SE = 3.0  # standard errors of the slope claims' tolerance


def kernel_activations(name: str, value: tuple[str, ...]) -> None:
    """Every entry is an activation with an analytic kernel in :data:`dl_theory.models.ACTIVATIONS`."""
    checks.each(lambda n, v: None)(name, value)
    for i, v in enumerate(value):
        if v not in models.ACTIVATIONS:
            raise checks.fail(f"{name}[{i}]", f"one of {sorted(models.ACTIVATIONS)}", v)


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    widths: Annotated[tuple[int, ...], checks.each(checks.count, min_length=3)] = (128, 256, 512, 1024, 2048)
    activations: Annotated[tuple[str, ...], kernel_activations] = ("relu", "erf")
    depth: Annotated[int, checks.count] = 2  # hidden layers
    n_inputs: Annotated[int, checks.at_least(2)] = 12
    input_dim: Annotated[int, checks.count] = 16
    n_seeds: Annotated[int, checks.at_least(8)] = 48  # inits per width: the mean log error and its variance
    W_std: Annotated[float, checks.positive] = 1.5
    b_std: Annotated[float, checks.nonnegative] = 0.1

    @classmethod
    def quick(cls) -> "Config":
        return cls(widths=(128, 256, 512, 1024), activations=("relu",), n_inputs=8, n_seeds=24)


def mlp(cfg: Config, width: int, activation: str, out_dim: int):
    """``depth`` hidden layers of ``width`` units, then a ``Dense(out_dim)`` readout (stax triple)."""
    return models.mlp((width,) * cfg.depth, out_dim, activation=activation, W_std=cfg.W_std, b_std=cfg.b_std,
                      last_W_std=cfg.W_std)


@partial(jax.jit, static_argnums=(0, 3, 4))
def _relative_errors(cfg: Config, x: jax.Array, key: jax.Array, width: int, activation: str):
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

    errors, ntks = jax.lax.map(one, jax.random.split(key, cfg.n_seeds))
    return errors, ntks[0], exact.ntk


def relative_errors(
    cfg: Config, x: jax.Array, key: jax.Array, width: int, activation: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(n_seeds, 2)`` relative Frobenius errors of the empirical (NTK, NNGP), one empirical NTK, the analytic NTK.

    The NTK is that of a scalar-output network; the NNGP that of a width-``m`` readout averaged over its channels.
    """
    return tuple(np.asarray(a) for a in _relative_errors(cfg, x, key, width, activation))


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    x = data.gaussian(jax.random.fold_in(key, 0), cfg.n_inputs, cfg.input_dim)
    claims, metrics, curves, examples, errors_all = [], {}, {}, {}, {}
    cases = [(a, m) for a in cfg.activations for m in cfg.widths]
    for i, (act, width) in enumerate(progress(cases, desc="ntk-infinite-width")):
        errors, ntk, exact = relative_errors(cfg, x, jax.random.fold_in(key, i + 1), width, act)
        curves.setdefault(act, []).append(np.exp(np.mean(np.log(errors), axis=0)))
        errors_all.setdefault(act, []).append(errors)
        examples.setdefault(act, {})[width] = (ntk, exact)
    errors_by_act = {act: np.stack(errs, axis=-1) for act, errs in errors_all.items()}  # (n_seeds, 2, n_widths)
    for act in cfg.activations:
        geo = np.array(curves[act])  # (n_widths, 2): NTK, NNGP
        for j, name in enumerate(("ntk", "nngp")):
            fit = log_mean_slope(cfg.widths, errors_by_act[act][:, j, :])
            metrics[f"{act}_{name}_slope"] = fit.slope
            metrics[f"{act}_{name}_slope_stderr"] = fit.stderr
            metrics[f"{act}_{name}_slope_dof"] = fit.dof
            metrics[f"{act}_{name}_geomean_rel_error"] = dict(zip(map(str, cfg.widths), geo[:, j].tolist(),
                                                                  strict=True))
            claims.append(Claim.close(
                f"{act}-{name}-slope", f"{act}: log-log slope of the geometric mean over {cfg.n_seeds} inits of the "
                f"relative Frobenius error of the empirical {name.upper()} vs width (m = {cfg.widths[0]}.."
                f"{cfg.widths[-1]}) equals -1/2 within {N_SE:g} standard errors (t quantile, {fit.dof} degrees of "
                "freedom)", -0.5, fit.slope, atol=fit.tolerance(N_SE)))
    return Result(claims, metrics, {"curves": curves, "examples": examples, "widths": cfg.widths})


def plot(result: Result):
    widths = np.array(result.data["widths"])
    fig, (ax1, ax2) = subplots(1, 2, title="Empirical kernels → infinite-width kernels")
    for act, geo in result.data["curves"].items():
        geo = np.array(geo)
        ax1.plot(widths, geo[:, 0], "o-", label=f"{act}: NTK")
        ax1.plot(widths, geo[:, 1], "s-", label=f"{act}: NNGP")
    theory_line(ax1, widths, geo[0, 0] * np.sqrt(widths[0] / widths), label="∝ m^(-1/2)")
    ax1.set(xscale="log", yscale="log", xlabel="width m", ylabel="geometric mean ‖K_m − K‖_F / ‖K‖_F")
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
