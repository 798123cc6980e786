r"""An unsegmented sequence task for CTC: label sequences rendered as noisy frames of unknown durations.

Each of ``C`` tokens has a template :math:`m_c \in \mathbb R^D`. A sequence draws a label string
:math:`\ell \in \{1..C\}^L` (repeats allowed) and renders token :math:`\ell_i` as :math:`d_i` frames
:math:`x_t = m_{\ell_i} + \sigma \varepsilon_t`, separated by :math:`g_i` silent frames :math:`x_t = \sigma
\varepsilon_t` (before the first token and after the last as well), with random durations and gaps. Two equal labels
in a row always get at least one silent frame between them, the analogue of CTC's blank: without it ``a a`` and a
long ``a`` are the same signal. Only :math:`\ell` is given as the target, never the frame positions (Graves et al.
2006's "unsegmented" sequences, as spoken digits without a time alignment). Label 0 is free for the CTC blank.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from dl_theory import checks


class Unsegmented(NamedTuple):
    """Frames with paddings (1.0 = padded) and right-padded label strings, in ``optax.ctc_loss``'s layout."""

    x_BxTxD: jax.Array
    paddings_BxT: jax.Array
    labels_BxN: jax.Array
    label_paddings_BxN: jax.Array


def token_templates(key: jax.Array, n_classes: int, dim: int, norm: float = 1.0) -> jax.Array:
    """``n_classes`` random templates in :math:`\\mathbb R^{dim}` (rows, each of Euclidean norm ``norm``)."""
    checks.count("n_classes", n_classes)
    checks.count("dim", dim)
    checks.positive("norm", norm)
    m = jax.random.normal(key, (n_classes, dim))
    return norm * m / jnp.linalg.norm(m, axis=1, keepdims=True)


def unsegmented_tokens(key: jax.Array, n: int, templates_CxD: jax.Array, *, min_length: int = 1,
                       max_length: int = 5, durations: tuple[int, int] = (2, 4), max_gap: int = 2,
                       noise: float = 1.0) -> Unsegmented:
    """``n`` sequences of the module docstring's task, padded to the longest possible length.

    Args:
      key: PRNG key.
      n: number of sequences.
      templates_CxD: token templates (label ``c`` in 1..C uses row ``c - 1``), e.g. from :func:`token_templates`.
      min_length, max_length: label-string lengths are uniform on ``[min_length, max_length]``.
      durations: frames per token, uniform on ``[lo, hi]``.
      max_gap: silent frames before, between and after tokens, uniform on ``[0, max_gap]`` (at least 1 between equal
        labels).
      noise: standard deviation :math:`\\sigma` of the Gaussian frame noise.

    Returns:
      An :class:`Unsegmented` batch with ``T = max_length * durations[1] + (max_length + 1) * max(max_gap, 1)``
      frames and ``N = max_length`` label slots.
    """
    checks.count("n", n)
    checks.count("min_length", min_length)
    checks.in_interval(min_length, 10**6, closed=True)("max_length", checks.integer("max_length", max_length))
    lo, hi = (checks.count(f"durations[{i}]", d) for i, d in enumerate(durations))
    if hi < lo:
        raise checks.fail("durations", "(lo, hi) with lo <= hi", durations)
    checks.at_least(0)("max_gap", max_gap)
    checks.nonnegative("noise", noise)
    return _render(key, n, jnp.asarray(templates_CxD), min_length, max_length, lo, hi, max_gap, noise)


@functools.partial(jax.jit, static_argnums=(1, 3, 4, 5, 6, 7))
def _render(key: jax.Array, n: int, templates_CxD: jax.Array, min_length: int, max_length: int, lo: int, hi: int,
            max_gap: int, noise: float) -> Unsegmented:
    c, d = templates_CxD.shape
    n_slots, t_max = max_length, max_length * hi + (max_length + 1) * max(max_gap, 1)
    k_len, k_lab, k_dur, k_gap, k_noise = jax.random.split(key, 5)
    length_B = jax.random.randint(k_len, (n,), min_length, max_length + 1)
    labels_BxN = jax.random.randint(k_lab, (n, n_slots), 1, c + 1)
    dur_BxN = jax.random.randint(k_dur, (n, n_slots), lo, hi + 1)
    gap_BxG = jax.random.randint(k_gap, (n, n_slots + 1), 0, max_gap + 1)
    repeat_BxN = jnp.pad(labels_BxN[:, 1:] == labels_BxN[:, :-1], ((0, 0), (1, 0)))
    gap_BxG = gap_BxG.at[:, :-1].set(jnp.where(repeat_BxN, jnp.maximum(gap_BxG[:, :-1], 1), gap_BxG[:, :-1]))
    real_BxN = jnp.arange(n_slots)[None, :] < length_B[:, None]
    dur_BxN = jnp.where(real_BxN, dur_BxN, 0)
    start_BxN = gap_BxG[:, :1] + jnp.cumsum(jnp.pad(dur_BxN + jnp.where(real_BxN, gap_BxG[:, 1:], 0),
                                                    ((0, 0), (1, 0)))[:, :-1], axis=1)
    end_B = jnp.take_along_axis(start_BxN + dur_BxN, length_B[:, None] - 1, axis=1)[:, 0]
    total_B = end_B + jnp.take_along_axis(gap_BxG, length_B[:, None], axis=1)[:, 0]

    t_T = jnp.arange(t_max)
    inside_BxTxN = ((t_T[None, :, None] >= start_BxN[:, None, :])
                    & (t_T[None, :, None] < (start_BxN + dur_BxN)[:, None, :]) & real_BxN[:, None, :])
    token_BxT = jnp.sum(jnp.where(inside_BxTxN, labels_BxN[:, None, :], 0), axis=2)  # 0: silence
    signal = jnp.where(token_BxT[..., None] > 0, templates_CxD[jnp.maximum(token_BxT - 1, 0)], 0.0)
    paddings_BxT = (t_T[None, :] >= total_B[:, None]).astype(jnp.float32)
    x = (signal + noise * jax.random.normal(k_noise, (n, t_max, d))) * (1.0 - paddings_BxT)[..., None]
    return Unsegmented(x, paddings_BxT, jnp.where(real_BxN, labels_BxN, 0), (~real_BxN).astype(jnp.float32))
