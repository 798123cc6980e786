r"""Local sensitivity: input gradients and gradient × input for any ``apply_fn(params, x)``.

For a model output :math:`f_k(x)` the sensitivity of feature :math:`j` at :math:`x` is
:math:`\partial f_k / \partial x_j`, and gradient × input is :math:`x_j\,\partial f_k / \partial x_j` (Shrikumar et
al. 2017; Simonyan et al. 2014), which for a linear :math:`f = w^\top x + b` is :math:`w_j x_j`: the attribution
against the all-zero baseline. Both are one reverse-mode pass for the whole batch: when examples do not interact
(no batch statistics), :math:`\nabla_{x_n} \sum_m f_k(x_m) = \nabla_{x_n} f_k(x_n)`.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory.typing import ApplyFn, Params


def scalar_output(apply_fn: ApplyFn, params: Params, output: int | None = None) -> Callable[[jax.Array], jax.Array]:
    """``x_NxD -> f_N``: output ``output`` of ``apply_fn(params, x)`` (``None``: the only output) as one per example.

    Raises:
      ValueError: at call time, if ``output`` is ``None`` and the model has several outputs.
    """

    def f(x_NxD: jax.Array) -> jax.Array:
        y = apply_fn(params, x_NxD)
        y = y.reshape(y.shape[0], -1)
        if output is None and y.shape[1] != 1:
            raise ValueError(f"output must be given for a model with {y.shape[1]} outputs, got None")
        return y[:, 0 if output is None else output]

    return f


def input_gradient(apply_fn: ApplyFn, params: Params, x_NxD: ArrayLike, output: int | None = None) -> jax.Array:
    r""":math:`\partial f_k(x_n) / \partial x_n` for every example, shape of ``x_NxD``.

    Args:
      apply_fn: ``apply_fn(params, x) -> (N,)`` or ``(N, K)`` outputs, examples independent of each other.
      params: the model parameters.
      x_NxD: inputs, example axis first (any trailing shape).
      output: which output :math:`k` (``None`` for a single-output model).
    """
    f = scalar_output(apply_fn, params, output)
    return jax.grad(lambda x: jnp.sum(f(x)))(jnp.asarray(x_NxD))


def gradient_times_input(apply_fn: ApplyFn, params: Params, x_NxD: ArrayLike,
                         output: int | None = None) -> jax.Array:
    r""":math:`x_{nj}\,\partial f_k(x_n) / \partial x_{nj}`, shape of ``x_NxD``."""
    x = jnp.asarray(x_NxD)
    return x * input_gradient(apply_fn, params, x, output)
