r"""Universal approximation: CPWL = one-hidden-layer ReLU net exactly, Barron's 1/m rate, smooth activations.

Exact part (float64). A continuous piecewise-linear (CPWL) function with m pieces, given by m + 1 knots and values, is
g(x) = a x + b + sum_i c_i (x - x_i)_+ and hence a one-hidden-layer ReLU net of width m + 1 (dl_theory.models.cpwl).
On a dense grid and at the knots the net equals the linear interpolant (numpy.interp as the independent reference)
up to the summation rounding bound (M + 4) eps sum|terms|; the round trip knots -> net -> knots returns the same knots
and values; a random generic ReLU net of width m converts back to a CPWL with exactly m knots that equals the net.
Maxout: a random k-hinge max_j(s_j x + t_j) is the convex CPWL of its upper envelope (at most k - 1 knots, all slope
increases positive), and every CPWL is the difference of two k-hinges (Wang & Sun 2005 in one dimension).

Barron-type rate. Barron (1993) bounds the squared L2 error of the best width-m net, int |f - g_m|^2 dmu <= (2C_f)^2/m,
by Maurey's probabilistic argument: write f as an average of ridge units, f(x) = E_w[phi(w.x)], and draw m units.
The squared error of the m-sample average is a variance over m, in any input dimension d. We take the infinite-width
ReLU net f(x) = E_{w ~ N(0, I/d)}[relu(w.x)] = |x| / sqrt(2 pi d) and the width-m net f_m(x) = (1/m) sum_j relu(w_j.x)
with iid w_j, so E int (f_m - f)^2 dmu = (1/2 - 1/(2 pi)) E|x|^2 / (d m) exactly. The fitted quantity is the squared
L2 error on a test sample (the notes' "int |f - g_m|^2 <= O(1/m)", slope -1; the RMS error has slope -1/2), fitted as
the log of its mean over independent seeds against log m; claims: slope = -1 and m * error = the constant, each within
4 standard errors over seeds (bootstrap over seeds for the slope), for several d.

Interpolation rate (1-D, smooth f). The width-(m + 1) ReLU net interpolating f at m + 1 equispaced knots on [-1, 1]
(h = 2/m) has sup error between h^2/8 (max|f''| - h max|f'''|) and h^2/8 max|f''| for every m (the interpolation
error f(x) - I f(x) = f''(xi)/2 (x - x_i)(x - x_{i+1}); the lower bound at the midpoint of the interval holding the
argmax of |f''|), so the sup error decays as m^-2, faster than Barron's dimension-free m^-1/2 for the RMS error:
in one dimension smoothness buys more than Barron's norm.

Smooth activations and Weierstrass. One-hidden-layer tanh and sigmoid nets with random hidden units (nested: width m
uses the first m of one pool) and a least-squares readout, and Chebyshev polynomials of degree m (Weierstrass), on a
smooth target: the least-squares error is non-increasing in m (nested subspaces) and at the largest width the sup
error is below 1e-3 max|f| (universal approximation for non-polynomial continuous activations, Leshno et al. 1993).
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

from dl_theory import checks
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.models.cpwl import (
    evaluate,
    from_knots,
    from_relu_net,
    hinge_to_relu_form,
    relu_form_to_hinges,
    relu_net,
    to_knots,
    to_relu_net,
)
from dl_theory.models.mlp import dense_mlp
from dl_theory.stats import loglog_slope, loglog_slope_stderr, mean_and_stderr
from dl_theory.training.progress import progress

EPS = float(np.finfo(np.float64).eps)
N_SE = 4.0
MAUREY_CONSTANT = 0.5 - 0.5 / np.pi  # Var relu(z) / E z^2 for z ~ N(0, s^2)
SMOOTH_ACTIVATIONS = {"tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid}
SUP_TARGET = 1e-3  # smooth part: sup error at the largest width, relative to max|f|
LSTSQ_SLACK = 1e-9  # smooth part: rounding of the nested least-squares residuals, relative to the RMS of f


def target(x):
    """The smooth 1-D target of the interpolation and smooth-activation parts."""
    return jnp.sin(3.0 * x) + 0.5 * jnp.cos(7.0 * x)


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    pieces: Annotated[tuple[int, ...], checks.each(checks.at_least(2))] = (3, 10, 50, 200)
    hinge_k: Annotated[int, checks.at_least(2)] = 12
    barron_dims: Annotated[tuple[int, ...], checks.each(checks.count)] = (1, 8, 64)
    barron_widths: Annotated[tuple[int, ...], checks.each(checks.count, min_length=3)] = (
        8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)
    barron_seeds: Annotated[int, checks.at_least(4)] = 64
    n_test: Annotated[int, checks.at_least(16)] = 512
    interp_pieces: Annotated[tuple[int, ...], checks.each(checks.at_least(2), min_length=3)] = (
        4, 8, 16, 32, 64, 128, 256, 512, 1024)
    smooth_widths: Annotated[tuple[int, ...], checks.each(checks.count, min_length=2)] = (
        2, 4, 8, 16, 32, 64, 128, 256)
    n_grid: Annotated[int, checks.at_least(100)] = 4001

    @classmethod
    def quick(cls) -> "Config":
        return cls(barron_dims=(1, 16), barron_widths=(8, 32, 128, 512, 2048), barron_seeds=24, n_test=256,
                   interp_pieces=(4, 16, 64, 256), smooth_widths=(2, 4, 8, 16, 32, 64, 128), n_grid=2001)


_NET_APPLY = jax.jit(relu_net(1).apply)  # the apply of any width: the shapes come from the params


def _relu_net_apply(params, x_N):
    """Evaluate the one-hidden-layer ReLU net of ``params`` on the points ``x_N`` (float64)."""
    p = [{k: jnp.asarray(v, jnp.float64) for k, v in layer.items()} for layer in params]
    return np.asarray(_NET_APPLY(p, jnp.asarray(x_N, jnp.float64)[:, None]))[:, 0]


def _term_scale(form, x_N) -> np.ndarray:
    """sum of |terms| of a x + b + sum c_i (x - x_i)_+ at each x: the scale of its summation rounding."""
    hinge = np.abs(form.coef_M)[None] * np.maximum(x_N[:, None] - form.knots_M[None], 0.0)
    return np.abs(form.slope * x_N) + abs(form.intercept) + hinge.sum(1)


def _exact_part(cfg: Config, rng: np.random.Generator) -> dict:
    rows = []
    for m in cfg.pieces:
        knots = np.sort(rng.uniform(-1.0, 1.0, m + 1))
        values = rng.normal(size=m + 1)
        form = from_knots(knots, values)
        net = to_relu_net(form)
        x = np.concatenate([np.linspace(-1.0, 1.0, 20 * m + 1), knots])
        x = x[(x >= knots[0]) & (x <= knots[-1])]
        scale = _term_scale(form, x)
        interp_err = np.abs(_relu_net_apply(net, x) - np.interp(x, knots, values)) / scale
        back_knots, back_values = to_knots(from_relu_net(net), knots[0], knots[-1])
        # a generic random net of width m -> its CPWL -> the same function, with m knots
        w, b, v = rng.normal(size=(1, m)), rng.normal(size=m), rng.normal(size=(m, 1))
        random_net = [{"w": w, "b": b}, {"w": v, "b": rng.normal(size=1)}]
        random_form = from_relu_net(random_net)
        xr = np.linspace(-3.0, 3.0, 20 * m + 1)
        scale_r = np.abs(v[:, 0])[None] * np.abs(xr[:, None] * w + b[None]).sum(0, keepdims=True) + 1.0
        net_err = np.abs(_relu_net_apply(random_net, xr) - np.asarray(evaluate(random_form, xr)))
        rows.append({
            "pieces": m, "width": net[0]["w"].shape[1],
            "interp_rel_err": float(interp_err.max()), "interp_tol": (m + 4) * EPS,
            "round_trip_knots": float(np.abs(back_knots - knots).max()) if len(back_knots) == len(knots) else np.inf,
            "round_trip_values": float(np.max(np.abs(back_values - values) / _term_scale(form, knots)))
            if len(back_values) == len(values) else np.inf,
            "random_knots": len(random_form.knots_M),
            "random_rel_err": float(np.max(net_err / (scale_r.max() + _term_scale(random_form, xr)))),
            "random_tol": (3 * m + 4) * EPS,
        })
    k = cfg.hinge_k
    s, t = rng.normal(size=k), rng.normal(size=k)
    hinge = hinge_to_relu_form(s, t)
    xh = np.linspace(-4.0, 4.0, 4001)
    envelope = np.max(xh[:, None] * s[None] + t[None], 1)
    hinge_err = float(np.max(np.abs(np.asarray(evaluate(hinge, xh)) - envelope) / (_term_scale(hinge, xh) + 1.0)))
    knots = np.linspace(-1.0, 1.0, 11) + rng.uniform(-0.05, 0.05, 11)  # a readable random CPWL for the figure
    form = from_knots(knots, np.cumsum(rng.normal(scale=0.25, size=11)))
    (ps, pt), (ns, nt) = relu_form_to_hinges(form)
    xd = np.linspace(-1.2, 1.2, 2401)
    pos, neg = np.max(xd[:, None] * ps + pt, 1), np.max(xd[:, None] * ns + nt, 1)
    diff_err = float(np.max(np.abs(pos - neg - np.asarray(evaluate(form, xd))) / (_term_scale(form, xd) + 1.0)))
    return {"rows": rows, "hinge": hinge, "hinge_lines": (s, t), "hinge_err": hinge_err,
            "hinge_tol": 4 * (k + 2) * EPS, "diff_form": form, "diff_x": xd, "diff_pos": pos, "diff_neg": neg,
            "diff_err": diff_err, "diff_tol": 4 * (len(form.knots_M) + 4) * EPS}


def _sampled_net_errors(key: jax.Array, d: int, widths: np.ndarray, n_test: int, n_seeds: int):
    """Squared L2 errors (n_seeds, widths) of the width-m sampled nets (1/m) sum_j relu(w_j . x) against
    f(x) = E relu(w . x) = |x| / sqrt(2 pi d), on ``n_test`` Gaussian test points; and those points."""
    m_max = int(widths[-1])
    init_fn, apply_fn = dense_mlp((m_max,), len(widths), activation=jax.nn.relu)
    k_x, k_w = jax.random.split(key)
    x = jax.random.normal(k_x, (n_test, d), jnp.float64)
    f = jnp.linalg.norm(x, axis=1) / jnp.sqrt(2 * jnp.pi * d)
    # output b is the width-m_b net: readout 1/m_b on the first m_b hidden units (nested), 0 elsewhere
    readout = (jnp.arange(m_max)[:, None] < widths[None]) / widths[None]

    def squared_errors(k):
        _, params = init_fn(k, (n_test, d))  # hidden w ~ N(0, 1/d), zero biases
        params = [params[0], {"w": readout, "b": jnp.zeros(len(widths))}]
        return jnp.mean((apply_fn(params, x) - f[:, None]) ** 2, axis=0)

    return np.asarray(jax.jit(lambda ks: jax.lax.map(squared_errors, ks))(jax.random.split(k_w, n_seeds))), x


def _barron_part(cfg: Config, key: jax.Array) -> dict:
    widths = np.asarray(sorted(cfg.barron_widths))
    out = {}
    for i, d in enumerate(progress(cfg.barron_dims, "Barron rate (dims)")):
        errs, x = _sampled_net_errors(jax.random.fold_in(key, i), d, widths, cfg.n_test, cfg.barron_seeds)
        slope = loglog_slope(widths, errs.mean(0))[0]
        const = MAUREY_CONSTANT * float(jnp.mean(jnp.sum(x**2, 1))) / d
        const_mean, const_se = mean_and_stderr((errs * widths[None]).mean(1))
        out[d] = {"errors": errs, "slope": slope, "slope_se": loglog_slope_stderr(widths, errs, seed=cfg.seed),
                  "constant": const, "constant_measured": float(const_mean), "constant_se": float(const_se)}
    return {"widths": widths, "dims": out}


def _max_abs(g) -> float:
    """max |g| on [-1, 1]: grid argmax, refined by a bounded scalar search (to float precision)."""
    grid = np.linspace(-1.0, 1.0, 20001)
    values = np.abs(np.asarray(jax.jit(jax.vmap(g))(jnp.asarray(grid))))
    i = int(np.argmax(values))
    neg = jax.jit(lambda x: -jnp.abs(g(x)))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    best = scipy.optimize.minimize_scalar(lambda x: float(neg(x)), bounds=(lo, hi), method="bounded",
                                          options={"xatol": 1e-12})
    return max(float(values[i]), -float(best.fun))


def _interpolation_part(cfg: Config) -> dict:
    d2 = jax.grad(jax.grad(target))
    m2, m3 = _max_abs(d2), _max_abs(jax.grad(d2))
    rows = []
    for m in sorted(cfg.interp_pieces):
        knots = np.linspace(-1.0, 1.0, m + 1)
        form = from_knots(knots, np.asarray(target(jnp.asarray(knots))))
        x = np.concatenate([np.linspace(-1.0, 1.0, max(cfg.n_grid, 8 * m + 1)), (knots[1:] + knots[:-1]) / 2])
        err = float(np.max(np.abs(_relu_net_apply(to_relu_net(form), x) - np.asarray(target(jnp.asarray(x))))))
        h = 2.0 / m
        rows.append({"pieces": m, "width": m + 1, "sup_error": err, "upper": h**2 / 8 * m2,
                     "lower": h**2 / 8 * (m2 - h * m3)})
    return {"rows": rows, "m2": m2, "m3": m3}


def _smooth_part(cfg: Config, rng: np.random.Generator) -> dict:
    widths = sorted(cfg.smooth_widths)
    x = np.linspace(-1.0, 1.0, cfg.n_grid)
    y = np.asarray(target(jnp.asarray(x)))
    out = {}
    for name, act in SMOOTH_ACTIVATIONS.items():
        slope_scale = 8.0 if name == "sigmoid" else 4.0  # sigmoid(z) = (1 + tanh(z/2))/2: twice the slope
        w = rng.normal(size=widths[-1]) * slope_scale
        b = -w * rng.uniform(-1.2, 1.2, widths[-1])  # unit j switches around a centre in [-1.2, 1.2]
        feats = np.asarray(act(jnp.asarray(x[:, None] * w[None] + b[None])))
        rms, sup = [], []
        for m in widths:  # readout (with bias) by least squares: the width-m net's best output layer
            phi = np.concatenate([feats[:, :m], np.ones((len(x), 1))], axis=1)
            coef = np.linalg.lstsq(phi, y, rcond=None)[0]
            r = phi @ coef - y
            rms.append(float(np.sqrt(np.mean(r**2))))
            sup.append(float(np.max(np.abs(r))))
        out[name] = {"rms": rms, "sup": sup}
    cheb = [np.polynomial.Chebyshev.fit(x, y, m) for m in widths]
    out["polynomial"] = {"rms": [float(np.sqrt(np.mean((p(x) - y) ** 2))) for p in cheb],
                         "sup": [float(np.max(np.abs(p(x) - y))) for p in cheb]}
    return {"widths": widths, "fits": out, "f_max": float(np.abs(y).max()), "f_rms": float(np.sqrt(np.mean(y**2)))}


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    with jax.enable_x64(True):
        ex = _exact_part(cfg, rng)
        ba = _barron_part(cfg, jax.random.fold_in(key, 1))
        ip = _interpolation_part(cfg)
        sm = _smooth_part(cfg, rng)
    rows = ex["rows"]
    claims = [
        Claim("cpwl-equals-relu-net", "every m in " + str(tuple(cfg.pieces)) + ": max over a dense grid and the "
              "knots of |ReLU net (width m+1) - linear interpolant (numpy.interp)| / sum|terms| <= (m+4) eps",
              0.0, max(r["interp_rel_err"] for r in rows), max(r["interp_tol"] for r in rows),
              all(r["interp_rel_err"] <= r["interp_tol"] for r in rows)),
        Claim.close("round-trip-knots", "knots -> ReLU net -> CPWL -> knots: max |knot difference| (exact)", 0.0,
                    max(r["round_trip_knots"] for r in rows)),
        Claim("round-trip-values", "... and max |value difference| / sum|terms| <= (m+4) eps", 0.0,
              max(r["round_trip_values"] for r in rows), max(r["interp_tol"] for r in rows),
              all(r["round_trip_values"] <= r["interp_tol"] for r in rows)),
        Claim.close("net-to-cpwl-knots", "a generic random ReLU net of width m becomes a CPWL with exactly m knots "
                    "(max |#knots - m| over m)", 0.0, max(abs(r["random_knots"] - r["pieces"]) for r in rows)),
        Claim("net-to-cpwl-equal", "... equal to the net on [-3, 3]: max relative error <= (3m+4) eps", 0.0,
              max(r["random_rel_err"] for r in rows), max(r["random_tol"] for r in rows),
              all(r["random_rel_err"] <= r["random_tol"] for r in rows)),
        Claim.at_most("maxout-knots", f"a random {cfg.hinge_k}-hinge max_j(s_j x + t_j) is a CPWL with <= k-1 knots",
                      cfg.hinge_k - 1, len(ex["hinge"].knots_M)),
        Claim.at_least("maxout-convex", "... all of whose slope changes c_i are > 0 (convex): min c_i", 0.0,
                       float(np.min(ex["hinge"].coef_M, initial=np.inf))),
        Claim.at_most("maxout-equals-envelope", "... and equals the max of its lines on [-4, 4] (relative error)",
                      0.0, ex["hinge_err"], slack=ex["hinge_tol"]),
        Claim.at_most("cpwl-difference-of-hinges", "a random CPWL = k-hinge P - k-hinge N (Wang-Sun in 1-D): max "
                      "relative error", 0.0, ex["diff_err"], slack=ex["diff_tol"]),
    ]
    widths = ba["widths"]
    for d, r in ba["dims"].items():
        claims += [
            Claim.close(f"barron-slope-d{d}", f"d={d}: log-log slope of the mean (over {cfg.barron_seeds} seeds) "
                        f"squared L2 error of the width-m sampled ReLU net vs m = {widths[0]}..{widths[-1]} "
                        f"(Barron/Maurey: -1; tolerance {N_SE:g} bootstrap SE)", -1.0, r["slope"],
                        atol=N_SE * r["slope_se"]),
            Claim.close(f"barron-constant-d{d}", f"d={d}: m x squared L2 error, averaged over m and seeds = (1/2 - "
                        f"1/(2 pi)) mean|x|^2/d (exact expectation; tolerance {N_SE:g} SE over seeds)",
                        r["constant"], r["constant_measured"], atol=N_SE * r["constant_se"]),
        ]
    ir = ip["rows"]
    m_i = np.asarray([r["pieces"] for r in ir], float)
    interp_slope = loglog_slope(m_i, [r["sup_error"] for r in ir])[0]
    claims += [
        Claim.at_most("interpolation-upper", "every m: sup|f - I_m f| / (h^2/8 max|f''|) for the ReLU net "
                      "interpolating f at m+1 equispaced knots (<= 1)", 1.0,
                      max(r["sup_error"] / r["upper"] for r in ir), slack=1e-9),
        Claim.at_least("interpolation-lower", "every m: sup|f - I_m f| / (h^2/8 (max|f''| - h max|f'''|)) (>= 1, "
                       "at the midpoint next to argmax|f''|)", 1.0,
                       min(r["sup_error"] / r["lower"] for r in ir if r["lower"] > 0), slack=1e-9),
    ]
    fits, sw = sm["fits"], sm["widths"]
    rise = max(float(np.max(np.diff(v["rms"]), initial=-np.inf)) for v in fits.values()) / sm["f_rms"]
    claims += [
        Claim.at_most("smooth-nonincreasing", "tanh, sigmoid random-feature nets (least-squares readout) and "
                      "Chebyshev polynomials: largest increase of the RMS error from width m to the next, / RMS(f) "
                      "(nested fits: <= 0 up to rounding)", 0.0, rise, slack=LSTSQ_SLACK),
        Claim.at_most("smooth-universal", f"max over tanh, sigmoid, polynomial of sup error / max|f| at width "
                      f"{sw[-1]}", SUP_TARGET, max(v["sup"][-1] for v in fits.values()) / sm["f_max"]),
    ]
    metrics = {
        "exact": {"rows": rows, "hinge_knots": len(ex["hinge"].knots_M), "hinge_err": ex["hinge_err"],
                  "difference_err": ex["diff_err"]},
        "barron": {"widths": widths.tolist(), **{f"d{d}": {
            "mean_squared_error": r["errors"].mean(0).tolist(), "slope": r["slope"], "slope_se": r["slope_se"],
            "rms_slope": r["slope"] / 2, "constant": r["constant"], "constant_measured": r["constant_measured"],
            "constant_se": r["constant_se"]} for d, r in ba["dims"].items()}},
        "interpolation": {"rows": ir, "slope": interp_slope, "max_f2": ip["m2"], "max_f3": ip["m3"]},
        "smooth": {"widths": sw, **fits},
    }
    return Result(claims, metrics, {"ex": ex, "ba": ba, "ip": ip, "sm": sm})


def plot(result: Result):
    ex, ba, ip, sm = (result.data[k] for k in ("ex", "ba", "ip", "sm"))
    fig, axes = subplots(2, 2, width=4.8, height=3.5, title="Universal approximation with one hidden layer")
    ax = axes[0, 0]
    form, x = ex["diff_form"], ex["diff_x"]
    g = ex["diff_pos"] - ex["diff_neg"]
    ax.plot(x, g, color="#1f5fa8", lw=2.4, label="g = ax+b+Σcᵢ(x−xᵢ)₊ = P − N")
    with jax.enable_x64(True):
        ax.plot(x[::40], _relu_net_apply(to_relu_net(form), x[::40]), "k.", ms=4, label="ReLU net (width m+1)")
    ax.plot(form.knots_M, np.asarray(evaluate(form, form.knots_M)), "o", mfc="white", color="#d1495b", ms=5,
            label="knots")
    ax.set(xlabel="x", ylabel="g(x)", title="a CPWL function is a ReLU net and a difference of maxouts")
    ax.legend(fontsize=7, loc="lower right")
    inset = ax.inset_axes([0.72, 0.62, 0.27, 0.34])
    inset.plot(x, ex["diff_pos"], color="#2a9d8f", lw=1.2, label="maxout P")
    inset.plot(x, ex["diff_neg"], color="#e9a23b", lw=1.2, label="maxout N")
    inset.tick_params(labelsize=6)
    inset.legend(fontsize=6)
    inset.set_title("convex parts", fontsize=7)
    ax = axes[0, 1]
    widths = ba["widths"]
    for d, r in ba["dims"].items():
        mean, se = mean_and_stderr(r["errors"])
        (line,) = ax.loglog(widths, mean, "o", ms=4, label=f"d={d}: slope {r['slope']:.3f} ± {r['slope_se']:.3f}")
        ax.fill_between(widths, mean - se, mean + se, color=line.get_color(), alpha=0.15)
        theory_line(ax, widths, r["constant"] / widths, label=None, color=line.get_color())
    ax.plot([], [], **{"color": "black", "ls": "--"}, label="theory (1/2 − 1/2π) E|x|²/(d m)")
    ax.set(xlabel="width m", ylabel="squared L2 error", title="Barron/Maurey: error ∝ 1/m in any dimension")
    ax.legend(fontsize=7)
    ax = axes[1, 0]
    ir = ip["rows"]
    m = np.asarray([r["pieces"] for r in ir], float)
    ax.loglog(m, [r["sup_error"] for r in ir], "o-", ms=4, label="sup |f − ReLU interpolant|")
    theory_line(ax, m, [r["upper"] for r in ir], label="h²/8 max|f''| (upper)")
    lower = np.asarray([r["lower"] for r in ir])
    ax.loglog(m[lower > 0], lower[lower > 0], ":", color="#5c5c5c", label="h²/8 (max|f''| − h max|f'''|)")
    ax.set(xlabel="pieces m (width m+1)", ylabel="sup error", title="1-D interpolation: m⁻² for smooth f")
    ax.legend(fontsize=7)
    ax = axes[1, 1]
    for name, fit in sm["fits"].items():
        label = "Chebyshev polynomial, degree m" if name == "polynomial" else f"{name} net, width m"
        ax.semilogy(sm["widths"], np.asarray(fit["sup"]) / sm["f_max"], "o-", ms=4, label=label)
    ax.axhline(SUP_TARGET, color="#5c5c5c", ls=":", lw=1.0, label="1e-3")
    ax.set(xscale="log", xlabel="width m / degree m", ylabel="sup error / max|f|",
           title="tanh, sigmoid, polynomials (f = sin 3x + ½cos 7x)")
    ax.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="universal-approximation",
    description="CPWL = one-hidden-layer ReLU net exactly (both ways, maxout), Barron's 1/m rate for the squared L2 "
                "error, m^-2 interpolation, tanh/sigmoid/polynomial approximation.",
    config=Config, run=run, plot=plot)
