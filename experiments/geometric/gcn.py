"""GCN: permutation equivariance, invariant readouts, karate-club node classification and the infinite-width NNGP.

A GCN layer is X⁺ = σ(Â X W + b) with Â = D̃^{-1/2}(A + I)D̃^{-1/2} and W ∈ ℝ^{d_in×d_out} (the notes' W ∈ ℝ^{M×N},
M the node count, is a slip: W acts on features, so one layer works on graphs of any size). Relabelling the nodes by
a permutation matrix P maps A to PAPᵀ and Â to PÂPᵀ, so the network is equivariant, f(PX, PAPᵀ) = P f(X, A) (the
notes' form), and a sum or mean over the nodes is invariant. Both are checked exactly in float64 over random
permutations; a control permutes X but not A and must change the output (the check has power).

The degrees in Â are those of A + I (D̃ = D + I); with them Â has eigenvalues in (−1, 1] and top eigenvalue exactly 1
(eigenvector D̃^{1/2}1), so repeated propagation neither blows up nor vanishes. The notes' D^{-1/2}(A+I)D^{-1/2}, read
with the degrees of A, lacks that normalization (its top eigenvalue is reported as a metric).

Node classification: Zachary's karate club with one-hot node features (no information beyond identity), a few
labelled members per faction drawn at random on every split, accuracy on all other members. Both factions have 17
members, so a predictor without graph information is right with probability 1/2 on every held-out node. The claim is
that the GCN's pooled accuracy exceeds 1/2 by k binomial standard errors of that null, √(1/4 / n_held-out); the same
network on the empty graph (Â = I: a features-only MLP) is the control and stays within k of them.

Infinite width: at initialization (zero biases) the GCN is stax's ``Dense -> Aggregate(Â) -> ReLU -> Dense ->
Aggregate(Â)``, whose ``kernel_fn`` gives the NNGP K(u, v) = E[f_u f_v] in closed form. Kipf & Welling's two-layer GCN
(one hidden layer) of finite width is drawn many times; the per-network estimate f fᵀ / C over C output channels has a
sample mean whose entrywise standard error sets the tolerance: every entry lies within k standard errors of the NNGP.
With one hidden layer the hidden pre-activations are exactly Gaussian with covariance K¹ at any width, so the sample
mean is unbiased for the NNGP and the test has power (a kernel off by a few percent fails it). With two or more
hidden layers the finite-width mean carries an O(1/width) bias, which such a standard error only resolves at widths
much larger than the number of samples.
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import optax

from dl_theory import checks
from dl_theory.data.graphs import karate_club
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.models.graph.adjacency import normalized_adjacency, permute_graph, random_permutation
from dl_theory.models.graph.gcn import gcn, gcn_nngp_fn, node_loss
from dl_theory.stats import mean_and_stderr, proportion_stderr
from dl_theory.training import train
from dl_theory.training.ensemble import stacked_init

K_SE = 5.0  # standard errors: every claim below is a 5-sigma statement
EXACT = 1e-12  # float64 relative error for an identity that holds exactly


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    hidden: Annotated[int, checks.count] = 16
    labelled_per_faction: Annotated[int, checks.in_interval(0, 16)] = 2
    n_splits: Annotated[int, checks.at_least(2)] = 40
    n_steps: Annotated[int, checks.count] = 300
    learning_rate: Annotated[float, checks.positive] = 0.01
    n_permutations: Annotated[int, checks.count] = 20
    nngp_width: Annotated[int, checks.at_least(8)] = 256
    nngp_samples: Annotated[int, checks.at_least(20)] = 4000
    nngp_channels: Annotated[int, checks.count] = 64

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_splits=12, n_steps=150, n_permutations=5, nngp_width=64, nngp_samples=600)


def _equivariance(key: jax.Array, a: np.ndarray, n_perms: int) -> dict[str, float]:
    """Max relative errors of f(PX, PAPᵀ) = P f(X, A) and of the sum/mean readouts' invariance (float64)."""
    with jax.enable_x64(True):
        a = jnp.asarray(a, jnp.float64)
        k_x, k_p, *k_perm = jax.random.split(key, 2 + n_perms)
        x = jax.random.normal(k_x, (a.shape[0], 5), jnp.float64)
        errors = {}
        for kind in (None, "sum", "mean"):
            init, apply = gcn((16, 16), 3, readout_kind=kind)
            apply = jax.jit(apply)
            _, params = init(k_p, x.shape)
            out = apply(params, x, graph=a)
            errs, control = [], []
            for k in k_perm:
                perm = random_permutation(k, a.shape[0])
                xp, ap = permute_graph(x, a, perm)
                want = out if kind else out[perm]
                scale = jnp.max(jnp.abs(want))
                errs.append(jnp.max(jnp.abs(apply(params, xp, graph=ap) - want)) / scale)
                control.append(jnp.max(jnp.abs(apply(params, xp, graph=a) - want)) / scale)
            errors[kind or "node"] = float(max(errs))
            if kind is None:
                errors["control_X_only"] = float(min(control))
        return errors


def _splits(rng: np.random.Generator, labels: np.ndarray, k: int, n_splits: int) -> np.ndarray:
    """``(n_splits, 2k)`` labelled nodes: k drawn without replacement from each faction."""
    return np.stack([np.concatenate([rng.choice(np.flatnonzero(labels == c), k, replace=False) for c in (0, 1)])
                     for _ in range(n_splits)])


def _node_classification(key: jax.Array, cfg: Config, a: np.ndarray, labels: np.ndarray,
                         labelled: np.ndarray) -> np.ndarray:
    """Predicted factions ``(n_splits, N)`` of GCNs trained on the labelled nodes of every split (one compile)."""
    x = jnp.eye(a.shape[0])
    init, apply = gcn((cfg.hidden,), 2)
    params = stacked_init(init, jax.random.split(key, len(labelled)), x.shape)
    per_split = node_loss(apply, x, jnp.asarray(a))
    loss = lambda p, batch: jnp.sum(jax.vmap(per_split)(p, batch))  # noqa: E731  (independent runs, see ensemble)
    batch = (jnp.asarray(labelled), jnp.asarray(labels[labelled]))
    params, _ = train(loss, params, optax.adam(cfg.learning_rate), batch, n_steps=cfg.n_steps,
                      log_every=cfg.n_steps, desc="gcn")
    logits = jax.vmap(lambda p: apply(p, x, graph=jnp.asarray(a)))(params)
    return np.asarray(jnp.argmax(logits, axis=-1))


def _nngp_check(key: jax.Array, cfg: Config, a: np.ndarray) -> dict[str, np.ndarray]:
    """NNGP of a one-hidden-layer GCN vs the sample mean of f fᵀ / C over finite random GCNs (float64)."""
    hidden = (cfg.nngp_width,)
    with jax.enable_x64(True):
        x = jnp.eye(a.shape[0], dtype=jnp.float64)
        a_hat = normalized_adjacency(jnp.asarray(a, jnp.float64))
        theory = np.asarray(gcn_nngp_fn(hidden)(x, a_hat))
        init, apply = gcn(hidden, cfg.nngp_channels, normalize=False)

        def one(k):
            f = apply(init(k, x.shape)[1], x, graph=a_hat)
            return f @ f.T / cfg.nngp_channels

        samples = jax.jit(lambda ks: jax.lax.map(one, ks, batch_size=50))(jax.random.split(key, cfg.nngp_samples))
        mean, se = mean_and_stderr(np.asarray(samples))
    return {"theory": theory, "mc": mean, "se": se}


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    k_eq, k_train, k_base, k_nngp = jax.random.split(key, 4)
    a, labels = (np.asarray(v) for v in karate_club())
    n = a.shape[0]
    eq = _equivariance(k_eq, a, cfg.n_permutations)
    with jax.enable_x64(True):
        a_hat = np.asarray(normalized_adjacency(jnp.asarray(a, jnp.float64)))
    spectrum = np.linalg.eigvalsh(a_hat)
    d = a.sum(1)
    notes_form_top = float(np.linalg.eigvalsh((a + np.eye(n)) / np.sqrt(np.outer(d, d)))[-1])

    labelled = _splits(np.random.default_rng(cfg.seed), labels, cfg.labelled_per_faction, cfg.n_splits)
    held_out = np.ones((cfg.n_splits, n), bool)
    np.put_along_axis(held_out, labelled, False, axis=1)
    pred_gcn = _node_classification(k_train, cfg, a, labels, labelled)
    pred_base = _node_classification(k_base, cfg, np.zeros_like(a), labels, labelled)
    correct = lambda pred: (pred == labels[None, :])[held_out]  # noqa: E731
    acc_gcn, acc_base = float(correct(pred_gcn).mean()), float(correct(pred_base).mean())
    n_held = int(held_out.sum())
    bar = 0.5 + K_SE * float(proportion_stderr(0.5, n_held))
    per_split_acc = np.array([(pred_gcn[s] == labels)[held_out[s]].mean() for s in range(cfg.n_splits)])

    nngp = _nngp_check(k_nngp, cfg, a)
    iu = np.triu_indices(n)
    z = (nngp["mc"] - nngp["theory"])[iu] / nngp["se"][iu]
    rel_fro = float(np.linalg.norm(nngp["mc"] - nngp["theory"]) / np.linalg.norm(nngp["theory"]))

    claims = [
        Claim.at_most("equivariance", f"max over {cfg.n_permutations} random permutations of "
                      "|f(PX, PAPᵀ) − P f(X, A)| / max|f| (float64, 2 hidden GCN layers)", EXACT, eq["node"]),
        Claim.at_least("control-permuting-X-only", "min over the permutations of |f(PX, A) − P f(X, A)| / max|f|: "
                       "permuting the features without the graph changes the output", 1e-3, eq["control_X_only"]),
        Claim.at_most("sum-readout-invariance", "max |Σ_v f(PX, PAPᵀ)_v − Σ_v f(X, A)_v| / max|·| (float64)",
                      EXACT, eq["sum"]),
        Claim.at_most("mean-readout-invariance", "max |mean_v f(PX, PAPᵀ)_v − mean_v f(X, A)_v| / max|·| (float64)",
                      EXACT, eq["mean"]),
        Claim.close("normalized-adjacency-top-eigenvalue", "largest eigenvalue of Â = D̃^{-1/2}(A + I)D̃^{-1/2} "
                    "on the karate club (float64)", 1.0, float(spectrum[-1]), atol=EXACT),
        Claim.at_least("normalized-adjacency-above-minus-one", "smallest eigenvalue of Â + 1 (> 0: the spectrum "
                       "lies in (−1, 1])", 1e-6, float(spectrum[0] + 1.0)),
        Claim.at_least("karate-accuracy", f"karate club, {cfg.labelled_per_faction} labelled members per faction, "
                       f"accuracy on the {n_held} held-out nodes of {cfg.n_splits} random splits >= 1/2 + "
                       f"{K_SE:g} binomial SEs of the no-graph null", bar, acc_gcn),
        Claim.at_most("features-only-at-chance", "the same network on the empty graph (one-hot features only, an "
                      f"MLP) stays within {K_SE:g} binomial SEs of 1/2", bar, acc_base),
        Claim.at_most("nngp-monte-carlo", f"max over the {len(z)} entries of |MC − NNGP| / SE: "
                      f"{cfg.nngp_samples} random two-layer GCNs of width {cfg.nngp_width} (ReLU) against "
                      "stax.Aggregate's kernel_fn", K_SE, float(np.max(np.abs(z)))),
    ]
    metrics = {
        "a_hat_spectrum_min_max": [float(spectrum[0]), float(spectrum[-1])],
        "notes_form_degrees_of_A_top_eigenvalue": notes_form_top,
        "equivariance_rel_error": eq["node"], "sum_readout_rel_error": eq["sum"],
        "mean_readout_rel_error": eq["mean"], "control_X_only_rel_change": eq["control_X_only"],
        "accuracy_gcn": acc_gcn, "accuracy_features_only": acc_base, "accuracy_bar": bar, "n_held_out": n_held,
        "accuracy_gcn_per_split_mean": float(per_split_acc.mean()),
        "accuracy_gcn_per_split_min": float(per_split_acc.min()),
        "nngp_max_abs_z": float(np.max(np.abs(z))), "nngp_mean_z2": float(np.mean(z**2)),
        "nngp_rel_frobenius_error": rel_fro,
        "nngp_median_rel_se": float(np.median(nngp["se"][iu] / np.abs(nngp["theory"][iu]))),
        "power_max_abs_z_vs_nngp_times_1.05": float(np.max(np.abs(nngp["mc"] - 1.05 * nngp["theory"])[iu]
                                                           / nngp["se"][iu])),
    }
    data = {"a": a, "labels": labels, "pred": pred_gcn[0], "labelled": labelled[0], "per_split": per_split_acc,
            "acc_base": acc_base, "bar": bar, "theory": nngp["theory"][iu], "mc": nngp["mc"][iu],
            "se": nngp["se"][iu]}
    return Result(claims, metrics, data)


def plot(result: Result):
    d = result.data
    fig, (ax1, ax2, ax3) = subplots(1, 3, width=4.2, title="Graph convolutional networks")
    g = nx.from_numpy_array(d["a"])
    pos = nx.spring_layout(g, seed=0)
    wrong = d["pred"] != d["labels"]
    nx.draw_networkx_edges(g, pos, ax=ax1, alpha=0.3)
    nx.draw_networkx_nodes(g, pos, ax=ax1, node_size=60, node_color=["tab:blue" if p == 0 else "tab:orange"
                                                                      for p in d["pred"]],
                           edgecolors=["red" if w else "white" for w in wrong], linewidths=1.5)
    nx.draw_networkx_nodes(g, pos, ax=ax1, nodelist=d["labelled"].tolist(), node_size=140, node_color="none",
                           edgecolors="black", linewidths=1.5)
    ax1.set(title="karate club: GCN prediction (split 0)\nblack ring: labelled, red rim: wrong")
    ax1.axis("off")
    ax2.hist(d["per_split"], bins=np.linspace(0, 1, 21), color="tab:blue", alpha=0.8, label="GCN, per split")
    ax2.axvline(d["bar"], color="black", ls="--", lw=1.2, label="claim bar (1/2 + 5 SE)")
    ax2.axvline(d["acc_base"], color="tab:red", lw=1.2, label="features only (pooled)")
    ax2.set(xlabel="held-out accuracy", ylabel="splits", title="semi-supervised node classification")
    ax2.legend(fontsize=7)
    ax3.errorbar(d["theory"], d["mc"], yerr=d["se"], fmt="o", ms=2, alpha=0.5, elinewidth=0.5)
    lim = [float(d["theory"].min()), float(d["theory"].max())]
    theory_line(ax3, lim, lim, label="MC = NNGP")
    ax3.set(xlabel="NNGP K(u, v) (stax.Aggregate)", ylabel="Monte-Carlo E[f_u f_v]",
            title="infinite-width kernel vs finite GCNs")
    ax3.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="gcn",
    description="GCN: f(PX, PAPᵀ) = P f(X, A), invariant readouts, karate-club accuracy, NNGP vs finite GCNs.",
    config=Config, run=run, plot=plot)
