r"""Losses: per-example losses on predictions, and the mean losses of a model that training and analysis share.

Per-example losses take predictions (``pred_NxK`` or ``logits_NxC``) and targets and return one value per example:

* :func:`squared_error` -- :math:`\tfrac12\|f(x) - y\|^2` (summed over output axes);
* :func:`softmax_cross_entropy` -- :math:`-\log \operatorname{softmax}(f(x))_y` (optax's, for integer labels or
  probability targets);
* :func:`zero_one` -- :math:`\mathbb 1[\arg\max_c f(x)_c \ne y]`;
* :func:`bounded_cross_entropy` -- cross-entropy clamped at :math:`p_{\min}` and scaled into [0, 1] (a valid loss for
  PAC-Bayes bounds; Pérez-Ortiz et al. 2021);
* :func:`logistic` -- :math:`\log(1 + e^{-(2y-1) z})` for labels in {0, 1}, the cross-entropy of a sigmoid.

:func:`mean_loss` turns one of them and an ``apply_fn`` into ``loss(params, (x, y)) -> scalar``, the empirical risk
:math:`\frac1N\sum_n \ell(f(\theta, x_n), y_n)` that :func:`dl_theory.training.train`, the Hessian and the
convergence routines take; :func:`mse` and :func:`cross_entropy` are the two common ones.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.typing import ApplyFn, LossFn, Params, PyTree

PerExampleLoss = Callable[[jax.Array, jax.Array], jax.Array]
"""``loss(pred_N..., target_N...) -> loss_N``."""


def squared_error(pred_NxK: ArrayLike, target_NxK: ArrayLike) -> jax.Array:
    r"""Per-example :math:`\tfrac12\|f(x_n) - y_n\|^2`, summed over every axis but the first."""
    diff = jnp.asarray(pred_NxK) - jnp.asarray(target_NxK)
    return 0.5 * jnp.sum(diff.reshape(diff.shape[0], -1) ** 2, axis=1)


def _is_integer_labels(labels: jax.Array, logits_NxC: jax.Array) -> bool:
    return labels.ndim == logits_NxC.ndim - 1


def softmax_cross_entropy(logits_NxC: ArrayLike, labels: ArrayLike) -> jax.Array:
    r"""Per-example :math:`-\sum_c y_c \log\operatorname{softmax}(f(x))_c`.

    ``labels`` are integer classes ``(N,)`` or probability targets ``(N, C)`` (e.g. one-hot); computed by
    ``optax.softmax_cross_entropy_with_integer_labels`` / ``optax.softmax_cross_entropy``.
    """
    logits_NxC, labels = jnp.asarray(logits_NxC), jnp.asarray(labels)
    if _is_integer_labels(labels, logits_NxC):
        return optax.softmax_cross_entropy_with_integer_labels(logits_NxC, labels)
    return optax.softmax_cross_entropy(logits_NxC, labels)


def zero_one(logits_NxC: ArrayLike, labels: ArrayLike) -> jax.Array:
    r"""Per-example 0-1 loss :math:`\mathbb 1[\arg\max_c f(x)_c \ne y]` (integer or one-hot labels)."""
    logits_NxC, labels = jnp.asarray(logits_NxC), jnp.asarray(labels)
    if not _is_integer_labels(labels, logits_NxC):
        labels = jnp.argmax(labels, axis=-1)
    return (jnp.argmax(logits_NxC, axis=-1) != labels).astype(jnp.result_type(logits_NxC))


def bounded_cross_entropy(logits_NxC: ArrayLike, labels_N: ArrayLike, pmin: float = 1e-4) -> jax.Array:
    r"""Per-example cross-entropy with probabilities clamped at ``pmin`` and scaled into [0, 1].

    .. math:: \ell(x, y) = \frac{-\max(\ln \operatorname{softmax}(f(x))_y, \ln p_{\min})}{\ln(1/p_{\min})}.

    Reference: Pérez-Ortiz et al., 2021, "Tighter risk certificates for neural networks", JMLR 22(227).
    """
    checks.probability("pmin", pmin)
    log_p_N = -softmax_cross_entropy(logits_NxC, labels_N)
    return jnp.clip(-jnp.maximum(log_p_N, jnp.log(pmin)) / jnp.log(1 / pmin), 0.0, 1.0)  # clip: rounding


def logistic(z_N: ArrayLike, y01_N: ArrayLike) -> jax.Array:
    r"""Per-example :math:`-\log\sigma((2y-1)z) = \log(1 + e^{-(2y-1)z})` for labels in {0, 1} (stable softplus)."""
    return jax.nn.softplus(-(2 * jnp.asarray(y01_N) - 1) * jnp.asarray(z_N))


def mean_loss(apply_fn: ApplyFn, per_example: PerExampleLoss, **apply_kwargs) -> LossFn:
    r"""``loss(params, (x, y)) = (1/N) Σ_n per_example(apply_fn(params, x), y)_n``: the empirical risk."""

    def loss(params: Params, batch: PyTree) -> jax.Array:
        x, y = batch
        return jnp.mean(per_example(apply_fn(params, x, **apply_kwargs), y))

    return loss


def mse(apply_fn: ApplyFn, **apply_kwargs) -> LossFn:
    r"""``loss(params, (x, y)) = (1/2N) Σ_n ‖f(θ, x_n) − y_n‖²`` (for one output: half the mean squared error)."""
    return mean_loss(apply_fn, squared_error, **apply_kwargs)


def cross_entropy(apply_fn: ApplyFn, **apply_kwargs) -> LossFn:
    r"""``loss(params, (x, y)) = (1/N) Σ_n −log softmax(f(θ, x_n))_{y_n}`` (integer labels or probability targets)."""
    return mean_loss(apply_fn, softmax_cross_entropy, **apply_kwargs)
