"""Normalizing flows: change of variables, triangular Jacobians, the MAF/IAF cost asymmetry, a flow fitted to 2-D data.

A flow pushes z ~ N(0, I) through a bijection T; its density is exact by the change of variables with the absolute
value (the notes drop it): log p_x(x) = log p_z(T^-1(x)) + log |det J_T^-1(x)|.

* Spherical coordinates, latitude convention: (r, theta, phi) -> (r cos(theta) cos(phi), r cos(theta) sin(phi),
  r sin(theta)), theta in (-pi/2, pi/2) from the equator, phi in (-pi, pi). |det J| = r^2 cos(theta) equals slogdet
  of the autodiff Jacobian (float64); det J itself is -r^2 cos(theta) (in this variable order the latitude reverses
  orientation; the polar angle from the z axis gives +r^2 sin), so the notes' |d(x,y,z)/d(r,theta,phi)| = r^2
  cos(theta) is right only with its absolute value. A standard 3-D Gaussian seen in these coordinates has the
  density p(x(r, theta, phi)) r^2 cos(theta) = chi_3(r) cos(theta)/2 / (2 pi) (closed form, float precision); Monte
  Carlo integration of that density over r < R gives the chi_3 probability P(|x| < R) within standard errors,
  while the same integral without the cos(theta) factor is many standard errors away (it gives pi/2 times too much);
  and Gaussian samples mapped to these coordinates pass Kolmogorov-Smirnov tests against the implied marginals
  (sin(theta) uniform on (-1, 1), r ~ chi_3).
* For each bijector (RealNVP affine coupling, MAF, IAF, their chain with a permutation, the spherical map) the
  log-determinant it returns equals slogdet of jax.jacfwd of its forward map, the inverse undoes the forward map, and
  the inverse log-determinant is minus the forward one (float64, random parameters far from the identity). The MAF
  and IAF Jacobians are triangular in the autoregressive order (the entries above the diagonal are exactly 0).
* Cost asymmetry. MAF evaluates the density in one MADE pass, z = (x - mu(x)) exp(-alpha(x)), but samples by solving
  x_i = z_i exp(alpha_i(x_<i)) + mu_i(x_<i) one degree at a time; IAF is the reverse. The sequential direction is a
  fixed-point iteration in which pass t makes the dimension of degree t exact, so D passes always suffice and are what
  the algorithm pays (it cannot know the answer is exact earlier). Measured at the largest D: the number of passes
  after which the iterate stops changing is at most D. It is often smaller: the update's Jacobian is strictly
  triangular with small entries, so the error also shrinks geometrically and drops below float resolution after a
  number of passes set by the conditioner's coupling strength, not by D. With the hidden width H fixed, one pass costs
  O(D H) flops, so the compiled operation count of the one-pass direction grows like D^1 and the sequential one like
  D^2, and sequential flops / (D x one-pass flops) is about 1 (XLA cost analysis with the D passes unrolled; XLA counts
  a rolled loop body once). Wall times (fastest of interleaved repeats) are reported with bootstrap standard errors of
  their log-log slopes; the claim on them is only that the sequential/one-pass time ratio grows with D by several
  standard errors, since exponents of millisecond timings on a shared machine move between runs.
* A MAF (MADE layers alternating with a swap of the two coordinates) and a RealNVP (alternating couplings) trained by
  maximum likelihood on two moons have a higher test log-likelihood than the one Gaussian fitted to the same training
  points, by many standard errors of the paired per-point difference.
"""

import functools
from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.stats

from dl_theory import checks
from dl_theory.data import two_moons
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.experiment.timing import wall_times
from dl_theory.models.generative import flows as fl
from dl_theory.models.generative.made import made
from dl_theory.stats import loglog_slope, loglog_slope_stderr, mean_and_stderr, paired_difference
from dl_theory.training import train

N_SE = 4.0  # z-score bound for Monte-Carlo comparisons and paired "beats the baseline" margins
TIME_SE = 3.0  # the time-ratio slope must exceed 0 by this many bootstrap standard errors
FLOAT_TOL = 1e-10  # float64 identities (log-dets, inverses)
EXPONENT_ATOL = 0.1  # compiled flop counts: exact power laws up to lower-order terms
PASS_RTOL = 0.05  # sequential flops / (D x one-pass flops) within 5% of 1
P_MIN = 1e-4  # Kolmogorov-Smirnov p-value below which the mapped samples are rejected
FLOWS = ("maf", "realnvp")
CLIP = 1.0  # gradient-norm clip: an exp(log-scale) layer can otherwise take one huge step and spike the loss


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    check_dim: Annotated[int, checks.at_least(3)] = 5
    n_check: Annotated[int, checks.count] = 8
    n_mc: Annotated[int, checks.at_least(100)] = 400_000
    radius: Annotated[float, checks.positive] = 3.0
    dims: Annotated[tuple[int, ...], checks.each(checks.at_least(2), min_length=3)] = (4, 8, 16, 32, 64)
    cost_hidden: Annotated[int, checks.count] = 64
    cost_batch: Annotated[int, checks.count] = 256
    repeats: Annotated[int, checks.at_least(3)] = 50
    flows: Annotated[tuple[str, ...], checks.each(checks.one_of(*FLOWS))] = FLOWS
    n_layers: Annotated[int, checks.count] = 5
    hidden: Annotated[tuple[int, ...], checks.each(checks.count)] = (64, 64)
    n_train: Annotated[int, checks.at_least(10)] = 4000
    n_test: Annotated[int, checks.at_least(10)] = 2000
    noise: Annotated[float, checks.positive] = 0.1
    steps: Annotated[int, checks.count] = 3000
    batch_size: Annotated[int, checks.count] = 256
    learning_rate: Annotated[float, checks.positive] = 2e-3

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_mc=100_000, dims=(4, 8, 16), cost_hidden=32, repeats=25, flows=("maf",), n_layers=3,
                   hidden=(32, 32), n_train=2000, n_test=1000, steps=400, learning_rate=3e-3)


def _float64(a: jax.Array) -> jax.Array:
    return a.astype(jnp.float64)


def _check_fn(bij: fl.Bijector, params):
    """A jitted per-point check: |log-det - slogdet(jacfwd)|, max |inverse(forward(z)) - z|, |fwd + inv log-det|,
    the sign of det J and J itself."""

    @jax.jit
    def check(z_D):
        x, log_det = bij.forward(params, z_D)
        jac = jax.jacfwd(lambda u: bij.forward(params, u)[0])(z_D)
        sign, slogdet = jnp.linalg.slogdet(jac)
        back, inv_log_det = bij.inverse(params, x)
        return jnp.abs(log_det - slogdet), jnp.max(jnp.abs(back - z_D)), jnp.abs(log_det + inv_log_det), sign, jac

    return check


def _bijectors(dim: int, hidden: tuple[int, ...]) -> dict[str, fl.Bijector]:
    mask = fl.coupling_masks(dim, 1)[0]
    swap = np.r_[1, 0, np.arange(2, dim)]  # one transposition: det J = -1, so only |det J| enters the density
    return {
        "coupling": fl.affine_coupling(mask, hidden, out_scale=0.5),
        "maf": fl.maf(dim, hidden, out_scale=0.5),
        "iaf": fl.iaf(dim, hidden, out_scale=0.5),
        "chain": fl.chain(fl.affine_coupling(mask, hidden, out_scale=0.5), fl.permute(swap),
                          fl.maf(dim, hidden, out_scale=0.5), fl.iaf(dim, hidden, out_scale=0.5),
                          fl.affine_coupling(1 - mask, hidden, out_scale=0.5)),
    }


def _bijector_checks(key: jax.Array, rng: np.random.Generator, cfg: Config) -> dict:
    """Per bijector: max |log-det - slogdet(jacfwd)|, max |inverse(forward(z)) - z|, max |fwd + inv log-det|."""
    out = {}
    points = jnp.asarray(rng.normal(size=(cfg.n_check, cfg.check_dim)))
    spherical_points = jnp.asarray(rng.uniform([0.2, -1.5, -3.1], [3.0, 1.5, 3.1], size=(cfg.n_check, 3)))
    cases = {name: (b, points) for name, b in _bijectors(cfg.check_dim, (32,)).items()}
    cases["spherical"] = (fl.spherical(), spherical_points)
    for i, (name, (bij, z)) in enumerate(cases.items()):
        params = jax.jit(lambda k, bij=bij: jax.tree.map(_float64, bij.init(k)))(jax.random.fold_in(key, i))
        log_det_err, inverse_err, sum_err, sign, jac = (np.asarray(a) for a in jax.vmap(_check_fn(bij, params))(z))
        out[name] = {"log_det": float(log_det_err.max()), "inverse": float(inverse_err.max()),
                     "fwd_plus_inv": float(sum_err.max()), "sign": sign.tolist()}
        if name in ("maf", "iaf"):
            out[name]["upper"] = float(np.abs(np.triu(jac, k=1)).max())  # natural order: dims 1..D
            out[name]["lower"] = float(np.abs(np.tril(jac, k=-1)).max())
    return out


def _spherical_checks(rng: np.random.Generator, cfg: Config) -> dict:
    """Closed-form density, Monte-Carlo normalization on r < R (with and without cos theta), and KS tests."""
    sph = fl.spherical()
    lo = np.array([0.0, -np.pi / 2, -np.pi])
    hi = np.array([cfg.radius, np.pi / 2, np.pi])

    @jax.jit
    def density(rtp_NxD):
        xyz, log_det = sph.forward((), rtp_NxD)
        log_p = jnp.sum(jax.scipy.stats.norm.logpdf(xyz), axis=-1)
        return jnp.exp(log_p + log_det), jnp.exp(log_p + 2 * jnp.log(rtp_NxD[:, 0]))

    with_cos, without_cos = (np.asarray(a) * float(np.prod(hi - lo)) for a in density(rng.uniform(lo, hi,
                                                                                                 (cfg.n_mc, 3))))
    mass, mass_se = mean_and_stderr(with_cos)
    wrong, wrong_se = mean_and_stderr(without_cos)
    exact_mass = float(scipy.stats.chi(3).cdf(cfg.radius))
    pts = rng.uniform(lo + [1e-3, 0, 0], hi, (cfg.n_mc, 3))
    closed = scipy.stats.chi(3).pdf(pts[:, 0]) * np.cos(pts[:, 1]) / 2 / (2 * np.pi)
    closed_err = float(np.max(np.abs(np.asarray(density(pts)[0]) / closed - 1)))
    rtp = np.asarray(jax.jit(sph.inverse)((), rng.normal(size=(cfg.n_mc, 3)))[0])
    ks_theta = scipy.stats.kstest(np.sin(rtp[:, 1]), scipy.stats.uniform(-1, 2).cdf)
    ks_r = scipy.stats.kstest(rtp[:, 0], scipy.stats.chi(3).cdf)
    return {"mass": mass, "mass_se": mass_se, "exact_mass": exact_mass, "no_cos_mass": wrong,
            "no_cos_se": wrong_se, "closed_rel_err": closed_err, "ks_theta_p": float(ks_theta.pvalue),
            "ks_r_p": float(ks_r.pvalue), "theta": rtp[:20000, 1], "r": rtp[:20000, 0]}


def _cost_checks(key: jax.Array, rng: np.random.Generator, cfg: Config) -> dict:
    """Per D: passes to exact, compiled flops (D passes unrolled) and wall times of both directions of MAF and IAF."""
    dims = sorted(cfg.dims)
    flops = {(name, way): [] for name in ("maf", "iaf") for way in ("density", "sample")}
    compiled_calls = []
    for d in dims:
        x = jnp.asarray(rng.normal(size=(cfg.cost_batch, d)), jnp.float32)
        for name in ("maf", "iaf"):
            bij = (fl.maf if name == "maf" else fl.iaf)(d, (cfg.cost_hidden,), out_scale=0.5, unroll=True)
            params = jax.jit(bij.init)(jax.random.fold_in(key, d))
            ways = {"density": bij.inverse, "sample": bij.forward}
            for way, fn in ways.items():
                compiled = jax.jit(fn).lower(params, x).compile()
                flops[(name, way)].append(float(compiled.cost_analysis()["flops"]))
                compiled_calls.append(functools.partial(compiled, params, x))
            if name == "maf" and d == dims[-1]:
                passes = _passes_to_exact(d, cfg.cost_hidden, params, x)
    times = wall_times(compiled_calls, cfg.repeats, desc="normalizing-flows: timing")
    times = times.reshape(cfg.repeats, len(dims), 2, 2)  # (round, D, flow, direction)
    return {"dims": dims, "passes": passes, "flops": {f"{n}-{w}": v for (n, w), v in flops.items()},
            "times": {f"{n}-{w}": times[:, :, i, j] for i, n in enumerate(("maf", "iaf"))
                      for j, w in enumerate(("density", "sample"))}}


def _passes_to_exact(dim: int, hidden: int, params, z: jax.Array) -> int:
    """Sequential MADE passes after which MAF's sampling iterate stops changing: the 2D iterates x_1..x_2D are
    recorded and the first t with x_t = x_2D (bit for bit) is returned."""
    model = made(dim, (hidden,), n_outputs=2)

    @jax.jit
    def iterates(z):
        def body(x, _):
            nxt = fl.maf_sample_passes(model, params, z, 1, start=x)[0]
            return nxt, nxt

        return jax.lax.scan(body, jnp.zeros_like(z), None, length=2 * dim)[1]

    history = np.asarray(iterates(z))
    changed = np.any(history != history[-1][None], axis=(1, 2))
    return int(np.flatnonzero(changed).max()) + 2 if changed.any() else 1


def _train_flows(key: jax.Array, cfg: Config) -> dict:
    k_train, k_test, k_init, k_batch, k_sample = jax.random.split(key, 5)
    moons = jax.jit(two_moons, static_argnums=1)
    x_train = moons(k_train, cfg.n_train, cfg.noise)[0]
    x_test = moons(k_test, cfg.n_test, cfg.noise)[0]
    builders = {
        "maf": lambda: fl.chain(*[b for _ in range(cfg.n_layers) for b in (fl.maf(2, cfg.hidden),
                                                                           fl.permute([1, 0]))]),
        "realnvp": lambda: fl.chain(*[fl.affine_coupling(m, cfg.hidden)
                                      for m in fl.coupling_masks(2, 2 * cfg.n_layers)]),
    }
    gauss = np.asarray(fl.gaussian_fit_log_prob(x_train, x_test))
    out = {"x_train": np.asarray(x_train), "gaussian": gauss, "flows": {}}
    lo, hi = np.asarray(x_train).min(0) - 0.5, np.asarray(x_train).max(0) + 0.5
    grid = np.stack(np.meshgrid(np.linspace(lo[0], hi[0], 160), np.linspace(lo[1], hi[1], 120)), axis=-1)
    out["grid"] = grid
    grid_points = jnp.asarray(grid.reshape(-1, 2), jnp.float32)
    for name in cfg.flows:
        flow = builders[name]()

        def loss(params, batch, flow=flow):
            return -jnp.mean(fl.log_prob(flow, params, batch))

        optimizer = optax.chain(optax.clip_by_global_norm(CLIP), optax.adam(cfg.learning_rate))
        params, history = train(loss, jax.jit(flow.init)(k_init), optimizer, x_train,
                                n_steps=cfg.steps, batch_size=min(cfg.batch_size, cfg.n_train), key=k_batch,
                                log_every=max(cfg.steps // 10, 1), desc=f"normalizing-flows: {name}")
        evaluate = jax.jit(lambda p, flow=flow: (fl.log_prob(flow, p, x_test), fl.log_prob(flow, p, grid_points),
                                                 fl.sample(flow, p, k_sample, 1000)))
        log_p, log_p_grid, samples = (np.asarray(a) for a in evaluate(params))
        out["flows"][name] = {"test": log_p, "loss": history["loss"], "samples": samples,
                              "density": np.exp(log_p_grid).reshape(grid.shape[:2])}
    return out


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    k_bij, k_cost, k_train = jax.random.split(key, 3)
    rng = np.random.default_rng(cfg.seed)
    with jax.enable_x64(True):
        bij = _bijector_checks(k_bij, rng, cfg)
        sph = _spherical_checks(rng, cfg)
    cost = _cost_checks(k_cost, rng, cfg)
    fits = _train_flows(k_train, cfg)

    dims = np.asarray(cost["dims"])
    slope = {k: loglog_slope(dims, v)[0] for k, v in cost["flops"].items()}
    per_pass = {n: np.asarray(cost["flops"][f"{n}-{seq}"]) / (dims * np.asarray(cost["flops"][f"{n}-{par}"]))
                for n, seq, par in (("maf", "sample", "density"), ("iaf", "density", "sample"))}
    best = {k: v.min(axis=0) for k, v in cost["times"].items()}
    time_slope = {k: loglog_slope(dims, v)[0] for k, v in best.items()}
    time_slope_se = {k: loglog_slope_stderr(dims, v, reduce=np.min, seed=cfg.seed) for k, v in cost["times"].items()}
    n_dims = len(dims)
    ratio_slope, ratio_se = {}, {}
    for name, seq, par in (("maf", "sample", "density"), ("iaf", "density", "sample")):
        joint = np.concatenate([cost["times"][f"{name}-{seq}"], cost["times"][f"{name}-{par}"]], axis=1)
        ratio_slope[name] = loglog_slope(dims, best[f"{name}-{seq}"] / best[f"{name}-{par}"])[0]
        ratio_se[name] = loglog_slope_stderr(
            dims, joint, reduce=lambda t, axis: t[:, :n_dims].min(axis) / t[:, n_dims:].min(axis), seed=cfg.seed)
    gaps = {n: paired_difference(f["test"], fits["gaussian"]) for n, f in fits["flows"].items()}

    names = ("coupling", "maf", "iaf", "chain", "spherical")
    claims = [
        Claim.at_most("log-det-equals-slogdet", f"max over {', '.join(names)} and {cfg.n_check} points of |log-det "
                      "returned - slogdet(jacfwd)| (float64)", FLOAT_TOL, max(bij[n]["log_det"] for n in names)),
        Claim.at_most("inverse-of-forward", "max over the same of |inverse(forward(z)) - z|", FLOAT_TOL,
                      max(bij[n]["inverse"] for n in names)),
        Claim.at_most("inverse-log-det-negates", "max over the same of |log-det forward + log-det inverse at "
                      "forward(z)|", FLOAT_TOL, max(bij[n]["fwd_plus_inv"] for n in names)),
        Claim.at_most("autoregressive-jacobian-triangular", "max |J_ij|, j > i, of the MAF and IAF forward maps "
                      "(lower triangular in the order)", 0.0, max(bij["maf"]["upper"], bij["iaf"]["upper"])),
        Claim.close("spherical-det-negative", "sign of det J of the spherical map (latitude convention), max over "
                    "the points: orientation-reversing, only |det J| = r^2 cos(theta)", -1.0,
                    max(bij["spherical"]["sign"]), atol=0.0),
        Claim.close("spherical-density-closed-form", "max relative error of p(x(r,theta,phi)) r^2 cos(theta) "
                    "against chi_3(r) cos(theta)/(4 pi) (standard 3-D Gaussian)", 0.0, sph["closed_rel_err"],
                    atol=FLOAT_TOL),
        Claim.at_most("spherical-mass-mc", f"|Monte-Carlo integral over r < {cfg.radius} of the spherical density - "
                      "chi_3 CDF| / SE", N_SE, abs(sph["mass"] - sph["exact_mass"]) / sph["mass_se"]),
        Claim.at_least("spherical-without-cos-off", "the same integral without cos(theta): |value - chi_3 CDF| / SE",
                       10 * N_SE, abs(sph["no_cos_mass"] - sph["exact_mass"]) / sph["no_cos_se"]),
        Claim.at_most("maf-sample-passes-at-most-d", f"sequential MADE passes until the MAF sampling iterate stops "
                      f"changing at D={dims[-1]}, minus D (D passes always suffice)", 0.0,
                      cost["passes"] - dims[-1]),
        Claim.at_least("spherical-samples-ks", "min KS p-value of Gaussian samples mapped to (r, theta): sin(theta) "
                       "~ U(-1, 1), r ~ chi_3", P_MIN, min(sph["ks_theta_p"], sph["ks_r_p"])),
    ]
    for name, seq, par in (("maf", "sample", "density"), ("iaf", "density", "sample")):
        claims += [
            Claim.close(f"{name}-{par}-flops-d1", f"log-log exponent in D of the compiled flops of {name.upper()} "
                        f"{par} (one pass, H={cfg.cost_hidden} fixed)", 1.0, slope[f"{name}-{par}"],
                        atol=EXPONENT_ATOL),
            Claim.close(f"{name}-{seq}-flops-d2", f"the same for {name.upper()} {seq} (D sequential passes)", 2.0,
                        slope[f"{name}-{seq}"], atol=EXPONENT_ATOL),
            Claim.close(f"{name}-flops-per-pass", f"max over D of |flops({seq}) / (D flops({par})) - 1|: each "
                        "sequential pass costs one parallel pass", 0.0, float(np.max(np.abs(per_pass[name] - 1))),
                        atol=PASS_RTOL),
            Claim.at_least(f"{name}-time-ratio-grows", f"log-log slope in D of wall time {seq} / {par} (fastest of "
                           f"{cfg.repeats} interleaved rounds), in bootstrap SEs", TIME_SE,
                           ratio_slope[name] / ratio_se[name]),
        ]
    for name, (gap, se) in gaps.items():
        claims.append(Claim.at_least(f"{name}-beats-gaussian", f"[test log-lik {name} - fitted Gaussian] / paired SE "
                                     f"(two moons, {cfg.n_test} test points)", N_SE, gap / se))
    metrics = {
        "bijectors": bij,
        "spherical": {k: v for k, v in sph.items() if k not in ("theta", "r")},
        "dims": dims.tolist(), "passes": cost["passes"], "flops": cost["flops"], "flops_exponent": slope,
        "flops_per_pass_ratio": {k: v.tolist() for k, v in per_pass.items()},
        "min_seconds": {k: v.tolist() for k, v in best.items()},
        "time_exponent": time_slope, "time_exponent_se": time_slope_se,
        "time_ratio_exponent": ratio_slope, "time_ratio_exponent_se": ratio_se,
        "test_log_lik": {"gaussian": float(np.mean(fits["gaussian"])),
                         **{n: float(np.mean(f["test"])) for n, f in fits["flows"].items()}},
        "paired_gap_vs_gaussian": {n: list(g) for n, g in gaps.items()},
    }
    return Result(claims, metrics, {"sph": sph, "cost": cost, "best": best, "fits": fits})


def plot(result: Result):
    d = result.data
    fits = d["fits"]
    name = "maf" if "maf" in fits["flows"] else next(iter(fits["flows"]))
    flow = fits["flows"][name]
    fig, axes = subplots(2, 3, width=3.9, height=3.3,
                         title="Normalizing flows: change of variables, MAF/IAF cost asymmetry, a flow on two moons")
    ax = axes[0, 0]
    grid = fits["grid"]
    ax.pcolormesh(grid[..., 0], grid[..., 1], flow["density"], cmap="viridis", shading="auto")
    ax.set(title=f"{name.upper()} density (test log-lik {np.mean(flow['test']):.2f})", xlabel="x1", ylabel="x2")
    ax = axes[0, 1]
    ax.scatter(*fits["x_train"][:1000].T, s=3, color="0.6", label="data")
    ax.scatter(*flow["samples"].T, s=3, color="#d1495b", label=f"{name.upper()} samples")
    ax.set(xlim=(grid[..., 0].min(), grid[..., 0].max()), ylim=(grid[..., 1].min(), grid[..., 1].max()),
           title="samples vs data", xlabel="x1", ylabel="x2")
    ax.legend(fontsize=7, markerscale=3)
    ax = axes[0, 2]
    colors = {"maf": "#1f5fa8", "realnvp": "#e9a23b"}
    for other, f in fits["flows"].items():
        ax.plot(f["loss"], lw=0.8, color=colors[other], label=f"{other.upper()} train NLL (minibatch)")
    gauss_nll = -np.mean(fits["gaussian"])
    ax.axhline(gauss_nll, color="black", ls="--", lw=1, label="fitted Gaussian (test)")
    low = min(np.min(f["loss"]) for f in fits["flows"].values())
    ax.set(xlabel="step", ylabel="NLL [nats]", title="training", ylim=(low - 0.1, gauss_nll + 0.8))
    ax.legend(fontsize=7)
    ax = axes[1, 0]
    sph = d["sph"]
    ax.hist(sph["theta"], bins=60, density=True, color="0.8", label="Gaussian samples, latitude")
    th = np.linspace(-np.pi / 2, np.pi / 2, 200)
    theory_line(ax, th, np.cos(th) / 2, label="cos θ / 2 (from r² cos θ)")
    ax.set(xlabel="latitude θ", ylabel="density", title="spherical change of variables")
    ax.legend(fontsize=7)
    dims = np.asarray(d["cost"]["dims"])
    styles = {"maf-density": ("#1f5fa8", "o-"), "maf-sample": ("#1f5fa8", "s--"),
              "iaf-density": ("#d1495b", "o--"), "iaf-sample": ("#d1495b", "s-")}
    ax = axes[1, 1]
    for k, v in d["cost"]["flops"].items():
        ax.loglog(dims, v, styles[k][1], color=styles[k][0], ms=7 if k.startswith("iaf") else 4,
                  mfc="none" if k.startswith("iaf") else None, label=k)
    base = d["cost"]["flops"]["maf-density"][0]
    theory_line(ax, dims, base * (dims / dims[0]) ** 2, label="∝ D²")
    theory_line(ax, dims, base * dims / dims[0] / 2, label="∝ D", linestyle=":")
    ax.set(xlabel="dimension D", ylabel="compiled flops", title="operation count (XLA)")
    ax.set_xticks(dims, [str(x) for x in dims], minor=False)
    ax.set_xticks([], minor=True)
    ax.legend(fontsize=7)
    ax = axes[1, 2]
    for k, v in d["best"].items():
        ax.loglog(dims, v, styles[k][1], color=styles[k][0], ms=4,
                  label=f"{k} (slope {result.metrics['time_exponent'][k]:.2f})")
    ax.set(xlabel="dimension D", ylabel="seconds (fastest repeat)", title="wall time")
    ax.set_xticks(dims, [str(x) for x in dims], minor=False)
    ax.set_xticks([], minor=True)
    ax.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="normalizing-flows",
    description="Change of variables (spherical r² cos θ), coupling/MAF/IAF log-dets vs slogdet, the MAF/IAF "
                "density-vs-sampling cost asymmetry, a flow fitted to two moons.",
    config=Config, run=run, plot=plot)
