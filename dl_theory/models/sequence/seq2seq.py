r"""Encoder-decoder RNN (Sutskever et al. 2014; Cho et al. 2014) with teacher forcing, free running and scheduled
sampling (Bengio et al. 2015).

The encoder cell reads a source :math:`s_{1..S}`; the decoder cell starts from the encoder's final state (zero
without a source) and emits a distribution over ``V`` tokens at every step from its state

.. math:: z_t = F(z_{t-1}, [E\,\hat y_{t-1}, x_t]), \qquad p(y_t \mid \cdot) = \mathrm{softmax}(G z_t + g),

where :math:`\hat y_{t-1}` is the token fed back (the notes' feedback connection from :math:`y^{t-1}` to
:math:`z^t`), :math:`E` a learned embedding (row ``V`` is the start token) and :math:`x_t` optional inputs aligned
with the outputs. What is fed back is the training regime:

* teacher forcing: the true :math:`y_{t-1}`, so the model only ever conditions on ground-truth prefixes;
* free running: the model's own prediction (its argmax, or a sample); this is how it generates, and a model trained
  only with teacher forcing meets its own mistakes for the first time here (exposure bias);
* scheduled sampling: at every step, independently, the model's own sample with probability ``feed_prob`` and the
  truth otherwise, ``feed_prob`` raised from 0 during training. No gradient flows through the fed-back choice.

The decoder's cell must have the encoder's carry structure (same kind and width) to start from its final state.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.models.sequence.cells import Carry, Cell
from dl_theory.models.sequence.rnn import unroll
from dl_theory.typing import Params


class Seq2Seq(NamedTuple):
    """An encoder-decoder RNN as pure functions (see the module docstring and :func:`seq2seq`)."""

    init: Callable[..., Params]
    encode: Callable[..., Carry]
    decode: Callable[..., tuple[jax.Array, jax.Array]]
    vocab_size: int


def _needs_key(feed_prob: float | jax.Array, sample: bool) -> bool:
    """Randomness is used unless feed_prob is a concrete 0 (teacher forcing) or 1 with argmax tokens."""
    p = checks.concrete(feed_prob)
    return p is None or not (p == 0.0 or (p == 1.0 and not sample))


def seq2seq(decoder: Cell, vocab_size: int, *, encoder: Cell | None = None, embed_dim: int = 16) -> Seq2Seq:
    r"""An encoder-decoder RNN over ``vocab_size`` output tokens.

    * ``init(key, source_dim=0, input_dim=0) -> params`` with ``{"encoder", "decoder", "embed": (V+1)xE,
      "out": {"w": HxV, "b": V}}`` (``source_dim`` only with an encoder, ``input_dim`` for aligned inputs);
    * ``encode(params, source_BxSxD=None, batch=None) -> carry``: the decoder's initial state;
    * ``decode(params, carry, targets_BxT, inputs_BxTxD=None, *, feed_prob=0.0, key=None, sample=True,
      first_token_B=None) -> (logits_BxTxV, fed_BxT)``: ``T`` decoder steps; ``fed[:, t]`` is the token fed at
      step t (``first_token_B``, the start token ``V`` by default, at t = 0). ``feed_prob`` = 0 is teacher forcing,
      1 free running (``targets`` then only set the length), in between scheduled sampling; the model's own token
      is sampled from its softmax (``sample=True``, needs ``key``) or its argmax.
    """
    checks.count("vocab_size", vocab_size)
    checks.count("embed_dim", embed_dim)
    if encoder is not None and (jax.tree.structure(encoder.initial_carry(1)) != jax.tree.structure(
            decoder.initial_carry(1)) or encoder.features != decoder.features):
        raise checks.fail("encoder", "a cell with the decoder's carry (same kind and width)", encoder)

    def init(key: jax.Array, source_dim: int = 0, input_dim: int = 0) -> Params:
        k_enc, k_dec, k_emb, k_out = jax.random.split(key, 4)
        checks.at_least(0)("input_dim", input_dim)
        params = {"decoder": decoder.init(k_dec, embed_dim + input_dim),
                  "embed": jax.random.normal(k_emb, (vocab_size + 1, embed_dim)),
                  "out": {"w": jax.random.normal(k_out, (decoder.features, vocab_size)) / np.sqrt(decoder.features),
                          "b": jnp.zeros((vocab_size,))}}
        if encoder is not None:
            params["encoder"] = encoder.init(k_enc, checks.count("source_dim", source_dim))
        return params

    def encode(params: Params, source_BxSxD: ArrayLike | None = None, batch: int | None = None) -> Carry:
        if encoder is None or source_BxSxD is None:
            if encoder is not None:
                raise checks.fail("source_BxSxD", "a (batch, length, features) array for a model with an encoder",
                                  source_BxSxD)
            return decoder.initial_carry(checks.count("batch", batch))
        return unroll(encoder, params["encoder"], source_BxSxD)[0]

    def decode(params: Params, carry: Carry, targets_BxT: ArrayLike, inputs_BxTxD: ArrayLike | None = None, *,
               feed_prob: float | jax.Array = 0.0, key: jax.Array | None = None, sample: bool = True,
               first_token_B: ArrayLike | None = None) -> tuple[jax.Array, jax.Array]:
        targets = jnp.asarray(targets_BxT, jnp.int32)
        if targets.ndim != 2 or targets.shape[1] == 0:
            raise checks.fail("targets_BxT", "a (batch, length >= 1) integer array", targets.shape)
        b, t = targets.shape
        checks.unit_interval("feed_prob", feed_prob)
        if key is None and _needs_key(feed_prob, sample):
            raise checks.fail("key", "a PRNG key for scheduled sampling or sampled own tokens", key)
        inputs = jnp.zeros((b, t, 0)) if inputs_BxTxD is None else jnp.asarray(inputs_BxTxD)
        if inputs.shape[:2] != (b, t):
            raise checks.fail("inputs_BxTxD", f"of shape ({b}, {t}, D) (the targets' batch and length)",
                              inputs.shape)
        first = jnp.full((b,), vocab_size, jnp.int32) if first_token_B is None else jnp.asarray(first_token_B)
        keys = jax.random.split(jax.random.key(0) if key is None else key, t)
        w, bias = params["out"]["w"], params["out"]["b"]

        def step(state, xs):
            carry, fed = state
            x_t, truth, k = xs
            carry, h_BxH = decoder.step(params["decoder"], carry, jnp.concatenate(
                [params["embed"][fed], x_t.astype(params["embed"].dtype)], axis=-1))
            logits = h_BxH @ w + bias[None, :]
            k_coin, k_draw = jax.random.split(k)
            own = (jax.random.categorical(k_draw, jax.lax.stop_gradient(logits)) if sample
                   else jnp.argmax(logits, axis=-1)).astype(jnp.int32)
            nxt = jnp.where(jax.random.bernoulli(k_coin, feed_prob, (b,)), own, truth)
            return (carry, nxt), (logits, fed)

        xs = (jnp.swapaxes(inputs, 0, 1), targets.T, keys)
        _, (logits_TxBxV, fed_TxB) = jax.lax.scan(step, (carry, first.astype(jnp.int32)), xs)
        return jnp.swapaxes(logits_TxBxV, 0, 1), fed_TxB.T

    return Seq2Seq(init, encode, decode, vocab_size)
