r"""Pre-LN transformer blocks, a small causal transformer language model, and a vision transformer (ViT).

* :func:`layer_norm` -- :math:`\gamma \odot (x - \mu)/\sqrt{\sigma^2 + \epsilon} + \beta` over the feature axis
  (Ba et al. 2016), with flax's ``LayerNorm`` parameters ``{"scale", "bias"}`` and ``epsilon = 1e-6``;
* :func:`transformer_block` -- the pre-LN block (Xiong et al. 2020)
  :math:`x \leftarrow x + \mathrm{MHA}(\mathrm{LN}(x))`, :math:`x \leftarrow x + \mathrm{MLP}(\mathrm{LN}(x))` with a
  GELU MLP of width ``mlp_ratio * d``. Without positional information it is permutation equivariant, and with
  ``is_causal`` output t depends on inputs 1..t only;
* :func:`causal_lm` -- token embedding + positions, ``depth`` causal blocks, a final LN and a linear readout:
  ``tokens_BxT -> logits_BxTxV`` (logit t predicts token t+1);
* :func:`vit` -- an image cut into non-overlapping p x p patches (:func:`patches`), each linearly embedded, a learned
  [CLS] token prepended, learned positions added, ``depth`` blocks, and a classifier on the final [CLS] state
  (Dosovitskiy et al. 2021). The patch size must tile the image.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.models.attention.multihead import check_heads, multihead_attention
from dl_theory.models.attention.positions import add_sinusoidal, learned_positions
from dl_theory.typing import Model, Params, Shape

POSITIONS = ("learned", "sinusoidal", "none")


def layer_norm(params: Params, x: ArrayLike, epsilon: float = 1e-6) -> jax.Array:
    """LayerNorm over the last axis with ``params = {"scale": D, "bias": D}``."""
    x = jnp.asarray(x)
    mean = x.mean(axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
    lead = (1,) * (x.ndim - 1)
    return ((x - mean) * jax.lax.rsqrt(var + epsilon) * params["scale"].reshape(lead + (-1,))
            + params["bias"].reshape(lead + (-1,)))


def _norm_params(d: int) -> Params:
    return {"scale": jnp.ones((d,)), "bias": jnp.zeros((d,))}


def _dense(key: jax.Array, n_in: int, n_out: int) -> Params:
    return {"kernel": jax.random.normal(key, (n_in, n_out)) / np.sqrt(n_in), "bias": jnp.zeros((n_out,))}


def _apply_dense(p: Params, x: jax.Array) -> jax.Array:
    return x @ p["kernel"] + p["bias"].reshape((1,) * (x.ndim - 1) + (-1,))


def transformer_block(num_heads: int, width: int, *, mlp_ratio: int = 4, implementation: str = "formula") -> Model:
    """One pre-LN block on ``x_BxTxD`` with ``D == width``; ``apply_fn(params, x, *, mask=None, is_causal=False)``.

    Params ``{"ln_1", "attention", "ln_2", "mlp": {"hidden", "out"}}``.
    """
    check_heads(num_heads, width)
    checks.count("mlp_ratio", mlp_ratio)
    attn_init, attn_apply = multihead_attention(num_heads, width, implementation=implementation)

    def init_fn(key: jax.Array, input_shape: Shape) -> tuple[Shape, Params]:
        if input_shape[-1] != width:
            raise checks.fail("input_shape", f"(..., {width}) features", tuple(input_shape))
        k_a, k_h, k_o = jax.random.split(key, 3)
        return tuple(input_shape), {
            "ln_1": _norm_params(width), "attention": attn_init(k_a, input_shape)[1], "ln_2": _norm_params(width),
            "mlp": {"hidden": _dense(k_h, width, mlp_ratio * width), "out": _dense(k_o, mlp_ratio * width, width)}}

    def apply_fn(params: Params, x_BxTxD: ArrayLike, *, mask: ArrayLike | None = None, is_causal: bool = False,
                 **kwargs) -> jax.Array:
        x = jnp.asarray(x_BxTxD)
        x = x + attn_apply(params["attention"], layer_norm(params["ln_1"], x), mask=mask, is_causal=is_causal)
        hidden = jax.nn.gelu(_apply_dense(params["mlp"]["hidden"], layer_norm(params["ln_2"], x)))
        return x + _apply_dense(params["mlp"]["out"], hidden)

    return Model(init_fn, apply_fn)


def _add_positions(positions: str, pos_apply, params: Params, h: jax.Array) -> jax.Array:
    if positions == "learned":
        return pos_apply(params["positions"], h)
    return add_sinusoidal(h) if positions == "sinusoidal" else h


def causal_lm(vocab_size: int, width: int, depth: int, num_heads: int, max_length: int, *, mlp_ratio: int = 4,
              positions: str = "learned") -> Model:
    """A decoder-only transformer: ``tokens_BxT`` (ints in ``[0, vocab_size)``) -> next-token ``logits_BxTxV``.

    Args:
      vocab_size: number of token ids.
      width: model width d.
      depth: number of causal :func:`transformer_block` s.
      num_heads: heads per block; must divide ``width``.
      max_length: longest sequence (size of the learned position table).
      mlp_ratio: MLP width over d.
      positions: ``"learned"``, ``"sinusoidal"`` or ``"none"``.

    Returns:
      ``Model``; params ``{"embed": V x d, "positions", "blocks": [...], "ln", "readout"}``.
    """
    checks.count("vocab_size", vocab_size)
    checks.count("depth", depth)
    checks.one_of(*POSITIONS)("positions", positions)
    block, pos = transformer_block(num_heads, width, mlp_ratio=mlp_ratio), learned_positions(max_length)

    def init_fn(key: jax.Array, input_shape: Shape) -> tuple[Shape, Params]:
        k_e, k_p, k_r, *k_b = jax.random.split(key, depth + 3)
        hidden = (*input_shape, width)
        table = pos.init(k_p, hidden)[1] if positions == "learned" else {}
        return hidden[:-1] + (vocab_size,), {
            "embed": jax.random.normal(k_e, (vocab_size, width)), "positions": table,
            "blocks": [block.init(k, hidden)[1] for k in k_b], "ln": _norm_params(width),
            "readout": _dense(k_r, width, vocab_size)}

    def apply_fn(params: Params, tokens_BxT: ArrayLike, **kwargs) -> jax.Array:
        h = _add_positions(positions, pos.apply, params, params["embed"][jnp.asarray(tokens_BxT)])
        for p in params["blocks"]:
            h = block.apply(p, h, is_causal=True)
        return _apply_dense(params["readout"], layer_norm(params["ln"], h))

    return Model(init_fn, apply_fn)


def patches(images_BxHxWxC: ArrayLike, patch: int) -> jax.Array:
    """Non-overlapping ``patch x patch`` patches in row-major order, flattened: ``(B, (H/p)(W/p), p*p*C)``.

    Raises:
      ValueError: ``patch`` does not divide the image height and width, or the images are not ``(B, H, W, C)``.
    """
    x = jnp.asarray(images_BxHxWxC)
    checks.count("patch", patch)
    if x.ndim != 4:
        raise checks.fail("images", "a (B, H, W, C) array", x.shape)
    b, h, w, c = x.shape
    if h % patch or w % patch:
        raise checks.fail("patch", f"a size that tiles the {h}x{w} image (a divisor of both sides)", patch)
    x = x.reshape(b, h // patch, patch, w // patch, patch, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, (h // patch) * (w // patch), patch * patch * c)


def vit(patch: int, width: int, depth: int, num_heads: int, n_classes: int, *, mlp_ratio: int = 4) -> Model:
    """A vision transformer: ``images_BxHxWxC -> logits_BxK`` from the final [CLS] state.

    ``init_fn(key, (B, H, W, C))`` checks that ``patch`` tiles the image. Params ``{"patch_embed", "cls",
    "positions", "blocks", "ln", "head"}``; the [CLS] vector starts at zero, as in ViT.
    """
    checks.count("n_classes", n_classes)
    checks.count("patch", patch)
    block = transformer_block(num_heads, width, mlp_ratio=mlp_ratio)
    checks.count("depth", depth)

    def init_fn(key: jax.Array, input_shape: Shape) -> tuple[Shape, Params]:
        if len(input_shape) != 4:
            raise checks.fail("input_shape", "(B, H, W, C)", tuple(input_shape))
        b, h, w, c = input_shape
        n_patches = patches(jnp.zeros((1, h, w, c)), patch).shape[1]
        pos_init, _ = learned_positions(n_patches + 1)
        k_e, k_p, k_h, *k_b = jax.random.split(key, depth + 3)
        hidden = (b, n_patches + 1, width)
        return (b, n_classes), {
            "patch_embed": _dense(k_e, patch * patch * c, width), "cls": jnp.zeros((width,)),
            "positions": pos_init(k_p, hidden)[1], "blocks": [block.init(k, hidden)[1] for k in k_b],
            "ln": _norm_params(width), "head": _dense(k_h, width, n_classes)}

    def apply_fn(params: Params, images_BxHxWxC: ArrayLike, **kwargs) -> jax.Array:
        tokens = _apply_dense(params["patch_embed"], patches(images_BxHxWxC, patch))
        cls = jnp.broadcast_to(params["cls"][None, None], (tokens.shape[0], 1, tokens.shape[2]))
        h = jnp.concatenate([cls, tokens], axis=1) + params["positions"]["embedding"][None]
        for p in params["blocks"]:
            h = block.apply(p, h)
        return _apply_dense(params["head"], layer_norm(params["ln"], h[:, 0]))

    return Model(init_fn, apply_fn)
