"""Sequence learning: exposure bias of teacher forcing, scheduled sampling, and bidirectional RNNs.

Exposure bias. A GRU decoder with output feedback, z_t = F(z_{t-1}, [E y_{t-1}, x_t]) (the notes' feedback
connection), is trained on the counting hidden Markov chain of dl_theory.data.feedback_tasks: the state counts
y_t = y_{t-1} + 1 mod m except for rare uniform jumps, and x_t is a noisy one-hot observation of y_t. The start state
y_0 is given. With teacher forcing the fed-back y_{t-1} is the truth, which makes y_t nearly certain: the trained
model's teacher-forced error is low, below the error of the Bayes forward filter p(y_t | y_0, x_{1..t}), which is the
least error any free-running predictor can reach (its fed-back tokens are functions of y_0 and the inputs). Run free,
the same model is fed its own outputs, trusts its own mistakes as it trusted the truth, and keeps counting from a wrong
state: its per-step error grows with the generated length, from the teacher-forced level at step 1 to well above the
filter. The exact references (teacher-forced Bayes rule, the same rule run free, the filter) come from the known chain.

Scheduled sampling (Bengio et al. 2015). A second model starts from the same teacher-forced first half of training
and then feeds back its own sampled token with probability ``feed_prob`` at every step; meeting its own errors in
training, it learns to weigh the inputs against the fed-back token and its free-running error drops, towards the
filter's (which it cannot beat: that is checked as well).

Bidirectional RNN. The target at step t is the input token at step t + 1. A causal (unidirectional) RNN has not seen
that token, which is independent of everything before it: its accuracy cannot exceed chance 1/m. A bidirectional RNN
(Schuster & Paliwal 1997) has, through its backward half, and reaches near-perfect accuracy.

Every comparison is over fresh held-out sequences with standard errors across sequences (paired where two rules run
on the same sequences); a claimed difference must exceed ``k_se`` standard errors.
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dl_theory import checks
from dl_theory.data.feedback_tasks import counting_hmm, hmm_bayes_errors, shifted_tokens
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots
from dl_theory.losses import softmax_cross_entropy
from dl_theory.models.sequence.cells import gru
from dl_theory.models.sequence.rnn import sequence_model
from dl_theory.models.sequence.seq2seq import seq2seq
from dl_theory.stats import mean_and_stderr, paired_difference
from dl_theory.training import train


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    n_states: Annotated[int, checks.at_least(2)] = 4
    jump_prob: Annotated[float, checks.probability] = 0.05
    amplitude: Annotated[float, checks.positive] = 1.0
    length: Annotated[int, checks.at_least(4)] = 40
    hidden: Annotated[int, checks.count] = 32
    n_steps: Annotated[int, checks.at_least(2)] = 3000
    batch_size: Annotated[int, checks.count] = 64
    learning_rate: Annotated[float, checks.positive] = 3e-3
    feed_prob: Annotated[float, checks.unit_interval] = 0.5
    n_test: Annotated[int, checks.at_least(20)] = 4000
    vocab: Annotated[int, checks.at_least(2)] = 4
    bidi_length: Annotated[int, checks.at_least(3)] = 20
    bidi_steps: Annotated[int, checks.count] = 400
    k_se: Annotated[float, checks.positive] = 4.0

    @classmethod
    def quick(cls) -> "Config":
        return cls(length=30, n_steps=1000, n_test=1000, bidi_steps=200)


def _late(errors_BxT: np.ndarray) -> np.ndarray:
    """Per-sequence error over the last quarter of the steps."""
    return errors_BxT[:, -max(errors_BxT.shape[1] // 4, 1):].mean(axis=1)


def _exposure(key: jax.Array, cfg: Config) -> dict:
    k_init, k_tf1, k_tf2, k_ss, k_test = jax.random.split(key, 5)
    model = seq2seq(gru(cfg.hidden), cfg.n_states)
    params0 = jax.jit(lambda k: model.init(k, input_dim=cfg.n_states))(k_init)  # one compiled program
    chains = lambda k, n: counting_hmm(k, n, cfg.length, cfg.n_states, cfg.jump_prob, cfg.amplitude)

    def logits(params, x, y, feed_prob, key=None, sample=True):
        carry = model.encode(params, batch=x.shape[0])
        return model.decode(params, carry, y[:, 1:], x, feed_prob=feed_prob, key=key, sample=sample,
                            first_token_B=y[:, 0])[0]

    def loss(feed_prob):
        def fresh_chains_loss(params, _, step_key):  # new chains every step: no training set to overfit
            k_data, k_feed = jax.random.split(step_key)
            x, y = chains(k_data, cfg.batch_size)
            z = logits(params, x, y, feed_prob, k_feed)
            return jnp.mean(softmax_cross_entropy(z.reshape(-1, cfg.n_states), y[:, 1:].reshape(-1)))
        return fresh_chains_loss

    opt = optax.adam(cfg.learning_rate)
    half, rest = cfg.n_steps // 2, cfg.n_steps - cfg.n_steps // 2
    fit = lambda p, feed, k, n, desc: train(loss(feed), p, opt, jnp.zeros((1,)), n_steps=n, noise_key=k,
                                            log_every=max(n // 5, 1), desc=desc)
    p_half, h1 = fit(params0, 0.0, k_tf1, half, "teacher forcing")
    p_tf, h_tf = fit(p_half, 0.0, k_tf2, rest, "teacher forcing")
    p_ss, h_ss = fit(p_half, cfg.feed_prob, k_ss, rest, "scheduled sampling")

    x, y = chains(k_test, cfg.n_test)
    errors = lambda z: np.asarray(jnp.argmax(z, axis=-1) != y[:, 1:])
    out = {"bayes": hmm_bayes_errors(np.asarray(x), np.asarray(y), cfg.jump_prob, cfg.amplitude)}
    for name, p in (("tf", p_tf), ("ss", p_ss)):
        out[name] = {"teacher_forced": errors(logits(p, x, y, 0.0)),
                     "free_running": errors(logits(p, x, y, 1.0, sample=False))}
    out["loss"] = {"tf": np.concatenate([h1["loss"], h_tf["loss"]]),
                   "ss": np.concatenate([h1["loss"], h_ss["loss"]])}
    return out


def _bidirectional(key: jax.Array, cfg: Config) -> dict:
    k_train, k_test, k_init = jax.random.split(key, 3)
    accuracy = {}
    for name, backward in (("unidirectional", None), ("bidirectional", gru(cfg.hidden))):
        init_fn, apply_fn = sequence_model(gru(cfg.hidden), cfg.vocab, backward=backward, readout="sequence")
        params = jax.jit(lambda k, init_fn=init_fn: init_fn(k, (1, cfg.bidi_length, cfg.vocab))[1])(k_init)

        def predict(params, tokens, apply_fn=apply_fn):
            return apply_fn(params, jax.nn.one_hot(tokens, cfg.vocab))[:, :-1]  # the last step has no target

        def fresh_loss(params, _, step_key, predict=predict):
            tokens, target = shifted_tokens(step_key, cfg.batch_size, cfg.bidi_length, cfg.vocab)
            return jnp.mean(softmax_cross_entropy(predict(params, tokens).reshape(-1, cfg.vocab), target.reshape(-1)))

        params, _ = train(fresh_loss, params, optax.adam(1e-2), jnp.zeros((1,)), n_steps=cfg.bidi_steps,
                          noise_key=k_train, log_every=max(cfg.bidi_steps // 5, 1), desc=name)
        tokens, target = shifted_tokens(k_test, cfg.n_test, cfg.bidi_length, cfg.vocab)
        accuracy[name] = np.asarray(jnp.argmax(predict(params, tokens), axis=-1) == target).mean(axis=1)
    return accuracy


def run(cfg: Config) -> Result:
    k_exp, k_bidi = jax.random.split(jax.random.key(cfg.seed))
    ex = _exposure(k_exp, cfg)
    acc = _bidirectional(k_bidi, cfg)
    k = cfg.k_se
    tf_tf, tf_fr = ex["tf"]["teacher_forced"], ex["tf"]["free_running"]
    ss_fr, filt = ex["ss"]["free_running"], ex["bayes"]["filter"]
    below_filter = paired_difference(_late(filt), tf_tf.mean(axis=1))
    grows = paired_difference(_late(tf_fr), tf_fr[:, 0])
    gap = paired_difference(_late(tf_fr), _late(filt))
    ss_gain = paired_difference(_late(tf_fr), _late(ss_fr))
    ss_over_filter = paired_difference(_late(ss_fr), _late(filt))
    bi_gain = paired_difference(acc["bidirectional"], acc["unidirectional"])
    uni, uni_se = mean_and_stderr(acc["unidirectional"])
    claims = [
        Claim.at_least("teacher-forced-error-low", f"teacher-forced model, teacher-forced token error: below the "
                       f"Bayes filter's late error (the least of any free-running predictor) by > {k:g} SE "
                       f"(SE {below_filter[1]:.4f})", k * below_filter[1], below_filter[0]),
        Claim.at_least("free-running-error-grows", f"teacher-forced model run free: error over the last quarter of "
                       f"the steps minus the error at step 1 > {k:g} SE (SE {grows[1]:.4f})", k * grows[1], grows[0]),
        Claim.at_least("exposure-bias-gap", f"teacher-forced model run free: late error minus the Bayes filter's "
                       f"> {k:g} SE (SE {gap[1]:.4f})", k * gap[1], gap[0]),
        Claim.at_least("scheduled-sampling-helps", f"late free-running error, teacher forcing minus scheduled "
                       f"sampling (feed_prob {cfg.feed_prob:g}) > {k:g} SE (SE {ss_gain[1]:.4f})",
                       k * ss_gain[1], ss_gain[0]),
        Claim.at_least("filter-bounds-free-running", f"scheduled-sampling model run free: late error minus the "
                       f"Bayes filter's >= -{k:g} SE (no free-running predictor beats the filter)",
                       -k * ss_over_filter[1], ss_over_filter[0]),
        Claim.at_least("bidirectional-beats-causal", f"target = next input token: accuracy, bidirectional minus "
                       f"unidirectional GRU > {k:g} SE (SE {bi_gain[1]:.4f})", k * bi_gain[1], bi_gain[0]),
        Claim.at_most("causal-at-chance", f"unidirectional accuracy <= chance 1/{cfg.vocab} + {k:g} SE "
                      f"(SE {float(uni_se):.4f})", 1 / cfg.vocab, float(uni), slack=k * float(uni_se)),
    ]
    per_step = {f"{m}_{regime}": ex[m][regime].mean(axis=0).tolist() for m in ("tf", "ss")
                for regime in ("teacher_forced", "free_running")}
    per_step |= {f"bayes_{rule}": v.mean(axis=0).tolist() for rule, v in ex["bayes"].items()}
    metrics = {"late_error": {name: float(_late(v).mean()) for name, v in (
        ("tf_teacher_forced", tf_tf), ("tf_free_running", tf_fr), ("ss_teacher_forced", ex["ss"]["teacher_forced"]),
        ("ss_free_running", ss_fr), ("bayes_filter", filt), ("bayes_teacher_forced", ex["bayes"]["teacher_forced"]),
        ("bayes_tf_rule_free_running", ex["bayes"]["free_running"]))},
        "tf_free_running_minus_bayes_tf_rule_run_free": paired_difference(_late(tf_fr),
                                                                          _late(ex["bayes"]["free_running"])),
        "per_step_error": per_step, "accuracy_unidirectional": float(uni),
        "accuracy_bidirectional": float(acc["bidirectional"].mean()),
        "final_loss": {m: float(np.mean(v[-50:])) for m, v in ex["loss"].items()}}
    return Result(claims, metrics, {"per_step": per_step, "loss": ex["loss"], "accuracy": acc, "vocab": cfg.vocab})


def plot(result: Result):
    d = result.data
    fig, (ax1, ax2, ax3) = subplots(1, 3, width=4.4, title="Sequence learning: exposure bias and bidirectionality")
    styles = {"bayes_free_running": ("Bayes TF rule, run free", "0.75", "-", 5),
              "bayes_teacher_forced": ("Bayes TF rule, fed the truth", "0.75", "-", 5),
              "tf_teacher_forced": ("teacher forcing, fed the truth", "C0", "-", 1.5),
              "tf_free_running": ("teacher forcing, run free", "C0", "--", 1.5),
              "ss_free_running": ("scheduled sampling, run free", "C1", "--", 1.5),
              "bayes_filter": ("Bayes filter (best free-running)", "black", ":", 1.5)}
    for name, (label, color, ls, lw) in styles.items():
        curve = d["per_step"][name]
        ax1.plot(np.arange(1, len(curve) + 1), curve, color=color, ls=ls, lw=lw, label=label)
    ax1.set(xlabel="generated step t", ylabel="token error", title="error vs generated length")
    ax1.legend(fontsize=7)
    for name, color, label in (("tf", "C0", "teacher forcing"), ("ss", "C1", "scheduled sampling")):
        ax2.plot(d["loss"][name], color=color, lw=0.6, label=label)
    ax2.set(xlabel="step", ylabel="training cross-entropy", title="training loss", yscale="log")
    ax2.legend(fontsize=7)
    names = list(d["accuracy"])
    means = [d["accuracy"][n].mean() for n in names]
    ax3.bar(names, means, color=["C0", "C1"])
    ax3.axhline(1 / d["vocab"], color="black", ls=":", label="chance")
    ax3.set(ylabel="accuracy", title="target = next input token")
    ax3.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="sequence-learning",
    description="Exposure bias: a teacher-forced decoder's free-running error grows past the Bayes filter; "
                "scheduled sampling reduces it; a bidirectional RNN beats a causal one on future context.",
    config=Config, run=run, plot=plot)
