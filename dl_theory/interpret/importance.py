r"""Global importance: permutation feature importance and SAGE (Shapley values of risk reduction).

* Permutation importance (Breiman 2001; Fisher et al. 2019): the rise of the risk when column :math:`j` is shuffled,
  :math:`\mathbb E[\ell(f(x_{\pi,j}, x_{-j}), y)] - \mathbb E[\ell(f(x), y)]`, averaged over ``n_repeats`` shuffles
  with its standard error over them.
* SAGE (Covert, Lundberg & Lee 2020): the Shapley values of the risk reduction
  :math:`v(S) = \mathbb E[\ell(f_\emptyset, Y)] - \mathbb E[\ell(f_S(X_S), Y)]`, where the restricted model
  :math:`f_S(x_S) = \mathbb E_{X_{-S}}[f(x_S, X_{-S})]` averages the model over a background sample of the missing
  features (marginal imputation). By efficiency the values sum to the risk reduction of the full model,
  :math:`v([d]) = \mathbb E\ell(f_\emptyset, Y) - \mathbb E\ell(f(X), Y)`. SHAP attributes a prediction; SAGE
  attributes predictive power, so a feature the model ignores gets 0 and an informative one gets the most.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.interpret.sampling import Estimate
from dl_theory.interpret.shapley import ValueFn, exact_shapley

Model = Callable[[jax.Array], jax.Array]
"""A batched model ``x_NxD -> (N,)`` (or ``(N, K)`` logits for a classification loss)."""
Loss = Callable[[jax.Array, jax.Array], jax.Array]
"""A per-example loss ``loss(pred_N..., y_N) -> (N,)``, e.g. :func:`dl_theory.losses.squared_error`."""


def _check_data(x_NxD: ArrayLike, y_N: ArrayLike) -> tuple[jax.Array, jax.Array]:
    x_NxD, y_N = jnp.asarray(x_NxD), jnp.asarray(y_N)
    if x_NxD.ndim != 2 or y_N.shape[:1] != x_NxD.shape[:1]:
        raise checks.fail("y_N", f"one target per row of x_NxD (shape {x_NxD.shape})", f"shape {y_N.shape}")
    return x_NxD, y_N


def permutation_importance(f: Model, loss: Loss, x_NxD: ArrayLike, y_N: ArrayLike, key: jax.Array,
                           n_repeats: int = 10) -> Estimate:
    """Mean risk increase when each feature's column is shuffled, and its standard error over ``n_repeats >= 2``.

    Returns:
      an :class:`~dl_theory.interpret.sampling.Estimate` ``(values_D, stderr_D)``.
    """
    x_NxD, y_N = _check_data(x_NxD, y_N)
    n_repeats = checks.at_least(2)("n_repeats", n_repeats)
    n, d = x_NxD.shape
    risk = jnp.mean(loss(f(x_NxD), y_N))

    def shuffled_risk(j: jax.Array, k: jax.Array) -> jax.Array:
        column = jax.random.permutation(k, x_NxD[:, j])
        return jnp.mean(loss(f(x_NxD.at[:, j].set(column)), y_N))

    keys = jax.random.split(key, (d, n_repeats))
    rise_DxR = jax.jit(jax.vmap(jax.vmap(shuffled_risk, (None, 0)), (0, 0)))(jnp.arange(d), keys) - risk
    return Estimate(rise_DxR.mean(axis=1), rise_DxR.std(axis=1, ddof=1) / jnp.sqrt(n_repeats))


def sage_value_fn(f: Model, loss: Loss, x_NxD: ArrayLike, y_N: ArrayLike, background_BxD: ArrayLike,
                  batch_size: int = 8) -> ValueFn:
    r"""The SAGE value function :math:`v(S) = \text{risk}(f_\emptyset) - \text{risk}(f_S)` on masks ``(M, D)``.

    :math:`f_S(x_n)` is the mean of ``f`` over the background rows with the features in :math:`S` set to
    :math:`x_n`'s, so each coalition costs :math:`N B` model calls; ``batch_size`` coalitions run at a time.
    """
    x_NxD, y_N = _check_data(x_NxD, y_N)
    background_BxD = jnp.asarray(background_BxD)
    if background_BxD.ndim != 2 or background_BxD.shape[1] != x_NxD.shape[1]:
        raise checks.fail("background_BxD", f"of shape (B, {x_NxD.shape[1]})", f"shape {background_BxD.shape}")
    n, b = x_NxD.shape[0], background_BxD.shape[0]

    def risk(mask_D: jax.Array) -> jax.Array:
        filled_NxBxD = jnp.where(mask_D[None, None, :], x_NxD[:, None, :], background_BxD[None, :, :])
        pred = f(filled_NxBxD.reshape(n * b, -1))
        return jnp.mean(loss(pred.reshape(n, b, *pred.shape[1:]).mean(axis=1), y_N))

    empty = risk(jnp.zeros(x_NxD.shape[1], bool))
    return jax.jit(lambda masks_MxD: empty - jax.lax.map(risk, masks_MxD, batch_size=batch_size))


def sage_values(f: Model, loss: Loss, x_NxD: ArrayLike, y_N: ArrayLike, background_BxD: ArrayLike) -> jax.Array:
    r"""Exact SAGE values (Shapley values of :func:`sage_value_fn` over all coalitions), shape ``(D,)``.

    For more than :data:`~dl_theory.interpret.shapley.MAX_EXACT_FEATURES` features, pass :func:`sage_value_fn` to
    :func:`~dl_theory.interpret.sampling.permutation_shapley`.
    """
    d = jnp.shape(x_NxD)[1]
    return exact_shapley(sage_value_fn(f, loss, x_NxD, y_N, background_BxD), d)
