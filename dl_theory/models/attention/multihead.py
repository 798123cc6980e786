r"""Multi-head self- and cross-attention with learned projections, as an ``(init_fn, apply_fn)`` pair.

The notes' multi-headed attention :math:`G(\xi, (x^t, z^t)) = W [F_1; \dots; F_h]` concatenates h heads

.. math:: F_i = \mathrm{softmax}\Big(\frac{(X W^Q_i)(C W^K_i)^\top}{\sqrt{d_k}}\Big)(C W^V_i), \qquad d_k = d/h,

and mixes them with an output projection :math:`W^O`. Self-attention takes the context C = X; cross-attention takes
another sequence (a decoder attending to an encoder's states). The model width d must be a multiple of the head count
(each head gets d/h features).

The parameters have the layout of ``flax.linen.MultiHeadDotProductAttention`` (``DenseGeneral`` kernels ``(d_in, h,
d/h)`` for query, key and value, ``(h, d/h, d_out)`` for the output, LeCun-normal kernels and zero biases), so
weights copy between the two unchanged.

Reference: Vaswani et al., "Attention is all you need", NeurIPS 2017, §3.2.2.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.models.attention.dot_product import attention_weights, dot_product_attention
from dl_theory.typing import Model, Params, Shape


def check_heads(num_heads: int, width: int) -> int:
    """The per-head width ``width // num_heads``; one ValueError when ``num_heads`` does not divide ``width``."""
    checks.count("num_heads", num_heads)
    checks.count("width", width)
    if width % num_heads:
        raise checks.fail("num_heads", f"a divisor of the model width {width}", num_heads)
    return width // num_heads


def _projection(key: jax.Array, fan_in: int, shape: tuple[int, ...], bias_shape: tuple[int, ...]) -> Params:
    return {"kernel": jax.random.normal(key, shape) / np.sqrt(fan_in), "bias": jnp.zeros(bias_shape)}


def _last_axis(name: str, shape: Shape, expected: int) -> None:
    if shape[-1] != expected:
        raise checks.fail(name, f"(..., {expected}) features", tuple(shape))


def multihead_attention(num_heads: int, width: int, *, out_features: int | None = None,
                        implementation: str = "formula") -> Model:
    """Multi-head attention with ``num_heads`` heads of ``width // num_heads`` features each.

    Args:
      num_heads: the head count h; must divide ``width``.
      width: total query/key/value features d (flax's ``qkv_features``).
      out_features: output features (default: the input's).
      implementation: passed to :func:`~dl_theory.models.attention.dot_product.dot_product_attention`.

    Returns:
      ``Model(init_fn, apply_fn)``. ``init_fn(key, input_shape, context_shape=None)`` with ``input_shape = (B, T,
      d_in)``; ``apply_fn(params, x_BxTxD, context=None, *, mask=None, is_causal=False) -> y_BxTxD_out`` attends
      from ``x`` to ``context`` (default ``x``: self-attention) with an optional boolean mask ``(B, H, T, S)``.
      Params ``{"query", "key", "value", "out"}``, each ``{"kernel", "bias"}``.

    Raises:
      ValueError: ``num_heads`` does not divide ``width``; inputs whose feature axis differs from ``init``'s.
    """
    head = check_heads(num_heads, width)

    def init_fn(key: jax.Array, input_shape: Shape, context_shape: Shape | None = None) -> tuple[Shape, Params]:
        d_in = input_shape[-1]
        d_ctx = d_in if context_shape is None else context_shape[-1]
        d_out = out_features or d_in
        k_q, k_k, k_v, k_o = jax.random.split(key, 4)
        params = {"query": _projection(k_q, d_in, (d_in, num_heads, head), (num_heads, head)),
                  "key": _projection(k_k, d_ctx, (d_ctx, num_heads, head), (num_heads, head)),
                  "value": _projection(k_v, d_ctx, (d_ctx, num_heads, head), (num_heads, head)),
                  "out": _projection(k_o, width, (num_heads, head, d_out), (d_out,))}
        return (*input_shape[:-1], d_out), params

    def apply_fn(params: Params, x_BxTxD: ArrayLike, context: ArrayLike | None = None, *,
                 mask: ArrayLike | None = None, is_causal: bool = False, **kwargs) -> jax.Array:
        q, k, v = _project(params, x_BxTxD, context)
        heads = dot_product_attention(q, k, v, mask, is_causal=is_causal, implementation=implementation)
        return jnp.einsum("bthk,hko->bto", heads, params["out"]["kernel"]) + params["out"]["bias"][None, None]

    return Model(init_fn, apply_fn)


def _project(params: Params, x_BxTxD: ArrayLike, context: ArrayLike | None) -> tuple[jax.Array, ...]:
    """Per-head queries from ``x`` and keys and values from ``context`` (default ``x``)."""
    x = jnp.asarray(x_BxTxD)
    c = x if context is None else jnp.asarray(context)
    _last_axis("x", x.shape, params["query"]["kernel"].shape[0])
    _last_axis("context", c.shape, params["key"]["kernel"].shape[0])
    return tuple(jnp.einsum("btd,dhk->bthk", a, params[name]["kernel"]) + params[name]["bias"][None, None]
                 for a, name in ((x, "query"), (c, "key"), (c, "value")))


def multihead_weights(params: Params, x_BxTxD: ArrayLike, context: ArrayLike | None = None, *,
                      mask: ArrayLike | None = None, is_causal: bool = False) -> jax.Array:
    """The attention weights ``(B, H, T, S)`` of :func:`multihead_attention` with ``params`` (for inspection)."""
    q, k, _ = _project(params, x_BxTxD, context)
    return attention_weights(q, k, mask, is_causal=is_causal)
