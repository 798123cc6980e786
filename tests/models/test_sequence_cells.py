"""Recurrent cells against flax.linen's cells with the same weights; BPTT against the explicit sum over time."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dl_theory.models.sequence import bidirectional, gru, lstm, sequence_model, simple_rnn, stack, unroll
from dl_theory.models.sequence.bptt import explicit_bptt, state_jacobian_norms

B, T, D, H = 3, 7, 4, 5


def _x(seed=0, t=T):
    return jax.random.normal(jax.random.key(seed), (B, t, D))


def _flax_outputs(cell_module, flax_params, x):
    return nn.RNN(cell_module).apply({"params": {"cell": flax_params}}, x)


def _random(params, seed=1):
    """Every leaf redrawn (biases non-zero) so that every weight matters."""
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    new = [0.5 * jax.random.normal(k, leaf.shape) for k, leaf in zip(keys, leaves, strict=True)]
    return jax.tree.unflatten(tree, new)


def _dense(w, b=None):
    return {"kernel": w.T} if b is None else {"kernel": w.T, "bias": b}


def test_simple_rnn_equals_flax_simple_cell():
    cell = simple_rnn(H)
    p = _random(cell.init(jax.random.key(0), D))
    flax_p = {"i": _dense(p["U"], p["b"]), "h": _dense(p["W"])}
    want = _flax_outputs(nn.SimpleCell(H), flax_p, _x())
    np.testing.assert_allclose(unroll(cell, p, _x())[1], want, rtol=1e-5, atol=1e-6)


def test_lstm_equals_flax_lstm_cell():
    cell = lstm(H)
    p = _random(cell.init(jax.random.key(0), D))
    u, w, b = (jnp.split(p[k], 4, axis=0) for k in ("U", "W", "b"))
    flax_p = {}
    for gate, ui, wi, bi in zip("ifgo", u, w, b, strict=True):  # flax: input side without bias, recurrent side with it
        flax_p[f"i{gate}"], flax_p[f"h{gate}"] = _dense(ui), _dense(wi, bi)
    (c, z), h = unroll(cell, p, _x())
    want = _flax_outputs(nn.LSTMCell(H), flax_p, _x())
    np.testing.assert_allclose(h, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(z, want[:, -1], rtol=1e-5, atol=1e-6)
    assert c.shape == (B, H)


def _flax_gru_params(p):
    u, w, b = (jnp.split(p[k], 3, axis=0) for k in ("U", "W", "b"))
    flax_p = {}
    for gate, ui, wi, bi in zip("rzn", u, w, b, strict=True):  # flax: input-side bias; recurrent bias: candidate only
        flax_p[f"i{gate}"], flax_p[f"h{gate}"] = _dense(ui, bi), _dense(wi)
    flax_p["hn"]["bias"] = p["b_hn"]
    return flax_p


def test_gru_equals_flax_gru_cell():
    cell = gru(H)
    p = _random(cell.init(jax.random.key(0), D))
    want = _flax_outputs(nn.GRUCell(H), _flax_gru_params(p), _x())
    np.testing.assert_allclose(unroll(cell, p, _x())[1], want, rtol=1e-5, atol=1e-6)


def test_gru_reset_before_is_the_notes_form():
    """W_n (r * z) = r * (W_n z) for a diagonal W_n: the notes' form then equals flax's reset-after cell."""
    cell = gru(H, reset_after=False)
    p = _random(cell.init(jax.random.key(0), D))
    w_r, w_u, w_n = jnp.split(p["W"], 3, axis=0)
    p = {**p, "W": jnp.concatenate([w_r, w_u, jnp.diag(jnp.diag(w_n))]), "b_hn": jnp.zeros(H)}
    want = _flax_outputs(nn.GRUCell(H), _flax_gru_params(p), _x())
    np.testing.assert_allclose(unroll(cell, p, _x())[1], want, rtol=1e-5, atol=1e-6)
    full = _random(cell.init(jax.random.key(0), D))
    assert not np.allclose(unroll(cell, full, _x())[1], unroll(gru(H), full, _x())[1], atol=1e-3)


def test_lstm_forget_bias_starts_at_one():
    b = lstm(H).init(jax.random.key(0), D)["b"].reshape(4, H)
    np.testing.assert_array_equal(b, np.stack([np.zeros(H), np.ones(H), np.zeros(H), np.zeros(H)]))


def test_bptt_equals_explicit_sum_over_time(x64):
    r"""jax.grad through lax.scan = the notes' sum over time dR/dW_ij = sum_t dR/dz_t^i phi'_t^i z_{t-1}^j."""
    cell = simple_rnn(H)
    p = _random(cell.init(jax.random.key(0), D))
    target = jax.random.normal(jax.random.key(2), (B, T, H))

    def risk(p):
        return 0.5 * jnp.sum((unroll(cell, p, _x())[1] - target) ** 2)

    grad = jax.grad(risk)(p)
    want = explicit_bptt(p, _x(), unroll(cell, p, _x())[1] - target)
    for name in ("W", "U", "b"):
        np.testing.assert_allclose(grad[name], want[name], rtol=1e-10, atol=1e-12)


def test_state_jacobian_norms_closed_form_and_bound(x64):
    """Zero input and bias keep z_t = 0, so dz_T/dz_t = W^(T-t), of norm sigma^(T-t) for sigma times orthogonal W;
    with inputs, tanh' <= 1 keeps every norm under that bound."""
    sigma = 1.3
    cell = simple_rnn(H, recurrent_gain=sigma)
    p = cell.init(jax.random.key(0), D)
    norms = state_jacobian_norms(cell, p, jnp.zeros((2, T, D)))
    np.testing.assert_allclose(norms, np.broadcast_to(sigma ** (T - np.arange(T)), (2, T)), rtol=1e-10)
    driven = state_jacobian_norms(cell, p, 3 * _x())
    assert np.all(driven <= sigma ** (T - np.arange(T))[None] * (1 + 1e-12))
    assert np.all(driven[:, 0] < 0.5 * sigma**T)


def test_stack_is_layer_by_layer_unroll():
    deep = stack(lstm(H), gru(3), simple_rnn(2))
    p = deep.init(jax.random.key(0), D)
    final, h = unroll(deep, p, _x())
    h1 = unroll(lstm(H), p[0], _x())[1]
    h2 = unroll(gru(3), p[1], h1)[1]
    h3 = unroll(simple_rnn(2), p[2], h2)[1]
    np.testing.assert_allclose(h, h3, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(final[2], h3[:, -1], rtol=1e-6, atol=1e-6)
    assert deep.features == 2


def test_bidirectional_backward_half_reads_the_reversed_sequence():
    fwd, bwd = gru(H), simple_rnn(3)
    p = {"forward": fwd.init(jax.random.key(0), D), "backward": bwd.init(jax.random.key(1), D)}
    h = bidirectional(fwd, bwd, p, _x())
    assert h.shape == (B, T, H + 3)
    np.testing.assert_allclose(h[..., :H], unroll(fwd, p["forward"], _x())[1], rtol=1e-6, atol=1e-6)
    reversed_run = unroll(bwd, p["backward"], _x()[:, ::-1])[1][:, ::-1]
    np.testing.assert_allclose(h[..., H:], reversed_run, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("readout,backward", [("last", None), ("sequence", None), ("last", gru(2))])
def test_sequence_model_shapes_and_readout(readout, backward):
    init_fn, apply_fn = sequence_model(lstm(H), 6, backward=backward, readout=readout)
    shape, params = init_fn(jax.random.key(0), (B, T, D))
    y = apply_fn(params, _x())
    assert y.shape == shape == ((B, 6) if readout == "last" else (B, T, 6))
    if readout == "last" and backward is None:
        z_T = unroll(lstm(H), params["rnn"], _x())[1][:, -1]
        np.testing.assert_allclose(y, z_T @ params["out"]["w"] + params["out"]["b"][None], rtol=1e-6, atol=1e-6)
    if backward is not None:  # the backward half of the last readout is its state after reading x_T ... x_1
        z_1 = unroll(backward, params["rnn"]["backward"], _x(), reverse=True)[1][:, 0]
        np.testing.assert_allclose(y - params["out"]["b"][None], jnp.concatenate(
            [unroll(lstm(H), params["rnn"]["forward"], _x())[1][:, -1], z_1], -1) @ params["out"]["w"],
            rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make,match", [
    (lambda: simple_rnn(0), "features"),
    (lambda: unroll(gru(2), gru(2).init(jax.random.key(0), D), jnp.zeros((B, 0, D))), "x_BxTxD"),
    (lambda: unroll(gru(2), gru(2).init(jax.random.key(0), D), jnp.zeros((T, D))), "x_BxTxD"),
    (lambda: sequence_model(gru(2), 1, readout="mean"), "readout"),
    (lambda: stack(), "cells"),
])
def test_bad_input_raises(make, match):
    with pytest.raises(ValueError, match=match):
        make()
