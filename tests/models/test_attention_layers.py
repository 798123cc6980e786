"""Attention against jax.nn, flax and the notes' formula written out with numpy; linear attention and the KV cache."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dl_theory.models import attention as att


def _qkv(key, b=2, t=5, s=5, h=3, dk=4, dv=4):
    kq, kk, kv = jax.random.split(key, 3)
    return (jax.random.normal(kq, (b, t, h, dk)), jax.random.normal(kk, (b, s, h, dk)),
            jax.random.normal(kv, (b, s, h, dv)))


def _numpy_attention(q, k, v, keep):
    """softmax(QKᵀ/√d_k)V per batch entry and head, masked entries dropped, in numpy float64."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    b, t, h, dk = q.shape
    out = np.zeros((b, t, h, v.shape[-1]))
    for i in range(b):
        for j in range(h):
            logits = q[i, :, j] @ k[i, :, j].T / np.sqrt(dk)
            logits = np.where(keep[i, j], logits, -np.inf)
            w = np.exp(logits - logits.max(axis=1, keepdims=True))
            out[i, :, j] = (w / w.sum(axis=1, keepdims=True)) @ v[i, :, j]
    return out


@pytest.mark.parametrize("causal,lengths", [(False, None), (True, None), (False, (3, 5)), (True, (4, 2))])
def test_formula_equals_jax_nn_and_numpy(x64, key, causal, lengths):
    q, k, v = _qkv(key)
    mask = None if lengths is None else att.key_padding_mask(jnp.asarray(lengths), 5, 5)
    ours = att.dot_product_attention(q, k, v, mask, is_causal=causal)
    ref = jax.nn.dot_product_attention(q, k, v, mask=mask, is_causal=causal)
    keep = np.ones((2, 3, 5, 5), bool) if mask is None else np.broadcast_to(np.asarray(mask), (2, 3, 5, 5))
    keep = keep & np.tril(np.ones((5, 5), bool)) if causal else keep
    np.testing.assert_allclose(ours, _numpy_attention(q, k, v, keep), rtol=0, atol=1e-12)
    # jax.nn rounds its softmax to float32 (the weights are cast down even for float64 inputs)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(att.dot_product_attention(q, k, v, mask, is_causal=causal, implementation="jax"),
                                  ref)
    if causal:
        blocks = att.dot_product_attention(q, k, v, mask, is_causal=True, implementation="causal_blocks")
        np.testing.assert_allclose(blocks, _numpy_attention(q, k, v, keep), rtol=0, atol=1e-12)


@pytest.mark.parametrize("t,s", [(13, 13), (13, 17), (3, 7), (16, 16)])
def test_causal_blocks_equal_the_formula(x64, key, t, s):
    """Uneven blocks (13 queries in blocks of 2), a KV cache (S > T) and a padding mask: each block sees exactly the
    keys the full causal mask lets it see."""
    q, k, v = _qkv(key, t=t, s=s)
    mask = att.key_padding_mask(jnp.asarray((s, s - 2)), t, s)
    keep = np.broadcast_to(np.asarray(mask), (2, 3, t, s)) & np.asarray(att.causal_mask(t, s))
    out = att.dot_product_attention(q, k, v, mask, is_causal=True, implementation="causal_blocks")
    np.testing.assert_allclose(out, _numpy_attention(q, k, v, keep), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="is_causal must be True for implementation='causal_blocks'"):
        att.dot_product_attention(q, k, v, implementation="causal_blocks")


def test_causal_blocks_have_the_gradients_of_the_formula(x64, key):
    q, k, v = _qkv(key, t=13, s=17)
    mask = att.key_padding_mask(jnp.asarray((17, 15)), 13, 17)
    grads = {impl: jax.grad(lambda q, k, v, impl=impl: jnp.sum(jnp.sin(att.dot_product_attention(
        q, k, v, mask, is_causal=True, implementation=impl))), argnums=(0, 1, 2))(q, k, v)
             for impl in ("formula", "causal_blocks")}
    for a, b in zip(grads["formula"], grads["causal_blocks"], strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-12)


def test_cross_attention_shapes_and_bottom_right_causal_mask(x64, key):
    q, k, v = _qkv(key, t=3, s=7)
    keep = np.broadcast_to(np.asarray(att.causal_mask(3, 7)), (2, 3, 3, 7))
    assert keep[0, 0, 0].tolist() == [True] * 5 + [False] * 2
    for impl, atol in zip(att.dot_product.IMPLEMENTATIONS, (1e-12, 1e-6, 1e-12), strict=True):
        out = att.dot_product_attention(q, k, v, is_causal=True, implementation=impl)
        np.testing.assert_allclose(out, _numpy_attention(q, k, v, keep), rtol=0, atol=atol)
    assert att.dot_product_attention(q, k, jnp.ones((2, 7, 3, 6))).shape == (2, 3, 3, 6)
    with pytest.raises(ValueError, match="value features must be d_k = 4"):
        att.dot_product_attention(q, k, jnp.ones((2, 7, 3, 6)), implementation="jax")


def test_fully_masked_row_is_uniform_like_jax(key):
    q, k, v = _qkv(key)
    mask = jnp.zeros((1, 1, 5, 5), bool).at[..., 1:, :].set(True)
    out = att.dot_product_attention(q, k, v, mask)
    np.testing.assert_allclose(out, jax.nn.dot_product_attention(q, k, v, mask=mask), atol=1e-5)
    np.testing.assert_allclose(out[:, 0], jnp.broadcast_to(v.mean(axis=1), out[:, 0].shape), atol=1e-5)


def test_weights_are_a_distribution_over_visible_keys(key):
    q, k, _ = _qkv(key)
    w = att.attention_weights(q, k, is_causal=True)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-6)
    assert float(jnp.abs(w * ~att.causal_mask(5)[None, None]).max()) == 0.0


@pytest.mark.parametrize("mask,match", [(jnp.ones((5, 4), bool), "broadcastable"), (jnp.ones((5, 5)), "boolean"),
                                        (jnp.ones((1, 1, 1, 2, 5, 5), bool), "broadcastable")])
def test_bad_masks_raise(key, mask, match):
    with pytest.raises(ValueError, match=match):
        att.dot_product_attention(*_qkv(key), mask)


def test_mismatched_shapes_raise(key):
    q, k, v = _qkv(key)
    with pytest.raises(ValueError, match="query"):
        att.dot_product_attention(q[..., :3], k, v)
    with pytest.raises(ValueError, match="value"):
        att.dot_product_attention(q, k, v[:, :4])


@pytest.mark.parametrize("cross", [False, True])
def test_multihead_equals_flax_with_copied_weights(x64, key, cross):
    k_init, k_x, k_c = jax.random.split(key, 3)
    x = jax.random.normal(k_x, (2, 5, 6))
    context = jax.random.normal(k_c, (2, 7, 6)) if cross else None
    mask = att.key_padding_mask(jnp.array([7, 4]) if cross else jnp.array([5, 3]), 5, 7 if cross else 5)
    init_fn, apply_fn = att.multihead_attention(4, 8, out_features=6)
    out_shape, params = init_fn(k_init, x.shape, None if context is None else context.shape)
    module = nn.MultiHeadDotProductAttention(num_heads=4, qkv_features=8, out_features=6, param_dtype=jnp.float64)
    assert jax.tree.structure(module.init(key, x, context)["params"]) == jax.tree.structure(params)
    ref = module.apply({"params": params}, x, context, mask=mask)
    out = apply_fn(params, x, context, mask=mask)
    assert out.shape == out_shape
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12)


def test_multihead_equals_per_head_loop(x64, key):
    x = jax.random.normal(key, (1, 4, 6))
    _, params = att.multihead_attention(3, 6).init(jax.random.key(1), x.shape)
    heads = []
    weights = att.multihead_weights(params, x)
    for i in range(3):
        q, k, v = (x[0] @ params[n]["kernel"][:, i] + params[n]["bias"][i][None] for n in ("query", "key", "value"))
        w = jax.nn.softmax(q @ k.T / np.sqrt(2.0), axis=-1)
        np.testing.assert_allclose(weights[0, i], w, rtol=0, atol=1e-12)
        heads.append(w @ v @ params["out"]["kernel"][i])
    np.testing.assert_allclose(att.multihead_attention(3, 6).apply(params, x)[0],
                               sum(heads) + params["out"]["bias"][None], rtol=0, atol=1e-12)


def test_head_count_must_divide_width():
    with pytest.raises(ValueError, match="num_heads must be a divisor of the model width 10"):
        att.multihead_attention(4, 10)
    with pytest.raises(ValueError, match="num_heads"):
        att.transformer_block(3, 8)


def test_layer_norm_equals_flax(x64, key):
    x = jax.random.normal(key, (2, 3, 5)) * 3 + 1
    module = nn.LayerNorm(param_dtype=jnp.float64)
    params = jax.tree.map(lambda p: p + jax.random.normal(jax.random.key(2), p.shape), module.init(key, x)["params"])
    np.testing.assert_allclose(att.layer_norm(params, x), module.apply({"params": params}, x), rtol=0, atol=1e-12)


def test_sinusoidal_closed_form_and_checks():
    pe = np.asarray(att.sinusoidal(7, 6))
    t, i = 5, 2
    assert pe[t, 2 * i] == pytest.approx(np.sin(t / 10000 ** (2 * i / 6)))
    assert pe[t, 2 * i + 1] == pytest.approx(np.cos(t / 10000 ** (2 * i / 6)))
    with pytest.raises(ValueError, match="dim"):
        att.sinusoidal(4, 5)
    _, params = att.learned_positions(4).init(jax.random.key(0), (1, 4, 2))
    with pytest.raises(ValueError, match="at most max_length = 4"):
        att.learned_positions(4).apply(params, jnp.zeros((1, 5, 2)))


def test_block_is_permutation_equivariant_and_causal_lm_ignores_the_future(x64, key):
    x = jax.random.normal(key, (1, 6, 8))
    block = att.transformer_block(2, 8)
    _, params = block.init(jax.random.key(1), x.shape)
    perm = np.array([3, 0, 5, 1, 4, 2])
    apply = jax.jit(block.apply)
    np.testing.assert_allclose(apply(params, x[:, perm]), apply(params, x)[:, perm], atol=1e-12)
    lm = att.causal_lm(5, 8, 2, 2, 6)
    out_shape, lm_params = lm.init(jax.random.key(2), (1, 6))
    assert out_shape == (1, 6, 5)
    tokens = jnp.array([[1, 2, 3, 4, 0, 1], [1, 2, 3, 4, 3, 3]])
    logits = jax.jit(lm.apply)(lm_params, tokens)
    np.testing.assert_array_equal(logits[0, :4], logits[1, :4])


def test_vit_patches_and_tiling_error(key):
    img = jnp.arange(2 * 4 * 4 * 1.0).reshape(2, 4, 4, 1)
    p = att.patches(img, 2)
    np.testing.assert_array_equal(p[0, 1], [2, 3, 6, 7])
    model = att.vit(2, 8, 1, 2, 10)
    out_shape, params = model.init(key, img.shape)
    assert out_shape == (2, 10) and jax.jit(model.apply)(params, img).shape == (2, 10)
    assert params["positions"]["embedding"].shape == (5, 8)
    with pytest.raises(ValueError, match="patch must be a size that tiles the 4x4 image"):
        att.vit(3, 8, 1, 2, 10).init(key, img.shape)


def _linear_brute_force(q, k, v, causal):
    fq, fk = (np.asarray(att.elu_feature_map(a)) for a in (q, k))
    scores = np.einsum("bthk,bshk->bhts", fq, fk)
    if causal:
        scores = scores * np.tril(np.ones(scores.shape[-2:]))
    return np.einsum("bhts,bshv->bthv", scores / scores.sum(-1, keepdims=True), np.asarray(v))


def test_linear_attention_recurrent_equals_parallel(x64, key):
    q, k, v = _qkv(key, t=9, s=9, dv=3)
    parallel = att.linear_attention(q, k, v)
    state, recurrent = att.linear_attention_recurrent(q, k, v)
    np.testing.assert_allclose(parallel, _linear_brute_force(q, k, v, True), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(recurrent, parallel, rtol=1e-12, atol=1e-12)
    assert state.s_BxHxKxV.shape == (2, 3, 4, 3) and state.z_BxHxK.shape == (2, 3, 4)
    np.testing.assert_allclose(att.linear_attention(q, k, v, causal=False), _linear_brute_force(q, k, v, False),
                               rtol=1e-12, atol=1e-12)
    _, resumed = att.linear_attention_recurrent(q[:, 5:], k[:, 5:], v[:, 5:],
                                                att.linear_attention_recurrent(q[:, :5], k[:, :5], v[:, :5])[0])
    np.testing.assert_allclose(resumed, parallel[:, 5:], rtol=1e-12, atol=1e-12)


def test_kv_cache_generation_equals_causal_forward(x64, key):
    q, k, v = _qkv(key, t=7, s=7, dv=5)
    cache, out = att.kv_cache_attention(q, k, v)
    assert int(cache.length) == 7
    np.testing.assert_allclose(out, att.dot_product_attention(q, k, v, is_causal=True), rtol=0, atol=1e-12)
    bigger = att.kv_cache_init(2, 10, 3, 4, 5, jnp.float64)
    np.testing.assert_allclose(att.kv_cache_attention(q, k, v, bigger)[1], out, rtol=0, atol=1e-12)
