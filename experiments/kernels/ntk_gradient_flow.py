r"""Gradient descent of linearized networks in closed form, and finite networks against infinite-width NTK and NNGP
predictions on digits.

For the MSE loss :math:`\frac{1}{2N}\sum_n \|f(x_n) - y_n\|^2` over :math:`N` examples (``dl_theory.losses.mse``) a
linearized network :math:`f^{lin}_\theta = f_0 + J_0(\theta - \theta_0)` evolves in function space with the constant
empirical NTK :math:`\Theta = J_0 J_0^\top` (Lee et al., 2019, eqs. 8-9). Discrete GD with rate :math:`\eta` gives
:math:`f_k(X) = Y + (I - \eta\Theta/N)^k (f_0(X) - Y)` exactly, and on test inputs :math:`f_k(x) = f_0(x) + \Theta(x,
X)\Theta^{-1}[(I - \eta\Theta/N)^k - I](f_0(X) - Y)`. Gradient flow replaces :math:`(1 - x)^k` by :math:`e^{-kx}` for
every eigenvalue :math:`x = \eta\lambda/N` (``dl_theory.predict.gradient_descent_mse``, whose normalization is the
number of outputs, so it is called with the rate :math:`\eta C` for :math:`C` outputs per example). The two differ by at
most :math:`k x^2 e^{-(k-1)x}/2` per eigenmode, since :math:`a^k - b^k \le k (a - b) a^{k-1}` for :math:`a = e^{-x} \ge
b = 1 - x \ge 0` and :math:`e^{-x} - (1 - x) \le x^2/2`; the claim checks the measured gap against this bound on
training and test outputs. For :math:`t \to \infty` the flow computed through the eigendecomposition at a very late time
agrees with kernel regression :math:`f_0(x) + \Theta(x, X)\Theta^{-1}(Y - f_0(X))` computed by a Cholesky solve, and the
training set is interpolated.

Part 2 trains finite one-hidden-layer ReLU networks on digits with discrete GD and compares them with the infinite-width
predictions of the analytic kernels (``dl_theory.stax``) for the same rate and number of steps (the discrete-time
formula above, not gradient flow: at half the stability limit the two differ by an amount that does not shrink with
width). Centred networks :math:`f(\theta) - f(\theta_0)` trained in every layer approach the NTK prediction (Jacot et
al., 2018; Arora et al., 2019); centred networks whose readout alone is trained approach the prediction of the NNGP
kernel, which is the NTK of the readout layer (Lee et al., 2018; 2019), and whose long-time limit is the NNGP posterior
mean. In both cases the network's kernel at initialization fluctuates around its limit by :math:`O(m^{-1/2})` with mean
zero, the prediction depends smoothly on the kernel, and the training of the hidden layer moves the kernel by less, so
the distance is :math:`m^{-1/2}` times a variable of a width-independent law in the limit. The claims use the mean of
the log distance over independent networks (the log of the geometric mean; the logs are close to normal, and a few
networks do not dominate them as they dominate a root mean square). The NNGP claim fits its exponent over the widths
and allows three standard errors, exact for the slope (a linear combination of per-width means from independent
networks, ``dl_theory.stats.log_mean_slope``) with Student's t quantile for the pooled variance. The NTK distance
approaches :math:`m^{-1/2}` only at large widths, so its claim is that the local exponent's deviation from
:math:`-1/2` shrinks between the last two pairs of widths, within three bootstrap standard errors.
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dl_theory import checks, data, losses, models, predict
from dl_theory.dynamics.taylor import linearize
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots
from dl_theory.kernels.empirical import empirical_ntk_fn
from dl_theory.stats import bootstrap_stderr, log_mean_slope
from dl_theory.training import train
from dl_theory.training.ensemble import ensemble, stacked_init
from dl_theory.training.progress import progress

N_SE = 3.0  # standard errors of the exponent claims' tolerance
N_CLASSES = 10


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    # part 1: empirical NTK of one finite network (float64)
    width: Annotated[int, checks.count] = 256
    n_train: Annotated[int, checks.at_least(2)] = 40
    n_test: Annotated[int, checks.count] = 40
    steps: Annotated[int, checks.count] = 400
    lr_fraction: Annotated[float, checks.probability] = 0.1  # of 2N / lambda_max: small, flow close to GD
    # part 2: infinite width on digits
    kr_train: Annotated[int, checks.at_least(2)] = 400
    kr_test: Annotated[int, checks.count] = 300
    widths: Annotated[tuple[int, ...], checks.each(checks.count, min_length=3)] = (128, 256, 512, 1024, 2048, 4096)
    n_nets: Annotated[int, checks.at_least(4)] = 8  # independent networks per width (the bootstrap's repeats)
    kr_steps: Annotated[int, checks.count] = 200
    kr_lr_fraction: Annotated[float, checks.probability] = 0.5
    W_std: Annotated[float, checks.positive] = 1.5
    b_std: Annotated[float, checks.nonnegative] = 0.1

    @classmethod
    def quick(cls) -> "Config":
        return cls(kr_train=128, kr_test=200, widths=(128, 512, 2048), n_nets=4, kr_steps=100)


def network(cfg: Config, width: int):
    """One hidden ReLU layer of ``width`` units and ten outputs (stax triple, NTK parameterization)."""
    return models.mlp((width,), N_CLASSES, W_std=cfg.W_std, b_std=cfg.b_std, last_W_std=cfg.W_std)


def _digits(cfg: Config, n_train: int, n_test: int):
    ds = data.digits(seed=cfg.seed)
    y = lambda labels: np.eye(N_CLASSES)[labels] - 1 / N_CLASSES  # noqa: E731  centred one-hot targets
    return (jnp.asarray(ds.x_train[:n_train]), jnp.asarray(y(ds.y_train[:n_train])),
            jnp.asarray(ds.x_test[:n_test]), jnp.asarray(y(ds.y_test[:n_test])), ds.y_test[:n_test])


def _rel(a, b) -> float:
    return float(jnp.linalg.norm(jnp.ravel(a - b)) / jnp.linalg.norm(jnp.ravel(b)))


def discrete_gd_prediction(k_train_NxN, k_test_train_MxN, y_NxC, lr: float, steps: int) -> np.ndarray:
    r"""Test outputs of kernel GD from zero after ``steps`` steps of rate ``lr`` on ``losses.mse`` (float64).

    :math:`f_k(x) = K(x, X) K^{-1} [I - (I - \eta K/N)^k] Y`, through the eigendecomposition of ``K``.
    """
    k, k_test, y = (np.asarray(a, np.float64) for a in (k_train_NxN, k_test_train_MxN, y_NxC))
    evals, evecs = np.linalg.eigh(k)
    evals = np.maximum(evals, np.finfo(np.float64).tiny)
    filt = (1.0 - (1.0 - lr * evals / len(y)) ** steps) / evals
    return k_test @ (evecs @ (filt[:, None] * (evecs.T @ y)))


def flow_gap_bounds(k_mat, k_test, r0, lr: float, n: int, steps: int) -> tuple[float, float]:
    """Bounds on ||GD - gradient flow|| on training and test outputs from ``k x^2 e^{-(k-1)x} / 2`` per mode."""
    evals = np.maximum(np.linalg.eigvalsh(k_mat), 0.0)
    x = lr * evals / n
    per_mode = steps * x**2 / 2 * np.exp(-(steps - 1) * x)
    safe = np.where(evals > 0, evals, 1.0)
    norm_r0 = np.linalg.norm(r0)
    return (float(per_mode.max() * norm_r0),
            float(np.linalg.norm(k_test, 2) * np.max(np.where(evals > 0, per_mode / safe, 0.0)) * norm_r0))


def linearized_gd(cfg: Config) -> dict:
    """Part 1 (float64): GD on the linearized net vs the discrete and continuous closed forms."""
    with jax.enable_x64(True):
        x, y, x_test, _, _ = _digits(cfg, cfg.n_train, cfg.n_test)
        init_fn, apply_fn, _ = network(cfg, cfg.width)
        _, params0 = jax.jit(init_fn, static_argnums=1)(jax.random.key(cfg.seed), x.shape)
        ntk = jax.jit(empirical_ntk_fn(apply_fn, trace_axes=(), vmap_axes=0))  # one compile: train and test rows
        theta_all = ntk(jnp.concatenate([x, x_test]), x, params0)  # (n + m, n, C, C)
        theta, theta_test = theta_all[: len(x)], theta_all[len(x) :]
        n, n_out = len(x), y.size
        lr = cfg.lr_fraction * float(predict.max_learning_rate(theta, n))  # Hessian of losses.mse: Theta / N
        f_lin = linearize(apply_fn, params0)
        params, _ = train(losses.mse(f_lin), params0, optax.sgd(lr), (x, y), n_steps=cfg.steps,
                          log_every=cfg.steps, desc="linearized GD")
        gd_train, gd_test = jax.jit(f_lin)(params, x), jax.jit(f_lin)(params, x_test)

        # the discrete-time closed form, by dense linear algebra on the (nC x nC) matrix
        k_mat = np.asarray(theta).transpose(0, 2, 1, 3).reshape(n_out, n_out)
        k_test = np.asarray(theta_test).transpose(0, 2, 1, 3).reshape(-1, n_out)
        apply_jit = jax.jit(apply_fn)
        fx0, fx0_test = apply_jit(params0, x), apply_jit(params0, x_test)
        f0, f0_test = np.asarray(fx0).ravel(), np.asarray(fx0_test).ravel()
        r0 = f0 - np.asarray(y).ravel()
        power = np.linalg.matrix_power(np.eye(n_out) - lr * k_mat / n, cfg.steps)
        disc_train = np.asarray(y).ravel() + power @ r0
        disc_test = f0_test + k_test @ np.linalg.solve(k_mat, (power - np.eye(n_out)) @ r0)
        flow = jax.jit(predict.gradient_descent_mse(theta, y, lr * N_CLASSES, trace_axes=()))  # normalized by N C
        flow_train, flow_test = flow(float(cfg.steps), fx0, fx0_test, theta_test)
        inf_train, inf_test = flow(None, fx0, fx0_test, theta_test)
        late_test = flow(1e12, fx0, fx0_test, theta_test)[1]
        bound_train, bound_test = flow_gap_bounds(k_mat, k_test, r0, lr, n, cfg.steps)
        evals = np.linalg.eigvalsh(k_mat)
        return {
            "lr": lr, "eig_min": float(evals[0]), "eig_max": float(evals[-1]),
            "gd_vs_discrete_train": _rel(gd_train.ravel(), disc_train),
            "gd_vs_discrete_test": _rel(gd_test.ravel(), disc_test),
            "gd_vs_flow_train": float(jnp.linalg.norm(gd_train - flow_train)), "flow_gap_bound_train": bound_train,
            "gd_vs_flow_test": float(jnp.linalg.norm(gd_test - flow_test)), "flow_gap_bound_test": bound_test,
            "late_vs_inf": _rel(late_test, inf_test), "inf_train_residual": _rel(inf_train, y),
            "curves": (np.asarray(gd_test).ravel(), np.asarray(flow_test).ravel()),
        }


def train_centred(cfg: Config, width: int, keys_2xS: jax.Array, x, y, x_test, lr: float):
    """Centred networks ``f(theta) - f(theta_0)`` trained by GD, ``n_nets`` in every layer (from ``keys_2xS[0]``)
    and ``n_nets`` in the readout alone (from ``keys_2xS[1]``), as one ensemble; their test outputs ``(2, S, M, C)``."""
    init_fn, apply_fn, _ = network(cfg, width)
    params0 = stacked_init(init_fn, keys_2xS.reshape(-1), x.shape)
    full0 = jax.tree.map(lambda a: a[: cfg.n_nets], params0)
    frozen0 = jax.tree.map(lambda a: a[cfg.n_nets :], params0)
    apply_s = ensemble(apply_fn)

    def centred(p, xx):  # p = (every layer of the first S nets, the readouts of the other S): (N, 2S, C)
        full, readout = p
        return jnp.concatenate([apply_s(full, xx) - apply_s(full0, xx),
                                apply_s([*frozen0[:-1], readout], xx) - apply_s(frozen0, xx)], axis=1)

    trained, _ = train(losses.mse(centred), (full0, frozen0[-1]), optax.sgd(lr), (x, y[:, None, :]),
                       n_steps=cfg.kr_steps, log_every=cfg.kr_steps, desc=f"m={width}")
    out = np.asarray(jax.jit(centred)(trained, x_test))  # (M, 2S, C)
    return np.moveaxis(out, 1, 0).reshape(2, cfg.n_nets, *out[:, 0].shape)


def infinite_width(cfg: Config) -> dict:
    """Part 2: analytic NTK / NNGP predictions on digits vs trained finite centred networks."""
    x, y, x_test, _, labels = _digits(cfg, cfg.kr_train, cfg.kr_test)
    kernel_fn = jax.jit(network(cfg, 1)[2], static_argnums=2)
    k_tt, k_st = kernel_fn(x, None, ("nngp", "ntk")), kernel_fn(x_test, x, ("nngp", "ntk"))
    lr = cfg.kr_lr_fraction * float(predict.max_learning_rate(k_tt.ntk, len(x)))
    ntk_t = discrete_gd_prediction(k_tt.ntk, k_st.ntk, y, lr, cfg.kr_steps)
    nngp_t = discrete_gd_prediction(k_tt.nngp, k_st.nngp, y, lr, cfg.kr_steps)
    ntk_inf = predict.gradient_descent_mse(k_tt.ntk, y)(None, 0.0, jnp.zeros((len(x_test), N_CLASSES)), k_st.ntk)[1]
    nngp_mean = predict.gp_inference(k_tt.nngp, y, diag_reg=1e-4)("nngp", k_test_train=k_st.nngp)
    acc = lambda f: float(np.mean(np.argmax(np.asarray(f), -1) == labels))  # noqa: E731
    key = jax.random.key(cfg.seed)
    dist = {"ntk": [], "nngp": []}
    accuracy = {"ntk": [], "nngp": []}
    for i, m in enumerate(progress(cfg.widths, desc="ntk-gradient-flow widths")):
        keys = jnp.stack([jax.random.split(jax.random.fold_in(key, 2 * i + j), cfg.n_nets) for j in range(2)])
        outputs = train_centred(cfg, m, keys, x, y, x_test, lr)
        for f_test, (name, target) in zip(outputs, (("ntk", ntk_t), ("nngp", nngp_t)), strict=True):
            dist[name].append([_rel(f, target) for f in f_test])
            accuracy[name].append([acc(f) for f in f_test])
    return {"lr": lr, "ntk_accuracy_t": acc(ntk_t), "ntk_accuracy_inf": acc(ntk_inf), "nngp_accuracy_t": acc(nngp_t),
            "nngp_posterior_accuracy": acc(nngp_mean), "distance_NxW": {k: np.array(v).T for k, v in dist.items()},
            "accuracy_NxW": {k: np.array(v).T for k, v in accuracy.items()}}


def run(cfg: Config) -> Result:
    lin = linearized_gd(cfg)
    inf = infinite_width(cfg)
    widths = np.array(cfg.widths, float)
    fits = {}
    geomean = lambda v: np.exp(np.mean(np.log(v), axis=0))  # noqa: E731
    local = lambda v: np.diff(np.log(geomean(v))) / np.diff(np.log(widths))  # noqa: E731  between successive widths
    for name, d in inf["distance_NxW"].items():
        fit = log_mean_slope(widths, d)
        shrink = lambda v: float(np.abs(local(v)[-1] + 0.5) - np.abs(local(v)[-2] + 0.5))  # noqa: E731
        fits[name] = {"geomean_distance": geomean(d), "exponent": fit.slope, "log_intercept": fit.intercept,
                      "exponent_stderr": fit.stderr, "exponent_dof": fit.dof,
                      "exponent_tolerance": fit.tolerance(N_SE), "local_exponents": local(d),
                      "deviation_shrink": shrink(d),
                      "deviation_shrink_stderr": bootstrap_stderr(d, shrink, seed=cfg.seed)}
    flow_ratio = max(lin["gd_vs_flow_train"] / lin["flow_gap_bound_train"],
                     lin["gd_vs_flow_test"] / lin["flow_gap_bound_test"])
    claims = [
        Claim.at_most("gd-equals-discrete-closed-form", "GD on the linearized net equals Y + (I - eta Theta/N)^k "
                      "(f0 - Y) (train and test, relative error, float64)", 0.0,
                      max(lin["gd_vs_discrete_train"], lin["gd_vs_discrete_test"]), slack=1e-8),
        Claim.at_most("gradient-flow-matches-gd", f"||GD - gradient flow e^(-eta Theta t/N)|| at eta = "
                      f"{cfg.lr_fraction} x 2N/lambda_max, as a fraction of the bound from "
                      "k x^2 e^(-(k-1)x)/2 per eigenmode x = eta lambda/N (train and test outputs)", 1.0, flow_ratio),
        Claim.at_most("long-time-is-kernel-regression", "flow at t = 1e12 steps (eigendecomposition) equals "
                      "kernel regression f0 + Theta* Theta^-1 (Y - f0) (Cholesky solve) and the training set is "
                      "interpolated (relative error, float64)", 0.0,
                      max(lin["late_vs_inf"], lin["inf_train_residual"]), slack=1e-6),
        Claim.at_most("finite-nets-approach-ntk", f"centred nets trained in every layer vs the NTK prediction at "
                      f"the same step (digits test set, geometric mean over {cfg.n_nets} nets of the relative "
                      "distance): the "
                      "local exponent of the distance vs width approaches -1/2, |p + 1/2| between the two largest "
                      "widths minus |p + 1/2| between the previous pair <= 0 within "
                      f"{N_SE:g} bootstrap standard errors (finite-width correction; fitted exponent in the metrics)",
                      0.0, fits["ntk"]["deviation_shrink"], slack=N_SE * fits["ntk"]["deviation_shrink_stderr"]),
        Claim.close("finite-nets-approach-nngp", f"centred nets with the readout trained vs the NNGP prediction at the "
                    f"same step (digits test set): exponent of the geometric mean over {cfg.n_nets} nets of the "
                    f"relative distance vs width m = {cfg.widths[0]}..{cfg.widths[-1]} equals -1/2 within {N_SE:g} "
                    f"standard errors (t quantile, {fits['nngp']['exponent_dof']} degrees of freedom)", -0.5,
                    fits["nngp"]["exponent"], atol=fits["nngp"]["exponent_tolerance"]),
    ]
    metrics = {"linearized": {k: v for k, v in lin.items() if k != "curves"},
               "infinite_width": {k: v for k, v in inf.items() if not k.endswith("NxW")},
               "widths": list(cfg.widths),
               "distance": {k: {"per_net": inf["distance_NxW"][k], **v} for k, v in fits.items()},
               "accuracy": {k: v.mean(0) for k, v in inf["accuracy_NxW"].items()}}
    return Result(claims, metrics, {"lin": lin, "inf": inf, "fits": fits, "widths": widths})


def plot(result: Result):
    d = result.data
    fig, (ax1, ax2, ax3) = subplots(1, 3, title="Gradient descent in function space; finite nets vs NTK and NNGP")
    gd, flow = d["lin"]["curves"]
    ax1.scatter(flow, gd, s=6)
    lim = [min(flow.min(), gd.min()), max(flow.max(), gd.max())]
    ax1.plot(lim, lim, "k--", lw=1)
    ax1.set(xlabel="closed-form gradient flow f_t(x*)", ylabel="GD on linearized net", title="test outputs")
    widths = d["widths"]
    for name, fit in d["fits"].items():
        per_net = d["inf"]["distance_NxW"][name]
        line = ax2.plot(widths, fit["geomean_distance"], "o", label=f"{name.upper()}: geometric mean over nets")[0]
        ax2.scatter(np.repeat(widths, len(per_net)), per_net.T.ravel(), s=5, alpha=0.4, color=line.get_color())
        ax2.plot(widths, np.exp(fit["log_intercept"]) * widths ** fit["exponent"], color=line.get_color(),
                 label=f"fit m^({fit['exponent']:.2f} ± {fit['exponent_stderr']:.2f})")
    ax2.set(xscale="log", yscale="log", xlabel="width m", ylabel="‖f_T^(m) − f_T^∞‖/‖f_T^∞‖",
            title="digits test set, same GD step")
    ax2.legend(fontsize=7)
    inf = d["inf"]
    for name, marker in (("ntk", "o-"), ("nngp", "s-")):
        ax3.plot(widths, inf["accuracy_NxW"][name].mean(0), marker,
                 label=f"finite nets ({'all layers' if name == 'ntk' else 'readout'})")
    ax3.axhline(inf["ntk_accuracy_t"], color="black", ls="--", label="NTK, same step")
    ax3.axhline(inf["nngp_accuracy_t"], color="#b04020", ls="--", label="NNGP, same step")
    ax3.axhline(inf["ntk_accuracy_inf"], color="gray", ls=":", label="NTK, t=∞")
    ax3.axhline(inf["nngp_posterior_accuracy"], color="#b04020", ls="-.", label="NNGP posterior mean")
    ax3.set(xscale="log", xlabel="width m", ylabel="test accuracy")
    ax3.legend(fontsize=7)
    for ax in (ax2, ax3):
        ax.minorticks_off()
        ax.set_xticks(widths, [str(int(w)) for w in widths])
    return fig


EXPERIMENT = Experiment(
    id="ntk-gradient-flow",
    description="Closed-form MSE gradient descent/flow vs GD on linearized nets; finite nets approach the "
                "infinite-width NTK and NNGP predictions on digits (m^-1/2).",
    config=Config, run=run, plot=plot)
