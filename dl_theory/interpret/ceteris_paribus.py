r"""Ceteris-paribus (individual conditional expectation) curves: vary one feature, hold the others fixed.

For a point :math:`x` and feature :math:`j` the curve is :math:`z \mapsto f(z, x_{-j})` over a grid of :math:`z`
(Goldstein et al. 2015, "Peeking inside the black box"); its slope at :math:`z = x_j` is the sensitivity
:math:`\partial f / \partial x_j` of :mod:`dl_theory.interpret.gradients`, and its average over a sample of
:math:`x` is the partial-dependence curve.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory import checks


def ceteris_paribus(f: Callable[[jax.Array], jax.Array], x_D: ArrayLike, grid_G: ArrayLike,
                    features: Sequence[int] | None = None) -> jax.Array:
    r""":math:`f(z_g, x_{-j})` for every feature :math:`j` in ``features`` and grid value :math:`z_g`; shape ``(F, G)``.

    Args:
      f: batched model ``x_NxD -> (N,)`` (e.g. :func:`~dl_theory.interpret.gradients.scalar_output`).
      x_D: the point to explain.
      grid_G: the values each chosen feature takes (the same grid for every feature).
      features: feature indices (default: all ``D``).
    """
    x_D, grid_G = jnp.asarray(x_D), jnp.asarray(grid_G)
    d = x_D.shape[0]
    features = list(range(d)) if features is None else list(features)
    for i, j in enumerate(features):
        checks.in_interval(0, d - 1, closed=True)(f"features[{i}]", checks.integer(f"features[{i}]", j))
    chosen_FxD = jnp.asarray(features)[:, None] == jnp.arange(d)[None, :]
    points_FxGxD = jnp.where(chosen_FxD[:, None, :], grid_G[None, :, None], x_D[None, None, :])
    return f(points_FxGxD.reshape(-1, d)).reshape(len(features), grid_G.shape[0])
