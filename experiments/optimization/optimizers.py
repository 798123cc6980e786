"""SGD, momentum, RMSprop, Adam, signSGD and Muon on the same two tasks, and each one's defining property.

Tasks: an ill-conditioned quadratic (kappa = L/mu) over a matrix parameter, so that Muon runs on it too, and a
tanh-MLP classifier on scikit-learn's digits (full batch). Checked: momentum with Polyak's optimal parameters
contracts at (sqrt(kappa)-1)/(sqrt(kappa)+1) where GD at 2/(L+mu) contracts at (kappa-1)/(kappa+1); "RMSprop is Adam
without momentum" (notes §3) holds exactly for Adam with b1 = 0 against RMSprop with bias correction and eps outside
the square root (optax's default RMSprop differs in both, by a measured amount); every signSGD coordinate moves by
exactly eta; Adam and Muon (same cosine schedule) both minimize the quadratic.

Muon (``optax.contrib.muon``, Jordan et al. 2024) replaces a matrix gradient G = U S V^T by an orthogonalized one and
scales it by sqrt(max(1, d_out/d_in)) (the notes' sqrt(d_out/d_in); they write d_out/d_out and U^T V). optax does
not compute U V^T: after dividing by ||G||_F it applies five steps of the quintic p(x) = a x + b x^3 + c x^5 with
(a, b, c) = (3.4445, -4.7750, 2.0315), tuned for a steep slope at 0 rather than convergence, and an odd matrix
polynomial acts on singular values only, so the update is exactly U p^5(S/||G||_F) V^T. Its singular values are
therefore not 1: on [0.01, 1] the map p^5 ranges over about [0.68, 1.13] (optax's docstring: "S' ~ Uniform(0.5,
1.5)"), and below it directions are amplified by about a^5 = 485 without reaching that band. Both are claimed on the
first step of the Muon that is run (its momentum is then a positive multiple of G). The convergent cubic
Newton-Schulz iteration (1.5, -0.5) gives U V^T itself.
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dl_theory import checks, losses, models, optim
from dl_theory import data as dl_data
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots
from dl_theory.optim import convergence as cv

NS_QUINTIC = (3.4445, -4.7750, 2.0315)  # optax.contrib.muon's default ns_coeffs
NS_STEPS = 5
MUON_BETA, MUON_EPS = 0.95, 1e-8  # optax.contrib.muon's defaults
BAND_FROM = 0.01  # singular values of G / ||G||_F from here on land in the quintic's band


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    quad_rows: Annotated[int, checks.at_least(2)] = 5  # the quadratic's parameter: a quad_rows x quad_cols matrix
    quad_cols: Annotated[int, checks.at_least(2)] = 8
    kappa: Annotated[float, checks.in_interval(1.0, float("inf"))] = 100.0
    quad_steps: Annotated[int, checks.at_least(10)] = 400  # the rates are fitted on the second half
    n_examples: Annotated[int, checks.at_least(10)] = 512
    widths: Annotated[tuple[int, ...], checks.each(checks.count, min_length=3)] = (64, 32, 10)  # in, hidden..., out
    mlp_steps: Annotated[int, checks.at_least(50)] = 400  # the RMSprop/Adam comparison uses 50 steps

    @classmethod
    def quick(cls) -> "Config":
        return cls(quad_rows=4, quad_cols=5, quad_steps=300, n_examples=256, mlp_steps=200)


def run_all(opts: dict, loss, params, steps: int) -> dict[str, np.ndarray]:
    """The loss along ``steps`` steps of every optimizer in ``opts``, each started from ``params``.

    One jitted ``lax.scan`` advances all of them together, so the run compiles one program, not one per optimizer.
    """
    def step(carry, _):
        new, values = {}, {}
        for name, opt in opts.items():
            p, s = carry[name]
            values[name], g = jax.value_and_grad(loss)(p)
            u, s = opt.update(g, s, p)
            new[name] = (optax.apply_updates(p, u), s)
        return new, values

    init = {name: (params, opt.init(params)) for name, opt in opts.items()}
    _, values = jax.jit(lambda c: jax.lax.scan(step, c, None, length=steps))(init)
    return {name: np.asarray(values[name]) for name in opts}  # jit returns the names sorted


def update_gaps(reference, others: dict, loss, params, steps: int) -> dict[str, float]:
    """max |update of ``reference`` - update of each other transformation| along ``steps`` steps of ``reference``
    on ``loss``, every transformation being fed the gradients that the reference sees along its own run.

    Comparing updates rather than trajectories tests the algebraic identity itself: trajectories of a float32 run
    can drift apart through rounding alone.
    """
    def gap(u_a, u_b):
        return jnp.max(jnp.stack([jnp.max(jnp.abs(a - b)) for a, b in
                                  zip(jax.tree_util.tree_leaves(u_a), jax.tree_util.tree_leaves(u_b), strict=True)]))

    def step(carry, _):
        p, s_ref, s_others = carry
        g = jax.grad(loss)(p)
        u_ref, s_ref = reference.update(g, s_ref, p)
        gaps, new_others = {}, {}
        for name, opt in others.items():
            u, new_others[name] = opt.update(g, s_others[name], p)
            gaps[name] = gap(u_ref, u)
        return (optax.apply_updates(p, u_ref), s_ref, new_others), gaps

    init = (params, reference.init(params), {name: opt.init(params) for name, opt in others.items()})
    _, gaps = jax.jit(lambda c: jax.lax.scan(step, c, None, length=steps))(init)
    return {name: float(jnp.max(g)) for name, g in gaps.items()}


def _quadratic(cfg, key):
    """f(X) = vec(X)^T H vec(X) / 2 with eigenvalues in [1, kappa], run by every optimizer (float64)."""
    dim = cfg.quad_rows * cfg.quad_cols
    lam = jnp.geomspace(1.0, cfg.kappa, dim)
    q, _ = jnp.linalg.qr(jax.random.normal(key, (dim, dim)))
    h = q @ jnp.diag(lam) @ q.T
    loss = lambda p: 0.5 * p["x"].ravel() @ h @ p["x"].ravel()
    L, mu = cfg.kappa, 1.0
    hb = cv.heavy_ball(L, mu)
    schedule = optax.cosine_decay_schedule(0.1, cfg.quad_steps)
    opts = {"SGD (2/(L+μ))": optax.sgd(cv.step_size_strongly_convex(L, mu)),
            "momentum (Polyak)": optax.sgd(hb.eta, momentum=hb.beta),
            "RMSprop": optax.rmsprop(0.01), "Adam (cosine)": optax.adam(schedule), "signSGD": optim.sign_sgd(0.01),
            "Muon (cosine)": optim.muon(schedule)}
    x0 = {"x": (q @ jnp.ones(dim)).reshape(cfg.quad_rows, cfg.quad_cols)}
    curves = run_all(opts, loss, x0, cfg.quad_steps)
    half = cfg.quad_steps // 2
    # f = e^T H e / 2 ~ rate^(2t): rate = (f_T / f_half)^(1/(2 (T - half))).
    rate = lambda f: float((f[-1] / f[half]) ** (1 / (2 * (cfg.quad_steps - 1 - half))))
    muon_map = _muon_spectral_map(opts["Muon (cosine)"], jax.grad(loss)(x0), x0)
    return curves, rate(curves["SGD (2/(L+μ))"]), rate(curves["momentum (Polyak)"]), hb, muon_map


def quintic_power(x: np.ndarray, steps: int = NS_STEPS) -> np.ndarray:
    """``steps`` applications of optax's Newton-Schulz quintic p(x) = a x + b x^3 + c x^5 to scalars."""
    a, b, c = NS_QUINTIC
    for _ in range(steps):
        x = a * x + b * x**3 + c * x**5
    return x


def _first_muon_step(opt, grads, params):
    """The first update of ``opt`` and the factor that multiplies U (.) V^T: lr * sqrt(max(1, d_out / d_in))."""
    updates, _ = jax.jit(opt.update)(grads, opt.init(params), params)
    d_in, d_out = grads["x"].shape if "x" in grads else grads[0]["w"].shape
    return updates, np.sqrt(max(1.0, d_out / d_in))


def _muon_spectral_map(opt, grads, params) -> float:
    """max |update - (-lr_0 s U p^5(c S / (c ||G||_F + eps)) V^T)| / max |update| for optax's Muon, float64.

    On the first step the Nesterov momentum is c G with c = beta/(1+beta) + (1-beta) (optax's bias corrections).
    """
    updates, shape_scale = _first_muon_step(opt, grads, params)
    g = grads["x"]
    u, s, vt = jnp.linalg.svd(g, full_matrices=False)
    c = MUON_BETA / (1 + MUON_BETA) + (1 - MUON_BETA)
    x = np.asarray(c * s / (c * jnp.linalg.norm(g) + MUON_EPS))
    predicted = -0.1 * shape_scale * u @ jnp.diag(quintic_power(x)) @ vt  # 0.1: the schedule's first value
    return float(jnp.max(jnp.abs(updates["x"] - predicted)) / jnp.max(jnp.abs(updates["x"])))


@jax.jit
def _sign_deviation(grads, params, eta: float) -> jax.Array:
    """signSGD's first update: max_i | |u_i| - eta | over the coordinates with g_i != 0."""
    sign = optim.sign_sgd(eta)
    updates, _ = sign.update(grads, sign.init(params), params)
    return jnp.max(jnp.stack([jnp.max(jnp.abs(jnp.abs(u) - eta) * (g != 0)) for u, g in
                              zip(jax.tree_util.tree_leaves(updates), jax.tree_util.tree_leaves(grads), strict=True)]))


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    k_quad, k_init = jax.random.split(key)
    with jax.enable_x64(True):
        quad_curves, gd_rate, hb_rate, hb, muon_map_error = _quadratic(cfg, k_quad)
    data = dl_data.digits_subset(cfg.n_examples, cfg.seed)
    init_fn, apply_fn = models.dense_mlp(cfg.widths[1:-1], cfg.widths[-1])
    _, params = init_fn(k_init, (-1, cfg.widths[0]))
    loss = lambda p: losses.cross_entropy(apply_fn)(p, data)
    opts = {"SGD": optax.sgd(0.5), "momentum": optax.sgd(0.1, momentum=0.9), "RMSprop": optax.rmsprop(3e-3),
            "Adam": optax.adam(3e-3), "signSGD": optim.sign_sgd(3e-3), "Muon": optim.muon(0.02)}
    mlp_curves = run_all(opts, loss, params, cfg.mlp_steps)

    b2, eps = 0.999, 1e-8
    gaps = update_gaps(optax.adam(3e-3, b1=0.0, b2=b2, eps=eps),
                       {"bias-corrected": optax.rmsprop(3e-3, decay=b2, eps=eps, eps_in_sqrt=False,
                                                        bias_correction=True),
                        "default": optax.rmsprop(3e-3, decay=b2, eps=eps)}, loss, params, 50)
    rms_gap, rms_default_gap = gaps["bias-corrected"], gaps["default"]

    grads = jax.jit(jax.grad(loss))(params)
    sign_dev = float(_sign_deviation(grads, params, 1e-3))
    # The Muon that is run on the MLP: its first update of the first-layer weights (float32).
    muon_updates, shape_scale = _first_muon_step(opts["Muon"], grads, params)
    u_g, sv_g, vt_g = jnp.linalg.svd(grads[0]["w"], full_matrices=False)
    # p^5 acts on each singular direction of G: the update's value along (u_i, v_i) is -lr s p^5(s_i / ||G||_F).
    sv = -np.asarray(jnp.einsum("ki,kl,il->i", u_g, muon_updates[0]["w"], vt_g)) / (0.02 * shape_scale)
    x_g = np.asarray(sv_g / jnp.linalg.norm(sv_g))
    grid = np.geomspace(BAND_FROM, 1.0, 100_001)
    band = (float(quintic_power(grid).min()), float(quintic_power(grid).max()))
    in_band = sv[x_g >= BAND_FROM]
    band_dev = float(max(band[0] - in_band.min(), in_band.max() - band[1], 0.0)) if in_band.size else 0.0
    g_w = {"w": grads[0]["w"]}
    # 60 rows of coefficients: optax then runs the iteration as a lax.scan (a 1-D triple is unrolled: slow to compile).
    cubic = optim.muon(1.0, ns_coeffs=((1.5, -0.5, 0.0),) * 60, ns_steps=60, beta=0.0, nesterov=False)
    u, _, vt = jnp.linalg.svd(g_w["w"], full_matrices=False)
    polar_err = float(jnp.max(jnp.abs(-jax.jit(cubic.update)(g_w, cubic.init(g_w), g_w)[0]["w"] - u @ vt)))
    kappa = cfg.kappa
    claims = [
        Claim.close("gd-rate", "GD at 2/(L+mu): per-step contraction = (kappa-1)/(kappa+1)", (kappa - 1) / (kappa + 1),
                    gd_rate, rtol=1e-3),
        Claim.close("momentum-rate", "Polyak heavy ball: contraction = (sqrt(kappa)-1)/(sqrt(kappa)+1)", hb.rate,
                    hb_rate, rtol=0.03),
        Claim.at_most("rmsprop-is-adam-b1-0", "max |update of Adam(b1=0) - update of RMSprop(bias-corrected, eps "
                      "outside sqrt)| on the same 50 gradients (float32 rounding of updates <= 0.1)", 0.0, rms_gap,
                      slack=1e-7),
        Claim.at_most("signsgd-step", "signSGD: max_i | |u_i| - eta | over coordinates with g_i != 0", 0.0, sign_dev,
                      slack=1e-9),
        Claim.at_most("muon-quintic-map", "optax Muon's first update on the quadratic (float64): max |update + "
                      "lr sqrt(max(1, d_out/d_in)) U p^5(S/||G||_F) V^T| / max |update|", 0.0, muon_map_error,
                      slack=1e-8),
        Claim.at_most("muon-band-not-one", f"optax Muon on the MLP (float32): u_i^T update v_i / (-lr "
                      f"sqrt(max(1, d_out/d_in))) along the gradient's singular directions with s_i/||G||_F >= "
                      f"{BAND_FROM} lie in p^5([{BAND_FROM}, 1]) = [{band[0]:.3f}, {band[1]:.3f}], not at 1 "
                      "(distance outside the band)",
                      0.0, band_dev, slack=1e-4),
        Claim.at_most("muon-polar-factor", "Muon with cubic NS (1.5, -0.5): max |update - U V^T|", 0.0, polar_err,
                      slack=1e-3),
    ]
    claims += [Claim.at_most(f"trains-{name}", f"{name}: final / initial MLP loss", 0.5,
                             float(c[-1] / c[0])) for name, c in mlp_curves.items()]
    claims += [Claim.at_most(f"quadratic-{name.split()[0]}", f"{name}: final / initial quadratic loss", 1e-3,
                             float(quad_curves[name][-1] / quad_curves[name][0])) for name in ("Adam (cosine)",
                                                                                               "Muon (cosine)")]
    metrics = {"gd_rate": gd_rate, "momentum_rate": hb_rate, "momentum_rate_theory": hb.rate,
               "rmsprop_vs_adam_gap": rms_gap, "rmsprop_default_vs_adam_gap": rms_default_gap,
               "muon_update_along_gradient_directions_over_lr_scale": sv.tolist(),
               "gradient_singular_values_over_frobenius": x_g.tolist(), "quintic_band": band,
               "muon_quintic_map_error": muon_map_error, "muon_max_deviation_from_one": float(np.max(np.abs(sv - 1))),
               "muon_cubic_polar_error": polar_err,
               "final_mlp_loss": {k: float(v[-1]) for k, v in mlp_curves.items()}}
    return Result(claims, metrics, {"quad": quad_curves, "mlp": mlp_curves})


def plot(result: Result):
    fig, (ax1, ax2) = subplots(1, 2, width=4.6, title="Optimizers on the same tasks")
    for name, c in result.data["quad"].items():
        ax1.semilogy(c, label=name)
    ax1.set(xlabel="step", ylabel="f(X_t)", title="quadratic, κ = 100")
    ax1.legend(fontsize=7)
    for name, c in result.data["mlp"].items():
        ax2.semilogy(c, label=name)
    ax2.set(xlabel="step", ylabel="training cross-entropy", title="tanh MLP on digits (full batch)")
    ax2.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="optimizers",
    description="SGD, momentum, RMSprop (= Adam without momentum), Adam, signSGD, Muon: rates and defining properties.",
    config=Config, run=run, plot=plot)
