"""Attention and transformers (§10): scaled dot-product and multi-head attention, positions, transformer blocks, a
causal language model, a vision transformer, linear attention and KV-cache generation.

* :mod:`~dl_theory.models.attention.dot_product` -- softmax(QKᵀ/√d_k)V in the ``jax.nn.dot_product_attention``
  layout ``(B, T, heads, d)``, with causal and padding masks;
* :mod:`~dl_theory.models.attention.multihead` -- multi-head self- and cross-attention with flax-layout projections;
* :mod:`~dl_theory.models.attention.positions` -- sinusoidal and learned positional encodings;
* :mod:`~dl_theory.models.attention.transformer` -- layer norm, the pre-LN block, :func:`causal_lm`, :func:`vit`;
* :mod:`~dl_theory.models.attention.linear` -- linear attention (parallel and recurrent) and a softmax KV cache.
"""

from dl_theory.models.attention.dot_product import (
    attention_weights,
    causal_mask,
    check_qkv,
    dot_product_attention,
    key_padding_mask,
    padding_mask,
)
from dl_theory.models.attention.linear import (
    KVCache,
    LinearState,
    elu_feature_map,
    kv_cache_attention,
    kv_cache_init,
    kv_cache_step,
    linear_attention,
    linear_attention_recurrent,
    linear_attention_step,
    linear_state_init,
)
from dl_theory.models.attention.multihead import check_heads, multihead_attention, multihead_weights
from dl_theory.models.attention.positions import add_sinusoidal, learned_positions, sinusoidal
from dl_theory.models.attention.transformer import causal_lm, layer_norm, patches, transformer_block, vit

__all__ = [
    "KVCache", "LinearState", "add_sinusoidal", "attention_weights", "causal_lm", "causal_mask", "check_heads",
    "check_qkv", "dot_product_attention", "elu_feature_map", "key_padding_mask", "kv_cache_attention",
    "kv_cache_init", "kv_cache_step", "layer_norm", "learned_positions", "linear_attention",
    "linear_attention_recurrent", "linear_attention_step", "linear_state_init", "multihead_attention",
    "multihead_weights",
    "padding_mask", "patches", "sinusoidal", "transformer_block", "vit",
]
