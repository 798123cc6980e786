r"""Sequence tasks for output feedback and bidirectionality, with their exact Bayes references.

* :func:`counting_hmm` -- a hidden Markov chain on ``m`` states that counts, :math:`y_t = y_{t-1} + 1 \bmod m`, except
  that with probability ``jump_prob`` it jumps to a uniform state, observed through
  :math:`x_t = a\, e_{y_t} + \varepsilon_t`, :math:`\varepsilon_t \sim \mathcal N(0, I_m)`. Given the true
  :math:`y_{t-1}` the next state is nearly certain, so a model trained with teacher forcing learns to trust its fed-back
  token; run free, it trusts its own mistakes. :func:`hmm_bayes_errors` gives the exact references: the error of the
  teacher-forced Bayes rule :math:`\arg\max p(y_t \mid y_{t-1}, x_t)`, of the same rule fed its own outputs, and of
  the forward filter :math:`\arg\max p(y_t \mid y_0, x_{1..t})`, the least error of any predictor that sees only
  :math:`y_0` and the inputs (every free-running model is one).
* :func:`shifted_tokens` -- uniform tokens whose target at step t is the input at step t + ``shift``: a causal model
  cannot beat chance, :math:`1/m`, because that token is independent of everything it has seen.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from dl_theory import checks


def counting_transition(n_states: int, jump_prob: float) -> np.ndarray:
    """The chain's transition matrix :math:`P_{ij} = (1 - p)[j = i + 1 \\bmod m] + p/m`."""
    return (1 - jump_prob) * np.roll(np.eye(n_states), 1, axis=1) + jump_prob / n_states


def counting_hmm(key: jax.Array, n: int, length: int, n_states: int, jump_prob: float,
                 amplitude: float) -> tuple[jax.Array, jax.Array]:
    """``n`` chains of ``length`` steps after a start state: ``(x_BxTxM, y_Bx(T+1))``, ``y[:, 0]`` being the start
    :math:`y_0` (uniform, given to the model) and ``x[:, t-1]`` observing ``y[:, t]``."""
    checks.count("n", n)
    checks.count("length", length)
    checks.at_least(2)("n_states", n_states)
    checks.unit_interval("jump_prob", jump_prob)
    checks.nonnegative("amplitude", amplitude)
    return _counting_hmm(key, n, length, n_states, float(jump_prob), float(amplitude))


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _counting_hmm(key, n, length, n_states, jump_prob, amplitude):
    k0, k_jump, k_to, k_noise = jax.random.split(key, 4)
    y0 = jax.random.randint(k0, (n,), 0, n_states)
    jumps = jax.random.bernoulli(k_jump, jump_prob, (length, n))
    targets = jax.random.randint(k_to, (length, n), 0, n_states)

    def step(y, xs):
        jump, to = xs
        y = jnp.where(jump, to, (y + 1) % n_states)
        return y, y

    _, y_TxB = jax.lax.scan(step, y0, (jumps, targets))
    y = jnp.concatenate([y0[:, None], y_TxB.T], axis=1)
    x = amplitude * jax.nn.one_hot(y[:, 1:], n_states) + jax.random.normal(k_noise, (n, length, n_states))
    return x, y


def hmm_bayes_errors(x_BxTxM: np.ndarray, y_Bx1T: np.ndarray, jump_prob: float,
                     amplitude: float) -> dict[str, np.ndarray]:
    """Per-step error indicators ``(B, T)`` of the exact rules of the module docstring on the given chains:
    ``"teacher_forced"``, ``"free_running"`` (the teacher-forced rule fed its own outputs) and ``"filter"``."""
    x, y = np.asarray(x_BxTxM, np.float64), np.asarray(y_Bx1T)
    m = x.shape[-1]
    log_p = np.log(counting_transition(m, jump_prob))
    loglik = amplitude * x  # log N(x; a e_k, I) up to a constant in k
    tf = np.argmax(log_p[y[:, :-1]] + loglik, axis=-1) != y[:, 1:]
    own, log_f = y[:, 0], np.log(np.eye(m)[y[:, 0]] + 1e-300)
    fr, filt = np.zeros_like(tf), np.zeros_like(tf)
    for t in range(x.shape[1]):
        own = np.argmax(log_p[own] + loglik[:, t], axis=-1)
        log_f = np.logaddexp.reduce(log_f[:, :, None] + log_p[None], axis=1) + loglik[:, t]
        log_f -= np.max(log_f, axis=1, keepdims=True)
        fr[:, t], filt[:, t] = own != y[:, t + 1], np.argmax(log_f, axis=1) != y[:, t + 1]
    return {"teacher_forced": tf, "free_running": fr, "filter": filt}


def shifted_tokens(key: jax.Array, n: int, length: int, vocab: int, shift: int = 1) -> tuple[jax.Array, jax.Array]:
    """Uniform tokens ``x_BxT`` and targets ``y_Bx(T-shift)`` with ``y[:, t] = x[:, t + shift]``."""
    checks.count("n", n)
    checks.at_least(2)("vocab", vocab)
    checks.count("shift", shift)
    checks.at_least(shift + 1)("length", length)
    x = jax.random.randint(key, (n, length), 0, vocab)
    return x, x[:, shift:]
