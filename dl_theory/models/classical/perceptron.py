r"""The perceptron (Rosenblatt, 1958) and the geometric margin.

Threshold unit :math:`f[w](x) = \mathrm{sign}(w\cdot x)`; a bias is absorbed by appending a constant 1 to ``x``
(:func:`with_bias`). The learning rule visits the examples cyclically and, on a mistake
(:math:`y\, w\cdot x \le 0`), updates :math:`w \leftarrow w + y x`. From :math:`w_0 = 0` every iterate is
:math:`w_t = \sum_i \alpha_i y_i x_i` with :math:`\alpha_i` the number of updates on example :math:`i`, hence lies in
:math:`\mathrm{span}(x_1, \dots, x_s)`.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike


class PerceptronRun(NamedTuple):
    """Outcome of :func:`perceptron`.

    Attributes:
      w: final weights, shape ``(d,)``.
      counts: updates made on each example (:math:`\\alpha_i`), shape ``(s,)``.
      converged: whether a full pass made no mistake.
      epochs: passes made (including the final mistake-free one when converged).
      w_path: row ``t - 1`` holds :math:`w_t`, the weights after the ``t``-th update, for the first
        ``max_updates`` updates; later rows are zero. Shape ``(max_updates, d)``.
    """

    w: jax.Array
    counts: jax.Array
    converged: jax.Array
    epochs: jax.Array
    w_path: jax.Array


def with_bias(x_NxD: ArrayLike) -> jax.Array:
    """Appends a constant-1 feature so a homogeneous classifier on the result has a bias."""
    x_NxD = jnp.asarray(x_NxD)
    return jnp.concatenate([x_NxD, jnp.ones((x_NxD.shape[0], 1), x_NxD.dtype)], axis=1)


def margins(w_D: ArrayLike, x_NxD: ArrayLike, y_N: ArrayLike) -> jax.Array:
    r"""Geometric margins :math:`\gamma[w](x_i, y_i) = y_i\, w\cdot x_i / \|w\|`."""
    w_D = jnp.asarray(w_D)
    return jnp.asarray(y_N) * (jnp.asarray(x_NxD) @ w_D) / jnp.linalg.norm(w_D)


def perceptron(x_NxD: ArrayLike, y_N: ArrayLike, max_epochs: int, max_updates: int = 0) -> PerceptronRun:
    """Runs the perceptron rule from ``w = 0`` until a pass makes no mistake or ``max_epochs`` passes were made.

    jit- and vmap-friendly (``max_epochs`` and ``max_updates`` are static).

    Args:
      x_NxD: inputs.
      y_N: labels in {-1, +1}.
      max_epochs: maximum number of cyclic passes over the data.
      max_updates: how many iterates :math:`w_1, w_2, \\dots` to record in ``w_path``.
    """
    x_NxD, y_N = jnp.asarray(x_NxD), jnp.asarray(y_N)
    s, d = x_NxD.shape
    if y_N.shape != (s,):
        raise ValueError(f"y_N must have shape ({s},) to match x_NxD {x_NxD.shape}; got {y_N.shape}")
    y_N = y_N.astype(x_NxD.dtype)

    def visit(i, carry):
        w, counts, t, path, mistakes = carry
        mistake = y_N[i] * jnp.dot(w, x_NxD[i]) <= 0
        w = jnp.where(mistake, w + y_N[i] * x_NxD[i], w)
        row = jnp.minimum(t, max_updates - 1)  # write one row (O(d)), not a select over the whole path
        path = path.at[row].set(jnp.where(mistake & (t < max_updates), w, path[row]))
        return w, counts.at[i].add(mistake.astype(jnp.int32)), t + mistake, path, mistakes + mistake

    def epoch(carry):
        w, counts, t, path, _, epochs = carry
        w, counts, t, path, mistakes = jax.lax.fori_loop(0, s, visit, (w, counts, t, path, jnp.int32(0)))
        return w, counts, t, path, mistakes, epochs + 1

    def not_done(carry):
        *_, mistakes, epochs = carry
        return (mistakes > 0) & (epochs < max_epochs)

    init = (jnp.zeros(d, x_NxD.dtype), jnp.zeros(s, jnp.int32), jnp.int32(0),
            jnp.zeros((max(max_updates, 1), d), x_NxD.dtype), jnp.int32(1), jnp.int32(0))
    w, counts, _, path, mistakes, epochs = jax.lax.while_loop(not_done, epoch, init)
    return PerceptronRun(w, counts, mistakes == 0, epochs, path[:max_updates])
