"""DeepSets: exact permutation invariance and equivariance, and a learned set function that generalizes.

A DeepSets model rho(pool_i phi(x_i)) is invariant and the layer X -> X Lambda + (1/n) 1 1^T X Gamma + 1 b^T is
equivariant, f(PX) = P f(X), by construction (Zaheer et al., 2017; the notes' §5.1). In floating point a permutation
re-associates the pooled sum, so the outputs agree up to rounding only. The first claims check, in float64, every
permutation of a small set and random permutations of a large one, for sum, mean and max pooling and for a stack of
equivariant layers, against an a-priori rounding bound: for a ReLU network whose reductions have at most m terms
along any path, |fl(f(x)) - f(x)| <= gamma_m |f|(|x|) with gamma_m = m u / (1 - m u), u the unit roundoff and |f| the
same network with absolute weights evaluated at |x| (Higham, "Accuracy and Stability of Numerical Algorithms",
§3.5; ReLU is 1-Lipschitz and the identity on the nonnegative inputs of |f|). Two evaluations then differ by at most
twice that; the claim is that the measured difference never exceeds it (the ratio is <= 1). Max pooling does not
re-associate: the metrics say whether it was bitwise invariant.

The learned set function is the population variance (1/n) sum_i (x_i - mean)^2 of a set of scalars drawn
N(mu, s^2) with mu and s random per set. It is exactly a function of the mean-pooled features (x, x^2), so a
mean-pooled DeepSets can represent it for every set size; trained with sets of n_train_min..n_train_max elements
(masks put the sizes in one batch), it is evaluated on fresh sets of the training sizes, on the same sets permuted
(outputs equal up to the float32 rounding bound) and on sets n_large elements big. The claims are that the trained
model explains most of the target variance and that the squared error on the larger sets is no larger than on the
training sizes, up to 5 standard errors of the difference. A sum-pooled DeepSets trained the same way is reported as
a contrast: its pooled features grow with n, out of the range its rho was trained on.
"""

import itertools
from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dl_theory import checks, losses
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.models.graph.sets import deep_sets, equivariant_net, rounding_bound
from dl_theory.stats import mean_and_stderr
from dl_theory.training import train

K_SE = 5.0  # standard errors of slack in the larger-set comparison
EXPLAINED = 0.8  # the trained mean-pooled model explains at least this fraction of the target variance


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    small_set: Annotated[int, checks.in_interval(2, 8, closed=True)] = 7
    large_set: Annotated[int, checks.at_least(2)] = 500
    n_random_perms: Annotated[int, checks.count] = 200
    width: Annotated[int, checks.count] = 64
    n_train_min: Annotated[int, checks.at_least(2)] = 5
    n_train_max: Annotated[int, checks.at_least(2)] = 20
    n_large: Annotated[tuple[int, ...], checks.each(checks.at_least(2))] = (40, 100, 200)
    n_train: Annotated[int, checks.count] = 8192
    n_test: Annotated[int, checks.at_least(10)] = 2000
    n_steps: Annotated[int, checks.count] = 3000
    batch_size: Annotated[int, checks.count] = 128
    lr: Annotated[float, checks.positive] = 3e-3

    @classmethod
    def quick(cls) -> "Config":
        return cls(small_set=5, large_set=100, n_random_perms=20, width=32, n_train=4096, n_test=1000,
                   n_steps=1000, n_large=(100,))


def _sets(key: jax.Array, n_sets: int, n_min: int, n_max: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Sets of n_min..n_max scalars x_i ~ N(mu, s^2), mu ~ U(-1, 1), s ~ U(0.3, 1.2), padded to n_max, with their
    masks and population variances."""
    k_n, k_mu, k_s, k_x = jax.random.split(key, 4)
    sizes = jax.random.randint(k_n, (n_sets,), n_min, n_max + 1)
    mask = jnp.arange(n_max)[None, :] < sizes[:, None]
    mu = jax.random.uniform(k_mu, (n_sets, 1), minval=-1.0, maxval=1.0)
    s = jax.random.uniform(k_s, (n_sets, 1), minval=0.3, maxval=1.2)
    x = jnp.where(mask, mu + s * jax.random.normal(k_x, (n_sets, n_max)), 0.0)
    mean = jnp.sum(x, axis=1, keepdims=True) / sizes[:, None]
    var = jnp.sum(jnp.where(mask, (x - mean) ** 2, 0.0), axis=1) / sizes
    return x[..., None], mask, var[:, None]


def _rounding_ratio(apply_fn, params, x: jax.Array, perms: np.ndarray, terms: int, mask=None) -> tuple:
    """max over permutations and outputs of |f(Px) - P f(x)| / rounding_bound (2 gamma_m |f|(|x|), m = ``terms``),
    and the max absolute difference. ``perms`` permute axis 1; equivariant outputs (ndim 3) are permuted
    back."""
    mask = jnp.ones(x.shape[:2], bool) if mask is None else mask
    ref = apply_fn(params, x, mask=mask)
    bound = rounding_bound(apply_fn, params, x, terms, mask=mask)

    def diff(p):
        out = apply_fn(params, x[:, p], mask=mask[:, p])
        if out.ndim == 3:
            out = out[:, jnp.argsort(p)]
        err = jnp.abs(out - ref)
        return jnp.max(jnp.where(err == 0, 0.0, err / bound)), jnp.max(err)

    ratios, diffs = jax.vmap(diff)(jnp.asarray(perms))
    return float(jnp.max(ratios)), float(jnp.max(diffs))


def _terms(n: int, pools: int, fan_ins: list[int]) -> int:
    """m: the summands along the longest path of reductions, ``pools`` poolings of n elements and dense products of
    these fan-ins, +2 roundings per product (bias, activation input) and +1 per pooling (the mean's division)."""
    return int(pools * (n + 1) + sum(f + 2 for f in fan_ins))


def _exactness(cfg: Config, key: jax.Array) -> dict:
    w = cfg.width
    # invariant: phi (1 -> w -> w), one pooling, rho (w -> w -> 2); equivariant: three layers, each a pooling, a
    # product with Gamma and one with Lambda added (fan-in d_in twice)
    models = {f"invariant-{p}": (deep_sets((w,), w, (w,), 2, pooling=p), 1, [1, w, w, w]) for p in
              ("sum", "mean", "max")}
    models |= {f"equivariant-{p}": (equivariant_net((w, w), 2, pooling=p), 3, [1, 1, w, w, w, w]) for p in
               ("sum", "mean")}
    rng = np.random.default_rng(cfg.seed)
    small_perms = np.array(list(itertools.permutations(range(cfg.small_set))))
    large_perms = np.stack([rng.permutation(cfg.large_set) for _ in range(cfg.n_random_perms)])
    out = {}
    with jax.enable_x64(True):
        for i, (name, (model, pools, fan_ins)) in enumerate(models.items()):
            k_init, k_small, k_large = jax.random.split(jax.random.fold_in(key, i), 3)
            _, params = model.init(k_init, (1, cfg.small_set, 1))
            params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), params)
            for size, perms, k in (("small", small_perms, k_small), ("large", large_perms, k_large)):
                x = jax.random.normal(k, (1, perms.shape[1], 1), jnp.float64)
                terms = _terms(perms.shape[1], pools, fan_ins)
                out[(name, size)] = _rounding_ratio(model.apply, params, x, perms, terms)
    return out


def _fit(model, data, cfg: Config, key: jax.Array):
    (x, mask), _ = data
    _, params = model.init(key, x.shape)
    loss = losses.mse(lambda p, xm: model.apply(p, xm[0], mask=xm[1]))
    params, history = train(loss, params, optax.adam(cfg.lr), data, n_steps=cfg.n_steps,
                            batch_size=cfg.batch_size, key=jax.random.fold_in(key, 1), log_every=500,
                            desc="deep-sets")
    return params, history["loss"]


def run(cfg: Config) -> Result:
    if cfg.n_train_max < cfg.n_train_min:
        raise checks.fail("n_train_max", f">= n_train_min = {cfg.n_train_min}", cfg.n_train_max)
    key = jax.random.key(cfg.seed)
    k_exact, k_train, k_test, k_large, k_fit, k_perm = jax.random.split(key, 6)
    exact = _exactness(cfg, k_exact)

    x, mask, y = _sets(k_train, cfg.n_train, cfg.n_train_min, cfg.n_train_max)
    data = ((x, mask), y)
    w = cfg.width
    models = {p: deep_sets((w, w), w, (w, w), 1, pooling=p) for p in ("mean", "sum")}
    fitted = {p: _fit(m, data, cfg, k_fit) for p, m in models.items()}
    model, params = models["mean"], fitted["mean"][0]

    xt, mt, yt = _sets(k_test, cfg.n_test, cfg.n_train_min, cfg.n_train_max)
    sq = {}  # squared errors per test set, by (pooling, set size label)
    for pool_kind, (p, _) in fitted.items():
        apply_fn = models[pool_kind].apply
        sq[(pool_kind, "train sizes")] = np.asarray((apply_fn(p, xt, mask=mt) - yt)[:, 0] ** 2)
        for j, n in enumerate(cfg.n_large):
            xl, ml, yl = _sets(jax.random.fold_in(k_large, j), cfg.n_test, n, n)
            sq[(pool_kind, n)] = np.asarray((apply_fn(p, xl, mask=ml) - yl)[:, 0] ** 2)
    perms = np.stack([np.random.default_rng(cfg.seed + 1).permutation(cfg.n_train_max) for _ in range(8)])
    perm_ratio, perm_diff = _rounding_ratio(model.apply, params, xt, perms,
                                            _terms(cfg.n_train_max, 1, [1, w, w, w, w, w]), mask=mt)

    target_var = float(np.var(np.asarray(yt)))
    mse_train, se_train = mean_and_stderr(sq[("mean", "train sizes")])
    explained = 1 - mse_train / target_var
    largest = max(cfg.n_large)
    diff = sq[("mean", largest)] - sq[("mean", "train sizes")]
    diff_se = float(np.sqrt(np.var(sq[("mean", largest)], ddof=1) / cfg.n_test
                            + np.var(sq[("mean", "train sizes")], ddof=1) / cfg.n_test))

    claims = [Claim.at_most(f"{name}-{size}", f"{name}: max |f(Px) - Pf(x)| over "
                            f"{'all' if size == 'small' else cfg.n_random_perms} permutations of a "
                            f"{cfg.small_set if size == 'small' else cfg.large_set}-element set (float64), divided "
                            "by the a-priori rounding bound 2 gamma_m |f|(|x|)", 1.0, ratio)
              for (name, size), (ratio, _) in exact.items()]
    claims += [
        Claim.at_most("trained-permuted", "trained mean-pooled DeepSets (float32): max |f(Px) - f(x)| over 8 "
                      "permutations of the padded test sets (masks permuted along), divided by the rounding bound",
                      1.0, perm_ratio),
        Claim.at_least("learned-set-function", f"fraction of the test-target variance explained at the training "
                       f"sizes {cfg.n_train_min}..{cfg.n_train_max} (population variance of the set), minus "
                       f"{K_SE:g} SE", EXPLAINED, explained - K_SE * se_train / target_var),
        Claim.at_most("generalizes-to-larger-sets", f"mean squared error on sets of n={largest} (> "
                      f"{cfg.n_train_max} seen in training) minus that at the training sizes, in units of the "
                      f"difference's SE: <= {K_SE:g}", K_SE, float(diff.mean()) / diff_se),
    ]
    metrics = {
        "max_abs_diff_float64": {f"{n}-{s}": d for (n, s), (_, d) in exact.items()},
        "max_pooling_bitwise_invariant": all(exact[("invariant-max", s)][1] == 0.0 for s in ("small", "large")),
        "trained_permuted_max_abs_diff": perm_diff,
        "target_variance": target_var,
        "mse": {f"{p}-{n}": float(v.mean()) for (p, n), v in sq.items()},
        "mse_se": {f"{p}-{n}": float(mean_and_stderr(v)[1]) for (p, n), v in sq.items()},
        "final_train_loss": {p: float(np.mean(h[-100:])) for p, (_, h) in fitted.items()},
    }
    sizes = ["train sizes", *cfg.n_large]
    return Result(claims, metrics, {"exact": exact, "sq": sq, "sizes": sizes, "target_var": target_var,
                                    "losses": {p: h for p, (_, h) in fitted.items()},
                                    "pred": (np.asarray(yt[:, 0]), np.asarray(model.apply(params, xt, mask=mt)[:, 0]))})


def plot(result: Result):
    d = result.data
    fig, (ax1, ax2, ax3) = subplots(1, 3, width=4.0, title="DeepSets: exact symmetry, learned set function")
    names = sorted({n for n, _ in d["exact"]})
    floor = 1e-8  # bitwise-equal outputs (ratio 0) are drawn at this floor of the log scale
    for k, size in enumerate(("small", "large")):
        ax1.bar(np.arange(len(names)) + 0.4 * k, [max(d["exact"][(n, size)][0], floor) for n in names], width=0.4,
                label=f"{size} set")
    ax1.axhline(1.0, color="black", ls="--", lw=1.2, label="rounding bound")
    ax1.set_yscale("log")
    ax1.set_ylim(floor / 2, 3.0)
    ax1.set_xticks(np.arange(len(names)) + 0.2, names, rotation=30, fontsize=7)
    ax1.set(ylabel="max |f(Px) − Pf(x)| / bound", title=f"symmetry error (float64; 0 drawn at {floor:g})")
    ax1.legend(fontsize=7)
    y, pred = d["pred"]
    ax2.plot(y, pred, ".", ms=2, alpha=0.5)
    theory_line(ax2, [0, y.max()], [0, y.max()], label="y = x")
    ax2.set(xlabel="set variance", ylabel="prediction", title="mean pooling, training sizes")
    ax2.legend(fontsize=7)
    labels = [str(s) for s in d["sizes"]]
    for pool_kind in ("mean", "sum"):
        m = [d["sq"][(pool_kind, s)].mean() for s in d["sizes"]]
        se = [d["sq"][(pool_kind, s)].std(ddof=1) / np.sqrt(len(d["sq"][(pool_kind, s)])) for s in d["sizes"]]
        ax3.errorbar(labels, m, yerr=se, marker="o", capsize=2, label=f"{pool_kind} pooling")
    ax3.axhline(d["target_var"], color="0.5", ls=":", lw=1, label="predict the mean")
    ax3.set_yscale("log")
    ax3.set(xlabel="set size n", ylabel="test MSE", title="generalization to larger sets")
    ax3.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="deep-sets",
    description="DeepSets: invariance/equivariance to rounding over all permutations; a learned set variance that "
                "generalizes to permuted and larger sets.",
    config=Config, run=run, plot=plot)
