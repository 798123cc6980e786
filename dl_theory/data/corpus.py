r"""A text corpus with planted structure, generated offline, and the skip-gram (center, context) pairs of a corpus.

:func:`planted_corpus` writes ``n_sentences`` sentences of ``sentence_length`` tokens over a vocabulary of
``n_topics * words_per_topic`` content words (word ``w`` belongs to topic ``w // words_per_topic``) followed by
``n_function_words`` function words (topic ``-1``). Each sentence draws one topic :math:`t` uniformly; each of its
tokens is, independently, a uniform function word with probability :math:`p_f` and a uniform content word of topic
:math:`t` otherwise. The context distribution of every center word is then known in closed form
(:func:`context_distribution`): for a content word of topic :math:`t`

.. math:: p(\nu \mid \omega) = \begin{cases} p_f / F & \nu \text{ a function word}\\
          (1 - p_f)/m & \nu \text{ a content word of topic } t \\ 0 & \text{otherwise,} \end{cases}

and for a function word the topic is marginalized: :math:`(1-p_f)/(K m)` for every content word (:math:`F` function
words, :math:`K` topics of :math:`m` words). Words of one topic share their contexts, which is what the
distributional hypothesis (Harris, 1954) and word2vec (Mikolov et al., 2013) turn into nearby embeddings.

:func:`skipgram_pairs` lists every (center, context) pair at distance :math:`1 \le |d| \le` ``window`` within a
sentence, the training set of the skip-gram model (:mod:`dl_theory.models.word2vec`); :func:`pair_counts` tallies
them into the co-occurrence matrix on which the skip-gram losses depend.
"""

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks

__all__ = ["Corpus", "context_distribution", "pair_counts", "planted_corpus", "skipgram_pairs"]


class Corpus(NamedTuple):
    """Sentences of token ids and the planted topic of every word.

    Attributes:
      tokens_SxL: ``(n_sentences, sentence_length)`` int32 token ids in ``[0, vocab_size)``.
      topic_V: ``(vocab_size,)`` int32 topic of every word, ``-1`` for function words.
      p_function: probability that a token is a function word.
    """

    tokens_SxL: jax.Array
    topic_V: jax.Array
    p_function: float

    @property
    def vocab_size(self) -> int:
        return int(self.topic_V.shape[0])

    @property
    def n_topics(self) -> int:
        return int(jnp.max(self.topic_V)) + 1


def planted_corpus(key: jax.Array, *, n_topics: int = 5, words_per_topic: int = 20, n_function_words: int = 10,
                   n_sentences: int = 2000, sentence_length: int = 10, p_function: float = 0.3) -> Corpus:
    """Sentences drawn from one topic each, plus function words shared by all topics (module docstring).

    Args:
      key: PRNG key.
      n_topics: number of planted topics (clusters of words), >= 2.
      words_per_topic: content words per topic, >= 2.
      n_function_words: words that occur in every topic (>= 0).
      n_sentences: number of sentences.
      sentence_length: tokens per sentence, >= 2.
      p_function: probability that a token is a function word, in [0, 1) (0 when ``n_function_words`` is 0).
    """
    n_topics = checks.at_least(2)("n_topics", n_topics)
    words_per_topic = checks.at_least(2)("words_per_topic", words_per_topic)
    n_function_words = checks.at_least(0)("n_function_words", n_function_words)
    n_sentences = checks.count("n_sentences", n_sentences)
    sentence_length = checks.at_least(2)("sentence_length", sentence_length)
    checks.scalar("p_function", p_function)
    if not 0.0 <= p_function < (1.0 if n_function_words else 1e-300):
        raise checks.fail("p_function", "in [0, 1)" if n_function_words else "0 without function words", p_function)
    tokens = _sample_tokens(key, n_topics, words_per_topic, n_function_words, n_sentences, sentence_length,
                            p_function)
    topic_V = jnp.concatenate([jnp.repeat(jnp.arange(n_topics), words_per_topic),
                               jnp.full((n_function_words,), -1)]).astype(jnp.int32)
    return Corpus(tokens.astype(jnp.int32), topic_V, float(p_function))


@partial(jax.jit, static_argnums=(1, 2, 3, 4, 5))
def _sample_tokens(key: jax.Array, n_topics: int, words_per_topic: int, n_function_words: int, n_sentences: int,
                   sentence_length: int, p_function: float) -> jax.Array:
    k_topic, k_function, k_word, k_fword = jax.random.split(key, 4)
    shape = (n_sentences, sentence_length)
    topic_S = jax.random.randint(k_topic, (n_sentences,), 0, n_topics)
    tokens = topic_S[:, None] * words_per_topic + jax.random.randint(k_word, shape, 0, words_per_topic)
    if n_function_words:
        function = n_topics * words_per_topic + jax.random.randint(k_fword, shape, 0, n_function_words)
        tokens = jnp.where(jax.random.bernoulli(k_function, p_function, shape), function, tokens)
    return tokens


def context_distribution(topic_V: ArrayLike, p_function: float) -> np.ndarray:
    """The exact ``(V, V)`` matrix of :math:`p(\\nu \\mid \\omega)` of :func:`planted_corpus` (rows sum to 1)."""
    topic_V = np.asarray(topic_V)
    is_function = topic_V < 0
    n_function = int(is_function.sum())
    n_topics = int(topic_V.max()) + 1
    per_topic = np.bincount(topic_V[~is_function], minlength=n_topics)
    p_function = float(p_function) if n_function else 0.0
    content_size = np.where(is_function, 1, per_topic[np.maximum(topic_V, 0)])  # m_t of each content word
    same = (topic_V[:, None] == topic_V[None, :]) & ~is_function[None, :]
    p = np.where(same, (1 - p_function) / content_size[None, :], 0.0)
    p[np.ix_(is_function, ~is_function)] = (1 - p_function) / (n_topics * content_size[None, ~is_function])
    if n_function:
        p[:, is_function] = p_function / n_function
    return p


def skipgram_pairs(tokens_SxL: ArrayLike, window: int) -> tuple[jax.Array, jax.Array]:
    r"""Every (center, context) pair at offset :math:`1 \le |d| \le` ``window`` inside a sentence.

    A sentence of :math:`L` tokens gives :math:`\sum_{d=1}^{w} 2(L - d)` pairs; pairs never cross sentences.

    Args:
      tokens_SxL: ``(S, L)`` token ids (one sentence per row), or one sentence ``(L,)``.
      window: the largest offset :math:`w`; every sentence needs more than ``window`` words.

    Returns:
      ``(centers_P, contexts_P)`` with ``P = S * w * (2L - w - 1)``, ordered by offset, then sentence, then position.

    Raises:
      ValueError: ``window`` < 1, or sentences of ``L <= window`` words (no pair at the largest offset).
    """
    window = checks.count("window", window)
    tokens = jnp.asarray(tokens_SxL)
    if tokens.ndim == 1:
        tokens = tokens[None]
    if tokens.ndim != 2 or not jnp.issubdtype(tokens.dtype, jnp.integer):
        raise checks.fail("tokens_SxL", "integer token ids of shape (S, L) or (L,)",
                          f"{tokens.dtype} array of shape {tokens.shape}")
    length = tokens.shape[1]
    if length <= window:
        raise checks.fail("tokens_SxL", f"sentences of more than window={window} words", f"{length} words")
    centers, contexts = [], []
    for d in range(1, window + 1):
        left, right = tokens[:, :-d].reshape(-1), tokens[:, d:].reshape(-1)
        centers += [left, right]
        contexts += [right, left]
    return jnp.concatenate(centers), jnp.concatenate(contexts)


def pair_counts(centers_P: ArrayLike, contexts_P: ArrayLike, vocab_size: int) -> jax.Array:
    r"""The ``(V, V)`` co-occurrence counts :math:`N_{\omega\nu} = \#\{p : \omega_p = \omega, \nu_p = \nu\}`."""
    vocab_size = checks.count("vocab_size", vocab_size)
    flat = jnp.asarray(centers_P) * vocab_size + jnp.asarray(contexts_P)
    return jnp.bincount(flat, length=vocab_size * vocab_size).reshape(vocab_size, vocab_size).astype(
        jnp.result_type(float))
