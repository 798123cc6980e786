"""``GlobalSelfAttention``: ``apply_fn`` against a direct computation, symmetries, Monte Carlo kernels, errors.

The linear-scaling kernels are checked against neural-tangents 0.6.5 in ``tests/test_nt_golden.py``; here the
``linear_scaling=False`` (``IDENTITY``) kernel, which the fixtures do not cover, is checked by Monte Carlo: on the
inputs the layer is multilinear in four independent Gaussian matrices (``W_Q, W_K, W_V, W_O``), so the expected
empirical NNGP and NTK equal the analytic ones at any width and only sampling error remains.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from stax_mc import as_pairs, assert_within_se

from dl_theory import stax

X1 = np.random.default_rng(0).standard_normal((2, 3, 2, 5))  # (N, X, Y, C)
X2 = np.random.default_rng(1).standard_normal((3, 3, 2, 5))


def _direct(params, x_NxPxC, linear_scaling, qk_std, ov_std, b_std):
    """The layer written out with numpy for the IDENTITY mechanism, channels last, flat positions."""
    W_Q, W_K, W_V, W_O, b, _ = (None if p is None else np.asarray(p, np.float64) for p in params)
    n_in, d_k = x_NxPxC.shape[-1], W_K.shape[-1]
    heads = []
    for h in range(W_K.shape[0]):
        k = x_NxPxC @ W_K[h]
        q = k if linear_scaling else x_NxPxC @ W_Q[h]
        g = np.einsum("npk,nqk->npq", q, k) * qk_std / (n_in * (d_k if linear_scaling else np.sqrt(d_k)))
        heads.append(g @ (x_NxPxC @ W_V[h]))
    concat = np.stack(heads, -1).reshape(x_NxPxC.shape[:2] + (-1,))  # value channel major, head minor
    out = concat @ W_O * ov_std / np.sqrt(W_V.shape[-1] * W_V.shape[0] * n_in)
    return out if b is None else out + b_std * b.reshape(-1)


@pytest.mark.parametrize("linear_scaling", [True, False])
def test_identity_mechanism_matches_direct_computation(linear_scaling, x64):
    x = np.moveaxis(X1, -1, 1)  # (N, C, X, Y): channel_axis=1
    init_fn, apply_fn, _ = stax.GlobalSelfAttention(
        7,
        4,
        3,
        2,
        linear_scaling,
        W_key_std=1.3,
        W_query_std=0.6,
        W_value_std=0.8,
        W_out_std=1.1,
        b_std=0.4,
        attention_mechanism="IDENTITY",
        channel_axis=1,
    )
    out_shape, params = init_fn(jax.random.key(1), x.shape)
    assert out_shape == (2, 7, 3, 2)
    got = jax.jit(apply_fn)(params, x)
    want = _direct(params, X1.reshape(2, 6, 5), linear_scaling, 1.3 * 0.6, 0.8 * 1.1, 0.4)
    np.testing.assert_allclose(np.moveaxis(np.asarray(got), 1, -1).reshape(2, 6, 7), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mechanism", ["SOFTMAX", "RELU", "ABS"])
def test_permutation_equivariance_without_positional_embeddings(mechanism, x64):
    x = X1.reshape(2, 6, 5)
    perm = np.random.default_rng(2).permutation(6)
    init_fn, apply_fn, kernel_fn = stax.GlobalSelfAttention(4, 3, 3, 2, attention_mechanism=mechanism, b_std=0.2)
    _, params = init_fn(jax.random.key(0), x.shape)
    apply_fn, kernel_fn = jax.jit(apply_fn), jax.jit(kernel_fn)
    np.testing.assert_allclose(apply_fn(params, x[:, perm]), apply_fn(params, x)[:, perm], rtol=1e-10, atol=1e-12)
    k, k_perm = kernel_fn(x, None), kernel_fn(x[:, perm], None)
    np.testing.assert_allclose(k_perm.nngp, k.nngp[:, :, perm][:, :, :, perm], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(k_perm.ntk, k.ntk[:, :, perm][:, :, :, perm], rtol=1e-10, atol=1e-12)


def test_positional_embeddings_break_equivariance(x64):
    x = X1.reshape(2, 6, 5)
    perm = np.roll(np.arange(6), 1)
    init_fn, apply_fn, kernel_fn = stax.GlobalSelfAttention(
        4, 3, 3, 2, pos_emb_type="CONCAT", pos_emb_decay_fn=lambda d: jnp.exp(-d), val_pos_emb=True
    )
    _, params = init_fn(jax.random.key(0), x.shape)
    apply_fn, kernel_fn = jax.jit(apply_fn), jax.jit(kernel_fn, static_argnums=2)
    assert params[-1].shape == (1, 6, 5) and params[1].shape == (2, 10, 3) and params[2].shape == (2, 10, 3)
    assert not np.allclose(apply_fn(params, x[:, perm]), apply_fn(params, x)[:, perm], atol=1e-6)
    k, k_perm = kernel_fn(x, None, "nngp"), kernel_fn(x[:, perm], None, "nngp")
    assert not np.allclose(k_perm, k[:, :, perm][:, :, :, perm], atol=1e-6)


def _param_shapes(layer):
    return jax.eval_shape(lambda key: layer[0](key, X1.shape)[1], jax.random.key(0))


def test_parameter_structure():
    W_Q, W_K, W_V, W_O, b, pe = _param_shapes(stax.GlobalSelfAttention(5, 4, 3, 2))
    assert W_Q is None and b is None and pe is None  # tied keys/queries, no bias, no embeddings by default
    assert (W_K.shape, W_V.shape, W_O.shape) == ((2, 5, 4), (2, 5, 3), (6, 5))
    W_Q, _, _, _, b, pe = _param_shapes(
        stax.GlobalSelfAttention(5, 4, 3, 2, linear_scaling=False, b_std=0.1, pos_emb_type="SUM")
    )
    assert (W_Q.shape, b.shape, pe.shape) == ((2, 5, 4), (1, 1, 1, 5), (1, 3, 2, 5))


def test_kernel_self_consistency(x64):
    _, _, kernel_fn = stax.GlobalSelfAttention(3, 2, 2, 1, b_std=0.3, pos_emb_type="SUM")
    kernel_fn = jax.jit(kernel_fn, static_argnames="diagonal_batch")
    k12, k21 = kernel_fn(X1, X2), kernel_fn(X2, X1)
    k_full = kernel_fn(X1, None, diagonal_batch=False)
    np.testing.assert_allclose(np.einsum("ii...->i...", k_full.cov1), k12.cov1, rtol=1e-12)
    np.testing.assert_allclose(k21.nngp, np.einsum("ijabcd->jibadc", k12.nngp), rtol=1e-12)
    np.testing.assert_allclose(k21.ntk, np.einsum("ijabcd->jibadc", k12.ntk), rtol=1e-12)


def _mc_draws(init_fn, apply_fn, x1, x2, key, n_samples):
    """Per-draw empirical NNGP and NTK ``(N1, N2, P, P)`` (NTK by reverse mode: fewer outputs than parameters)."""

    def one(k):
        params = init_fn(k, x1.shape)[1]
        f = lambda p, x: apply_fn(p, x).reshape((x.shape[0], -1, 8))
        j1, j2 = jax.jacrev(f)(params, x1), jax.jacrev(f)(params, x2)
        ntk = sum(
            jnp.einsum("ipc...,jqc...->ijpq", a, b)
            for a, b in zip(jax.tree_util.tree_leaves(j1), jax.tree_util.tree_leaves(j2), strict=True)
        )
        return jnp.einsum("ipc,jqc->ijpq", f(params, x1), f(params, x2)) / 8, ntk / 8

    nngp, ntk = jax.jit(jax.vmap(one))(jax.random.split(key, n_samples))
    return [(np.mean(d, 0), np.std(d, 0, ddof=1) / np.sqrt(n_samples)) for d in (nngp, ntk)]


def test_sqrt_scaling_identity_kernels_match_monte_carlo(x64):
    x1, x2 = X1[:, :2, :, :3], X2[:2, :2, :, :3]  # (N, 2, 2, 3)
    init_fn, apply_fn, kernel_fn = stax.GlobalSelfAttention(
        8,
        16,
        4,
        8,
        linear_scaling=False,
        attention_mechanism="IDENTITY",
        W_key_std=1.2,
        W_value_std=0.9,
        b_std=0.5,
    )
    # 400 draws: standard errors about 5% (NNGP) and 2% (NTK) of the largest entry.
    mc_nngp, mc_ntk = _mc_draws(init_fn, apply_fn, jnp.asarray(x1), jnp.asarray(x2), jax.random.key(3), 400)
    k = kernel_fn(x1, x2, ("nngp", "ntk"))
    assert_within_se(as_pairs(k.nngp), *mc_nngp)
    assert_within_se(as_pairs(k.ntk), *mc_ntk)


def test_errors():
    with pytest.raises(ValueError, match="attention_mechanism"):
        stax.GlobalSelfAttention(2, 2, 2, 1, attention_mechanism="TANH")
    with pytest.raises(ValueError, match="pos_emb_type"):
        stax.GlobalSelfAttention(2, 2, 2, 1, pos_emb_type="ROTARY")
    with pytest.raises(ValueError, match="n_heads must be an integer >= 1, got 0"):
        stax.GlobalSelfAttention(2, 2, 2, 0)
    with pytest.raises(TypeError, match="n_chan_key must be an integer"):
        stax.GlobalSelfAttention(2, 2.5, 2, 1)
    with pytest.raises(ValueError, match="pos_emb_p_norm"):
        stax.GlobalSelfAttention(2, 2, 2, 1, pos_emb_p_norm=0)
    with pytest.raises(TypeError, match="pos_emb_decay_fn"):
        stax.GlobalSelfAttention(2, 2, 2, 1, pos_emb_decay_fn=3.0)
    with pytest.raises(ValueError, match="n_chan_pos_emb"):
        stax.GlobalSelfAttention(2, 2, 2, 1, pos_emb_type="SUM", n_chan_pos_emb=3)[0](jax.random.key(0), X1.shape)
    with pytest.raises(ValueError, match="spatial axis"):
        stax.GlobalSelfAttention(2, 2, 2, 1)[0](jax.random.key(0), (3, 5))
    _, _, kernel_fn = stax.GlobalSelfAttention(2, 2, 2, 1, linear_scaling=False)
    with pytest.raises(NotImplementedError, match="linear_scaling=False"):
        kernel_fn(X1, None)
    _, _, kernel_fn = stax.GlobalSelfAttention(2, 2, 2, 1)
    with pytest.raises(ValueError, match="diagonal_spatial"):
        kernel_fn(X1, None, diagonal_spatial=True)
