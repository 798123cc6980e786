"""SGD, momentum, RMSprop, Adam, signSGD and Muon on the same two tasks, and each one's defining property.

Tasks: an ill-conditioned quadratic (kappa = L/mu) and a tanh-MLP classifier on scikit-learn's digits (full batch).
Checked: momentum with Polyak's optimal parameters contracts at (sqrt(kappa)-1)/(sqrt(kappa)+1) where GD at
2/(L+mu) contracts at (kappa-1)/(kappa+1); "RMSprop is Adam without momentum" (notes §3) holds exactly for Adam
with b1 = 0 against RMSprop with bias correction and eps outside the square root (optax's default RMSprop differs
in both, by a measured amount); every signSGD coordinate moves by exactly eta; Muon's update is an orthogonalized
gradient -- optax's 5-step quintic Newton-Schulz compresses the gradient's condition number by orders of magnitude
(singular values pulled toward 1, the smallest ones only part of the way), and the convergent cubic iteration gives
exactly U V^T (the notes write U^T V).
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dl_theory import data as dl_data
from dl_theory import losses, models, optim
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots
from dl_theory.optim import convergence as cv


@dataclass(frozen=True)
class Config:
    seed: int = 0
    dim: int = 40
    kappa: float = 100.0
    quad_steps: int = 400
    n_examples: int = 512
    widths: tuple[int, ...] = (64, 32, 10)
    mlp_steps: int = 400

    @classmethod
    def quick(cls) -> "Config":
        return cls(dim=20, quad_steps=300, n_examples=256, mlp_steps=200)


def _run(opt, loss, params, steps):
    """Losses and parameters along ``steps`` optax steps (``lax.scan``)."""
    def step(carry, _):
        p, s = carry
        value, g = jax.value_and_grad(loss)(p)
        u, s = opt.update(g, s, p)
        return (optax.apply_updates(p, u), s), (value, p)

    _, (losses, path) = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
    return losses, path


def _quadratic(cfg, key):
    lam = jnp.geomspace(1.0, cfg.kappa, cfg.dim)
    q, _ = jnp.linalg.qr(jax.random.normal(key, (cfg.dim, cfg.dim)))
    h = q @ jnp.diag(lam) @ q.T
    loss = lambda p: 0.5 * p["x"] @ h @ p["x"]
    L, mu = cfg.kappa, 1.0
    hb = cv.heavy_ball(L, mu)
    opts = {"SGD (2/(L+μ))": optax.sgd(cv.step_size_strongly_convex(L, mu)),
            "momentum (Polyak)": optax.sgd(hb.eta, momentum=hb.beta),
            "RMSprop": optax.rmsprop(0.01), "Adam": optax.adam(0.05), "signSGD": optim.sign_sgd(0.01)}
    x0 = {"x": q @ jnp.ones(cfg.dim)}
    curves = {name: np.asarray(_run(opt, loss, x0, cfg.quad_steps)[0]) for name, opt in opts.items()}
    half = cfg.quad_steps // 2
    # f = e^T H e / 2 ~ rate^(2t): rate = (f_T / f_half)^(1/(2 (T - half))).
    rate = lambda f: float((f[-1] / f[half]) ** (1 / (2 * (cfg.quad_steps - 1 - half))))
    return curves, rate(curves["SGD (2/(L+μ))"]), rate(curves["momentum (Polyak)"]), hb


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    k_quad, k_init = jax.random.split(key)
    with jax.enable_x64(True):
        quad_curves, gd_rate, hb_rate, hb = _quadratic(cfg, k_quad)
    data = dl_data.digits_subset(cfg.n_examples, cfg.seed)
    init_fn, apply_fn = models.dense_mlp(cfg.widths[1:-1], cfg.widths[-1])
    _, params = init_fn(k_init, (-1, cfg.widths[0]))
    loss = lambda p: losses.cross_entropy(apply_fn)(p, data)
    opts = {"SGD": optax.sgd(0.5), "momentum": optax.sgd(0.1, momentum=0.9), "RMSprop": optax.rmsprop(3e-3),
            "Adam": optax.adam(3e-3), "signSGD": optim.sign_sgd(3e-3), "Muon": optim.muon(0.02)}
    mlp_curves = {name: np.asarray(_run(opt, loss, params, cfg.mlp_steps)[0]) for name, opt in opts.items()}

    b2, eps = 0.999, 1e-8
    _, adam_path = _run(optax.adam(3e-3, b1=0.0, b2=b2, eps=eps), loss, params, 50)
    _, rms_path = _run(optax.rmsprop(3e-3, decay=b2, eps=eps, eps_in_sqrt=False, bias_correction=True), loss,
                       params, 50)
    _, rms_default = _run(optax.rmsprop(3e-3, decay=b2, eps=eps), loss, params, 50)
    gap = lambda a, b: max(float(jnp.max(jnp.abs(x - y))) for x, y in
                           zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True))
    rms_gap, rms_default_gap = gap(adam_path, rms_path), gap(adam_path, rms_default)

    grads = jax.grad(loss)(params)
    sign = optim.sign_sgd(1e-3)
    sign_updates, _ = sign.update(grads, sign.init(params), params)
    sign_dev = max(float(jnp.max(jnp.abs(jnp.abs(u) - 1e-3) * (g != 0)))
                   for u, g in zip(jax.tree_util.tree_leaves(sign_updates), jax.tree_util.tree_leaves(grads),
                                   strict=True))
    g_w = {"w": grads[0]["w"]}
    muon = optim.muon(1.0, beta=0.0, nesterov=False)
    sv = np.asarray(jnp.linalg.svd(muon.update(g_w, muon.init(g_w), g_w)[0]["w"], compute_uv=False))
    cubic = optim.muon(1.0, ns_coeffs=(1.5, -0.5, 0.0), ns_steps=60, beta=0.0, nesterov=False)
    u, sv_g, vt = jnp.linalg.svd(g_w["w"], full_matrices=False)
    sv_g = np.asarray(sv_g)
    polar_err = float(jnp.max(jnp.abs(-cubic.update(g_w, cubic.init(g_w), g_w)[0]["w"] - u @ vt)))
    kappa = cfg.kappa
    claims = [
        Claim.close("gd-rate", "GD at 2/(L+mu): per-step contraction = (kappa-1)/(kappa+1)", (kappa - 1) / (kappa + 1),
                    gd_rate, rtol=1e-3),
        Claim.close("momentum-rate", "Polyak heavy ball: contraction = (sqrt(kappa)-1)/(sqrt(kappa)+1)", hb.rate,
                    hb_rate, rtol=0.03),
        Claim.at_most("rmsprop-is-adam-b1-0", "max |Adam(b1=0) - RMSprop(bias-corrected, eps outside sqrt)| over 50 "
                      "steps (float32)", 0.0, rms_gap, slack=1e-6),
        Claim.at_most("signsgd-step", "signSGD: max_i | |u_i| - eta | over coordinates with g_i != 0", 0.0, sign_dev,
                      slack=1e-9),
        Claim.at_most("muon-flattens-spectrum", "Muon (optax quintic NS, 5 steps): cond(update) / cond(gradient) "
                      "for the first-layer weights", 0.1, float((sv[0] / sv[-1]) / (sv_g[0] / sv_g[-1]))),
        Claim.at_most("muon-polar-factor", "Muon with cubic NS (1.5, -0.5): max |update - U V^T|", 0.0, polar_err,
                      slack=1e-3),
    ]
    claims += [Claim.at_most(f"trains-{name}", f"{name}: final / initial MLP loss", 0.5,
                             float(c[-1] / c[0])) for name, c in mlp_curves.items()]
    metrics = {"gd_rate": gd_rate, "momentum_rate": hb_rate, "momentum_rate_theory": hb.rate,
               "rmsprop_vs_adam_gap": rms_gap, "rmsprop_default_vs_adam_gap": rms_default_gap,
               "muon_singular_values": sv.tolist(), "gradient_singular_values": sv_g.tolist(),
               "muon_cubic_polar_error": polar_err,
               "final_mlp_loss": {k: float(v[-1]) for k, v in mlp_curves.items()}}
    return Result(claims, metrics, {"quad": quad_curves, "mlp": mlp_curves})


def plot(result: Result):
    fig, (ax1, ax2) = subplots(1, 2, width=4.6, title="Optimizers on the same tasks")
    for name, c in result.data["quad"].items():
        ax1.semilogy(c, label=name)
    ax1.set(xlabel="step", ylabel="f(x_t)", title="quadratic, κ = 100")
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
