r"""Dropout: random masks, inverted dropout, the masked sub-network and the weight-scaling inference rule.

Dropout (Srivastava et al., 2014, "Dropout: a simple way to prevent neural networks from overfitting", JMLR 15)
keeps each unit with probability :math:`\pi = 1 - \text{rate}` during training, so a network with :math:`d` droppable
units trains an ensemble of :math:`2^d` weight-sharing sub-networks :math:`f(x; m)`, :math:`m \in \{0,1\}^d`,
weighted by :math:`P(m) = \pi^{|m|}(1-\pi)^{d-|m|}`. At test time the notes' weight-scaling rule multiplies the
weights leaving a dropped unit by :math:`\pi` (:func:`weight_scaled`), i.e. feeds every layer its expected input
:math:`\pi h` instead of :math:`m \odot h`. Inverted dropout (:func:`inverted_dropout`, what ``flax.linen.Dropout``
does) divides by :math:`\pi` during training instead, so that inference uses the weights unchanged.

For a model linear in the dropped units, :math:`\mathbb E_m f(x; m) = f(x; \pi)` exactly (linearity of expectation);
for a softmax of such a model the weight-scaled output is exactly the renormalized weighted *geometric* mean of the
sub-networks' class probabilities (:func:`normalized_geometric_mean`; Baldi & Sadowski, 2013, "Understanding dropout",
NeurIPS), because :math:`\log\operatorname{softmax}` is the logits up to a class-independent constant. Through a
nonlinearity the weight-scaled output only approximates the ensemble mean. :func:`all_masks` and
:func:`mask_probabilities` enumerate the :math:`2^d` ensemble for exact averages.
"""

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks

__all__ = ["all_masks", "check_rate", "dropout_mask", "dropout_mlp_apply", "inverted_dropout", "mask_probabilities",
           "normalized_geometric_mean", "weight_scaled"]

Layer = dict[str, jax.Array]


def check_rate(name: str, rate: float) -> float:
    """A dropout rate must be a real number in [0, 1) (rate 1 would drop everything and divide by zero)."""
    if not 0.0 <= checks.scalar(name, rate) < 1.0:
        raise checks.fail(name, "in [0, 1)", rate)
    return float(rate)


def dropout_mask(key: jax.Array, shape: Sequence[int], rate: float) -> jax.Array:
    """A float 0/1 mask, every entry 1 (kept) independently with probability ``1 - rate``."""
    keep = 1.0 - check_rate("rate", rate)
    return jax.random.bernoulli(key, keep, tuple(shape)).astype(jnp.result_type(float))


def inverted_dropout(key: jax.Array, x: ArrayLike, rate: float, *, deterministic: bool = False) -> jax.Array:
    r"""Training-time inverted dropout :math:`m \odot x / \pi`, :math:`m_i \sim \mathrm{Bernoulli}(\pi)`,
    :math:`\pi = 1 - \text{rate}` (so :math:`\mathbb E[\cdot] = x`); the identity when ``deterministic`` or rate 0."""
    rate = check_rate("rate", rate)
    x = jnp.asarray(x)
    if deterministic or rate == 0.0:
        return x
    return x * dropout_mask(key, x.shape, rate) / (1.0 - rate)


def dropout_mlp_apply(params: list[Layer], x_NxD: ArrayLike, masks: Sequence[ArrayLike], *,
                      activation: Callable[[jax.Array], jax.Array] = jnp.tanh) -> jax.Array:
    r"""The sub-network of a :func:`dl_theory.models.mlp.dense_mlp` with layer ``l``'s input multiplied by
    ``masks[l]``: :math:`h_{l+1} = \phi((m_l \odot h_l) W_l + b_l)`, no activation after the last layer.

    ``masks[l]`` broadcasts against ``(N, n_in_l)``: a ``(n_in_l,)`` mask shared by the batch, one mask per example
    ``(N, n_in_l)``, or a scalar (``masks[l] = pi`` everywhere is the weight-scaling rule). All-ones masks give the
    plain network.
    """
    if len(masks) != len(params):
        raise checks.fail("masks", f"one mask per layer ({len(params)})", f"{len(masks)} masks")
    h = jnp.asarray(x_NxD)
    for i, (layer, mask) in enumerate(zip(params, masks, strict=True)):
        mask = jnp.asarray(mask)
        h = (h * mask.reshape((1,) * (h.ndim - mask.ndim) + mask.shape)) @ layer["w"] + layer["b"][None]
        if i < len(params) - 1:
            h = activation(h)
    return h


def weight_scaled(params: list[Layer], keep: float | Sequence[float]) -> list[Layer]:
    r"""The weight-scaling inference rule: :math:`W_l \to \pi_l W_l` for a dropout keep probability :math:`\pi_l` on
    layer ``l``'s input (one ``keep`` for every layer, or one per layer; 1 for a layer without dropout)."""
    keeps = [keep] * len(params) if np.ndim(keep) == 0 else list(keep)
    if len(keeps) != len(params):
        raise checks.fail("keep", f"a probability or one per layer ({len(params)})", keep)
    checks.in_interval(0.0, 1.0, closed=True)("keep", np.asarray(keeps, float))
    return [{**layer, "w": k * layer["w"]} for layer, k in zip(params, keeps, strict=True)]


def all_masks(d: int) -> np.ndarray:
    """The ``(2^d, d)`` float array of every 0/1 mask on ``d`` units (``d <= 20``)."""
    d = checks.count("d", d)
    if d > 20:
        raise checks.fail("d", "<= 20 (2^d masks are enumerated)", d)
    return ((np.arange(2**d)[:, None] >> np.arange(d)[None, :]) & 1).astype(float)


def mask_probabilities(masks_MxD: ArrayLike, keep: float) -> np.ndarray:
    r""":math:`P(m) = \pi^{|m|}(1 - \pi)^{d - |m|}` of each mask (they sum to 1 over :func:`all_masks`)."""
    checks.in_interval(0.0, 1.0, closed=True)("keep", keep)
    masks = np.asarray(masks_MxD, float)
    kept = masks.sum(axis=-1)
    return keep**kept * (1.0 - keep) ** (masks.shape[-1] - kept)


def normalized_geometric_mean(log_probs_MxNxC: ArrayLike, weights_M: ArrayLike) -> jax.Array:
    r"""The renormalized weighted geometric mean :math:`\propto \exp(\sum_m P(m) \log p_m(c))` over the ensemble axis
    0 of ``(M, N, C)`` log-probabilities, normalized over classes (last axis); ``weights_M`` must sum to 1."""
    log_probs = jnp.asarray(log_probs_MxNxC)
    weights = jnp.asarray(weights_M)
    checks.nonnegative("weights_M", weights)
    return jax.nn.softmax(jnp.tensordot(weights, log_probs, axes=1), axis=-1)
