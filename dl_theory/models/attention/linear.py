r"""Linear attention (parallel and recurrent forms) and incremental generation with a softmax KV cache.

Linear attention (Katharopoulos et al. 2020) replaces :math:`\exp(q\cdot k)` by a kernel
:math:`\phi(q)\cdot\phi(k)` with the positive feature map :math:`\phi(x) = \mathrm{elu}(x) + 1`. Causal output t is

.. math:: y_t = \frac{\phi(q_t)^\top S_t}{\phi(q_t)^\top z_t}, \qquad
   S_t = \sum_{s \le t} \phi(k_s) v_s^\top \in \mathbb{R}^{d_k \times d_v}, \quad z_t = \sum_{s \le t} \phi(k_s),

so the same numbers come out of two schedules:

* :func:`linear_attention` -- the *parallel* form: cumulative sums over the sequence (causal) or full sums
  (non-causal), O(n d_k d_v) work for n tokens, no n x n matrix;
* :func:`linear_attention_recurrent` -- the *recurrent* form: a scan of :func:`linear_attention_step`, whose state
  :class:`LinearState` ``(S, z)`` has a size independent of n. A generated token costs O(d_k d_v) time and memory
  whatever its position: O(1) per token and O(n) in total.

Softmax attention has no such finite state: generating token t needs every earlier key and value. With a
:class:`KVCache` (keys and values of the tokens so far), :func:`kv_cache_step` attends from the new query to the t
cached positions, O(t d) per token and O(n^2 d) for n tokens, and the cache grows as O(n d).
:func:`kv_cache_attention` runs it token by token and equals causal :func:`dot_product_attention`.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike, DTypeLike

from dl_theory import checks
from dl_theory.models.attention.dot_product import check_qkv, dot_product_attention


def elu_feature_map(x: ArrayLike) -> jax.Array:
    r""":math:`\phi(x) = \mathrm{elu}(x) + 1 > 0`."""
    return jax.nn.elu(jnp.asarray(x)) + 1.0


class LinearState(NamedTuple):
    """The recurrent state of linear attention: ``S_BxHxKxV = Σ φ(k) vᵀ`` and ``z_BxHxK = Σ φ(k)``."""

    s_BxHxKxV: jax.Array
    z_BxHxK: jax.Array


def linear_state_init(batch: int, heads: int, key_dim: int, value_dim: int,
                      dtype: DTypeLike = jnp.float32) -> LinearState:
    """The empty state (no token seen): zeros."""
    for name, value in (("batch", batch), ("heads", heads), ("key_dim", key_dim), ("value_dim", value_dim)):
        checks.count(name, value)
    return LinearState(jnp.zeros((batch, heads, key_dim, value_dim), dtype), jnp.zeros((batch, heads, key_dim), dtype))


def linear_attention(q_BxTxHxK: ArrayLike, k_BxSxHxK: ArrayLike, v_BxSxHxV: ArrayLike, *,
                     causal: bool = True) -> jax.Array:
    """The parallel form; ``causal`` uses prefix sums (needs S == T), otherwise sums over all keys.

    Returns:
      ``out_BxTxHxV``.
    """
    q, k, v = jnp.asarray(q_BxTxHxK), jnp.asarray(k_BxSxHxK), jnp.asarray(v_BxSxHxV)
    check_qkv(q, k, v)
    if causal and q.shape[1] != k.shape[1]:
        raise checks.fail("key length", f"the query length {q.shape[1]} for causal linear attention", k.shape[1])
    fq, fk = elu_feature_map(q), elu_feature_map(k)
    if causal:
        s = jnp.cumsum(jnp.einsum("bshk,bshv->bshkv", fk, v), axis=1)
        num, den = jnp.einsum("bthk,bthkv->bthv", fq, s), jnp.einsum("bthk,bthk->bth", fq, jnp.cumsum(fk, axis=1))
    else:
        num = jnp.einsum("bthk,bhkv->bthv", fq, jnp.einsum("bshk,bshv->bhkv", fk, v))
        den = jnp.einsum("bthk,bhk->bth", fq, fk.sum(axis=1))
    return num / den[..., None]


def linear_attention_step(state: LinearState, q_BxHxK: ArrayLike, k_BxHxK: ArrayLike,
                          v_BxHxV: ArrayLike) -> tuple[LinearState, jax.Array]:
    """One token: ``S += φ(k) vᵀ``, ``z += φ(k)``, ``y = φ(q)ᵀ S / φ(q)ᵀ z``; returns ``(state, y_BxHxV)``."""
    fq, fk = elu_feature_map(q_BxHxK), elu_feature_map(k_BxHxK)
    s = state.s_BxHxKxV + jnp.einsum("bhk,bhv->bhkv", fk, jnp.asarray(v_BxHxV))
    z = state.z_BxHxK + fk
    y = jnp.einsum("bhk,bhkv->bhv", fq, s) / jnp.einsum("bhk,bhk->bh", fq, z)[..., None]
    return LinearState(s, z), y


def _scan_tokens(step, carry, q: jax.Array, k: jax.Array, v: jax.Array):
    """Runs ``step(carry, q_t, k_t, v_t)`` over the sequence axis 1; outputs back in ``(B, T, H, V)``."""
    carry, y_TxBxHxV = jax.lax.scan(lambda c, qkv: step(c, *qkv), carry,
                                    tuple(jnp.swapaxes(a, 0, 1) for a in (q, k, v)))
    return carry, jnp.swapaxes(y_TxBxHxV, 0, 1)


def linear_attention_recurrent(q_BxTxHxK: ArrayLike, k_BxTxHxK: ArrayLike, v_BxTxHxV: ArrayLike,
                               state: LinearState | None = None) -> tuple[LinearState, jax.Array]:
    """The recurrent form: :func:`linear_attention_step` over the sequence from ``state`` (default: empty).

    Returns:
      ``(final_state, out_BxTxHxV)``; ``out`` equals causal :func:`linear_attention` from the empty state.
    """
    q, k, v = jnp.asarray(q_BxTxHxK), jnp.asarray(k_BxTxHxK), jnp.asarray(v_BxTxHxV)
    check_qkv(q, k, v)
    if state is None:
        state = linear_state_init(q.shape[0], q.shape[2], q.shape[3], v.shape[3], jnp.result_type(q, v))
    return _scan_tokens(linear_attention_step, state, q, k, v)


class KVCache(NamedTuple):
    """Keys ``k_BxLxHxK`` and values ``v_BxLxHxV`` of the first ``length`` tokens in a buffer of L positions."""

    k_BxLxHxK: jax.Array
    v_BxLxHxV: jax.Array
    length: jax.Array


def kv_cache_init(batch: int, max_length: int, heads: int, key_dim: int, value_dim: int,
                  dtype: DTypeLike = jnp.float32) -> KVCache:
    """An empty cache with room for ``max_length`` tokens."""
    for name, value in (("batch", batch), ("max_length", max_length), ("heads", heads), ("key_dim", key_dim),
                        ("value_dim", value_dim)):
        checks.count(name, value)
    return KVCache(jnp.zeros((batch, max_length, heads, key_dim), dtype),
                   jnp.zeros((batch, max_length, heads, value_dim), dtype), jnp.zeros((), jnp.int32))


def kv_cache_step(cache: KVCache, q_BxHxK: ArrayLike, k_BxHxK: ArrayLike,
                  v_BxHxV: ArrayLike) -> tuple[KVCache, jax.Array]:
    """Appends ``(k, v)`` at position ``length`` and attends from ``q`` to positions ``0..length``.

    Past the buffer's end the write is clamped by ``dynamic_update_slice``; size the cache for the whole generation.
    Returns ``(cache, y_BxHxV)``.
    """
    t = cache.length
    k_cache = jax.lax.dynamic_update_slice_in_dim(cache.k_BxLxHxK, jnp.asarray(k_BxHxK)[:, None], t, axis=1)
    v_cache = jax.lax.dynamic_update_slice_in_dim(cache.v_BxLxHxV, jnp.asarray(v_BxHxV)[:, None], t, axis=1)
    seen_1x1x1xL = (jnp.arange(k_cache.shape[1]) <= t)[None, None, None, :]
    y = dot_product_attention(jnp.asarray(q_BxHxK)[:, None], k_cache, v_cache, seen_1x1x1xL)
    return KVCache(k_cache, v_cache, t + 1), y[:, 0]


def kv_cache_attention(q_BxTxHxK: ArrayLike, k_BxTxHxK: ArrayLike, v_BxTxHxV: ArrayLike,
                       cache: KVCache | None = None) -> tuple[KVCache, jax.Array]:
    """Token-by-token softmax attention with a KV cache (default: an empty one of exactly T positions).

    Returns:
      ``(cache, out_BxTxHxV)``; ``out`` equals ``dot_product_attention(q, k, v, is_causal=True)``.
    """
    q, k, v = jnp.asarray(q_BxTxHxK), jnp.asarray(k_BxTxHxK), jnp.asarray(v_BxTxHxV)
    check_qkv(q, k, v)
    if cache is None:
        b, t, h, d = k.shape
        cache = kv_cache_init(b, t, h, d, v.shape[3], jnp.result_type(k, v))
    return _scan_tokens(kv_cache_step, cache, q, k, v)
