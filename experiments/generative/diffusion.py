"""Diffusion models (DDPM): the forward process in closed form, the Gaussian posterior, and trained samplers.

Forward process: iterating x_s = sqrt(alpha_s) x_(s-1) + sqrt(beta_s) eps_s from a fixed x_0 gives, at every t, the
moments of the closed form q(x_t|x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I): sample means and second moments about
the closed-form mean lie within a few standard errors (both schedules, several t, from t = 1 to T).

Posterior: q(x_(t-1)|x_t, x_0) is computed by Bayes' rule numerically -- the product q(x_t|x_(t-1)) q(x_(t-1)|x_0)
normalized by trapezoid quadrature on a fine grid (spectrally accurate for a Gaussian), its mean and variance by the
same quadrature -- and compared with Ho et al.'s closed form mu~ = sqrt(abar_(t-1)) beta_t/(1 - abar_t) x_0 +
sqrt(alpha_t)(1 - abar_(t-1))/(1 - abar_t) x_t, beta~_t = (1 - abar_(t-1))/(1 - abar_t) beta_t at every t >= 2 in
float64 (t = 1 is the point mass at x_0). The same mean written with the noise, (x_t - beta_t/sqrt(1 - abar_t) eps)/
sqrt(alpha_t), agrees to rounding. The notes drop the bars: their variance (1 - alpha_t)/(1 - alpha_t) beta_t is
beta_t, and their noise coefficient (1 - alpha_t)/sqrt(1 - alpha_t) is sqrt(beta_t). Both are measurably wrong: the
variance is too large by the factor (1 - abar_t)/(1 - abar_(t-1)) (about 2 at t = 2 for small betas), and the mean
misses Bayes' by a sizeable fraction of a posterior standard deviation (RMS over x_t ~ q(x_t|x_0), averaged over t; the
miss vanishes only where beta_t -> 1, at the end of the cosine schedule).

Sampling: a small time-conditioned MLP eps_theta (sinusoidal time features) is trained with L_simple on two moons under
the linear (Ho et al. 2020, scaled to T steps) and cosine (Nichol & Dhariwal 2021) schedules, and ancestral sampling
(one lax.scan over T) draws from each. Sample quality is the sliced Wasserstein-1 distance to fresh data (exact 1-D W1
of projections on fixed random directions), over independent replicate sets: its floor is the same distance between two
independent data samples of that size, its reference the best single Gaussian fit (sampled). The claim is that each
DDPM's excess over the floor is a small fraction of the Gaussian's (with the replicates' standard error).

Class-conditional sampling: on scikit-learn's 8x8 digits a denoiser with a class input (and a "no class" input, labels
dropped at random while training) samples each class with classifier-free guidance (Ho & Salimans 2021). A separately
trained MLP classifier (held-out accuracy reported) labels the samples; its accuracy on them is far above chance 1/10
(the bound carries the binomial standard error).

References: Ho, Jain & Abbeel (2020) Denoising diffusion probabilistic models; Nichol & Dhariwal (2021) Improved
denoising diffusion probabilistic models; Ho & Salimans (2021) Classifier-free diffusion guidance; Bonneel et al.
(2015) Sliced and Radon Wasserstein barycenters.
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dl_theory import checks
from dl_theory.data import digits, two_moons
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots
from dl_theory.losses import cross_entropy
from dl_theory.models.generative.diffusion import (
    VARIANCES,
    Schedule,
    cosine_schedule,
    ddpm_sample,
    denoiser,
    eps_loss,
    eps_to_mean,
    forward_iterate,
    linear_schedule,
    posterior,
    posterior_notes,
    q_sample,
    sliced_wasserstein1,
)
from dl_theory.models.mlp import dense_mlp
from dl_theory.stats import bootstrap_stderr, mean_and_stderr, paired_difference, proportion_stderr
from dl_theory.training import stacked_init, train

N_SE = 4.5  # z-score bound (4 moments x forward times x 2 schedules comparisons; familywise ~1e-3)
K_SE = 4.0  # standard errors of slack in the sample-quality and accuracy claims
FLOAT_TOL = 1e-9  # quadrature vs closed form (float64; trapezoid on a Gaussian is spectrally accurate)
QUAD_POINTS = 2001
NOTES_VAR_RATIO = 1.5  # the notes' variance beta_t over beta~_t at t = 2 exceeds this
NOTES_MEAN_SD = 0.5  # the notes' mean misses Bayes' by at least this many posterior sds (RMS, mean over t >= 2)
EXCESS_RATIO = 0.5  # DDPM excess sliced W1 over the floor, as a fraction of the single-Gaussian's
CHANCE = 0.1
MIN_SAMPLE_ACCURACY = 0.8  # class-conditional samples recognized as their class (chance 0.1)
SCHEDULES = ("linear", "cosine")


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    T: Annotated[int, checks.at_least(2)] = 1000
    n_forward: Annotated[int, checks.at_least(100)] = 100_000
    n_posterior: Annotated[int, checks.at_least(2)] = 8
    moons_noise: Annotated[float, checks.positive] = 0.08
    n_train: Annotated[int, checks.at_least(100)] = 8000
    hidden: Annotated[tuple[int, ...], checks.each(checks.count)] = (128, 128, 128)
    steps: Annotated[int, checks.count] = 12_000
    batch_size: Annotated[int, checks.count] = 512
    learning_rate: Annotated[float, checks.positive] = 3e-3
    variance: Annotated[str, checks.one_of(*VARIANCES)] = "posterior"
    n_eval: Annotated[int, checks.at_least(50)] = 2000
    replicates: Annotated[int, checks.at_least(4)] = 10
    n_directions: Annotated[int, checks.count] = 64
    digit_hidden: Annotated[tuple[int, ...], checks.each(checks.count)] = (384, 384)
    digit_steps: Annotated[int, checks.count] = 8000
    digit_batch: Annotated[int, checks.count] = 128
    digit_lr: Annotated[float, checks.positive] = 1e-3
    p_uncond: Annotated[float, checks.probability] = 0.1
    guidance: Annotated[float, checks.nonnegative] = 1.0
    per_class: Annotated[int, checks.count] = 50
    classifier_hidden: Annotated[tuple[int, ...], checks.each(checks.count)] = (256,)
    classifier_steps: Annotated[int, checks.count] = 2000

    @classmethod
    def quick(cls) -> "Config":
        return cls(T=100, n_forward=20_000, n_posterior=16, n_train=2000, hidden=(64, 64, 64), steps=4000,
                   batch_size=256, n_eval=1000, replicates=8, n_directions=32, digit_hidden=(256, 256),
                   digit_steps=1200, per_class=20, classifier_hidden=(128,), classifier_steps=400)


def _schedules(T: int) -> dict[str, Schedule]:
    return {"linear": linear_schedule(T), "cosine": cosine_schedule(T)}


def _forward_check(key: jax.Array, cfg: Config) -> dict:
    """Iterated forward steps from one x_0 vs the closed form: z-scores of the two moments per coordinate."""
    x0_D = jnp.array([1.5, -0.8])
    times = sorted({1, max(cfg.T // 10, 1), cfg.T // 2, cfg.T})
    x0_NxD = jnp.broadcast_to(x0_D, (cfg.n_forward, 2))
    iterate = jax.jit(forward_iterate)
    out = {}
    for i, (name, sch) in enumerate(_schedules(cfg.T).items()):
        z_mean, z_var = [], []
        for j, t in enumerate(times):
            x = np.asarray(iterate(jax.random.fold_in(key, 100 * i + j), sch, x0_NxD, t))
            a_bar = float(sch.alpha_bar_T[t - 1])
            mean, mean_se = mean_and_stderr(x)
            second, second_se = mean_and_stderr((x - np.sqrt(a_bar) * np.asarray(x0_D)) ** 2)
            z_mean.append(np.abs(mean - np.sqrt(a_bar) * np.asarray(x0_D)) / mean_se)
            z_var.append(np.abs(second - (1 - a_bar)) / second_se)
        out[name] = {"times": times, "z_mean": np.array(z_mean), "z_var": np.array(z_var)}
    return out


def _quadrature_posterior(sch: Schedule, x0_N: jax.Array, xt_N: jax.Array, t_N: jax.Array):
    """Mean and variance of p(x_(t-1)) ∝ N(x_t; sqrt(alpha_t) x, beta_t) N(x; sqrt(abar_(t-1)) x_0, 1 - abar_(t-1))
    by the trapezoid rule on a grid spanning both factors' centres +- 14 of the narrower factor's sds."""
    beta, alpha = sch.beta_T[t_N - 1], sch.alpha_T[t_N - 1]
    prior_mean, prior_var = jnp.sqrt(sch.alpha_bar_prev_T[t_N - 1]) * x0_N, 1.0 - sch.alpha_bar_prev_T[t_N - 1]
    lik_mean, lik_var = xt_N / jnp.sqrt(alpha), beta / alpha
    s = jnp.sqrt(jnp.minimum(prior_var, lik_var))
    lo, hi = jnp.minimum(prior_mean, lik_mean) - 14 * s, jnp.maximum(prior_mean, lik_mean) + 14 * s
    grid_NxQ = lo[:, None] + (hi - lo)[:, None] * jnp.linspace(0.0, 1.0, QUAD_POINTS)[None, :]
    log_p = (-0.5 * (xt_N[:, None] - jnp.sqrt(alpha)[:, None] * grid_NxQ) ** 2 / beta[:, None]
             - 0.5 * (grid_NxQ - prior_mean[:, None]) ** 2 / prior_var[:, None])
    p = jnp.exp(log_p - jnp.max(log_p, axis=1, keepdims=True))
    integrate = lambda f: jax.scipy.integrate.trapezoid(f, grid_NxQ, axis=1)  # noqa: E731
    z = integrate(p)
    mean = integrate(grid_NxQ * p) / z
    return mean, integrate((grid_NxQ - mean[:, None]) ** 2 * p) / z


def _posterior_one(key: jax.Array, sch: Schedule, n_posterior: int) -> dict:
    """Closed form, quadrature and the notes' form at every t >= 2 for n_posterior draws (x_0, x_t ~ q(x_t|x_0))."""
    T = sch.beta_T.shape[0]
    t = jnp.repeat(jnp.arange(2, T + 1), n_posterior)
    k0, k1 = jax.random.split(key)
    x0 = 1.5 * jax.random.normal(k0, t.shape, sch.beta_T.dtype)
    xt, eps = (v[:, 0] for v in q_sample(k1, sch, x0[:, None], t))
    mean, var = posterior(sch, x0[:, None], xt[:, None], t)
    mean, sd = mean[:, 0], jnp.sqrt(var)
    q_mean, q_var = _quadrature_posterior(sch, x0, xt, t)
    eps_mean = eps_to_mean(sch, xt[:, None], eps[:, None], t)[:, 0]
    notes_mean, notes_var = posterior_notes(sch, x0[:, None], xt[:, None], t)
    notes_miss = ((notes_mean[:, 0] - mean) / sd).reshape(T - 1, n_posterior)
    t1_mean, t1_var = posterior(sch, x0[:4, None], xt[:4, None], jnp.ones(4, int))
    return {
        "mean_err": jnp.max(jnp.abs(q_mean - mean) / sd),
        "var_err": jnp.max(jnp.abs(q_var / var - 1)),
        "eps_form_err": jnp.max(jnp.abs(eps_mean - mean) / sd),
        "t1_err": jnp.maximum(jnp.max(jnp.abs(t1_mean[:, 0] - x0[:4])), jnp.max(t1_var)),
        "notes_var_ratio_T": (notes_var / var).reshape(T - 1, n_posterior)[:, 0],
        "notes_mean_rms_T": jnp.sqrt(jnp.mean(notes_miss**2, axis=1)),
    }


def _posterior_check(key: jax.Array, cfg: Config) -> dict:
    check = jax.jit(_posterior_one, static_argnums=2)
    out = {}
    for i, (name, sch) in enumerate(_schedules(cfg.T).items()):
        res = check(jax.random.fold_in(key, i), Schedule(*(jnp.asarray(v, jnp.float64) for v in sch)),
                    cfg.n_posterior)
        out[name] = {k: np.asarray(v) if v.ndim else float(v) for k, v in res.items()}
    return out


def _iid_batches(loss_fn, batch_size: int):
    """``loss_fn`` on a minibatch drawn uniformly with replacement from the data, from the step's key (for
    ``train(..., batch_size=None, noise_key=...)``): a few random integers per step, where ``training.minibatch``
    permutes the whole data set at every step (several times the cost of a small denoiser's gradient)."""

    def loss(params, data, key):
        k_idx, k_loss = jax.random.split(key)
        idx = jax.random.randint(k_idx, (batch_size,), 0, jax.tree.leaves(data)[0].shape[0])
        return loss_fn(params, jax.tree.map(lambda a: a[idx], data), k_loss)

    return loss


def _train_moons(key: jax.Array, cfg: Config, x_train: jax.Array):
    """Both schedules' denoisers in one compiled loop: stacked parameters, the sum of the two (independent) losses."""
    schedules = _schedules(cfg.T)
    model = denoiser(cfg.hidden, cfg.T)
    params0 = stacked_init(model.init, jax.random.split(jax.random.fold_in(key, 0), 2), (-1, 2))
    losses = [eps_loss(model.apply, sch) for sch in schedules.values()]

    def loss(params, batch, k):
        return sum(fn(jax.tree.map(lambda p, i=i: p[i], params), batch, jax.random.fold_in(k, i))
                   for i, fn in enumerate(losses))

    opt = optax.adam(optax.cosine_decay_schedule(cfg.learning_rate, cfg.steps, alpha=0.05))
    params, history = train(_iid_batches(loss, cfg.batch_size), params0, opt, x_train, n_steps=cfg.steps,
                            noise_key=jax.random.fold_in(key, 2),
                            log_every=max(cfg.steps // 10, 1), desc="DDPM on two moons (linear + cosine)")
    sample = jax.jit(lambda p, sch, k: ddpm_sample(k, model.apply, p, sch, (cfg.replicates * cfg.n_eval, 2),
                                                   variance=cfg.variance))
    draws = {name: np.asarray(sample(jax.tree.map(lambda p, i=i: p[i], params), sch, jax.random.fold_in(key, 3 + i)))
             for i, (name, sch) in enumerate(schedules.items())}
    return draws, history["loss"]


def _moons_part(key: jax.Array, cfg: Config) -> dict:
    n_all = cfg.replicates * cfg.n_eval
    draw = jax.jit(two_moons, static_argnums=(1, 2))  # one draw split three ways: training, held-out, fresh
    x_all = np.asarray(draw(jax.random.fold_in(key, 0), cfg.n_train + 2 * n_all, cfg.moons_noise)[0], np.float64)
    x_train, held_out, fresh = np.split(x_all, [cfg.n_train, cfg.n_train + n_all])
    centre, scale = x_train.mean(0), x_train.std(0)
    draws, loss_trace = _train_moons(jax.random.fold_in(key, 1), cfg,
                                     jnp.asarray((x_train - centre) / scale, jnp.float32))
    draws = {k: v * scale + centre for k, v in draws.items()}
    rng = np.random.default_rng(cfg.seed)
    gauss = rng.multivariate_normal(x_train.mean(0), np.cov(x_train.T), n_all)
    directions = rng.normal(size=(cfg.n_directions, 2))
    rows = {"data (floor)": fresh, "single Gaussian": gauss, **{f"DDPM {k}": v for k, v in draws.items()}}
    sw = {name: np.array([sliced_wasserstein1(x[r * cfg.n_eval:(r + 1) * cfg.n_eval],
                                              held_out[r * cfg.n_eval:(r + 1) * cfg.n_eval], directions).mean()
                          for r in range(cfg.replicates)]) for name, x in rows.items()}
    return {"sw": sw, "draws": draws, "held_out": held_out[:cfg.n_eval], "gauss": gauss[:cfg.n_eval],
            "loss": loss_trace}


def _within_class_distance(x_NxD: np.ndarray, y_N: np.ndarray) -> float:
    """Mean pairwise Euclidean distance between images of one class, averaged over classes (guidance trades it for
    class fidelity)."""
    return float(np.mean([np.mean(np.linalg.norm(x_NxD[y_N == c][:, None] - x_NxD[y_N == c][None], axis=-1))
                          for c in np.unique(y_N)]))


def _digits_part(key: jax.Array, cfg: Config) -> dict:
    data = digits(seed=cfg.seed)
    x_train, y_train = jnp.asarray(data.x_train) * 2 - 1, jnp.asarray(data.y_train)
    sch = linear_schedule(cfg.T)
    model = denoiser(cfg.digit_hidden, cfg.T, n_classes=10)
    _, params0 = model.init(jax.random.fold_in(key, 0), (-1, 64))
    opt = optax.adam(optax.cosine_decay_schedule(cfg.digit_lr, cfg.digit_steps, alpha=0.05))
    loss = _iid_batches(eps_loss(model.apply, sch, p_uncond=cfg.p_uncond, n_classes=10), cfg.digit_batch)
    params, history = train(loss, params0, opt, (x_train, y_train), n_steps=cfg.digit_steps,
                            noise_key=jax.random.fold_in(key, 2),
                            log_every=max(cfg.digit_steps // 10, 1), desc="class-conditional DDPM on digits")
    labels = jnp.repeat(jnp.arange(10), cfg.per_class)
    samples = jax.jit(lambda p, k: ddpm_sample(k, model.apply, p, sch, (10 * cfg.per_class, 64), y_N=labels,
                                               guidance=cfg.guidance, variance=cfg.variance))(
        params, jax.random.fold_in(key, 3))
    samples = jnp.clip((samples + 1) / 2, 0.0, 1.0)

    clf = dense_mlp(cfg.classifier_hidden, 10, activation=jax.nn.relu)
    _, clf0 = clf.init(jax.random.fold_in(key, 4), (-1, 64))
    clf_params, _ = train(cross_entropy(clf.apply), clf0, optax.adam(3e-3),
                          (jnp.asarray(data.x_train), y_train), n_steps=cfg.classifier_steps, batch_size=128,
                          key=jax.random.fold_in(key, 5), log_every=cfg.classifier_steps, desc="digit classifier")
    predict = jax.jit(lambda p, x: jnp.argmax(clf.apply(p, x), axis=1))
    test_acc = float(jnp.mean(predict(clf_params, jnp.asarray(data.x_test)) == jnp.asarray(data.y_test)))
    pred = np.asarray(predict(clf_params, samples))
    samples, labels = np.asarray(samples), np.asarray(labels)
    spread = {"samples": _within_class_distance(samples, labels),
              "held-out digits": _within_class_distance(np.asarray(data.x_test), np.asarray(data.y_test))}
    return {"samples": samples, "labels": labels, "pred": pred, "spread": spread,
            "accuracy": float(np.mean(pred == np.asarray(labels))), "test_accuracy": test_acc,
            "n_test": len(data.y_test), "loss": history["loss"]}


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    with jax.enable_x64(True):
        fwd = _forward_check(jax.random.fold_in(key, 0), cfg)
        post = _posterior_check(jax.random.fold_in(key, 1), cfg)
    moons = _moons_part(jax.random.fold_in(key, 2), cfg)
    dig = _digits_part(jax.random.fold_in(key, 3), cfg)

    sw = moons["sw"]
    floor, gauss = sw["data (floor)"], sw["single Gaussian"]
    n_samples = 10 * cfg.per_class
    acc = dig["accuracy"]
    acc_se = float(proportion_stderr(acc, n_samples))
    claims = []
    for name in SCHEDULES:
        f, p = fwd[name], post[name]
        claims += [
            Claim.at_most(f"forward-closed-form-{name}", f"{name} schedule: max |moment of iterated forward steps - "
                          f"closed form q(x_t|x_0)| / SE over t in {f['times']} (means and second moments, "
                          f"{cfg.n_forward} chains)", N_SE, float(max(f["z_mean"].max(), f["z_var"].max()))),
            Claim.at_most(f"posterior-mean-{name}", f"{name}: max over t >= 2 of |closed-form mu~_t - Bayes' rule "
                          "by quadrature| / posterior sd (float64)", FLOAT_TOL, p["mean_err"]),
            Claim.at_most(f"posterior-variance-{name}", f"{name}: max over t >= 2 of |beta~_t / quadrature variance "
                          "- 1| (float64)", FLOAT_TOL, p["var_err"]),
        ]
    lin = post["linear"]
    claims += [
        Claim.at_most("posterior-eps-form", "max over t, both schedules, of |(x_t - beta_t eps/sqrt(1-abar_t))/"
                      "sqrt(alpha_t) - mu~_t| / posterior sd (the eps parameterization of the mean)", FLOAT_TOL,
                      max(p["eps_form_err"] for p in post.values())),
        Claim.at_most("posterior-t1-point-mass", "t = 1: |mu~_1 - x_0| and beta~_1 (the posterior is the point "
                      "mass at x_0)", FLOAT_TOL, max(p["t1_err"] for p in post.values())),
        Claim.at_least("notes-variance-off", "linear schedule, t = 2: the notes' variance beta_t over Bayes' "
                       "beta~_t (bars dropped; Bayes' ratio is (1-abar_2)/(1-abar_1))", NOTES_VAR_RATIO,
                       float(lin["notes_var_ratio_T"][0])),
        Claim.at_least("notes-mean-off", "min over both schedules of the mean over t >= 2 of the RMS (over x_t ~ q) "
                       "of |notes' mean - Bayes' mean| / posterior sd", NOTES_MEAN_SD,
                       float(min(p["notes_mean_rms_T"].mean() for p in post.values()))),
    ]
    gap_gauss = gauss - floor
    for name in SCHEDULES:
        excess = sw[f"DDPM {name}"] - floor
        rows = np.stack([excess, gap_gauss], axis=1)
        ratio = float(excess.mean() / gap_gauss.mean())
        ratio_se = bootstrap_stderr(rows, lambda r: r[:, 0].mean() / r[:, 1].mean(), seed=cfg.seed)
        better, better_se = paired_difference(gauss, sw[f"DDPM {name}"])
        claims += [
            Claim.at_most(f"ddpm-near-floor-{name}", f"{name} schedule: (sliced W1(DDPM, held-out) - floor) / "
                          f"(sliced W1(single Gaussian, held-out) - floor) over {cfg.replicates} replicates of "
                          f"{cfg.n_eval} points (+ {K_SE:g} bootstrap SE {ratio_se:.3f})", EXCESS_RATIO, ratio,
                          slack=K_SE * ratio_se),
            Claim.at_least(f"ddpm-beats-gaussian-{name}", f"{name}: sliced W1 of the single Gaussian minus the "
                           f"DDPM's, in paired SEs ({better_se:.4f})", K_SE, better / better_se),
        ]
    claims += [
        Claim.at_least("classifier-accuracy", f"digit classifier: held-out accuracy (n = {dig['n_test']}; chance "
                       f"{CHANCE:g})", 0.9, dig["test_accuracy"]),
        Claim.at_least("conditional-samples-classified", f"class-conditional DDPM samples ({cfg.per_class} per class, "
                       f"guidance w = {cfg.guidance:g}) classified as their class by the separate classifier, >= "
                       f"{MIN_SAMPLE_ACCURACY:g} within {K_SE:g} binomial SE ({acc_se:.3f}); chance {CHANCE:g}",
                       MIN_SAMPLE_ACCURACY, acc, slack=K_SE * acc_se),
    ]
    metrics = {
        "forward": {k: {"times": v["times"], "z_mean": v["z_mean"].tolist(), "z_var": v["z_var"].tolist()}
                    for k, v in fwd.items()},
        "posterior": {k: {"mean_err": v["mean_err"], "var_err": v["var_err"], "eps_form_err": v["eps_form_err"],
                          "notes_var_ratio_t2": float(v["notes_var_ratio_T"][0]),
                          "notes_mean_rms_mean": float(v["notes_mean_rms_T"].mean())} for k, v in post.items()},
        "sliced_w1": {k: [float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v)))] for k, v in sw.items()},
        "moons_final_loss": float(np.mean(moons["loss"][-100:])),
        "guidance": cfg.guidance,
        "digits": {"sample_accuracy": acc, "sample_accuracy_se": acc_se, "classifier_test_accuracy":
                   dig["test_accuracy"], "per_class_accuracy": [float(np.mean(dig["pred"][dig["labels"] == c] == c))
                                                               for c in range(10)],
                   "final_loss": float(np.mean(dig["loss"][-100:])),
                   "within_class_distance": dig["spread"]},
    }
    schedules = {k: np.asarray(v.alpha_bar_T) for k, v in _schedules(cfg.T).items()}
    data = {"moons": moons, "digits": dig, "schedules": schedules, "posterior": post}
    return Result(claims, metrics, data)


def plot(result: Result):
    d = result.data
    fig, axes = subplots(2, 3, width=3.9, height=3.5,
                         title="DDPM: schedules, the posterior slip, two-moons samples, class-conditional digits")
    ax = axes[0, 0]
    for name, a_bar in d["schedules"].items():
        t = np.arange(1, len(a_bar) + 1)
        ax.plot(t, a_bar, label=f"{name}: " + r"$\bar\alpha_t$")
        ax.plot(t, np.sqrt(1 - a_bar), ls=":", label=f"{name}: " + r"$\sqrt{1-\bar\alpha_t}$ (noise sd)")
    ax.set(xlabel="t", ylabel="value", title="noise schedules")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    for name, p in d["posterior"].items():
        t = np.arange(2, len(p["notes_var_ratio_T"]) + 2)
        width = max(len(t) // 50, 1)  # running mean over t: each t has only n_posterior draws
        rms = np.convolve(p["notes_mean_rms_T"], np.ones(width) / width, mode="same")
        ax.loglog(t, p["notes_var_ratio_T"], label=f"{name}: notes' variance / " + r"$\tilde\beta_t$")
        ax.loglog(t, rms, ls="--", label=f"{name}: notes' mean error / posterior sd (RMS)")
    ax.axhline(1.0, color="0.4", lw=0.8)
    ax.set(xlabel="t (log scale)", ylabel="ratio", title="notes without bars vs Bayes' posterior")
    ax.legend(fontsize=7)
    m = d["moons"]
    panels = [("held-out data + single Gaussian fit", m["held_out"], m["gauss"]),
              ("DDPM, linear schedule", m["draws"]["linear"][:len(m["held_out"])], None),
              ("DDPM, cosine schedule", m["draws"]["cosine"][:len(m["held_out"])], None)]
    for ax, (title, x, extra) in zip([axes[0, 2], axes[1, 0], axes[1, 1]], panels, strict=True):
        if extra is not None:
            ax.scatter(extra[:, 0], extra[:, 1], s=2, color="#d1495b", alpha=0.3, label="single Gaussian fit")
        ax.scatter(x[:, 0], x[:, 1], s=2, color="#1f5fa8", alpha=0.6, label="held-out data" if extra is not None
                   else "samples")
        sw = result.metrics["sliced_w1"]
        key = {"DDPM, linear schedule": "DDPM linear", "DDPM, cosine schedule": "DDPM cosine"}.get(title)
        score = (f"sliced W1 to held-out {sw[key][0]:.3f}" if key else f"floor: fresh data {sw['data (floor)'][0]:.3f}")
        ax.set(xlim=(-1.6, 2.6), ylim=(-1.1, 1.6), xlabel="$x_1$", ylabel="$x_2$",
               title=f"{title}\n{score} (Gaussian {sw['single Gaussian'][0]:.3f})")
        if extra is not None:
            ax.legend(fontsize=7, loc="lower left", markerscale=3)
        ax.title.set_fontsize(8.5)
    ax = axes[1, 2]
    dig = d["digits"]
    per = 10
    grid = np.ones((10 * 9, per * 9))
    for c in range(10):
        imgs = dig["samples"][dig["labels"] == c][:per]
        for j, img in enumerate(imgs):
            grid[c * 9:c * 9 + 8, j * 9:j * 9 + 8] = 1 - img.reshape(8, 8)
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1)
    ax.set_yticks(np.arange(10) * 9 + 3.5, [str(c) for c in range(10)])
    ax.set_xticks([])
    ax.grid(False)
    ax.set(ylabel="class", title=f"class-conditional DDPM digits (w = {result.metrics['guidance']:g})\n"
           f"separate classifier agrees on {dig['accuracy']:.1%}")
    ax.title.set_fontsize(8.5)
    return fig


EXPERIMENT = Experiment(
    id="diffusion",
    description="DDPM: q(x_t|x_0) vs iterated steps, the posterior vs Bayes by quadrature (the notes' bar-less form "
                "fails), two-moons samples near the data floor, class-conditional digits.",
    config=Config, run=run, plot=plot)
