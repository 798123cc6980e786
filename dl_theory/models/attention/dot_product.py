r"""Scaled dot-product attention in the ``jax.nn.dot_product_attention`` layout, and its masks.

Queries ``q_BxTxHxK``, keys ``k_BxSxHxK`` and values ``v_BxSxHxV`` carry a batch axis B, a sequence axis (T queries,
S keys), H heads and the per-head feature axis. Per batch entry and head, the notes' formula is

.. math:: \mathrm{Attention}(Q, K, V) = \mathrm{softmax}\Big(\frac{Q K^\top}{\sqrt{d_k}}\Big) V,

with the softmax over the keys and :math:`d_k` the *key* dimension (the notes' :math:`\xi\cdot x/\sqrt{n}` is a slip:
for :math:`q, k` with i.i.d. unit-variance entries, :math:`\mathrm{Var}(q\cdot k) = d_k`, so dividing by
:math:`\sqrt{d_k}` keeps the logits at unit variance whatever the head width; Vaswani et al. 2017, §3.2.1).

A boolean ``mask`` broadcastable to ``(B, H, T, S)`` keeps the entries where it is True. A masked logit is replaced
by a large negative *finite* number (as ``jax.nn`` does), so a query that sees no key at all gets uniform weights
instead of NaN. :func:`causal_mask` lets query t see keys s <= t + (S - T) (the last T of S positions: with S = T the
usual lower triangle, with a KV cache the new queries at the end); :func:`padding_mask` keeps the first ``length``
positions of each sequence.

:func:`dot_product_attention` evaluates the formula with two ``einsum`` s (``implementation="formula"``), calls
``jax.nn.dot_product_attention`` (``implementation="jax"``), or, for causal attention, evaluates the formula block by
block (``implementation="causal_blocks"``): the queries are cut into :data:`CAUSAL_BLOCKS` consecutive blocks and each
block meets only the keys its last query can see, which skips the masked upper blocks of the logits (the causal block
skipping of FlashAttention, Dao et al. 2022, without its online softmax): :math:`(m + 1)/2m` of the work for m blocks,
with the same numbers; as in FlashAttention, the softmax's normalization divides the (T, V) output of the product with
the values, not the (T, S) weights. All take the same masks and agree to rounding, except for a query that sees no
key at all, which gets uniform weights over its block's keys instead of over all keys.
"""

import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory import checks

IMPLEMENTATIONS = ("formula", "jax", "causal_blocks")
CAUSAL_BLOCKS = 8  # query blocks of implementation="causal_blocks"


def causal_mask(t_queries: int, s_keys: int | None = None) -> jax.Array:
    """``mask_TxS[t, s] = s <= t + (S - T)``: each of the last T positions sees itself and the past."""
    s_keys = t_queries if s_keys is None else s_keys
    checks.count("t_queries", t_queries)
    checks.at_least(t_queries)("s_keys", s_keys)
    return jnp.arange(s_keys)[None, :] <= jnp.arange(t_queries)[:, None] + (s_keys - t_queries)


def padding_mask(lengths_B: ArrayLike, length: int) -> jax.Array:
    """``mask_BxL[b, s] = s < lengths[b]``: the valid (non-padding) positions of each sequence."""
    checks.count("length", length)
    return jnp.arange(length)[None, :] < jnp.asarray(lengths_B)[:, None]


def key_padding_mask(lengths_B: ArrayLike, t_queries: int, s_keys: int) -> jax.Array:
    """``mask_Bx1xTxS``: every query of sequence b sees the first ``lengths[b]`` keys (padding masked out)."""
    checks.count("t_queries", t_queries)
    keep_BxS = padding_mask(lengths_B, s_keys)
    return jnp.broadcast_to(keep_BxS[:, None, None, :], (keep_BxS.shape[0], 1, t_queries, s_keys))


def _as_4d_mask(mask: ArrayLike, shape_BxHxTxS: tuple[int, int, int, int]) -> jax.Array:
    mask = jnp.asarray(mask)
    if mask.dtype != jnp.bool_:
        raise checks.fail("mask", "a boolean array", mask.dtype)
    ok = mask.ndim <= 4 and all(m in (1, s) for m, s in zip(mask.shape[::-1], shape_BxHxTxS[::-1], strict=False))
    if not ok:
        raise checks.fail("mask", f"broadcastable to (B, H, T, S) = {shape_BxHxTxS}", mask.shape)
    return jnp.broadcast_to(mask.reshape((1,) * (4 - mask.ndim) + mask.shape), shape_BxHxTxS)


def check_qkv(q: jax.Array, k: jax.Array, v: jax.Array) -> None:
    """One ValueError unless ``q_BxTxHxK``, ``k_BxSxHxK``, ``v_BxSxHxV`` have consistent shapes."""
    for name, a in (("query", q), ("key", k), ("value", v)):
        if a.ndim != 4:
            raise checks.fail(name, "a (B, T, heads, features) array", a.shape)
    if k.shape[:3] != v.shape[:3]:
        raise checks.fail("value", f"(B, S, H) = {k.shape[:3]} like the keys", v.shape[:3])
    if q.shape[0] != k.shape[0] or q.shape[2] != k.shape[2] or q.shape[3] != k.shape[3]:
        raise checks.fail("query", f"(B, T, H, d_k) with B, H, d_k = {k.shape[0], k.shape[2], k.shape[3]}", q.shape)


def _large_negative(dtype: jnp.dtype) -> jax.Array:
    return jnp.asarray(-0.7 * float(jnp.finfo(dtype).max), dtype)


def attention_weights(q_BxTxHxK: ArrayLike, k_BxSxHxK: ArrayLike, mask: ArrayLike | None = None, *,
                      is_causal: bool = False) -> jax.Array:
    r"""``weights_BxHxTxS = softmax_s(q_t · k_s / sqrt(d_k))`` over the unmasked keys (rows sum to 1)."""
    q, k = jnp.asarray(q_BxTxHxK), jnp.asarray(k_BxSxHxK)
    logits = jnp.einsum("bthk,bshk->bhts", q, k) / math.sqrt(q.shape[-1])
    keep = _keep(mask, is_causal, logits.shape)
    if keep is not None:
        logits = jnp.where(keep, logits, _large_negative(logits.dtype))
    return jax.nn.softmax(logits, axis=-1)


def _keep(mask: ArrayLike | None, is_causal: bool, shape_BxHxTxS: tuple[int, ...]) -> jax.Array | None:
    keep = None if mask is None else _as_4d_mask(mask, shape_BxHxTxS)
    if is_causal:
        causal = causal_mask(shape_BxHxTxS[2], shape_BxHxTxS[3])[None, None]
        keep = causal if keep is None else keep & causal
    return keep


def dot_product_attention(q_BxTxHxK: ArrayLike, k_BxSxHxK: ArrayLike, v_BxSxHxV: ArrayLike,
                          mask: ArrayLike | None = None, *, is_causal: bool = False,
                          implementation: str = "formula") -> jax.Array:
    r"""Scaled dot-product attention :math:`\mathrm{softmax}(QK^\top/\sqrt{d_k})V` per batch entry and head.

    Args:
      q_BxTxHxK: queries.
      k_BxSxHxK: keys.
      v_BxSxHxV: values.
      mask: boolean, broadcastable to ``(B, H, T, S)``; True keeps an entry.
      is_causal: also apply :func:`causal_mask` ``(T, S)``.
      implementation: ``"formula"`` (the einsum form written out), ``"jax"`` (``jax.nn.dot_product_attention``,
        which needs d_v = d_k and rounds the softmax weights to float32 even for float64 inputs) or
        ``"causal_blocks"`` (the formula over blocks of queries and the keys they can see; needs ``is_causal``).

    Returns:
      ``out_BxTxHxV``.

    Raises:
      ValueError: inconsistent shapes, a non-boolean mask or one that does not broadcast, an unknown implementation,
        d_v != d_k with ``"jax"``, ``"causal_blocks"`` without ``is_causal``.
    """
    checks.one_of(*IMPLEMENTATIONS)("implementation", implementation)
    q, k, v = jnp.asarray(q_BxTxHxK), jnp.asarray(k_BxSxHxK), jnp.asarray(v_BxSxHxV)
    check_qkv(q, k, v)
    if implementation == "jax":
        if v.shape[3] != k.shape[3]:
            raise checks.fail("value features", f"d_k = {k.shape[3]} for implementation='jax'", v.shape[3])
        shape = (q.shape[0], q.shape[2], q.shape[1], k.shape[1])
        native = is_causal and shape[2] == shape[3]  # jax.nn's causal mask is aligned top-left, ours bottom-right
        keep = _keep(mask, is_causal and not native, shape)
        return jax.nn.dot_product_attention(q, k, v, mask=keep, is_causal=native)
    if implementation == "causal_blocks":
        if not is_causal:
            raise checks.fail("is_causal", "True for implementation='causal_blocks'", is_causal)
        return _causal_blocks(q, k, v, mask)
    weights = attention_weights(q, k, mask, is_causal=is_causal)
    return jnp.einsum("bhts,bshv->bthv", weights, v)


def _causal_blocks(q: jax.Array, k: jax.Array, v: jax.Array, mask: ArrayLike | None) -> jax.Array:
    """Causal attention, query block by query block, each against the keys up to the one its last query sees (heads
    moved before the sequence axis once, so that every block's products are plain batched matrix products)."""
    t, s = q.shape[1], k.shape[1]
    keep = _keep(mask, True, (q.shape[0], q.shape[2], t, s))
    q, k, v = (jnp.swapaxes(a, 1, 2) for a in (q / math.sqrt(q.shape[-1]), k, v))  # (B, H, T or S, features)
    size = -(-t // CAUSAL_BLOCKS)
    blocks = []
    for start in range(0, t, size):
        stop = min(start + size, t)
        seen = stop + s - t  # keys 0 .. seen - 1 are visible to some query of the block
        logits = jnp.einsum("bhtk,bhsk->bhts", q[:, :, start:stop], k[:, :, :seen])
        logits = jnp.where(keep[:, :, start:stop, :seen], logits, _large_negative(logits.dtype))
        # softmax(l) v = (exp(l - max l) v) / sum exp(l - max l): the division acts on (T, V), not on (T, S)
        unnormalized = jnp.exp(logits - jax.lax.stop_gradient(jnp.max(logits, axis=-1, keepdims=True)))
        heads = jnp.einsum("bhts,bhsv->bhtv", unnormalized, v[:, :, :seen])
        blocks.append(heads / jnp.sum(unnormalized, axis=-1, keepdims=True))
    return jnp.swapaxes(jnp.concatenate(blocks, axis=2), 1, 2)
