r"""Skip-gram word2vec: the full-softmax NLL of the course notes, negative sampling, and cosine nearest neighbours.

Every word :math:`\omega` has an input embedding :math:`x_\omega` and an output embedding :math:`y_\omega` (rows of
``params['x']`` and ``params['y']``, both ``(V, D)``). The skip-gram model predicts a context word from its center
word,

.. math:: p(\nu \mid \omega) = \frac{\exp(x_\omega^\top y_\nu)}{\sum_\mu \exp(x_\omega^\top y_\mu)},
          \qquad \ell_{\omega\nu} = -x_\omega^\top y_\nu + \ln\sum_\mu \exp(x_\omega^\top y_\mu),

summed over the observed (center, context) pairs (:func:`softmax_nll`, the notes' loss; averaged in
:func:`full_softmax_loss`). Its gradient (:func:`softmax_nll_grad`) is
:math:`\partial\ell/\partial x_\omega = \sum_\mu p(\mu\mid\omega) y_\mu - y_\nu` and
:math:`\partial\ell/\partial y_\mu = (p(\mu\mid\omega) - [\mu = \nu])\, x_\omega`.

Negative sampling (Mikolov et al., 2013, "Distributed representations of words and phrases and their
compositionality", NeurIPS) replaces the :math:`V`-way softmax by :math:`k` logistic regressions against noise words
:math:`n_1..n_k \sim P_n` (the unigram distribution to the power 3/4, :func:`unigram_noise`):

.. math:: \ell^{\mathrm{NS}}_{\omega\nu} = -\ln\sigma(x_\omega^\top y_\nu)
          - \sum_{j=1}^k \ln\sigma(-x_\omega^\top y_{n_j}).

Its expectation over pairs and noise is minimized, when the dimension does not constrain the inner products, at
:math:`x_\omega^\top y_\nu = \ln \frac{p(\nu\mid\omega)}{k P_n(\nu)}` (Levy & Goldberg, 2014, "Neural word embedding as
implicit matrix factorization", NeurIPS: shifted PMI :math:`\mathrm{PMI} - \ln k` when :math:`P_n` is the unigram
distribution), see :func:`sgns_optimum`. After training only the input embeddings are used; :func:`nearest_neighbours`
ranks words by cosine similarity and :func:`knn_topic_accuracy` scores them against planted topics.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.typing import Params

__all__ = ["full_softmax_loss", "init_embeddings", "knn_topic_accuracy", "log_context_probs",
           "negative_sampling_loss", "negative_sampling_nll", "nearest_neighbours", "neighbour_purity",
           "sgns_optimum", "softmax_nll", "softmax_nll_grad", "unigram_noise"]


def init_embeddings(key: jax.Array, vocab_size: int, dim: int, scale: float = 0.1) -> dict[str, jax.Array]:
    """Input and output embeddings ``{'x': (V, D), 'y': (V, D)}``, i.i.d. :math:`N(0, \\mathrm{scale}^2/D)` entries."""
    vocab_size = checks.at_least(2)("vocab_size", vocab_size)
    dim = checks.count("dim", dim)
    checks.positive("scale", scale)
    kx, ky = jax.random.split(key)
    std = scale / np.sqrt(dim)
    return {"x": std * jax.random.normal(kx, (vocab_size, dim)), "y": std * jax.random.normal(ky, (vocab_size, dim))}


def log_context_probs(params: Params, centers_P: ArrayLike) -> jax.Array:
    r"""``(P, V)`` log-probabilities :math:`\ln p(\mu \mid \omega_p)` of every word as context of each center."""
    logits = params["x"][jnp.asarray(centers_P)] @ params["y"].T
    return jax.nn.log_softmax(logits, axis=-1)


def softmax_nll(params: Params, centers_P: ArrayLike, contexts_P: ArrayLike) -> jax.Array:
    r"""Per-pair notes' loss :math:`\ell_{\omega\nu} = -x_\omega^\top y_\nu + \ln\sum_\mu \exp(x_\omega^\top y_\mu)`."""
    centers_P, contexts_P = jnp.asarray(centers_P), jnp.asarray(contexts_P)
    x_PxD = params["x"][centers_P]
    logits_PxV = x_PxD @ params["y"].T
    return -jnp.sum(x_PxD * params["y"][contexts_P], axis=-1) + jax.nn.logsumexp(logits_PxV, axis=-1)


def full_softmax_loss(params: Params, counts_VxV: ArrayLike) -> jax.Array:
    r"""The notes' total loss per pair, :math:`\frac{1}{N}\sum_{\omega,\nu} N_{\omega\nu}\,\ell_{\omega\nu}`, from the
    pair counts :math:`N_{\omega\nu}` (:func:`dl_theory.data.corpus.pair_counts`): the mean of :func:`softmax_nll` over
    all pairs, at a cost of one :math:`V \times V` logit matrix instead of one :math:`V`-vector per pair. A full-batch
    loss for :func:`dl_theory.training.train`."""
    counts = jnp.asarray(counts_VxV)
    log_p_VxV = jax.nn.log_softmax(params["x"] @ params["y"].T, axis=-1)
    return -jnp.sum(counts * log_p_VxV) / jnp.sum(counts)


def softmax_nll_grad(params: Params, centers_P: ArrayLike, contexts_P: ArrayLike) -> dict[str, jax.Array]:
    r"""Closed-form gradient of :math:`\sum_p \ell_{\omega_p\nu_p}` w.r.t. both embedding tables.

    With :math:`e_p = \operatorname{softmax}(Y x_{\omega_p}) - \mathbb 1_{\nu_p}` (the residual of the softmax),
    :math:`\partial/\partial x_\omega = \sum_{p:\omega_p=\omega} Y^\top e_p` and
    :math:`\partial/\partial Y = \sum_p e_p x_{\omega_p}^\top`.
    """
    centers_P, contexts_P = jnp.asarray(centers_P), jnp.asarray(contexts_P)
    x_PxD = params["x"][centers_P]
    residual_PxV = jax.nn.softmax(x_PxD @ params["y"].T, axis=-1) - jax.nn.one_hot(
        contexts_P, params["y"].shape[0], dtype=x_PxD.dtype)
    grad_x = jnp.zeros_like(params["x"]).at[centers_P].add(residual_PxV @ params["y"])
    return {"x": grad_x, "y": residual_PxV.T @ x_PxD}


def negative_sampling_nll(params: Params, centers_P: ArrayLike, contexts_P: ArrayLike,
                          negatives_PxK: ArrayLike) -> jax.Array:
    r"""Per-pair :math:`-\ln\sigma(x_\omega^\top y_\nu) - \sum_j \ln\sigma(-x_\omega^\top y_{n_j})` for given noise
    words ``negatives_PxK`` (``jax.nn.log_sigmoid``, stable for large margins)."""
    centers_P, contexts_P, negatives_PxK = (jnp.asarray(a) for a in (centers_P, contexts_P, negatives_PxK))
    x_PxD = params["x"][centers_P]
    positive_P = jnp.sum(x_PxD * params["y"][contexts_P], axis=-1)
    negative_PxK = jnp.einsum("pd,pkd->pk", x_PxD, params["y"][negatives_PxK])
    return -jax.nn.log_sigmoid(positive_P) - jnp.sum(jax.nn.log_sigmoid(-negative_PxK), axis=-1)


def unigram_noise(tokens: ArrayLike, vocab_size: int, power: float = 0.75) -> jax.Array:
    r"""The noise distribution :math:`P_n(w) \propto \mathrm{count}(w)^{\mathrm{power}}` (Mikolov et al. use 3/4)."""
    vocab_size = checks.at_least(2)("vocab_size", vocab_size)
    checks.nonnegative("power", power)
    counts = jnp.bincount(jnp.ravel(jnp.asarray(tokens)), length=vocab_size).astype(jnp.result_type(float))
    weights = jnp.where(counts > 0, counts ** power, 0.0)
    return weights / jnp.sum(weights)


def negative_sampling_loss(noise_V: ArrayLike, n_negative: int,
                           batch_size: int) -> Callable[[Params, ArrayLike, jax.Array], jax.Array]:
    """``loss(params, counts_VxV, key)``: stochastic skip-gram with negative sampling. Each call draws
    ``batch_size`` (center, context) pairs with replacement in proportion to the pair counts and ``n_negative`` noise
    words per pair from ``noise_V``, and returns the mean :func:`negative_sampling_nll` (a loss with a ``noise_key``
    for :func:`dl_theory.training.train`, fed the full count matrix)."""
    n_negative = checks.count("n_negative", n_negative)
    batch_size = checks.count("batch_size", batch_size)
    checks.nonnegative("noise_V", noise_V)
    noise_cdf = jnp.cumsum(jnp.asarray(noise_V))

    def loss(params: Params, counts_VxV: ArrayLike, key: jax.Array) -> jax.Array:
        counts = jnp.asarray(counts_VxV)
        vocab_size = counts.shape[0]
        k_pairs, k_noise = jax.random.split(key)
        flat = _inverse_cdf(k_pairs, jnp.cumsum(counts.reshape(-1)), (batch_size,))
        negatives = _inverse_cdf(k_noise, noise_cdf, (batch_size, n_negative))
        return jnp.mean(negative_sampling_nll(params, flat // vocab_size, flat % vocab_size, negatives))

    return loss


def _inverse_cdf(key: jax.Array, cdf: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Indices drawn from the distribution with unnormalized cumulative weights ``cdf`` (inverse-CDF sampling: a
    binary search per draw, instead of a Gumbel variate per category)."""
    u = jax.random.uniform(key, shape, dtype=cdf.dtype) * cdf[-1]
    return jnp.minimum(jnp.searchsorted(cdf, u, side="right"), cdf.shape[0] - 1)


def sgns_optimum(context_VxV: ArrayLike, noise_V: ArrayLike, n_negative: int) -> np.ndarray:
    r"""The inner products :math:`x_\omega^\top y_\nu = \ln p(\nu\mid\omega) - \ln(k P_n(\nu))` that minimize the
    expected negative-sampling loss pair by pair (Levy & Goldberg, 2014); ``-inf`` where :math:`p(\nu\mid\omega) = 0`.

    Setting the derivative of :math:`p(\nu\mid\omega)\ln\sigma(s) + k P_n(\nu)\ln\sigma(-s)` in :math:`s` to zero gives
    :math:`\sigma(s)/\sigma(-s) = e^s = p(\nu\mid\omega)/(k P_n(\nu))`.
    """
    n_negative = checks.count("n_negative", n_negative)
    p, noise = np.asarray(context_VxV, float), np.asarray(noise_V, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, np.log(p) - np.log(n_negative * noise)[None, :], -np.inf)


def _cosine_similarity(emb_VxD: ArrayLike) -> jax.Array:
    unit = jnp.asarray(emb_VxD) / jnp.linalg.norm(jnp.asarray(emb_VxD), axis=-1, keepdims=True)
    return unit @ unit.T


def nearest_neighbours(emb_VxD: ArrayLike, k: int) -> jax.Array:
    """``(V, k)`` indices of each word's ``k`` nearest other words by cosine similarity (most similar first)."""
    k = checks.count("k", k)
    emb = jnp.asarray(emb_VxD)
    if emb.ndim != 2 or k >= emb.shape[0]:
        raise checks.fail("k", f"< the number of words {emb.shape[0] if emb.ndim == 2 else '?'}", k)
    sim = _cosine_similarity(emb).at[jnp.diag_indices(emb.shape[0])].set(-jnp.inf)
    return jax.lax.top_k(sim, k)[1]


def neighbour_purity(emb_VxD: ArrayLike, topic_V: ArrayLike, k: int) -> float:
    """Fraction of the ``k`` cosine nearest neighbours that share the word's topic, over the words with a topic
    (``topic_V >= 0``; neighbours are searched among those words only)."""
    emb, topic = _labelled(emb_VxD, topic_V)
    neighbours = nearest_neighbours(emb, k)
    return float(jnp.mean(topic[neighbours] == topic[:, None]))


def knn_topic_accuracy(emb_VxD: ArrayLike, topic_V: ArrayLike, k: int) -> float:
    """Leave-one-out accuracy of predicting each word's topic by majority vote of its ``k`` cosine nearest
    neighbours (ties to the smallest topic id), over the words with a topic. Chance is 1/K for K equal topics."""
    emb, topic = _labelled(emb_VxD, topic_V)
    neighbours = nearest_neighbours(emb, k)
    votes = jax.nn.one_hot(topic[neighbours], int(jnp.max(topic)) + 1).sum(axis=1)
    return float(jnp.mean(jnp.argmax(votes, axis=-1) == topic))


def _labelled(emb_VxD: ArrayLike, topic_V: ArrayLike) -> tuple[jax.Array, jax.Array]:
    emb, topic = jnp.asarray(emb_VxD), jnp.asarray(topic_V)
    if emb.ndim != 2 or topic.shape != emb.shape[:1]:
        raise checks.fail("topic_V", f"of shape ({emb.shape[0] if emb.ndim else '?'},) matching emb_VxD",
                          topic.shape)
    keep = np.asarray(topic) >= 0
    return emb[keep], topic[keep]

