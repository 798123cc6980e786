"""word2vec: skip-gram with the notes' full-softmax NLL and with negative sampling recovers planted word topics.

The corpus (dl_theory.data.corpus.planted_corpus) has K topics of m content words and F function words; a sentence
draws one topic, and each of its tokens is a function word with probability p_f and a content word of that topic
otherwise. The context distribution p(nu | omega) of every word is therefore known exactly, and words of one topic
have the same one. The (center, context) pairs within a window are tallied into counts N_{omega nu}.

* Full softmax. The notes' loss l = -x_omega^T y_nu + ln sum_mu exp(x_omega^T y_mu), summed over the pairs, equals the
  count-weighted sum (the form trained, one V x V logit matrix per step) and optax's softmax cross-entropy on the
  logits; its closed-form gradient (softmax residual times the other table) equals jax.grad (float64).
* Negative sampling (Mikolov et al. 2013): -ln s(x^T y_nu) - sum_j ln s(-x^T y_{n_j}), n_j ~ unigram^{3/4}, matches
  its definition written out in NumPy; trained by sampling pairs and noise words every step. Both models use Adam
  with a cosine-decayed step, which damps the minibatch noise of the sampled loss at the end.
* Trained input embeddings recover the topics: the leave-one-out k-nearest-neighbour (cosine) vote predicts each
  content word's topic far above chance 1/K (binomial standard error rule), for both losses.
* The full-softmax model is near the Bayes floor: its held-out NLL exceeds the exact conditional entropy
  E[-ln p(nu|omega)] by a small KL (paired over held-out pairs), and never goes below it beyond standard errors.
* Negative sampling learns shifted PMI (Levy & Goldberg 2014): the minimizer of the expected loss has
  x_omega^T y_nu = ln p(nu|omega) - ln(k P_n(nu)). Averaged over the blocks of the planted structure (same topic,
  content -> function, function -> content, function -> function) the learned inner products match it; across
  topics, where p = 0 and the optimum is -inf, they are driven far below every finite value.
References: Mikolov et al. 2013 (NeurIPS), Levy & Goldberg 2014 (NeurIPS), Harris 1954 (distributional hypothesis).
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax

from dl_theory import checks
from dl_theory.data.corpus import context_distribution, pair_counts, planted_corpus, skipgram_pairs
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.models.word2vec import (
    full_softmax_loss,
    init_embeddings,
    knn_topic_accuracy,
    log_context_probs,
    negative_sampling_loss,
    negative_sampling_nll,
    neighbour_purity,
    sgns_optimum,
    softmax_nll,
    softmax_nll_grad,
    unigram_noise,
)
from dl_theory.stats import paired_difference, proportion_stderr
from dl_theory.training import train

N_SE = 4.0  # binomial and Monte-Carlo standard-error rule
FLOAT64_REL = 1e-10  # float64 identities (relative)
KL_TOL = 0.05  # held-out excess NLL over the Bayes floor, nats per pair
PMI_TOL = 0.15  # |block mean of learned x^T y - Levy-Goldberg optimum|, nats
CROSS_MARGIN = 2.0  # cross-topic inner products at least this far below the smallest finite optimum
BLOCKS = ("same topic", "content -> function", "function -> content", "function -> function")


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    n_topics: Annotated[int, checks.at_least(2)] = 5
    words_per_topic: Annotated[int, checks.at_least(2)] = 20
    n_function_words: Annotated[int, checks.count] = 10
    p_function: Annotated[float, checks.probability] = 0.3
    n_sentences: Annotated[int, checks.count] = 20_000
    n_heldout: Annotated[int, checks.count] = 4000
    sentence_length: Annotated[int, checks.at_least(2)] = 10
    window: Annotated[int, checks.count] = 2
    dim: Annotated[int, checks.count] = 16
    n_negative: Annotated[int, checks.count] = 5
    batch_size: Annotated[int, checks.count] = 256
    steps: Annotated[int, checks.count] = 4000
    learning_rate: Annotated[float, checks.positive] = 0.02
    k_neighbours: Annotated[int, checks.count] = 5
    n_check_pairs: Annotated[int, checks.at_least(2)] = 200
    log_every: Annotated[int, checks.count] = 250

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_sentences=4000, n_heldout=1000, steps=1500, log_every=100)


def _identity_checks(key: jax.Array, params: dict, centers: jax.Array, contexts: jax.Array, counts: jax.Array,
                     noise: jax.Array, n_negative: int) -> dict[str, float]:
    """Float64 checks of the losses and the gradient against independent forms, at the trained parameters."""
    params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)
    nll = softmax_nll(params, centers, contexts)
    logits = params["x"][centers] @ params["y"].T
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, contexts)
    grad_auto = jax.grad(lambda p: jnp.sum(softmax_nll(p, centers, contexts)))(params)
    grad_closed = softmax_nll_grad(params, centers, contexts)
    grad_err = max(float(jnp.max(jnp.abs(grad_closed[k] - grad_auto[k])) / jnp.max(jnp.abs(grad_auto[k])))
                   for k in ("x", "y"))
    # every pair of the corpus, one by one (the notes' sum), against the count-weighted form
    counts = jnp.asarray(counts, jnp.float64)
    flat = np.flatnonzero(np.asarray(counts))
    per_pair = softmax_nll(params, jnp.asarray(flat // counts.shape[0]), jnp.asarray(flat % counts.shape[0]))
    pair_mean = float(jnp.sum(per_pair * counts.reshape(-1)[flat]) / jnp.sum(counts))
    count_loss = float(full_softmax_loss(params, counts))
    negatives = jax.random.choice(key, noise.shape[0], (centers.shape[0], n_negative), p=noise)
    ns = np.asarray(negative_sampling_nll(params, centers, contexts, negatives))
    x, y = np.asarray(params["x"]), np.asarray(params["y"])
    c, o, n = np.asarray(centers), np.asarray(contexts), np.asarray(negatives)
    ns_ref = np.array([-np.log(1 / (1 + np.exp(-x[c[p]] @ y[o[p]])))
                       - sum(np.log(1 / (1 + np.exp(x[c[p]] @ y[j]))) for j in n[p]) for p in range(len(c))])
    return {"grad_rel_err": grad_err, "optax_rel_err": float(jnp.max(jnp.abs(nll - ce) / ce)),
            "count_vs_pairs_rel_err": abs(count_loss - pair_mean) / pair_mean,
            "ns_rel_err": float(np.max(np.abs(ns - ns_ref) / ns_ref))}


def _block_masks(topic_V: np.ndarray) -> dict[str, np.ndarray]:
    function = topic_V < 0
    same = (topic_V[:, None] == topic_V[None, :]) & ~function[:, None]
    return {"same topic": same, "content -> function": ~function[:, None] & function[None, :],
            "function -> content": function[:, None] & ~function[None, :],
            "function -> function": function[:, None] & function[None, :],
            "across topics": ~function[:, None] & ~function[None, :] & ~same}


def run(cfg: Config) -> Result:
    if cfg.k_neighbours >= cfg.n_topics * cfg.words_per_topic:
        raise checks.fail("k_neighbours", f"< the number of content words {cfg.n_topics * cfg.words_per_topic}",
                          cfg.k_neighbours)
    key = jax.random.key(cfg.seed)
    corpus_args = dict(n_topics=cfg.n_topics, words_per_topic=cfg.words_per_topic,
                       n_function_words=cfg.n_function_words, sentence_length=cfg.sentence_length,
                       p_function=cfg.p_function)
    corpus = planted_corpus(jax.random.fold_in(key, 0), n_sentences=cfg.n_sentences, **corpus_args)
    heldout = planted_corpus(jax.random.fold_in(key, 1), n_sentences=cfg.n_heldout, **corpus_args)
    vocab = corpus.vocab_size
    centers, contexts = skipgram_pairs(corpus.tokens_SxL, cfg.window)
    counts = pair_counts(centers, contexts, vocab)
    val_centers, val_contexts = (np.asarray(a) for a in skipgram_pairs(heldout.tokens_SxL, cfg.window))
    val_counts = pair_counts(val_centers, val_contexts, vocab)
    p_true = context_distribution(corpus.topic_V, cfg.p_function)
    true_nll = -np.log(p_true[val_centers, val_contexts])  # the Bayes floor, pair by pair
    noise = unigram_noise(corpus.tokens_SxL, vocab)

    def heldout_nll(step: int, params: dict) -> dict:
        return {"heldout_nll": full_softmax_loss(params, val_counts)}

    params0 = init_embeddings(jax.random.fold_in(key, 2), vocab, cfg.dim)
    optimizer = optax.adam(optax.cosine_decay_schedule(cfg.learning_rate, cfg.steps, alpha=0.1))
    softmax_params, softmax_hist = train(full_softmax_loss, params0, optimizer, counts, n_steps=cfg.steps,
                                         log_every=cfg.log_every, callback=heldout_nll,
                                         desc="word2vec (full softmax)")
    ns_params, ns_hist = train(negative_sampling_loss(noise, cfg.n_negative, cfg.batch_size), params0, optimizer,
                               counts, n_steps=cfg.steps, noise_key=jax.random.fold_in(key, 3),
                               log_every=cfg.log_every, callback=heldout_nll, desc="word2vec (negative sampling)")

    with jax.enable_x64(True):
        pick = np.asarray(jax.random.choice(jax.random.fold_in(key, 4), centers.shape[0], (cfg.n_check_pairs,),
                                            replace=False))
        ids = _identity_checks(jax.random.fold_in(key, 5), softmax_params, centers[pick], contexts[pick], counts,
                               jnp.asarray(noise, jnp.float64), cfg.n_negative)

    topic = np.asarray(corpus.topic_V)
    n_content = int(np.sum(topic >= 0))
    chance = 1.0 / cfg.n_topics
    bar = chance + N_SE * float(proportion_stderr(chance, n_content))
    accuracy = {name: knn_topic_accuracy(p["x"], topic, cfg.k_neighbours)
                for name, p in (("init", params0), ("softmax", softmax_params), ("ns", ns_params))}
    purity = {name: neighbour_purity(p["x"], topic, cfg.k_neighbours)
              for name, p in (("init", params0), ("softmax", softmax_params), ("ns", ns_params))}
    model_nll = -np.asarray(log_context_probs(softmax_params, val_centers)[np.arange(len(val_centers)), val_contexts])
    excess, excess_se = paired_difference(model_nll, true_nll)
    ns_model_nll = -np.asarray(log_context_probs(ns_params, val_centers)[np.arange(len(val_centers)), val_contexts])
    ns_excess, ns_excess_se = paired_difference(ns_model_nll, true_nll)

    optimum = sgns_optimum(p_true, np.asarray(noise), cfg.n_negative)
    inner = np.asarray(ns_params["x"] @ ns_params["y"].T)
    masks = _block_masks(topic)
    learned = {b: float(inner[masks[b]].mean()) for b in masks}
    theory = {b: float(optimum[masks[b]].mean()) for b in BLOCKS}
    pmi_gap = max(abs(learned[b] - theory[b]) for b in BLOCKS)
    finite_min = float(np.min(optimum[np.isfinite(optimum)]))

    claims = [
        Claim.at_most("softmax-grad-closed-form", "closed-form gradient of the notes' summed NLL (softmax residual x "
                      "other table) vs jax.grad, max relative error over both tables (float64)", FLOAT64_REL,
                      ids["grad_rel_err"]),
        Claim.at_most("softmax-nll-equals-optax", "notes' per-pair NLL -x^T y_nu + ln sum exp(x^T y_mu) vs optax "
                      "softmax_cross_entropy_with_integer_labels, max relative difference", FLOAT64_REL,
                      ids["optax_rel_err"]),
        Claim.at_most("count-loss-equals-pair-sum", "count-weighted loss (sum_{w,v} N_wv l_wv / N, what is trained) "
                      "vs the notes' sum over all pairs / N, relative difference", FLOAT64_REL,
                      ids["count_vs_pairs_rel_err"]),
        Claim.at_most("negative-sampling-vs-definition", "negative-sampling loss vs -ln(1/(1+e^-s)) - sum_j "
                      "ln(1/(1+e^s_j)) written out in NumPy, max relative difference", FLOAT64_REL, ids["ns_rel_err"]),
        Claim.at_least("knn-topic-accuracy-softmax", f"full-softmax embeddings: leave-one-out {cfg.k_neighbours}-NN "
                       f"(cosine) topic accuracy over {n_content} content words >= chance 1/{cfg.n_topics} + "
                       f"{N_SE:g} binomial SE", bar, accuracy["softmax"]),
        Claim.at_least("knn-topic-accuracy-negative-sampling", "the same for negative-sampling embeddings", bar,
                       accuracy["ns"]),
        Claim.at_most("heldout-nll-near-entropy", "full softmax: held-out NLL - exact conditional entropy "
                      "E[-ln p(nu|omega)] (paired over held-out pairs; a KL, nats per pair)", KL_TOL, excess),
        Claim.at_least("heldout-nll-above-entropy", "the same excess / its SE (a cross-entropy is never below the "
                       "entropy)", -N_SE, excess / excess_se),
        Claim.at_most("sgns-shifted-pmi", "negative sampling: max over the 4 blocks (same topic, content->function, "
                      "function->content, function->function) of |mean learned x^T y - ln(p(nu|omega)/(k P_n(nu)))|",
                      PMI_TOL, pmi_gap),
        Claim.at_most("sgns-cross-topic-far-below", "negative sampling: mean x^T y across topics (optimum -inf) "
                      f"minus the smallest finite optimum ({finite_min:.3f}) <= -{CROSS_MARGIN:g}", -CROSS_MARGIN,
                      learned["across topics"] - finite_min),
    ]
    metrics = {
        "vocab_size": vocab, "n_pairs": int(centers.shape[0]), "n_heldout_pairs": int(len(val_centers)),
        "identities": ids, "knn_accuracy": accuracy, "neighbour_purity": purity, "chance": chance,
        "accuracy_bar": bar, "heldout_entropy": float(true_nll.mean()),
        "excess_nll": {"softmax": [excess, excess_se], "negative_sampling": [ns_excess, ns_excess_se]},
        "sgns_blocks": {"learned": learned, "theory": theory},
        "final_train_loss": {"softmax": float(softmax_hist["loss"][-1]), "negative_sampling": float(
            np.mean(ns_hist["loss"][-cfg.log_every:]))},
    }
    data = {"softmax_hist": softmax_hist, "ns_hist": ns_hist, "entropy": float(true_nll.mean()),
            "emb": np.asarray(softmax_params["x"]), "ns_emb": np.asarray(ns_params["x"]), "topic": topic,
            "inner": inner, "optimum": optimum, "masks": masks, "accuracy": accuracy}
    return Result(claims, metrics, data)


def _project(emb: np.ndarray) -> np.ndarray:
    centred = emb - emb.mean(axis=0, keepdims=True)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    return u[:, :2] * s[:2]


def plot(result: Result):
    d = result.data
    fig, axes = subplots(2, 2, width=4.8, height=3.6, title="word2vec on a corpus with planted topics")
    ax1, ax2, ax3, ax4 = axes.flat
    for name, hist, color in (("full softmax", d["softmax_hist"], "#1f5fa8"),
                              ("negative sampling", d["ns_hist"], "#d1495b")):
        ax1.plot(hist["log_step"], hist["heldout_nll"], "o-", ms=3, color=color, label=f"{name} (held-out)")
    ax1.plot(np.arange(len(d["softmax_hist"]["loss"])), d["softmax_hist"]["loss"], color="#1f5fa8", lw=0.8,
             alpha=0.6, label="full softmax (training)")
    theory_line(ax1, [0, len(d["softmax_hist"]["loss"])], [d["entropy"]] * 2, label="Bayes floor H(context | center)")
    ax1.set(xlabel="step", ylabel="full-softmax NLL per pair [nats]", title="softmax NLL (the notes' loss)",
            ylim=(d["entropy"] - 0.2, d["entropy"] + 1.2))
    ax1.legend(fontsize=7)
    ns_loss = d["ns_hist"]["loss"]
    window = max(1, len(ns_loss) // 100)
    ax2.plot(np.arange(len(ns_loss)), ns_loss, color="#d1495b", lw=0.5, alpha=0.35, label="per minibatch")
    ax2.plot(np.arange(window - 1, len(ns_loss)), np.convolve(ns_loss, np.ones(window) / window, "valid"),
             color="#d1495b", label=f"running mean ({window} steps)")
    ax2.set(xlabel="step", ylabel="negative-sampling loss", title="negative sampling (k noise words, unigram^3/4)")
    ax2.legend(fontsize=7)
    topic = d["topic"]
    xy = _project(d["emb"])
    cmap = _topic_colors(int(topic.max()) + 1)
    for t in range(int(topic.max()) + 1):
        ax3.scatter(*xy[topic == t].T, s=14, color=cmap[t], label=f"topic {t}")
    ax3.scatter(*xy[topic < 0].T, s=22, marker="x", color="0.3", label="function words")
    ax3.set(xlabel="PC 1", ylabel="PC 2",
            title=f"input embeddings, full softmax ({d['accuracy']['softmax']:.0%} k-NN topic acc.)")
    ax3.legend(fontsize=6.5, ncol=2)
    rng = np.random.default_rng(0)
    for i, (block, mask) in enumerate(d["masks"].items()):
        if block == "across topics":
            continue
        theory = d["optimum"][mask]
        ax4.scatter(theory + rng.uniform(-0.04, 0.04, theory.shape), d["inner"][mask], s=3, alpha=0.3,
                    color=f"C{i}", label=block)
    finite = d["optimum"][np.isfinite(d["optimum"])]
    grid = np.array([finite.min() - 0.3, finite.max() + 0.3])
    theory_line(ax4, grid, grid, label="x^T y = ln p(ν|ω) - ln k P_n(ν)")
    ax4.set(xlabel="Levy–Goldberg optimum (shifted PMI)", ylabel="learned x^T y (negative sampling)",
            title="negative sampling factorizes shifted PMI")
    ax4.legend(fontsize=7, markerscale=3)
    return fig


def _topic_colors(n: int) -> list:
    return [matplotlib.colormaps["tab10"](i % 10) for i in range(n)]


EXPERIMENT = Experiment(
    id="word2vec",
    description="Skip-gram word2vec (full softmax and negative sampling) recovers planted topics; gradient and "
                "losses vs their definitions; negative sampling learns shifted PMI.",
    config=Config, run=run, plot=plot)
