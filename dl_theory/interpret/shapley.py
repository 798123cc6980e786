r"""Exact Shapley values by enumerating all :math:`2^d` coalitions, and the value functions that explain a model.

For a value function :math:`v: 2^{[d]} \to \mathbb R` the Shapley value of player :math:`j` is

.. math::
    \phi_j = \sum_{S \subseteq [d] \setminus \{j\}} w(|S|)\,\bigl(v(S \cup \{j\}) - v(S)\bigr),

with :math:`w(s) = s!(d-s-1)!/d!`: a weighted sum of the :math:`2^{d-1}` contributions
:math:`v(S \cup \{j\}) - v(S)` of each player, gathered from :math:`v` over all coalitions, which is evaluated in
one batched, jitted call (Shapley 1953). The unique attribution with efficiency
:math:`\sum_j \phi_j = v([d]) - v(\emptyset)`, symmetry, dummy and linearity.

To explain a prediction :math:`f(x)` (SHAP, Lundberg & Lee 2017) the features outside :math:`S` are replaced:

* baseline: :math:`v(S) = f(x_S, b_{-S})` for a reference point :math:`b`;
* interventional (marginal): :math:`v(S) = \frac1B \sum_b f(x_S, b_{-S})` over a background sample (Janzing et al.
  2020). For a linear model :math:`f = w^\top x + c` this gives :math:`\phi_j = w_j(x_j - \bar b_j)`, with
  :math:`\bar b` the background mean: :math:`w_j(x_j - \mathbb E X_j)` for independent features.

Enumeration costs :math:`2^d` evaluations of :math:`v`; beyond :data:`MAX_EXACT_FEATURES` features use the
permutation sampler :func:`dl_theory.interpret.sampling.permutation_shapley`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks

MAX_EXACT_FEATURES = 15
ValueFn = Callable[[jax.Array], jax.Array]
"""``v(masks_MxD) -> (M,)``: the value of each coalition, a boolean mask over the ``D`` players."""


def _check_players(d: int) -> int:
    d = checks.count("d", d)
    if d > MAX_EXACT_FEATURES:
        raise checks.fail("d", f"<= {MAX_EXACT_FEATURES} for exact Shapley values (2^d coalitions); for more "
                          "features use dl_theory.interpret.permutation_shapley (sampling)", d)
    return d


def coalition_masks(d: int) -> np.ndarray:
    """All ``2^d`` coalitions as boolean masks, shape ``(2^d, d)``; row ``i`` holds the bits of ``i``."""
    d = _check_players(d)
    return (np.arange(2**d)[:, None] >> np.arange(d)) & 1 == 1


def coalition_pairs(d: int) -> tuple[np.ndarray, np.ndarray]:
    r"""For every player :math:`j`, the ``2^(d-1)`` coalitions :math:`S \not\ni j` (as row indices of
    :func:`coalition_masks`) and their weights :math:`w(|S|) = |S|!(d-|S|-1)!/d!`; both of shape ``(d, 2^(d-1))``."""
    d = _check_players(d)
    rows = np.arange(2**d)
    without_j = np.stack([rows[(rows >> j) & 1 == 0] for j in range(d)])
    size = np.array([bin(i).count("1") for i in range(2**d)])
    w = np.array([1.0 / (d * math.comb(d - 1, s)) for s in range(d)])
    return without_j, w[size[without_j]]


def exact_shapley(value_fn: ValueFn, d: int) -> jax.Array:
    r"""Shapley values :math:`\phi_j` of the ``d`` players of ``value_fn`` by enumerating all coalitions, ``(d,)``.

    The marginal contributions are formed first, so a dummy player (:math:`v(S \cup j) = v(S)` for every
    :math:`S`) gets exactly 0.

    Raises:
      ValueError: if ``d`` exceeds :data:`MAX_EXACT_FEATURES` (the message points to the sampler).
    """
    without_j, w = coalition_pairs(d)
    v = value_fn(jnp.asarray(coalition_masks(d)))
    with_j = without_j | (1 << np.arange(d))[:, None]
    return jnp.sum(jnp.asarray(w, v.dtype) * (v[with_j] - v[without_j]), axis=1)


def _check_point(x_D: ArrayLike, reference: ArrayLike, name: str) -> tuple[jax.Array, jax.Array]:
    x_D, reference = jnp.asarray(x_D), jnp.asarray(reference)
    if x_D.ndim != 1 or reference.shape[-1:] != x_D.shape:
        raise checks.fail(name, f"of trailing shape {x_D.shape} (that of x_D)", f"shape {reference.shape}")
    return x_D, reference


def baseline_value_fn(f: Callable[[jax.Array], jax.Array], x_D: ArrayLike, baseline_D: ArrayLike) -> ValueFn:
    r""":math:`v(S) = f(x_S, b_{-S})` for a batched model ``f: x_NxD -> (N,)`` and a reference point ``baseline_D``."""
    x_D, baseline_D = _check_point(x_D, baseline_D, "baseline_D")
    return jax.jit(lambda masks_MxD: f(jnp.where(masks_MxD, x_D[None, :], baseline_D[None, :])))


def interventional_value_fn(f: Callable[[jax.Array], jax.Array], x_D: ArrayLike, background_BxD: ArrayLike,
                            batch_size: int = 256) -> ValueFn:
    r""":math:`v(S) = \frac1B \sum_{b} f(x_S, b_{-S})` over the rows of ``background_BxD`` (marginal imputation).

    ``batch_size`` coalitions are evaluated at a time (``B`` model calls each), which bounds the memory.
    """
    x_D, background_BxD = _check_point(x_D, background_BxD, "background_BxD")
    checks.count("batch_size", batch_size)

    def one(mask_D: jax.Array) -> jax.Array:
        return jnp.mean(f(jnp.where(mask_D[None, :], x_D[None, :], background_BxD)))

    return jax.jit(lambda masks_MxD: jax.lax.map(one, masks_MxD, batch_size=batch_size))
