"""CTC: the loss is the sum over alignments, it equals optax's, and it trains a tagger without frame labels.

The notes define p(l | x) as the sum over every path pi of the collapse map B's preimage B^-1(l) of prod_t y_{pi_t}.
The library computes it by the forward (alpha) recursion over the blank-extended label in log space. Claims:

* on small cases (K = 3 symbols, T up to 7 frames, labels with and without repeats, T from the minimum length on)
  the recursion equals the brute-force sum over all K^T paths whose collapse is l (float64, relative error at
  machine precision), and the number of such paths equals the closed form |B^-1(l)| = binom(T + L - r, 2L) for a
  label of length L with r adjacent repeats (each repeat needs one blank between its copies, which removes one free
  frame); at larger T, with uniform outputs, the loss is exactly T ln K - ln binom(T + L - r, 2L);
* the loss and its gradient equal optax.ctc_loss on a random float32 batch with padded frames and padded labels;
  a target shorter than its minimum length L + r gives +inf (optax gives a large finite value, about -log_epsilon
  = 1e5), never a negative loss;
* B merges repeats and then drops blanks (examples);
* a bidirectional LSTM (the library's cells) trained with the CTC loss alone on the unsegmented token task of
  dl_theory.data.unsegmented (noisy frames, random durations and gaps, no frame positions given) decodes held-out
  sequences by best-path decoding with a label error rate (edit distance / reference length) below a stated level.
  The beam-search label error rate and the untrained model's are reported as metrics.
"""

import itertools
from dataclasses import dataclass
from math import comb, log
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dl_theory import checks
from dl_theory.data.unsegmented import token_templates, unsegmented_tokens
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.models.sequence.cells import lstm
from dl_theory.models.sequence.ctc import (
    beam_search_decode,
    collapse,
    ctc_loss,
    greedy_decode,
    label_error_rate,
)
from dl_theory.models.sequence.rnn import sequence_model
from dl_theory.training import train

SMALL_LABELS = ((1,), (1, 2), (1, 1), (2, 1, 2), (2, 2, 1), (1, 1, 1))
COLLAPSE_EXAMPLES = (((1, 1, 0, 1, 2, 2, 0), (1, 1, 2)), ((0, 3, 3, 3, 0, 0), (3,)), ((2, 0, 2, 2, 1), (2, 2, 1)),
                     ((0, 0, 0), ()), ((1, 2, 1, 2), (1, 2, 1, 2)))


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    max_frames: Annotated[int, checks.at_least(2)] = 7
    uniform_frames: Annotated[int, checks.count] = 60
    n_classes: Annotated[int, checks.at_least(2)] = 5
    feature_dim: Annotated[int, checks.count] = 8
    noise: Annotated[float, checks.nonnegative] = 0.3
    max_tokens: Annotated[int, checks.at_least(2)] = 5
    hidden: Annotated[int, checks.count] = 32
    n_test: Annotated[int, checks.at_least(20)] = 1000
    n_steps: Annotated[int, checks.count] = 5000
    batch_size: Annotated[int, checks.count] = 32
    learning_rate: Annotated[float, checks.positive] = 1e-2
    beam_width: Annotated[int, checks.count] = 8
    max_label_error_rate: Annotated[float, checks.unit_interval] = 0.1

    @classmethod
    def quick(cls) -> "Config":
        return cls(max_frames=5, n_test=300, n_steps=1500)


def _brute_force(logprobs_TxK: np.ndarray, label: tuple[int, ...]) -> tuple[float, int]:
    """-log of the sum over every path that collapses to ``label``, and the number of such paths."""
    t, k = logprobs_TxK.shape
    terms = [logprobs_TxK[np.arange(t), path].sum() for path in itertools.product(range(k), repeat=t)
             if tuple(collapse(path)) == label]
    return float(-np.logaddexp.reduce(terms)), len(terms)


def _repeats(label: tuple[int, ...]) -> int:
    return sum(a == b for a, b in zip(label, label[1:], strict=False))


def _alignment_count(t: int, label: tuple[int, ...]) -> int:
    return comb(t + len(label) - _repeats(label), 2 * len(label))


def _exact_checks(key: jax.Array, cfg: Config) -> dict:
    """Recursion vs brute force, path counts vs the closed form, and uniform outputs at large T (float64)."""
    cases = [(lab, t) for lab in SMALL_LABELS for t in range(len(lab) + _repeats(lab), cfg.max_frames + 1)]
    with jax.enable_x64(True):
        logits = jax.random.normal(key, (len(cases), cfg.max_frames, 3), jnp.float64)
        pads = jnp.array([[0.0] * t + [1.0] * (cfg.max_frames - t) for _, t in cases])
        n = max(len(lab) for lab, _ in cases)
        labels = jnp.array([lab + (0,) * (n - len(lab)) for lab, _ in cases])
        label_pads = jnp.array([[0.0] * len(lab) + [1.0] * (n - len(lab)) for lab, _ in cases])
        ours = np.asarray(ctc_loss(logits, pads, labels, label_pads))
        logprobs = np.asarray(jax.nn.log_softmax(logits, axis=-1))
        brute = [_brute_force(logprobs[i, :t], lab) for i, (lab, t) in enumerate(cases)]
        uniform_labels = ((1, 2, 3, 1, 2), (1, 1, 2, 2, 2, 1), (3,) * 8)
        t_u, k_u = cfg.uniform_frames, 4
        uniform = np.asarray(ctc_loss(
            jnp.zeros((len(uniform_labels), t_u, k_u)), jnp.zeros((len(uniform_labels), t_u)),
            jnp.array([lab + (1,) * (8 - len(lab)) for lab in uniform_labels]),
            jnp.array([[0.0] * len(lab) + [1.0] * (8 - len(lab)) for lab in uniform_labels])))
    closed = np.array([t_u * log(k_u) - log(_alignment_count(t_u, lab)) for lab in uniform_labels])
    return {
        "cases": len(cases),
        "brute_rel_error": float(np.max(np.abs(ours - [b for b, _ in brute]) / np.abs([b for b, _ in brute]))),
        "counts_match": all(c == _alignment_count(t, lab) for (lab, t), (_, c) in zip(cases, brute, strict=True)),
        "counts": [[list(lab), t, c] for (lab, t), (_, c) in zip(cases, brute, strict=True)],
        "uniform_rel_error": float(np.max(np.abs(uniform - closed) / closed)),
    }


def _optax_checks(key: jax.Array) -> dict:
    """float32 loss and gradient against optax.ctc_loss; infeasible targets."""
    b, t, k = 6, 12, 5
    k_logits, k_labels = jax.random.split(key)
    logits = 3 * jax.random.normal(k_logits, (b, t, k))
    labels = jax.random.randint(k_labels, (b, 4), 1, 3)  # two label values: many repeats
    label_pads = jnp.zeros((b, 4)).at[1:3, 3:].set(1.0)
    logit_pads = jnp.zeros((b, t)).at[0, -3:].set(1.0).at[4, 2:5].set(1.0)
    short = jnp.array([[1, 1, 2], [1, 2, 2], [2, 2, 2]])  # minimum lengths 4, 4, 5: three frames are too few

    @jax.jit
    def compare(logits):
        out = {}
        for name, loss in (("ours", ctc_loss), ("optax", optax.ctc_loss)):
            per_seq = lambda z, loss=loss: loss(z, logit_pads, labels, label_pads)
            out[name] = (per_seq(logits), jax.grad(lambda z, f=per_seq: f(z).sum())(logits),
                         loss(jnp.zeros((3, 3, k)), jnp.zeros((3, 3)), short, jnp.zeros((3, 3))))
        return out

    out = compare(logits)
    (ours, grad_ours, infeasible), (ref, grad_ref, infeasible_ref) = out["ours"], out["optax"]
    return {"loss_rel_error": float(jnp.max(jnp.abs(ours - ref) / jnp.abs(ref))),
            "grad_max_abs_error": float(jnp.max(jnp.abs(grad_ours - grad_ref))),
            "grad_max_abs": float(jnp.max(jnp.abs(grad_ref))),
            "infeasible": np.asarray(infeasible).tolist(), "infeasible_optax": np.asarray(infeasible_ref).tolist()}


def _references(batch) -> list[list[int]]:
    return [lab[pad == 0].tolist() for lab, pad in zip(np.asarray(batch.labels_BxN),
                                                         np.asarray(batch.label_paddings_BxN), strict=True)]


def _train_tagger(key: jax.Array, cfg: Config) -> dict:
    k_tm, k_train, k_test, k_init = jax.random.split(key, 4)
    templates = token_templates(k_tm, cfg.n_classes, cfg.feature_dim)
    kwargs = {"max_length": cfg.max_tokens, "noise": cfg.noise}
    test_set = unsegmented_tokens(k_test, cfg.n_test, templates, **kwargs)
    init_fn, apply_fn = sequence_model(lstm(cfg.hidden), cfg.n_classes + 1, backward=lstm(cfg.hidden),
                                       readout="sequence")
    params0 = jax.jit(lambda k: init_fn(k, test_set.x_BxTxD.shape)[1])(k_init)  # one compiled program

    def batch_loss(params, batch):
        return jnp.mean(ctc_loss(apply_fn(params, batch.x_BxTxD), batch.paddings_BxT, batch.labels_BxN,
                                 batch.label_paddings_BxN))

    def fresh_batch_loss(params, _, step_key):  # a new batch of sequences every step: no training set to overfit
        return batch_loss(params, unsegmented_tokens(step_key, cfg.batch_size, templates, **kwargs))

    optimizer = optax.chain(optax.clip_by_global_norm(5.0), optax.adam(cfg.learning_rate))
    params, history = train(fresh_batch_loss, params0, optimizer, jnp.zeros((1,)), n_steps=cfg.n_steps,
                            noise_key=k_train, log_every=max(cfg.n_steps // 10, 1), desc="ctc")
    refs = _references(test_set)

    predict = jax.jit(apply_fn)

    def decode(p):
        logits = predict(p, test_set.x_BxTxD)
        return greedy_decode(logits, test_set.paddings_BxT), logits

    greedy, logits = decode(params)
    beam = [lab for lab, _ in beam_search_decode(logits, test_set.paddings_BxT, cfg.beam_width)]
    errors = np.array([label_error_rate([g], [r]) * len(r) for g, r in zip(greedy, refs, strict=True)])
    lengths = np.array([len(r) for r in refs])
    # ratio estimator's standard error (delta method over sequences)
    ler = errors.sum() / lengths.sum()
    ler_se = float(np.std(errors - ler * lengths, ddof=1) * np.sqrt(len(refs)) / lengths.sum())
    return {"ler": float(ler), "ler_se": ler_se, "ler_beam": label_error_rate(beam, refs),
            "ler_untrained": label_error_rate(decode(params0)[0], refs),
            "test_loss": float(jax.jit(batch_loss)(params, test_set)), "loss": history["loss"],
            "example": {"reference": refs[0], "greedy": greedy[0],
                        "probs": np.asarray(jax.nn.softmax(logits[0][test_set.paddings_BxT[0] == 0]))}}


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    k_exact, k_optax, k_train = jax.random.split(key, 3)
    exact = _exact_checks(k_exact, cfg)
    ox = _optax_checks(k_optax)
    collapsed_ok = all(tuple(collapse(p)) == want for p, want in COLLAPSE_EXAMPLES)
    tagger = _train_tagger(k_train, cfg)
    eps64, eps32 = float(jnp.finfo(jnp.float64).eps), float(jnp.finfo(jnp.float32).eps)
    claims = [
        Claim.close("brute-force-sum", f"{exact['cases']} cases (K=3, T<={cfg.max_frames}, repeats, T from L+r): "
                    "max relative error of the alpha recursion against the sum over every path of B^-1(l) "
                    "(float64)", 0.0, exact["brute_rel_error"], atol=1e3 * eps64),
        Claim("alignment-count", "number of paths with B(pi)=l equals binom(T+L-r, 2L) in every case", True,
              exact["counts_match"], None, exact["counts_match"]),
        Claim.close("uniform-closed-form", f"uniform outputs, T={cfg.uniform_frames}, K=4: max relative error of "
                    "the loss against T ln K - ln binom(T+L-r, 2L)", 0.0, exact["uniform_rel_error"],
                    atol=1e3 * eps64),
        Claim.close("equals-optax", "max relative difference to optax.ctc_loss (float32 batch, padded frames and "
                    "labels, repeats)", 0.0, ox["loss_rel_error"], atol=1e2 * eps32),
        Claim.close("gradient-equals-optax", "max |grad ours - grad optax| relative to max |grad optax|", 0.0,
                    ox["grad_max_abs_error"] / ox["grad_max_abs"], atol=1e3 * eps32),
        Claim("infeasible-is-inf", "T below L + r (too few frames for the labels and the blanks between repeats): "
              "loss = +inf", float("inf"), min(ox["infeasible"]), None, bool(np.all(np.isinf(ox["infeasible"])))),
        Claim("collapse-examples", "B merges repeats then drops blanks on the listed examples", True, collapsed_ok,
              None, collapsed_ok),
        Claim.at_most("trained-label-error-rate", f"BiLSTM({cfg.hidden}) trained with CTC only, {cfg.n_test} "
                      f"held-out sequences: best-path label error rate (SE {tagger['ler_se']:.4f})",
                      cfg.max_label_error_rate, tagger["ler"]),
    ]
    metrics = {"brute_force_max_rel_error": exact["brute_rel_error"], "alignment_counts": exact["counts"],
               "uniform_max_rel_error": exact["uniform_rel_error"], "optax_loss_max_rel_error": ox["loss_rel_error"],
               "optax_grad_max_abs_error": ox["grad_max_abs_error"], "infeasible_loss": ox["infeasible"],
               "infeasible_loss_optax": ox["infeasible_optax"], "label_error_rate_greedy": tagger["ler"],
               "label_error_rate_greedy_se": tagger["ler_se"], "label_error_rate_beam": tagger["ler_beam"],
               "label_error_rate_untrained": tagger["ler_untrained"], "test_ctc_loss": tagger["test_loss"],
               "final_train_loss": float(np.mean(tagger["loss"][-50:]))}
    return Result(claims, metrics, {"counts": exact["counts"], "tagger": tagger})


def plot(result: Result):
    d = result.data
    fig, (ax1, ax2, ax3) = subplots(1, 3, width=4.4, title="Connectionist temporal classification")
    counts = np.array([[len(lab), t, c, _alignment_count(t, tuple(lab))] for lab, t, c in d["counts"]])
    ax1.plot(counts[:, 3], counts[:, 2], "o", ms=5, label="enumerated |B⁻¹(l)|")
    grid = np.array([1, counts[:, 3].max()])
    theory_line(ax1, grid, grid, label="binom(T+L−r, 2L)")
    ax1.set(xscale="log", yscale="log", xlabel="closed form", ylabel="paths collapsing to l",
            title="alignments counted by brute force")
    ax1.legend(fontsize=7)
    loss = d["tagger"]["loss"]
    ax2.plot(np.arange(len(loss)), loss, lw=0.8)
    ax2.set(xlabel="step", ylabel="mean CTC loss (nats / sequence)", yscale="log",
            title=f"training; best-path LER {result.metrics['label_error_rate_greedy']:.3f}")
    ex = d["tagger"]["example"]
    ax3.imshow(ex["probs"].T, aspect="auto", cmap="Greys", interpolation="nearest")
    ax3.set(xlabel="frame", ylabel="symbol (0 = blank)",
            title=f"held-out: ref {ex['reference']}, decoded {ex['greedy']}")
    return fig


EXPERIMENT = Experiment(
    id="ctc",
    description="CTC loss = sum over alignments (brute force, binom count, optax); a BiLSTM trained without "
                "frame labels reaches a low label error rate.",
    config=Config, run=run, plot=plot)
