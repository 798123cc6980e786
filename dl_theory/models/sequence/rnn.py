r"""Unrolling a :class:`~dl_theory.models.sequence.cells.Cell` over time, bidirectional RNNs, and sequence models.

* :func:`unroll` -- :math:`z_t = F[\theta](z_{t-1}, x_t)` for :math:`t = 1..T` from :math:`z_0` (zero by default)
  under ``lax.scan``: the same parameters at every step, so ``jax.grad`` through it is backpropagation through time
  (the gradient of a shared weight is the sum of its per-step gradients);
* :func:`bidirectional` -- a forward and a backward RNN over the same sequence, outputs concatenated per step
  (Schuster & Paliwal 1997), so the output at step t sees :math:`x_{1..T}`;
* :func:`sequence_model` -- cell(s) plus a linear readout :math:`y = G z`, as the library's ``(init_fn, apply_fn)``
  pair: ``readout="last"`` maps ``x_BxTxD`` to ``y_BxK`` (from :math:`z_T`; for a bidirectional model, from the
  forward :math:`z_T` and the backward :math:`z_1`), ``readout="sequence"`` to ``y_BxTxK`` (one output per step).
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.models.sequence.cells import Carry, Cell, as_batch
from dl_theory.typing import Model, Params, Shape


def unroll(cell: Cell, params: Params, x_BxTxD: ArrayLike, carry: Carry = None, *,
           reverse: bool = False) -> tuple[Carry, jax.Array]:
    """Runs ``cell`` over the time axis with ``lax.scan``.

    Args:
      cell: the recurrent cell.
      params: its parameters.
      x_BxTxD: inputs, batch first.
      carry: initial state (default ``cell.initial_carry(B)``, zeros).
      reverse: run from t = T down to 1 (outputs are still indexed by t).

    Returns:
      ``(final_carry, h_BxTxH)``: the state after the last step processed and every step's output.
    """
    x = as_batch(x_BxTxD)
    carry = cell.initial_carry(x.shape[0], x.dtype) if carry is None else carry
    final, h_TxBxH = jax.lax.scan(lambda s, x_t: cell.step(params, s, x_t), carry, jnp.swapaxes(x, 0, 1),
                                  reverse=reverse)
    return final, jnp.swapaxes(h_TxBxH, 0, 1)


def bidirectional(forward: Cell, backward: Cell, params: Params, x_BxTxD: ArrayLike) -> jax.Array:
    """Outputs ``h_BxTx(Hf+Hb)`` of a forward and a backward RNN; ``params = {"forward": ..., "backward": ...}``."""
    _, h_f = unroll(forward, params["forward"], x_BxTxD)
    _, h_b = unroll(backward, params["backward"], x_BxTxD, reverse=True)
    return jnp.concatenate([h_f, h_b], axis=-1)


def sequence_model(cell: Cell, out_dim: int, *, backward: Cell | None = None, readout: str = "last") -> Model:
    """``cell`` (and a ``backward`` cell for a bidirectional RNN) with a linear readout; see the module docstring.

    The params are ``{"rnn": cell params or {"forward", "backward"}, "out": {"w": HxK, "b": K}}``; the readout weight
    is LeCun normal, its bias zero.
    """
    checks.count("out_dim", out_dim)
    checks.one_of("last", "sequence")("readout", readout)
    width = cell.features + (0 if backward is None else backward.features)

    def init_fn(key: jax.Array, input_shape: Shape) -> tuple[Shape, Params]:
        if len(input_shape) != 3:
            raise checks.fail("input_shape", "(batch, time, features)", input_shape)
        k_f, k_b, k_out = jax.random.split(key, 3)
        d = input_shape[-1]
        rnn = (cell.init(k_f, d) if backward is None
               else {"forward": cell.init(k_f, d), "backward": backward.init(k_b, d)})
        out = {"w": jax.random.normal(k_out, (width, out_dim)) / np.sqrt(width), "b": jnp.zeros((out_dim,))}
        shape = (input_shape[0], out_dim) if readout == "last" else (*input_shape[:2], out_dim)
        return shape, {"rnn": rnn, "out": out}

    def apply_fn(params: Params, x_BxTxD: ArrayLike, **kwargs) -> jax.Array:
        if backward is None:
            h = unroll(cell, params["rnn"], x_BxTxD)[1]
        else:
            h = bidirectional(cell, backward, params["rnn"], x_BxTxD)
        if readout == "last":
            h = h[:, -1] if backward is None else jnp.concatenate([h[:, -1, :cell.features],
                                                                   h[:, 0, cell.features:]], axis=-1)
        w, b = params["out"]["w"], params["out"]["b"]
        return h @ w + b.reshape((1,) * (h.ndim - 1) + b.shape)

    return Model(init_fn, apply_fn)
