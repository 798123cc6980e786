"""Ensembles and normalization: bagging's variance formula, dropout's weight scaling, batch, layer and weight norm.

Bagging. Regression stumps (an unstable learner) are bagged on bootstrap samples of n noisy points of sin(pi x).
Over data draws and resampling the members are exchangeable with variance sigma^2 and correlation rho, so the
bagged prediction has variance rho sigma^2 + (1 - rho) sigma^2 / B. sigma^2 and rho are estimated on one set of draws;
the variance of the bagged predictor is measured, for several B, on independent draws; they agree within standard
errors, and bagging removes most of the variance but never the shared part rho sigma^2.

Dropout (keep probability pi). For a linear model the weight-scaling rule (multiply the weights leaving dropped units
by pi) equals the ensemble mean over all 2^d masks exactly (float64, exhaustive); for a softmax on top it equals the
renormalized weighted geometric mean of the 2^d members exactly, not their arithmetic mean. Through an MLP's
nonlinearity it only approximates the ensemble mean: the gap to a Monte-Carlo ensemble mean is many standard errors
from zero (chi-square over the inputs), yet small next to the output's spread.

BatchNorm (flax conventions: biased batch variance, running r <- m r + (1 - m) s_B). On batches of b examples from a
population N(mu, sigma^2) the running mean converges to mu and the running variance to (b - 1)/b sigma^2 (not
sigma^2; PyTorch keeps the unbiased batch variance instead), each within the stationary spread of the moving average,
sqrt((1 - m)/(1 + m) Var(s_B)). At evaluation a batch is mapped by the fixed running statistics: its output mean is
(mu_B - r_mu)/sqrt(r_var + eps), not 0, and one example's output no longer depends on the others (in training mode it
does). BatchNorm is invariant to a per-feature affine change of the batch, LayerNorm to a per-example one (both up to
the eps terms, bounded), and LayerNorm is not invariant to per-feature scaling.

Weight normalization w = g v/||v||: ||w|| = g exactly, the gradient in v is orthogonal to v, and so gradient descent on
v never decreases ||v|| (||v_{t+1}||^2 = ||v_t||^2 + eta^2 ||grad_v||^2; Salimans & Kingma 2016).
References: Breiman 1996; Srivastava et al. 2014; Baldi & Sadowski 2013; Ioffe & Szegedy 2015; Ba et al. 2016.
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.stats

from dl_theory import checks
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.models.mlp import dense_mlp
from dl_theory.regularization.bagging import average_variance, bagged_predict, regression_stump
from dl_theory.regularization.dropout import (
    all_masks,
    dropout_mask,
    dropout_mlp_apply,
    inverted_dropout,
    mask_probabilities,
    normalized_geometric_mean,
    weight_scaled,
)
from dl_theory.regularization.normalization import (
    BatchStats,
    batch_norm_eval,
    batch_norm_train,
    layer_norm,
    update_running_stats,
    weight_norm,
)
from dl_theory.stats import mean_and_stderr
from dl_theory.training import train

N_SE = 4.5  # standard-error rule for the Monte-Carlo comparisons
FLOAT64_REL = 1e-10  # float64 identities
FLOAT64_ROUND = 1e-13  # relative rounding allowed on a norm that stops changing
CHI2_LEVEL = 1e-6  # the MLP gap is "nonzero" when sum z^2 exceeds this upper quantile of chi^2_N
MLP_GAP_RATIO = 0.25  # RMS dropout gap / spread of the MLP outputs over inputs ("small")
TEST_POINTS = (-0.5, 0.05, 0.6)


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    n_train: Annotated[int, checks.at_least(4)] = 40
    noise: Annotated[float, checks.positive] = 0.5
    bag_sizes: Annotated[tuple[int, ...], checks.each(checks.count, min_length=2)] = (1, 2, 5, 10, 25, 50)
    n_draws: Annotated[int, checks.at_least(10)] = 20_000
    n_linear_inputs: Annotated[int, checks.count] = 10
    n_classes: Annotated[int, checks.at_least(2)] = 3
    keep: Annotated[float, checks.probability] = 0.5
    keep_input: Annotated[float, checks.probability] = 0.8
    mlp_in: Annotated[int, checks.count] = 8
    mlp_hidden: Annotated[int, checks.count] = 64
    n_mlp_inputs: Annotated[int, checks.count] = 32
    n_masks: Annotated[int, checks.at_least(10)] = 100_000
    bn_features: Annotated[int, checks.count] = 8
    bn_batch: Annotated[int, checks.at_least(2)] = 8
    bn_momentum: Annotated[float, checks.probability] = 0.99
    bn_steps: Annotated[int, checks.count] = 2000
    wn_steps: Annotated[int, checks.count] = 400
    wn_lr: Annotated[float, checks.positive] = 0.1

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_draws=2500, n_masks=10_000, bn_steps=1200, wn_steps=200)


def _bagging(key: jax.Array, cfg: Config) -> dict:
    """sigma^2 and rho from one set of draws (10 bags each); the bagged variance from independent draws."""
    x_test = jnp.asarray(TEST_POINTS)
    b_max = max(cfg.bag_sizes)

    def one_draw(k: jax.Array, n_bags: int) -> jax.Array:
        kx, kn, kb = jax.random.split(k, 3)
        x = jax.random.uniform(kx, (cfg.n_train,), minval=-1.0, maxval=1.0)
        y = jnp.sin(jnp.pi * x) + cfg.noise * jax.random.normal(kn, (cfg.n_train,))
        return bagged_predict(regression_stump, kb, x, y, x_test, n_bags)[1]  # (n_bags, T)

    # one compiled call: the first R draws estimate sigma^2 and rho (10 of their bags), the other R are measured
    members = np.asarray(jax.jit(jax.vmap(lambda k: one_draw(k, b_max)))(jax.random.split(key, 2 * cfg.n_draws)))
    members_a, members_b = members[:cfg.n_draws, :10], members[cfg.n_draws:]  # (R, 10, T), (R, Bmax, T)
    mu = np.concatenate([members_a, members_b], axis=1).mean(axis=(0, 1))  # E f at each test point
    dev_a = members_a - mu
    n_a = dev_a.shape[1]
    sigma2_r = np.mean(dev_a**2, axis=(1, 2))  # per draw, averaged over test points
    cov_r = np.mean((dev_a.sum(1) ** 2 - (dev_a**2).sum(1)) / (n_a * (n_a - 1)), axis=1)
    sigma2, cov = float(sigma2_r.mean()), float(cov_r.mean())
    rho = cov / sigma2
    rows = []
    for b in cfg.bag_sizes:
        formula, formula_se = mean_and_stderr(cov_r + (sigma2_r - cov_r) / b)
        bagged = members_b[:, :b].mean(axis=1) - mu
        measured, measured_se = mean_and_stderr(np.mean(bagged**2, axis=1))
        rows.append((b, float(measured), float(measured_se), float(formula), float(formula_se)))
    return {"sigma2": sigma2, "sigma2_se": float(mean_and_stderr(sigma2_r)[1]), "cov": cov, "rho": rho, "rows": rows,
            "formula": np.asarray(average_variance(sigma2, rho, np.asarray(cfg.bag_sizes, float))).tolist()}


def _dropout_linear(key: jax.Array, cfg: Config) -> dict:
    """Exhaustive 2^d ensemble of a linear model and of a softmax on it, against the weight-scaled model (float64)."""
    d = cfg.n_linear_inputs
    init, apply = dense_mlp((), cfg.n_classes)
    _, params = init(jax.random.fold_in(key, 0), (d,))
    params = jax.tree.map(lambda a: a + 0.3 * jax.random.normal(jax.random.fold_in(key, 1), a.shape), params)
    x = jax.random.normal(jax.random.fold_in(key, 2), (5, d))
    masks = all_masks(d)
    probs = jnp.asarray(mask_probabilities(masks, cfg.keep))
    logits_M = jax.jit(jax.vmap(lambda m: dropout_mlp_apply(params, x, [m])))(jnp.asarray(masks))  # (2^d, N, C)
    scaled_logits = apply(weight_scaled(params, cfg.keep), x)
    mean_logits = jnp.tensordot(probs, logits_M, axes=1)
    log_probs_M = jax.nn.log_softmax(logits_M, axis=-1)
    geometric = normalized_geometric_mean(log_probs_M, probs)
    arithmetic = jnp.tensordot(probs, jnp.exp(log_probs_M), axes=1)
    scaled_probs = jax.nn.softmax(scaled_logits, axis=-1)
    return {"prob_sum": float(probs.sum()),
            "linear_rel_err": float(jnp.max(jnp.abs(mean_logits - scaled_logits)) / jnp.max(jnp.abs(scaled_logits))),
            "geometric_err": float(jnp.max(jnp.abs(geometric - scaled_probs))),
            "arithmetic_gap": float(jnp.max(jnp.abs(arithmetic - scaled_probs))),
            "mean_logits": np.asarray(mean_logits).ravel(), "scaled_logits": np.asarray(scaled_logits).ravel()}


def _dropout_mlp(key: jax.Array, cfg: Config) -> dict:
    """Monte-Carlo ensemble mean of a tanh MLP under dropout vs its weight-scaled output, input by input."""
    init, apply = dense_mlp((cfg.mlp_hidden,), 1)
    _, params = init(jax.random.fold_in(key, 0), (cfg.mlp_in,))
    params = [{**layer, "b": 0.5 * jax.random.normal(jax.random.fold_in(key, i + 1), layer["b"].shape)}
              for i, layer in enumerate(params)]
    x = 1.5 * jax.random.normal(jax.random.fold_in(key, 9), (cfg.n_mlp_inputs, cfg.mlp_in))
    keeps = (cfg.keep_input, cfg.keep)

    @jax.jit
    def chunk(k: jax.Array) -> tuple[jax.Array, jax.Array]:
        ks = jax.random.split(k, 2)
        masks = [dropout_mask(ks[0], (1000, cfg.n_mlp_inputs, cfg.mlp_in), 1 - keeps[0]),
                 dropout_mask(ks[1], (1000, cfg.n_mlp_inputs, cfg.mlp_hidden), 1 - keeps[1])]
        out = jax.vmap(lambda m0, m1: dropout_mlp_apply(params, x, [m0, m1])[:, 0])(*masks)  # (1000, N)
        return out.sum(0), (out**2).sum(0)

    n_chunks = max(1, cfg.n_masks // 1000)
    sums = [chunk(jax.random.fold_in(key, 100 + i)) for i in range(n_chunks)]
    total, total_sq = (np.sum([np.asarray(s[j], np.float64) for s in sums], axis=0) for j in (0, 1))
    n = n_chunks * 1000
    mc_mean = total / n
    mc_se = np.sqrt((total_sq / n - mc_mean**2) / (n - 1))
    scaled = np.asarray(apply(weight_scaled(params, keeps), x)[:, 0], np.float64)
    gap = mc_mean - scaled
    chi2 = float(np.sum((gap / mc_se) ** 2))
    # inverted dropout is unbiased: E[m x / pi] = x (Monte Carlo over the same number of masks, one input)
    inv = jax.jit(jax.vmap(lambda k: inverted_dropout(k, x[0], 1 - cfg.keep)))(
        jax.random.split(jax.random.fold_in(key, 7), n))
    inv_mean, inv_se = mean_and_stderr(np.asarray(inv))
    return {"mc_mean": mc_mean, "mc_se": mc_se, "scaled": scaled, "chi2": chi2, "n_inputs": cfg.n_mlp_inputs,
            "gap_rms": float(np.sqrt(np.mean(gap**2))), "output_spread": float(np.std(scaled)),
            "inverted_z": float(np.max(np.abs(inv_mean - np.asarray(x[0])) / inv_se)), "n_masks": n}


def _batch_norm(key: jax.Array, cfg: Config) -> dict:
    """Running statistics under flax's update on batches from N(mu, sigma^2), then train vs eval on one batch."""
    d, b, m = cfg.bn_features, cfg.bn_batch, cfg.bn_momentum
    mu = 2.0 * jax.random.normal(jax.random.fold_in(key, 0), (d,))
    sigma = jnp.exp(jax.random.uniform(jax.random.fold_in(key, 1), (d,), minval=-1.0, maxval=1.0))

    def step(running: BatchStats, k: jax.Array):
        z = mu[None] + sigma[None] * jax.random.normal(k, (b, d))
        _, stats = batch_norm_train(z)
        running = update_running_stats(running, stats, m)
        return running, running

    keys = jax.random.split(jax.random.fold_in(key, 2), cfg.bn_steps)
    running, path = jax.jit(lambda ks: jax.lax.scan(step, BatchStats(jnp.zeros(d), jnp.ones(d)), ks))(keys)
    sigma2 = np.asarray(sigma, np.float64) ** 2
    factor = (1 - m) / (1 + m)  # stationary variance of an EMA of i.i.d. terms, per unit term variance
    bias_decay = m ** cfg.bn_steps
    mean_sd = np.sqrt(factor * sigma2 / b)
    var_sd = np.sqrt(factor * 2 * (b - 1) * sigma2**2 / b**2)  # Var of the biased Gaussian sample variance
    z_mean = np.abs(np.asarray(running.mean_D) - np.asarray(mu)) / (mean_sd + bias_decay * np.abs(np.asarray(mu)))
    target_var = (b - 1) / b * sigma2
    z_var = np.abs(np.asarray(running.var_D) - target_var) / (var_sd + bias_decay * np.abs(target_var - 1))
    # pooled over features: ratio r_var / sigma^2 against (b-1)/b and against 1
    ratio = np.asarray(running.var_D) / sigma2
    ratio_se = float(np.sqrt(factor * 2 * (b - 1) / b**2 / d))
    # one fresh batch: train vs eval, and the coupling between examples
    z = mu[None] + sigma[None] * jax.random.normal(jax.random.fold_in(key, 3), (b, d))
    train_out, batch = batch_norm_train(z)
    eval_out = batch_norm_eval(z, running)
    shift_theory = (batch.mean_D - running.mean_D) / jnp.sqrt(running.var_D + 1e-5)
    z_other = z.at[1].add(3.0 * sigma)
    coupling_train = float(jnp.max(jnp.abs(batch_norm_train(z_other)[0][0] - train_out[0])))
    coupling_eval = float(jnp.max(jnp.abs(batch_norm_eval(z_other, running)[0] - eval_out[0])))
    return {"z_mean": z_mean, "z_var": z_var, "ratio": ratio, "ratio_se": ratio_se,
            "eval_shift_err": float(jnp.max(jnp.abs(eval_out.mean(0) - shift_theory))),
            "eval_shift": float(jnp.max(jnp.abs(shift_theory))), "train_eval_diff": float(
                jnp.max(jnp.abs(train_out - eval_out))), "coupling_train": coupling_train,
            "coupling_eval": coupling_eval, "path_mean": np.asarray(path.mean_D), "path_var": np.asarray(path.var_D),
            "mu": np.asarray(mu), "sigma2": sigma2, "batch": b}


def _invariances(key: jax.Array) -> dict:
    """BN under a per-feature affine map of the batch, LN under a per-example one, LN under per-feature scaling."""
    return {k: float(v) for k, v in _invariance_errors(key).items()}


@jax.jit
def _invariance_errors(key: jax.Array) -> dict:
    z = 1.0 + 2.0 * jax.random.normal(jax.random.fold_in(key, 0), (16, 12))
    a_N = jnp.exp(jax.random.uniform(jax.random.fold_in(key, 1), (16, 1), minval=-1.0, maxval=1.0))
    c_N = 3.0 * jax.random.normal(jax.random.fold_in(key, 2), (16, 1))
    a_D = jnp.exp(jax.random.uniform(jax.random.fold_in(key, 3), (1, 12), minval=-1.0, maxval=1.0))
    c_D = 3.0 * jax.random.normal(jax.random.fold_in(key, 4), (1, 12))
    ln, bn = layer_norm(z), batch_norm_train(z)[0]
    ln_var, bn_var = jnp.var(z, axis=1), jnp.var(z, axis=0)
    # |x_hat| * |1 - sqrt((v + eps)/(v + eps/a^2))| <= |x_hat| * eps |1 - 1/a^2| / (2 v): first order in eps/v
    ln_bound = jnp.max(jnp.abs(ln)) * 1e-6 * jnp.max(jnp.abs(1 - 1 / a_N**2)) / (2 * jnp.min(ln_var))
    bn_bound = jnp.max(jnp.abs(bn)) * 1e-5 * jnp.max(jnp.abs(1 - 1 / a_D**2)) / (2 * jnp.min(bn_var))
    return {"ln_example_affine": jnp.max(jnp.abs(layer_norm(a_N * z + c_N) - ln)), "ln_bound": ln_bound,
            "bn_feature_affine": jnp.max(jnp.abs(batch_norm_train(a_D * z + c_D)[0] - bn)),
            "bn_bound": bn_bound, "ln_feature_scale": jnp.max(jnp.abs(layer_norm(a_D * z) - ln))}


def _weight_norm(key: jax.Array, cfg: Config) -> dict:
    """Least squares with a weight-normalized linear layer, trained by GD on (v, g): ||w|| = g, grad_v . v = 0."""
    kx, kw, kv = jax.random.split(key, 3)
    x = jax.random.normal(kx, (64, 6))
    y = x @ jax.random.normal(kw, (6, 2))
    params0 = {"v": jax.random.normal(kv, (6, 2)), "g": jnp.array([0.5, 2.0])}

    def loss(p, batch):
        xb, yb = batch
        return 0.5 * jnp.mean(jnp.sum((xb @ weight_norm(p["v"], p["g"]) - yb) ** 2, axis=1))

    @jax.jit
    def norms(p: dict) -> dict:
        grad_v = jax.grad(loss)(p, (x, y))["v"]
        cosine = jnp.sum(grad_v * p["v"], axis=0) / (
            jnp.linalg.norm(grad_v, axis=0) * jnp.linalg.norm(p["v"], axis=0) + 1e-300)
        return {"v_norm": jnp.linalg.norm(p["v"], axis=0), "w_norm": jnp.linalg.norm(weight_norm(p["v"], p["g"]),
                                                                                      axis=0),
                "g": p["g"], "cosine": jnp.max(jnp.abs(cosine))}

    def record(step: int, p: dict) -> dict:
        return norms(p)

    _, hist = train(loss, params0, optax.sgd(cfg.wn_lr), (x, y), n_steps=cfg.wn_steps, log_every=10,
                    callback=record, desc="weight norm (GD)")
    v_norm = np.asarray(hist["v_norm"])
    return {"norm_rel_err": float(np.max(np.abs(hist["w_norm"] - np.abs(hist["g"])) / np.abs(hist["g"]))),
            "cosine": float(np.max(hist["cosine"])), "v_norm_min_increment": float(np.min(np.diff(v_norm, axis=0))),
            "v_norm": v_norm, "w_norm": np.asarray(hist["w_norm"]), "steps": np.asarray(hist["log_step"]),
            "loss": np.asarray(hist["loss"])}


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    bag = _bagging(jax.random.fold_in(key, 0), cfg)
    with jax.enable_x64(True):
        lin = _dropout_linear(jax.random.fold_in(key, 1), cfg)
        inv = _invariances(jax.random.fold_in(key, 4))
        wn = _weight_norm(jax.random.fold_in(key, 5), cfg)
    mlp = _dropout_mlp(jax.random.fold_in(key, 2), cfg)
    bn = _batch_norm(jax.random.fold_in(key, 3), cfg)

    z_bag = [abs(m - f) / np.hypot(ms, fs) for _, m, ms, f, fs in bag["rows"]]
    _, var_max, var_max_se, _, _ = bag["rows"][-1]
    chi2_bar = float(scipy.stats.chi2.isf(CHI2_LEVEL, mlp["n_inputs"]))
    b = bn["batch"]
    claims = [
        Claim.at_most("bagging-variance-formula", "max over B in " + str(cfg.bag_sizes) + " of |measured Var(bagged) - "
                      "(rho sigma^2 + (1-rho) sigma^2/B)| / SE (rho, sigma^2 from independent draws)", N_SE,
                      max(z_bag)),
        Claim.at_least("bagging-reduces-variance", f"[sigma^2 - Var(bagged, B={max(cfg.bag_sizes)})] / SE (bagging "
                       "lowers the variance)", N_SE, (bag["sigma2"] - var_max) / np.hypot(bag["sigma2_se"],
                                                                                           var_max_se)),
        Claim.at_least("bagging-keeps-shared-variance", "Var(bagged, largest B) / SE (> 0: the part rho sigma^2 "
                       f"stays; rho = {bag['rho']:.3f})", N_SE, var_max / var_max_se),
        Claim.at_most("dropout-linear-exact", f"linear model: ensemble mean over all 2^{cfg.n_linear_inputs} masks "
                      "vs weight-scaled model, max relative difference (float64)", FLOAT64_REL, lin["linear_rel_err"]),
        Claim.at_most("dropout-softmax-geometric-mean", "softmax of the weight-scaled logits vs the renormalized "
                      "weighted geometric mean of the 2^d members' probabilities, max difference", FLOAT64_REL,
                      lin["geometric_err"]),
        Claim.at_least("dropout-softmax-not-arithmetic-mean", "... vs their arithmetic mean, max difference (the "
                       "weight-scaled softmax is not the ensemble-averaged prediction)", 1e-3, lin["arithmetic_gap"]),
        Claim.at_least("dropout-mlp-gap-nonzero", f"tanh MLP (keep {cfg.keep_input} input, {cfg.keep} hidden): "
                       f"sum over {mlp['n_inputs']} inputs of (MC ensemble mean - weight-scaled)^2/SE^2, vs the "
                       f"{CHI2_LEVEL:g} upper quantile of chi^2_{mlp['n_inputs']}", chi2_bar, mlp["chi2"]),
        Claim.at_most("dropout-mlp-gap-small", "RMS gap (MC ensemble mean - weight-scaled) / spread of the outputs "
                      "over the inputs", MLP_GAP_RATIO, mlp["gap_rms"] / mlp["output_spread"]),
        Claim.at_most("inverted-dropout-unbiased", "inverted dropout m x/pi: max over coordinates |MC mean - x| / SE",
                      N_SE, mlp["inverted_z"]),
        Claim.at_most("bn-running-mean", f"BatchNorm running mean (momentum {cfg.bn_momentum}, batch {b}): max over "
                      "features |r_mu - mu| / stationary sd sqrt((1-m)/(1+m) sigma^2/b)", N_SE,
                      float(np.max(bn["z_mean"]))),
        Claim.at_most("bn-running-var-biased", "running variance vs (b-1)/b sigma^2 (biased batch variance, flax): "
                      "max over features |r_var - (b-1)/b sigma^2| / stationary sd", N_SE, float(np.max(bn["z_var"]))),
        Claim.at_least("bn-running-var-not-sigma2", "mean over features of (1 - r_var/sigma^2) / SE (the running "
                       "variance underestimates sigma^2 by 1/b)", N_SE,
                       (1 - float(np.mean(bn["ratio"]))) / bn["ratio_se"]),
        Claim.at_most("bn-eval-batch-shift", "eval mode: batch mean of the output vs (mu_B - r_mu)/sqrt(r_var + "
                      "eps), max abs difference (float32)", 1e-5, bn["eval_shift_err"]),
        Claim.at_least("bn-train-eval-differ", "max |train-mode output - eval-mode output| on the same batch", 1e-2,
                       bn["train_eval_diff"]),
        Claim.at_least("bn-train-couples-examples", "train mode: change in example 0's output when example 1 "
                       "changes (batch statistics couple examples)", 1e-2, bn["coupling_train"]),
        Claim.at_most("bn-eval-independent", "eval mode: the same change (examples are independent)", 0.0,
                      bn["coupling_eval"]),
        Claim.at_most("ln-per-example-invariance", "LayerNorm(a_n z_n + c_n) - LayerNorm(z_n), max abs (float64; "
                      "bound: first order in eps/var)", inv["ln_bound"], inv["ln_example_affine"]),
        Claim.at_most("bn-per-feature-invariance", "BatchNorm(a_d z + c_d) - BatchNorm(z), max abs (float64; eps "
                      "bound)", inv["bn_bound"], inv["bn_feature_affine"]),
        Claim.at_least("ln-not-feature-invariant", "LayerNorm under per-feature scaling a_d z, max abs change", 0.1,
                       inv["ln_feature_scale"]),
        Claim.at_most("wn-norm-equals-g", "weight norm: max over GD steps and units |‖w‖ - |g|| / |g| (float64)",
                      FLOAT64_REL, wn["norm_rel_err"]),
        Claim.at_most("wn-grad-orthogonal", "max over steps and units |cos(grad_v L, v)| (float64)", FLOAT64_REL,
                      wn["cosine"]),
        Claim.at_least("wn-v-norm-nondecreasing", "smallest increase of ‖v‖ between logged GD steps (never "
                       "decreases: ‖v'‖^2 = ‖v‖^2 + eta^2 ‖grad_v‖^2; slack: float64 rounding of ‖v‖)", 0.0,
                       wn["v_norm_min_increment"], slack=FLOAT64_ROUND * float(np.max(wn["v_norm"]))),
    ]
    metrics = {
        "bagging": {"sigma2": bag["sigma2"], "rho": bag["rho"], "cov": bag["cov"],
                    "rows [B, measured, se, formula, se]": bag["rows"], "z": z_bag},
        "dropout_linear": {k: lin[k] for k in ("prob_sum", "linear_rel_err", "geometric_err", "arithmetic_gap")},
        "dropout_mlp": {"chi2": mlp["chi2"], "chi2_bar": chi2_bar, "gap_rms": mlp["gap_rms"],
                        "output_spread": mlp["output_spread"], "n_masks": mlp["n_masks"],
                        "max_gap_over_se": float(np.max(np.abs(mlp["mc_mean"] - mlp["scaled"]) / mlp["mc_se"])),
                        "inverted_z": mlp["inverted_z"]},
        "batch_norm": {"z_mean": bn["z_mean"].tolist(), "z_var": bn["z_var"].tolist(),
                       "var_ratio": bn["ratio"].tolist(), "var_ratio_se": bn["ratio_se"],
                       "eval_shift": bn["eval_shift"], "train_eval_diff": bn["train_eval_diff"],
                       "coupling_train": bn["coupling_train"], "coupling_eval": bn["coupling_eval"]},
        "invariances": inv,
        "weight_norm": {"norm_rel_err": wn["norm_rel_err"], "cosine": wn["cosine"],
                        "v_norm_min_increment": wn["v_norm_min_increment"], "final_loss": float(wn["loss"][-1])},
    }
    return Result(claims, metrics, {"bag": bag, "lin": lin, "mlp": mlp, "bn": bn, "wn": wn, "cfg": cfg})


def plot(result: Result):
    d = result.data
    fig, axes = subplots(2, 2, width=4.8, height=3.5, title="Ensembles and normalization")
    ax1, ax2, ax3, ax4 = axes.flat
    bag = d["bag"]
    sizes, measured, se, formula, formula_se = (np.asarray(c) for c in zip(*bag["rows"], strict=True))
    grid = np.geomspace(1, sizes.max(), 100)
    theory_line(ax1, grid, bag["rho"] * bag["sigma2"] + (1 - bag["rho"]) * bag["sigma2"] / grid,
                label=f"ρσ² + (1-ρ)σ²/B  (ρ = {bag['rho']:.2f})")
    ax1.errorbar(sizes, measured, yerr=2 * se, fmt="o", capsize=3, label="measured Var(bagged) ± 2 SE")
    ax1.axhline(bag["rho"] * bag["sigma2"], color="0.5", lw=1, ls=":", label="floor ρσ²")
    ax1.set(xscale="log", xlabel="number of bags B", ylabel="variance of the prediction",
            title="bagging regression stumps")
    ax1.legend(fontsize=7)
    mlp, lin = d["mlp"], d["lin"]
    lo, hi = min(mlp["scaled"].min(), lin["scaled_logits"].min()), max(mlp["scaled"].max(), lin["scaled_logits"].max())
    theory_line(ax2, [lo, hi], [lo, hi], label="ensemble mean = weight scaling")
    ax2.plot(lin["scaled_logits"], lin["mean_logits"], "s", ms=4, mfc="none", label="linear model (all 2^d masks)")
    ax2.errorbar(mlp["scaled"], mlp["mc_mean"], yerr=2 * mlp["mc_se"], fmt="o", ms=3, capsize=2,
                 label="tanh MLP (Monte Carlo ± 2 SE)")
    ax2.set(xlabel="weight-scaled output", ylabel="dropout ensemble mean", title="dropout: weight-scaling rule")
    ax2.legend(fontsize=7)
    bn = d["bn"]
    steps = np.arange(1, len(bn["path_var"]) + 1)
    for j in range(min(4, bn["path_var"].shape[1])):
        ax3.plot(steps, bn["path_var"][:, j] / bn["sigma2"][j], lw=0.8, alpha=0.8, color=f"C{j}")
        ax3.plot(steps, bn["path_mean"][:, j] / bn["mu"][j], lw=0.8, ls="-.", alpha=0.6, color=f"C{j}")
    b = bn["batch"]
    theory_line(ax3, [1, steps[-1]], [(b - 1) / b] * 2, label=f"(b-1)/b = {(b - 1) / b:.3f} (running var / σ²)")
    ax3.axhline(1.0, color="0.4", lw=1, ls=":", label="1 (running mean / μ, dash-dot)")
    ax3.set(xscale="log", xlabel="training step", ylabel="running statistic / population value",
            title=f"BatchNorm running statistics (momentum {d['cfg'].bn_momentum})", ylim=(0, 1.6))
    ax3.legend(fontsize=7)
    wn = d["wn"]
    for j in range(wn["v_norm"].shape[1]):
        ax4.plot(wn["steps"], wn["v_norm"][:, j], "-", color=f"C{j}", label=f"‖v‖ unit {j}")
        ax4.plot(wn["steps"], wn["w_norm"][:, j], "--", color=f"C{j}", label=f"‖w‖ = g unit {j}")
    ax4.set(xlabel="GD step", ylabel="norm", title="weight normalization w = g v/‖v‖ under GD")
    ax4.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="ensembles-and-norms",
    description="Bagging's variance rho sigma^2 + (1-rho) sigma^2/B; dropout weight scaling exact for linear models, "
                "approximate for an MLP; BatchNorm train vs eval, LayerNorm and weight-norm invariances.",
    config=Config, run=run, plot=plot)
