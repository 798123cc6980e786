"""Encoder-decoder RNN: teacher forcing against a step-by-step loop, free running as teacher forcing on its own
outputs (values and gradients), scheduled sampling's mixing rate, and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dl_theory.models.sequence.cells import gru, lstm
from dl_theory.models.sequence.seq2seq import seq2seq

B, S, T, V, D, E = 3, 4, 5, 6, 2, 3


def _setup(key, cell=lstm):
    model = seq2seq(cell(8), V, encoder=cell(8), embed_dim=E)
    k_p, k_s, k_x, k_y = jax.random.split(key, 4)
    params = model.init(k_p, source_dim=D, input_dim=E)
    source = jax.random.normal(k_s, (B, S, D))
    inputs = jax.random.normal(k_x, (B, T, E))
    targets = jax.random.randint(k_y, (B, T), 0, V)
    return model, params, source, inputs, targets


def test_teacher_forcing_equals_a_step_by_step_loop(key):
    model, params, source, inputs, targets = _setup(key)
    cell = lstm(8)

    @jax.jit
    def loop(params):
        carry = cell.initial_carry(B)
        for s in range(S):
            carry, _ = cell.step(params["encoder"], carry, source[:, s])
        fed, expected = jnp.full((B,), V), []
        for t in range(T):
            carry, h = cell.step(params["decoder"], carry, jnp.concatenate([params["embed"][fed], inputs[:, t]], -1))
            expected.append(h @ params["out"]["w"] + params["out"]["b"][None, :])
            fed = targets[:, t]
        return jnp.stack(expected, axis=1)

    logits, fed_tokens = jax.jit(lambda p: model.decode(p, model.encode(p, source), targets, inputs))(params)
    np.testing.assert_allclose(logits, loop(params), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(fed_tokens[:, 1:], targets[:, :-1])
    np.testing.assert_array_equal(fed_tokens[:, 0], V)


def test_free_running_is_teacher_forcing_on_its_own_outputs(key):
    model, params, source, inputs, targets = _setup(key, gru)
    carry = model.encode(params, source)
    free = lambda p: model.decode(p, carry, targets, inputs, feed_prob=1.0, sample=False)
    logits, fed = jax.jit(free)(params)
    own = jnp.argmax(logits, axis=-1)
    np.testing.assert_array_equal(fed[:, 1:], own[:, :-1])
    forced = lambda p: model.decode(p, carry, own, inputs)[0]
    np.testing.assert_allclose(logits, forced(params), rtol=1e-5, atol=1e-6)
    # no gradient flows through the fed-back choice: the same gradient as teacher forcing on the fixed tokens
    loss = lambda z: jnp.sum(jax.nn.log_softmax(z)[..., 0])
    g_free = jax.jit(jax.grad(lambda p: loss(free(p)[0])))(params)
    g_forced = jax.jit(jax.grad(lambda p: loss(forced(p))))(params)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5), g_free, g_forced)


def test_scheduled_sampling_feeds_own_tokens_at_the_given_rate(key):
    model = seq2seq(gru(4), V, embed_dim=E)
    params = model.init(key)
    n, t, p = 400, 12, 0.3
    targets = jax.random.randint(jax.random.fold_in(key, 1), (n, t), 0, V)
    logits, fed = model.decode(params, model.encode(params, batch=n), targets, feed_prob=p,
                               key=jax.random.fold_in(key, 2), sample=False)
    own, truth, fed = np.argmax(logits, -1)[:, :-1], np.asarray(targets)[:, :-1], np.asarray(fed)[:, 1:]
    assert np.all((fed == own) | (fed == truth))
    differ = own != truth
    rate = np.mean(fed[differ] == own[differ])
    assert abs(rate - p) < 5 * np.sqrt(p * (1 - p) / differ.sum())
    teacher = model.decode(params, model.encode(params, batch=n), targets, key=jax.random.fold_in(key, 3),
                           feed_prob=0.0)[1]
    np.testing.assert_array_equal(np.asarray(teacher)[:, 1:], truth)


def test_sampled_own_tokens_follow_the_softmax(key):
    model = seq2seq(gru(4), V, embed_dim=E)
    params = model.init(key)
    targets = jnp.zeros((4000, 2), jnp.int32)
    logits, fed = model.decode(params, model.encode(params, batch=4000), targets, feed_prob=1.0,
                               key=jax.random.fold_in(key, 1), sample=True)
    probs = np.asarray(jax.nn.softmax(logits[0, 0]))  # same first step for every row
    freq = np.bincount(np.asarray(fed[:, 1]), minlength=V) / 4000
    np.testing.assert_allclose(freq, probs, atol=5 * np.sqrt(0.25 / 4000))


def test_first_token_and_no_encoder(key):
    model = seq2seq(gru(4), V, embed_dim=E)
    params = model.init(key, input_dim=1)
    first = jnp.array([1, 2])
    _, fed = model.decode(params, model.encode(params, batch=2), jnp.zeros((2, 3), jnp.int32), jnp.ones((2, 3, 1)),
                          first_token_B=first)
    np.testing.assert_array_equal(fed[:, 0], first)


@pytest.mark.parametrize("case,match", [("mismatch", "encoder"), ("no_key", "key"), ("inputs", "inputs_BxTxD"),
                                        ("targets", "targets_BxT"), ("no_source", "source_BxSxD"),
                                        ("feed", "feed_prob")])
def test_bad_input_raises(key, case, match):
    if case == "mismatch":
        with pytest.raises(ValueError, match=match):
            seq2seq(gru(4), V, encoder=lstm(4))
        return
    model, params, source, inputs, targets = _setup(key)
    carry = model.encode(params, source)
    calls = {"no_key": lambda: model.decode(params, carry, targets, inputs, feed_prob=0.5),
             "inputs": lambda: model.decode(params, carry, targets, inputs[:, :2]),
             "targets": lambda: model.decode(params, carry, targets[:, :0], inputs[:, :0]),
             "no_source": lambda: model.encode(params, None, batch=B),
             "feed": lambda: model.decode(params, carry, targets, inputs, feed_prob=1.5, key=key)}
    with pytest.raises(ValueError, match=match):
        calls[case]()
