"""Limits of message passing: 1-WL-equivalent graphs get identical GNN outputs; cycle counts separate them.

A message-passing GNN with sum aggregation and a sum readout computes, at every node, a function of the node's 1-WL
colour, so two graphs with the same multiset of stable colours get the same output, however it was trained (Xu et al.,
2019; Morris et al., 2019; the notes' §5: "if the WL test says the graphs are the same, they might still be
different"). Two pairs of non-isomorphic 1-WL-equivalent graphs (`dl_theory.data.wl_pairs`): two triangles vs the
6-cycle, and the cube vs the Wagner graph (3-regular on 8 nodes); a pair smaller than the training graphs gets
isolated nodes up to their size (the networks learned per-node contributions for that size; isolated nodes keep
the pair 1-WL equivalent and non-isomorphic). An MPNN (sum aggregation with one edge weight 1/(n -
1) for every graph, which keeps the sums O(1) and changes nothing in the argument) is trained to count the triangles
and 4-cycles of random G(n, p) graphs from constant node features; on each pair its two outputs are equal up to the
a-priori rounding bound (`dl_theory.models.graph.sets.rounding_bound`: the node states of a regular graph are all
equal, so only the order of the sums differs). The counts themselves differ (2 vs 0 triangles; 6 vs 4 squares), and
the same MPNN given the per-node cycle counts as input features (Bouritsas et al., 2022) separates both pairs: its
predicted count difference is within half of the true one (same sign, at least half as large), and its test error is
far below the plain MPNN's (a claim with 5 standard errors of slack).

An unconstrained invariant model sees what 1-WL cannot without any hand-made features: a provably powerful graph
network (`dl_theory.models.graph.higher_order.ppgn`; Maron et al., 2019, arXiv:1905.11136) works on the N×N tensor
of node-pair features (A_ij, δ_ij), and each block multiplies two learned channels as matrices, so two blocks can form
A³ and the diagonal readout tr(A³) = 6 × triangles (likewise tr(A⁴) for 4-cycles); such blocks implement 2-FWL, as
strong as 3-WL and strictly stronger than 1-WL. Trained on the same counting task from the bare adjacency, it
separates both pairs (predicted count difference within half of the true one), beats the plain MPNN on the test
graphs by more than 5 paired standard errors, and is exactly invariant: relabelling the nodes of test graphs
changes its float64 output only at rounding level (each block commutes with A -> PAPᵀ, the readout sums over
diagonal and off-diagonal pairs).

1-WL colours (`dl_theory.models.graph.wl`) are checked against networkx's `weisfeiler_lehman_graph_hash`: on a batch
of small random graphs, for every pair of graphs, "same hash" and "same multiset of colours" agree. networkx starts
from node degrees, one refinement round ahead of a uniform start, so h networkx iterations match h + 1 rounds here.
Hashes are only compared with hashes (equality), never with colours.
"""

import warnings
from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import optax

from dl_theory import checks, losses
from dl_theory.data.graphs import erdos_renyi
from dl_theory.data.wl_pairs import WL_PAIRS, random_graphs, wl_pair, wl_pair_graphs
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots
from dl_theory.models.graph.adjacency import permute_graph, random_permutation
from dl_theory.models.graph.higher_order import ppgn
from dl_theory.models.graph.message_passing import mpnn
from dl_theory.models.graph.sets import rounding_bound
from dl_theory.models.graph.wl import cycle_counts, node_cycle_counts, wl_colors, wl_equivalent
from dl_theory.stats import mean_and_stderr
from dl_theory.training import train

K_SE = 5.0
EXACT = 1e-12  # float64 relative error of an identity that holds exactly
FEATURES = ("plain", "cycle-count")
# one compile per graph-batch shape instead of one per eager op and shape (integer-valued counts: exact either way)
_cycle_counts, _node_cycle_counts = jax.jit(cycle_counts), jax.jit(node_cycle_counts)


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    n_nodes: Annotated[int, checks.at_least(4)] = 8
    edge_probs: Annotated[tuple[float, ...], checks.each(checks.unit_interval)] = (0.2, 0.3, 0.4, 0.5)
    n_train: Annotated[int, checks.count] = 4096
    n_test: Annotated[int, checks.at_least(10)] = 1000
    hidden: Annotated[tuple[int, ...], checks.each(checks.count)] = (64, 64)
    n_steps: Annotated[int, checks.count] = 3000
    batch_size: Annotated[int, checks.count] = 128
    lr: Annotated[float, checks.positive] = 5e-3
    hash_graphs: Annotated[int, checks.at_least(2)] = 80
    hash_nodes: Annotated[int, checks.at_least(2)] = 7
    hash_edges: Annotated[int, checks.at_least(0)] = 7
    ppgn_hidden: Annotated[tuple[int, ...], checks.each(checks.count)] = (32, 32)
    ppgn_steps: Annotated[int, checks.count] = 3000
    n_permutations: Annotated[int, checks.count] = 20

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_train=2048, n_test=1000, hidden=(32, 32), n_steps=2000, hash_graphs=30, hash_nodes=6,
                   hash_edges=6, ppgn_hidden=(16, 16), ppgn_steps=500, n_permutations=10)


def _graphs(key: jax.Array, cfg: Config, n_graphs: int) -> jax.Array:
    """``n_graphs`` G(n, p) graphs, p cycling through ``cfg.edge_probs``, shape (G, n, n)."""
    per = -(-n_graphs // len(cfg.edge_probs))
    blocks = [jax.vmap(lambda k, p=p: erdos_renyi(k, cfg.n_nodes, p))(jax.random.split(jax.random.fold_in(key, i),
                                                                                        per))
              for i, p in enumerate(cfg.edge_probs)]
    return jnp.concatenate(blocks)[:n_graphs]


def _features(a_GxNxN: jax.Array, kind: str, scale: jax.Array) -> jax.Array:
    """Node inputs: a constant 1 (``plain``: the 1-WL start), or 1 and the triangles and 4-cycles through the node
    divided by ``scale`` (shape (1, 1, 2))."""
    ones = jnp.ones((*a_GxNxN.shape[:-1], 1), a_GxNxN.dtype)
    return ones if kind == "plain" else jnp.concatenate([ones, _node_cycle_counts(a_GxNxN) / scale], axis=-1)


def _n_terms(cfg: Config, d_in: int, n: int) -> int:
    """Summands along the longest reduction chain of the MPNN: per layer the message and self products (fan-in d)
    and the aggregation over n neighbours, +2 roundings; the head (fan-in d, +2) and the sum readout over n nodes."""
    widths = (d_in, *cfg.hidden)
    return int(sum(2 * d + n + 2 for d in widths[:-1]) + widths[-1] + 2 + n)


def _hash_agreement(cfg: Config) -> dict:
    """For every pair of random graphs: networkx WL-hash equality against equality of 1-WL colour multisets."""
    graphs = list(random_graphs(cfg.seed, cfg.hash_graphs, cfg.hash_nodes, cfg.hash_edges))
    rounds = cfg.hash_nodes  # every graph's colouring is stable after n - 1 rounds
    with warnings.catch_warnings():  # networkx 3.5+ warns that attribute-free hashes changed in 3.5
        warnings.simplefilter("ignore", UserWarning)
        hashes = [nx.weisfeiler_lehman_graph_hash(nx.from_numpy_array(a), iterations=rounds) for a in graphs]
    histograms = np.sort(np.asarray(wl_colors(np.stack(graphs), rounds + 1)), axis=1)
    same_colors = np.all(histograms[:, None] == histograms[None], axis=-1)
    same_hash = np.array([[h == g for g in hashes] for h in hashes])
    upper = np.triu_indices(len(graphs), 1)
    iso = np.array([nx.is_isomorphic(nx.from_numpy_array(graphs[i]), nx.from_numpy_array(graphs[j]))
                    if same_colors[i, j] else False for i, j in zip(*upper, strict=True)])
    return {"mismatches": int(np.sum(same_colors[upper] != same_hash[upper])), "pairs": int(len(upper[0])),
            "equal_pairs": int(np.sum(same_colors[upper])), "equal_not_isomorphic": int(np.sum(
                same_colors[upper] & ~iso)), "same_colors": same_colors, "same_hash": same_hash}


def _ppgn_invariance(key: jax.Array, apply_fn, params, a_GxNxN: jax.Array, n_permutations: int) -> float:
    """Max over random relabellings P of |f(PAPᵀ) - f(A)| / max |f(A)| for the PPGN on the graphs (float64)."""
    with jax.enable_x64(True):
        params64 = jax.tree_util.tree_map(lambda v: jnp.asarray(v, jnp.float64), params)
        a = jnp.asarray(a_GxNxN, jnp.float64)
        perms = jax.vmap(lambda k: random_permutation(k, a.shape[-1]))(jax.random.split(key, n_permutations))
        x = jnp.ones((*a.shape[:-1], 1), jnp.float64)  # node features are not used: PPGN reads A only

        @jax.jit
        def moved(perm):
            return apply_fn(params64, permute_graph(x, a, perm)[1])

        base = jax.jit(apply_fn)(params64, a)
        gap = jnp.max(jnp.stack([jnp.max(jnp.abs(moved(p) - base)) for p in perms]))
        return float(gap / jnp.max(jnp.abs(base)))


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    k_train, k_test, k_fit = jax.random.split(key, 3)
    a_train, a_test = _graphs(k_train, cfg, cfg.n_train), _graphs(k_test, cfg, cfg.n_test)
    y_train, y_test = _cycle_counts(a_train), _cycle_counts(a_test)
    # targets in units of their training standard deviation, cycle-count inputs in units of their largest values
    y_scale = jnp.std(y_train, axis=0, keepdims=True)
    x_scale = jnp.max(_node_cycle_counts(a_train), axis=(0, 1), keepdims=True)
    init_fn, apply_fn = mpnn(cfg.hidden, 2, aggregation="sum", readout_kind="sum")
    loss = losses.mse(lambda p, xa: apply_fn(p, xa[0], graph=xa[1]))

    weight = 1.0 / (cfg.n_nodes - 1)  # one edge weight for every graph: a sum aggregation of O(1) size

    def predict(kind, a):
        return apply_fn(params[kind], _features(a, kind, x_scale), graph=weight * a) * y_scale

    params, sq, hist = {}, {}, {}
    for i, kind in enumerate(FEATURES):
        x = _features(a_train, kind, x_scale)
        _, p0 = init_fn(jax.random.fold_in(k_fit, i), x.shape)
        data = ((x, weight * a_train), y_train / y_scale)
        params[kind], h = train(loss, p0, optax.adam(cfg.lr), data, n_steps=cfg.n_steps,
                                batch_size=cfg.batch_size, key=jax.random.fold_in(k_fit, 10 + i), log_every=500,
                                desc=f"wl-limits ({kind})")
        hist[kind] = h["loss"]
        sq[kind] = np.asarray(jnp.sum((predict(kind, a_test) - y_test) ** 2, axis=1))

    # an unconstrained invariant model on node-pair features, trained on the bare adjacency
    ppgn_init, ppgn_apply = ppgn(cfg.ppgn_hidden, 2)
    _, p0 = ppgn_init(jax.random.fold_in(k_fit, 2), a_train.shape[1:])
    params["ppgn"], h = train(losses.mse(ppgn_apply), p0, optax.adam(cfg.lr), (a_train, y_train / y_scale),
                              n_steps=cfg.ppgn_steps, batch_size=cfg.batch_size, key=jax.random.fold_in(k_fit, 12),
                              log_every=min(500, cfg.ppgn_steps), desc="wl-limits (ppgn)")
    hist["ppgn"] = h["loss"]
    ppgn_predict = jax.jit(lambda a: ppgn_apply(params["ppgn"], a) * y_scale)
    sq["ppgn"] = np.asarray(jnp.sum((ppgn_predict(a_test) - y_test) ** 2, axis=1))
    invariance = _ppgn_invariance(jax.random.fold_in(k_fit, 3), ppgn_apply, params["ppgn"], a_test[:64],
                                  cfg.n_permutations)

    claims, pair_out = [], {}
    for name in WL_PAIRS:
        g1, g2 = wl_pair_graphs(name)
        a = jnp.asarray(np.stack(wl_pair(name)), jnp.float32)
        pad = cfg.n_nodes - a.shape[-1]  # isolated nodes up to the training size (still 1-WL equivalent)
        a = jnp.pad(a, ((0, 0), (0, max(pad, 0)), (0, max(pad, 0))))
        counts = np.asarray(_cycle_counts(a))
        truth = counts[0] - counts[1]
        out = {kind: np.asarray(predict(kind, a)) for kind in FEATURES}
        out["ppgn"] = np.asarray(ppgn_predict(a))
        x_plain = _features(a, "plain", x_scale)
        bound = np.asarray(rounding_bound(apply_fn, params["plain"], x_plain, _n_terms(cfg, 1, a.shape[-1]),
                                          graph=weight * a))
        raw = np.asarray(apply_fn(params["plain"], x_plain, graph=weight * a))  # the network's own outputs
        plain_diff = np.abs(raw[0] - raw[1])
        aug_diff = out["cycle-count"][0] - out["cycle-count"][1]
        ppgn_diff = out["ppgn"][0] - out["ppgn"][1]
        which = int(np.argmax(np.abs(truth)))
        separated = not nx.is_isomorphic(g1, g2) and wl_equivalent(*a)
        pair_out[name] = {"counts": counts, **out}
        claims += [
            Claim(f"{name}-wl-equivalent", f"{name}: 1-WL equivalent (wl_equivalent) and not isomorphic (networkx)",
                  True, separated, None, separated),
            Claim.at_least(f"{name}-cycle-counts-differ", f"{name}: max |difference| of (triangles, 4-cycles), "
                           f"{counts[0].tolist()} vs {counts[1].tolist()} (exact integers)", 1.0,
                           float(np.max(np.abs(truth)))),
            Claim.at_most(f"{name}-mpnn-identical", f"{name}: trained plain MPNN, max |f(G1) - f(G2)| over outputs "
                          "divided by the rounding bound 2 gamma_m |f|(1) of one evaluation pair", 1.0,
                          float(np.max(np.where(plain_diff == 0, 0.0, plain_diff / np.minimum(*bound))))),
            Claim.close(f"{name}-cycle-features-separate", f"{name}: MPNN with per-node cycle-count inputs, predicted "
                        f"{('triangle', '4-cycle')[which]} count difference f(G1) - f(G2) (theory: the true "
                        "difference; within half of it, so of the same sign and at least half as large: separated)",
                        float(truth[which]), float(aug_diff[which]), atol=abs(float(truth[which])) / 2),
            Claim.close(f"{name}-ppgn-separates", f"{name}: PPGN on node-pair features of the bare adjacency "
                        f"(no cycle inputs), predicted {('triangle', '4-cycle')[which]} count difference f(G1) - "
                        "f(G2) within half of the true one (separated)", float(truth[which]),
                        float(ppgn_diff[which]), atol=abs(float(truth[which])) / 2),
        ]
    plain_mse, _ = mean_and_stderr(sq["plain"])
    aug_mse, _ = mean_and_stderr(sq["cycle-count"])
    gap, gap_se = mean_and_stderr(sq["plain"] - sq["cycle-count"])
    ppgn_gap, ppgn_gap_se = mean_and_stderr(sq["plain"] - sq["ppgn"])
    agree = _hash_agreement(cfg)
    claims += [
        Claim.at_least("cycle-features-beat-plain", "test squared error of the plain MPNN minus the cycle-count "
                       f"MPNN's (paired over {cfg.n_test} random graphs), in standard errors", K_SE,
                       float(gap / gap_se)),
        Claim.at_least("ppgn-beats-plain", "test squared error of the plain MPNN minus the PPGN's (paired over "
                       f"{cfg.n_test} random graphs), in standard errors", K_SE, float(ppgn_gap / ppgn_gap_se)),
        Claim.at_most("ppgn-permutation-invariance", f"max over {cfg.n_permutations} random node relabellings of 64 "
                      "test graphs of |f(PAPᵀ) - f(A)| / max |f(A)|, trained PPGN in float64", EXACT, invariance),
        Claim.at_most("wl-matches-networkx-hash", f"pairs of {cfg.hash_graphs} random G(n={cfg.hash_nodes}, "
                      f"m={cfg.hash_edges}) graphs where 'equal networkx WL hash' and 'equal 1-WL colour multiset' "
                      f"disagree ({agree['equal_pairs']} of {agree['pairs']} pairs equal)", 0.0,
                      float(agree["mismatches"])),
    ]
    metrics = {
        "test_mse": {"plain": float(plain_mse), "cycle-count": float(aug_mse), "ppgn": float(np.mean(sq["ppgn"]))},
        "ppgn_invariance_rel_error": invariance,
        "target_variance": np.asarray(jnp.var(y_test, axis=0)).tolist(),
        "pairs": {name: {"counts": v["counts"].tolist(), "plain": v["plain"].tolist(),
                         "cycle-count": v["cycle-count"].tolist(), "ppgn": v["ppgn"].tolist()}
                  for name, v in pair_out.items()},
        "hash_pairs": agree["pairs"], "hash_equal_pairs": agree["equal_pairs"],
        "hash_equal_but_not_isomorphic": agree["equal_not_isomorphic"], "hash_mismatches": agree["mismatches"],
        "final_train_loss": {k: float(np.mean(h[-100:])) for k, h in hist.items()},
    }
    return Result(claims, metrics, {"pairs": pair_out, "agree": agree, "sq": sq})


def plot(result: Result):
    d = result.data
    fig, axes = subplots(1, 3, width=4.0, title="1-WL limits of message passing")
    ax = axes[0]
    labels, offsets = [], np.arange(4)
    for j, (name, v) in enumerate(d["pairs"].items()):
        for g in range(2):
            labels.append(f"{name.split('-vs-')[g]}")
            for k, (kind, marker) in enumerate((("counts", "s"), ("plain", "o"), ("cycle-count", "^"),
                                                ("ppgn", "D"))):
                ax.scatter(offsets[2 * j + g] + 0.1 * (k - 1.5), v[kind][g][0], marker=marker, color=f"C{k}",
                           label=kind if (j, g) == (0, 0) else None)
                ax.scatter(offsets[2 * j + g] + 0.1 * (k - 1.5), v[kind][g][1], marker=marker, facecolor="none",
                           edgecolor=f"C{k}")
    ax.set_xticks(offsets, labels, fontsize=7, rotation=20)
    ax.set(ylabel="count (filled: triangles, open: 4-cycles)", title="1-WL-equivalent pairs")
    ax.legend(fontsize=7)
    ax = axes[1]
    labels = {"plain": "plain MPNN", "cycle-count": "cycle-count MPNN", "ppgn": "PPGN (node pairs)"}
    for k, (kind, label) in enumerate(labels.items()):
        ax.hist(np.sqrt(d["sq"][kind]), bins=40, alpha=0.6, color=f"C{k + 1}", label=label)
    ax.set(xlabel="test error ‖f(G) − counts(G)‖", ylabel="graphs", title="counting cycles on G(n, p)")
    ax.legend(fontsize=7)
    ax = axes[2]
    ag = d["agree"]
    ax.imshow(ag["same_colors"].astype(int) + ag["same_hash"].astype(int), cmap="Greys", vmin=0, vmax=2)
    ax.set(title=f"equal 1-WL colours vs equal nx hash\n({ag['mismatches']} disagreements)", xlabel="graph",
           ylabel="graph")
    return fig


EXPERIMENT = Experiment(
    id="wl-limits",
    description="A trained MPNN gives identical outputs on 1-WL-equivalent non-isomorphic graphs; cycle counts "
                "and a PPGN on node pairs separate them; 1-WL colours match networkx's WL hash.",
    config=Config, run=run, plot=plot)
