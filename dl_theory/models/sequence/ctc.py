r"""Connectionist temporal classification (Graves et al. 2006): the collapse map, the loss and its decoders.

A network emits a distribution :math:`y_t` over ``K`` symbols (the labels and a blank) at every frame. A path
:math:`\pi \in \{0..K-1\}^T` is read as a labelling by the collapse map :math:`\mathcal B`, which merges runs of the
same symbol and then drops the blanks (``a a - a b b -`` becomes ``a a b``). The probability of a labelling
:math:`\ell` is the sum over every path that collapses to it,

.. math:: p(\ell \mid x) = \sum_{\pi \in \mathcal B^{-1}(\ell)} \prod_{t=1}^T y^t_{\pi_t},

computed by the forward recursion over the extended label :math:`\ell' = (-, \ell_1, -, \ell_2, \dots, \ell_L, -)`
of length :math:`S = 2L + 1`: with :math:`\alpha_0 = \delta_{s,0}` (a virtual start in the leading blank),

.. math:: \alpha_t(s) = y^t_{\ell'_s} \big[\alpha_{t-1}(s) + \alpha_{t-1}(s-1)
          + [\ell'_s \neq - \wedge \ell'_s \neq \ell'_{s-2}]\, \alpha_{t-1}(s-2)\big],

and :math:`p(\ell \mid x) = \alpha_T(S-1) + \alpha_T(S-2)`. The skip from :math:`s-2` passes over a blank, which a
path may only do between different labels: two equal labels in a row need a blank between them, so a target with
:math:`r` adjacent repeats needs :math:`T \ge L + r` frames. Shorter inputs give :math:`p = 0`: the loss is
:math:`+\infty` (``optax.ctc_loss`` returns a large finite value there, about :math:`-` its ``log_epsilon``
:math:`= 10^5` plus the log-probabilities). Everything runs in log space.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks


def collapse(path: ArrayLike, blank_id: int = 0) -> list[int]:
    """The collapse map :math:`\\mathcal B`: merge runs of repeated symbols, then drop the blanks."""
    path = np.asarray(path).ravel().tolist()
    merged = [s for i, s in enumerate(path) if i == 0 or s != path[i - 1]]
    return [int(s) for s in merged if s != blank_id]


def _validate(logits_BxTxK: jax.Array, logit_paddings_BxT: jax.Array, labels_BxN: jax.Array,
              label_paddings_BxN: jax.Array, blank_id: int) -> None:
    if logits_BxTxK.ndim != 3 or logits_BxTxK.shape[1] == 0:
        raise checks.fail("logits_BxTxK", "a (batch, time, classes) array with time >= 1", logits_BxTxK.shape)
    b, t, k = logits_BxTxK.shape
    if logit_paddings_BxT.shape != (b, t):
        raise checks.fail("logit_paddings_BxT", f"of shape {(b, t)} (batch, time of the logits)",
                          logit_paddings_BxT.shape)
    if labels_BxN.ndim != 2 or labels_BxN.shape[0] != b:
        raise checks.fail("labels_BxN", f"a ({b}, N) array (the logits' batch)", labels_BxN.shape)
    if label_paddings_BxN.shape != labels_BxN.shape:
        raise checks.fail("label_paddings_BxN", f"of the labels' shape {labels_BxN.shape}", label_paddings_BxN.shape)
    if not 0 <= blank_id < k:
        raise checks.fail("blank_id", f"a class index in [0, {k})", blank_id)
    labels, pads = checks.concrete(labels_BxN), checks.concrete(label_paddings_BxN)
    if labels is None or pads is None:
        return
    real = labels[pads == 0]
    bad = real[(real < 0) | (real >= k) | (real == blank_id)]
    if bad.size:
        raise checks.fail("labels_BxN", f"class ids in [0, {k}) other than the blank {blank_id} (padding excluded)",
                          bad)


def _logsumexp3(a: jax.Array, b: jax.Array, c: jax.Array) -> jax.Array:
    """log(e^a + e^b + e^c) with exact zeros: -inf where all three are -inf, and no NaN gradient there."""
    m = jax.lax.stop_gradient(jnp.maximum(jnp.maximum(a, b), c))
    m = jnp.where(jnp.isfinite(m), m, 0.0)
    total = jnp.exp(a - m) + jnp.exp(b - m) + jnp.exp(c - m)
    positive = total > 0
    return jnp.where(positive, m + jnp.log(jnp.where(positive, total, 1.0)), -jnp.inf)


def _shift(x_BxS: jax.Array, by: int, fill: float = -jnp.inf) -> jax.Array:
    """``x[:, s - by]`` with ``fill`` (by default -inf, the log of zero) shifted in on the left."""
    return jnp.pad(x_BxS, ((0, 0), (by, 0)), constant_values=fill)[:, :x_BxS.shape[1]]


@jax.jit
def _forward(logprobs_BxTxK: jax.Array, logit_paddings_BxT: jax.Array, extended_BxS: jax.Array,
             skip_BxS: jax.Array) -> jax.Array:
    """log alpha_T(s) for every extended position s; padded frames leave alpha unchanged."""
    b, _, _ = logprobs_BxTxK.shape
    emit_TxBxS = jnp.take_along_axis(logprobs_BxTxK, extended_BxS[:, None, :], axis=2).transpose(1, 0, 2)
    alpha0 = jnp.full(extended_BxS.shape, -jnp.inf, logprobs_BxTxK.dtype).at[:, 0].set(0.0)

    def step(alpha_BxS, inputs):
        emit_BxS, pad_B = inputs
        skip = jnp.where(skip_BxS, _shift(alpha_BxS, 2), -jnp.inf)
        new = emit_BxS + _logsumexp3(alpha_BxS, _shift(alpha_BxS, 1), skip)
        return jnp.where(pad_B[:, None] > 0, alpha_BxS, new), None

    alpha_BxS, _ = jax.lax.scan(step, alpha0, (emit_TxBxS, logit_paddings_BxT.T))
    return alpha_BxS


def ctc_loss(logits_BxTxK: ArrayLike, logit_paddings_BxT: ArrayLike, labels_BxN: ArrayLike,
             label_paddings_BxN: ArrayLike, blank_id: int = 0) -> jax.Array:
    r"""Per-sequence CTC negative log-likelihood :math:`-\log p(\ell \mid x)`, with ``optax.ctc_loss``'s conventions.

    Args:
      logits_BxTxK: unnormalized scores of ``K`` classes (the blank included) at ``T`` frames; a log-softmax over
        the last axis gives :math:`\log y^t`.
      logit_paddings_BxT: 1.0 marks a padded frame (skipped), 0.0 a real one.
      labels_BxN: integer labels, right-padded; a real label is in ``[0, K)`` and is not ``blank_id``.
      label_paddings_BxN: 1.0 marks a padded label; each row is zeros followed by ones.
      blank_id: the blank's class index.

    Returns:
      A (B,) array of :math:`-\log p(\ell_b \mid x_b)`; :math:`+\infty` for a target that no path of the unpadded
      frames reaches (too few frames for the labels and the blanks between repeats).

    Raises:
      ValueError: shapes that do not match, ``T = 0``, or (when concrete) a real label out of range or equal to the
        blank.
    """
    logits_BxTxK, logit_paddings_BxT = jnp.asarray(logits_BxTxK), jnp.asarray(logit_paddings_BxT)
    labels_BxN, label_paddings_BxN = jnp.asarray(labels_BxN), jnp.asarray(label_paddings_BxN)
    _validate(logits_BxTxK, logit_paddings_BxT, labels_BxN, label_paddings_BxN, blank_id)
    b, n = labels_BxN.shape
    labels_BxN = jnp.where(label_paddings_BxN > 0, blank_id, labels_BxN).astype(jnp.int32)
    extended_BxS = jnp.full((b, 2 * n + 1), blank_id, jnp.int32).at[:, 1::2].set(labels_BxN)
    is_label = jnp.zeros((b, 2 * n + 1), bool).at[:, 1::2].set(True)
    skip_BxS = is_label & (extended_BxS != _shift(extended_BxS, 2, fill=-1))
    logprobs = jax.nn.log_softmax(logits_BxTxK, axis=-1)
    alpha_BxS = _forward(logprobs, logit_paddings_BxT.astype(logprobs.dtype), extended_BxS, skip_BxS)
    length_B = n - jnp.sum(label_paddings_BxN, axis=1).astype(jnp.int32)
    last = jnp.take_along_axis(alpha_BxS, 2 * length_B[:, None], axis=1)[:, 0]
    before = jnp.take_along_axis(alpha_BxS, jnp.maximum(2 * length_B - 1, 0)[:, None], axis=1)[:, 0]
    before = jnp.where(length_B > 0, before, -jnp.inf)
    return -_logsumexp3(last, before, jnp.full_like(last, -jnp.inf))


def _frames(logits_BxTxK: ArrayLike, logit_paddings_BxT: ArrayLike, blank_id: int) -> list[np.ndarray]:
    """Per sequence, the (T_b, K) log-probabilities of its unpadded frames."""
    logits, pads = np.asarray(logits_BxTxK), np.asarray(logit_paddings_BxT)
    _validate(jnp.asarray(logits), jnp.asarray(pads), jnp.zeros((logits.shape[0], 0), jnp.int32),
              jnp.zeros((logits.shape[0], 0)), blank_id)
    logprobs = np.asarray(jax.nn.log_softmax(jnp.asarray(logits), axis=-1), np.float64)
    return [lp[pad == 0] for lp, pad in zip(logprobs, pads, strict=True)]


def greedy_decode(logits_BxTxK: ArrayLike, logit_paddings_BxT: ArrayLike, blank_id: int = 0) -> list[list[int]]:
    r"""Best-path decoding: :math:`\mathcal B(\arg\max_k y^t_k)` over the unpadded frames of every sequence.

    The most probable path need not collapse to the most probable labelling; see :func:`beam_search_decode`.
    """
    return [collapse(np.argmax(lp, axis=1), blank_id) for lp in _frames(logits_BxTxK, logit_paddings_BxT, blank_id)]


def _accumulate(beams: dict[tuple[int, ...], list[float]], prefix: tuple[int, ...], which: int, value: float) -> None:
    entry = beams.setdefault(prefix, [-np.inf, -np.inf])
    entry[which] = np.logaddexp(entry[which], value)


def beam_search_decode(logits_BxTxK: ArrayLike, logit_paddings_BxT: ArrayLike, beam_width: int = 8,
                       blank_id: int = 0) -> list[tuple[list[int], float]]:
    r"""Prefix beam search (Graves 2012, §7.5; Hannun et al. 2014): the most probable labelling and its log-probability.

    Every prefix :math:`\ell` keeps the probabilities :math:`p_b(\ell)` and :math:`p_{nb}(\ell)` of the paths of
    the frames so far that collapse to :math:`\ell` and end in a blank or in :math:`\ell`'s last label. A frame
    extends :math:`\ell` by a label :math:`c` from both, except a repeat :math:`c = \ell_{-1}`, which only a path
    ending in a blank may extend (without one it merges into :math:`\ell`). After each frame the ``beam_width``
    prefixes of largest :math:`p_b + p_{nb}` are kept. Without pruning (a beam as wide as the number of prefixes)
    :math:`p_b + p_{nb}` is exactly :math:`p(\ell \mid x)` and the result is the most probable labelling.

    Returns:
      Per sequence, ``(labelling, log p)`` of the best prefix in the final beam.
    """
    checks.count("beam_width", beam_width)
    decoded = []
    for lp in _frames(logits_BxTxK, logit_paddings_BxT, blank_id):
        beams = {(): (0.0, -np.inf)}
        for frame in lp:
            grown: dict[tuple[int, ...], list[float]] = {}
            add = functools.partial(_accumulate, grown)
            for prefix, (p_b, p_nb) in beams.items():
                add(prefix, 0, np.logaddexp(p_b, p_nb) + frame[blank_id])
                if prefix:
                    add(prefix, 1, p_nb + frame[prefix[-1]])
                for c in range(len(frame)):
                    if c != blank_id:
                        from_paths = p_b if prefix and c == prefix[-1] else np.logaddexp(p_b, p_nb)
                        add((*prefix, c), 1, from_paths + frame[c])
            best = sorted(grown.items(), key=lambda item: -np.logaddexp(*item[1]))[:beam_width]
            beams = {prefix: tuple(value) for prefix, value in best}
        prefix, value = max(beams.items(), key=lambda item: np.logaddexp(*item[1]))
        decoded.append((list(prefix), float(np.logaddexp(*value))))
    return decoded


def edit_distance(a: ArrayLike, b: ArrayLike) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions that turn ``a`` into ``b``."""
    a, b = np.asarray(a).ravel().tolist(), np.asarray(b).ravel().tolist()
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        diagonal, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (x != y))
    return row[-1]


def label_error_rate(decoded: list[list[int]], references: list[list[int]]) -> float:
    """Total edit distance over total reference length (Graves et al. 2006)."""
    if len(decoded) != len(references):
        raise checks.fail("decoded", f"one labelling per reference ({len(references)})", len(decoded))
    total = sum(len(r) for r in references)
    if total == 0:
        raise checks.fail("references", "labellings of positive total length", references)
    return sum(edit_distance(d, r) for d, r in zip(decoded, references, strict=True)) / total
