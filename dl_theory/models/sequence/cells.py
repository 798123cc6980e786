r"""Recurrent cells as pure functions: the simple (Elman) RNN, the LSTM and the GRU, and their deep stack.

A :class:`Cell` is three pure functions and a width: ``init(key, input_dim) -> params``,
``step(params, carry, x_BxD) -> (carry, h_BxH)`` (one time step) and ``initial_carry(batch) -> carry`` (the zero
state :math:`z_0 = 0` of the notes). Weights are stored in the notes' orientation, acting on column vectors:
``W`` (``G*H x H``) on the previous hidden state, ``U`` (``G*H x D``) on the input, for ``G`` stacked gates.

* :func:`simple_rnn` -- :math:`z_t = \varphi(W z_{t-1} + U x_t + b)` (tanh by default);
* :func:`lstm` -- with :math:`\tilde x_t = [x_t, z_{t-1}]`, gates in the order (input, forget, candidate, output):

  .. math:: C_t = \sigma(F\tilde x_t) \odot C_{t-1} + \sigma(G\tilde x_t) \odot \tanh(V\tilde x_t), \qquad
     z_t = \sigma(H\tilde x_t) \odot \tanh(C_t),

  the carry is :math:`(C_t, z_t)` and the forget-gate bias starts at 1 (the notes' "initialization of bias: use 1",
  Gers et al. 2000), so that the cell state is kept by default;
* :func:`gru` -- gates (reset r, update u, candidate n):
  :math:`z_t = u_t \odot z_{t-1} + (1 - u_t) \odot n_t`. With ``reset_after=False``, the notes' (and Cho et al.'s
  2014) form :math:`n_t = \tanh(W_n [r_t \odot z_{t-1}] + U_n x_t + b_n)`; with ``reset_after=True`` (default, the
  cuDNN/flax form) :math:`n_t = \tanh(r_t \odot (W_n z_{t-1} + b_{hn}) + U_n x_t + b_n)`.
* :func:`stack` -- a deep RNN :math:`z^{t,\ell} = F_\ell(z^{t-1,\ell}, z^{t,\ell-1})`, :math:`z^{t,0} = x_t`, as one
  cell whose carry is the tuple of the layers' carries.

:mod:`~dl_theory.models.sequence.rnn` unrolls a cell over time with ``lax.scan`` and builds models from cells.

References: Elman 1990; Hochreiter & Schmidhuber 1997; Gers, Schmidhuber & Cummins 2000; Cho et al. 2014.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike, DTypeLike

from dl_theory import checks
from dl_theory.typing import Params

Carry = Any
"""A cell's state: an array ``(B, H)`` (RNN, GRU), a pair ``(C, z)`` (LSTM), or a tuple of those (a stack)."""


class Cell(NamedTuple):
    """A recurrent cell as pure functions (see the module docstring)."""

    init: Callable[[jax.Array, int], Params]
    step: Callable[[Params, Carry, jax.Array], tuple[Carry, jax.Array]]
    initial_carry: Callable[..., Carry]
    features: int


def _zeros(features: int) -> Callable[..., jax.Array]:
    return lambda batch, dtype=jnp.float32: jnp.zeros((batch, features), dtype)


def _weights(key: jax.Array, gates: int, features: int, input_dim: int, recurrent_gain: float) -> Params:
    """LeCun-normal ``U`` (variance 1/D) and a ``recurrent_gain`` times orthogonal block per gate for ``W``."""
    k_u, k_w = jax.random.split(key)
    orthogonal = jax.nn.initializers.orthogonal(scale=recurrent_gain)
    w = jnp.concatenate([orthogonal(k, (features, features)) for k in jax.random.split(k_w, gates)], axis=0)
    return {"U": jax.random.normal(k_u, (gates * features, input_dim)) / np.sqrt(input_dim), "W": w}


def _linear(m: jax.Array, v_BxK: jax.Array) -> jax.Array:
    return v_BxK @ m.T


def _bias(b: jax.Array) -> jax.Array:
    return b[None, :]  # explicit broadcast over the batch (rank promotion may be 'raise')


def _check_width(features: int) -> int:
    return checks.count("features", features)


def simple_rnn(features: int, *, activation: Callable[[jax.Array], jax.Array] = jnp.tanh,
               recurrent_gain: float = 1.0) -> Cell:
    r"""The simple RNN :math:`z_t = \varphi(W z_{t-1} + U x_t + b)`; params ``{"W": HxH, "U": HxD, "b": H}``.

    ``W`` starts as ``recurrent_gain`` times a random orthogonal matrix (so :math:`\sigma_{\max}(W)` = the gain).
    """
    _check_width(features)
    checks.positive("recurrent_gain", recurrent_gain)

    def init(key: jax.Array, input_dim: int) -> Params:
        return {**_weights(key, 1, features, checks.count("input_dim", input_dim), recurrent_gain),
                "b": jnp.zeros((features,))}

    def step(params: Params, z_BxH: jax.Array, x_BxD: jax.Array) -> tuple[jax.Array, jax.Array]:
        z = activation(_linear(params["W"], z_BxH) + _linear(params["U"], x_BxD) + _bias(params["b"]))
        return z, z

    return Cell(init, step, _zeros(features), features)


def lstm(features: int, *, forget_bias: float = 1.0, recurrent_gain: float = 1.0) -> Cell:
    r"""The LSTM; params ``{"W": 4HxH, "U": 4HxD, "b": 4H}``, gates (input, forget, candidate, output).

    The carry is ``(C_BxH, z_BxH)`` (cell state, hidden state); the output is ``z``. The forget-gate bias starts at
    ``forget_bias`` (1 by default), the others at 0.
    """
    _check_width(features)
    checks.finite("forget_bias", forget_bias)

    def init(key: jax.Array, input_dim: int) -> Params:
        b = jnp.zeros((4, features)).at[1].set(forget_bias).reshape(-1)
        return {**_weights(key, 4, features, checks.count("input_dim", input_dim), recurrent_gain), "b": b}

    def step(params: Params, carry: tuple[jax.Array, jax.Array], x_BxD: jax.Array):
        c_BxH, z_BxH = carry
        pre = _linear(params["W"], z_BxH) + _linear(params["U"], x_BxD) + _bias(params["b"])
        i, f, g, o = jnp.split(pre, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c_BxH + jax.nn.sigmoid(i) * jnp.tanh(g)
        z = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (c, z), z

    zeros = _zeros(features)
    return Cell(init, step, lambda batch, dtype=jnp.float32: (zeros(batch, dtype), zeros(batch, dtype)), features)


def gru(features: int, *, reset_after: bool = True, recurrent_gain: float = 1.0) -> Cell:
    r"""The GRU; params ``{"W": 3HxH, "U": 3HxD, "b": 3H, "b_hn": H}``, gates (reset, update, candidate).

    ``b`` is the input-side bias of the three gates; ``b_hn`` the bias of the candidate's recurrent term
    :math:`W_n z_{t-1} + b_{hn}` (used with ``reset_after=True`` only, as flax's ``GRUCell`` and cuDNN have it).
    """
    _check_width(features)

    def init(key: jax.Array, input_dim: int) -> Params:
        return {**_weights(key, 3, features, checks.count("input_dim", input_dim), recurrent_gain),
                "b": jnp.zeros((3 * features,)), "b_hn": jnp.zeros((features,))}

    def step(params: Params, z_BxH: jax.Array, x_BxD: jax.Array) -> tuple[jax.Array, jax.Array]:
        w_r, w_u, w_n = jnp.split(params["W"], 3, axis=0)
        x_r, x_u, x_n = jnp.split(_linear(params["U"], x_BxD) + _bias(params["b"]), 3, axis=-1)
        r = jax.nn.sigmoid(x_r + _linear(w_r, z_BxH))
        u = jax.nn.sigmoid(x_u + _linear(w_u, z_BxH))
        if reset_after:
            n = jnp.tanh(x_n + r * (_linear(w_n, z_BxH) + _bias(params["b_hn"])))
        else:
            n = jnp.tanh(x_n + _linear(w_n, r * z_BxH))
        z = u * z_BxH + (1 - u) * n
        return z, z

    return Cell(init, step, _zeros(features), features)


def stack(*cells: Cell) -> Cell:
    r"""The deep RNN of the notes: layer :math:`\ell` reads layer :math:`\ell-1`'s output at the same time step.

    The params are the list of the layers' params, the carry the tuple of their carries, the output the top layer's.
    """
    if not cells or not all(isinstance(c, Cell) for c in cells):
        raise checks.fail("cells", "one or more Cell", cells)

    def init(key: jax.Array, input_dim: int) -> Params:
        dims = (input_dim, *(c.features for c in cells[:-1]))
        return [c.init(k, d) for c, k, d in zip(cells, jax.random.split(key, len(cells)), dims, strict=True)]

    def step(params: Params, carry: tuple, x_BxD: jax.Array) -> tuple[tuple, jax.Array]:
        new, h = [], x_BxD
        for c, p, s in zip(cells, params, carry, strict=True):
            s, h = c.step(p, s, h)
            new.append(s)
        return tuple(new), h

    def initial_carry(batch: int, dtype: DTypeLike = jnp.float32) -> tuple:
        return tuple(c.initial_carry(batch, dtype) for c in cells)

    return Cell(init, step, initial_carry, cells[-1].features)


def as_batch(x: ArrayLike) -> jax.Array:
    """``x`` as a float array of rank 3 ``(B, T, D)`` with T >= 1; a clear error otherwise."""
    x = jnp.asarray(x)
    if x.ndim != 3 or x.shape[1] < 1:
        raise checks.fail("x_BxTxD", "an array of shape (batch, time >= 1, features)", x.shape)
    return x
