r"""Normalization layers as pure functions: batch norm (train and eval statistics), layer norm, weight normalization.

Batch normalization (Ioffe & Szegedy, 2015, "Batch normalization: accelerating deep network training by reducing
internal covariate shift", ICML) normalizes each feature over the batch of :math:`b` examples,

.. math:: \mu_B = \frac1b\sum_i z_i,\quad \sigma_B^2 = \frac1b\sum_i (z_i - \mu_B)^2,\quad
          \hat z = \alpha\,\frac{z - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}} + \beta,

(:func:`batch_norm_train`, the notes' biased :math:`1/b` variance) and at evaluation replaces the batch statistics by
running averages :math:`r \leftarrow m\,r + (1 - m)\,s_B` (:func:`update_running_stats`, flax's convention: ``momentum``
``m`` is the weight of the old value; PyTorch's ``momentum`` is :math:`1 - m`), see :func:`batch_norm_eval`. With the
biased batch variance (flax), the running variance tends to :math:`\frac{b-1}{b}\sigma^2`, not :math:`\sigma^2`
(PyTorch stores the unbiased :math:`\frac{b}{b-1}\sigma_B^2`). Flax's default :math:`\epsilon` is ``1e-5``.

Layer normalization (Ba, Kiros & Hinton, 2016, "Layer normalization", arXiv:1607.06450) uses the same formula with the
statistics of each example over its features (:func:`layer_norm`; flax's :math:`\epsilon` is ``1e-6``): the output of
an example is invariant to adding a constant to, or (for :math:`\epsilon \to 0`) multiplying by a positive constant, all
its features, and does not depend on the other examples.

Weight normalization (Salimans & Kingma, 2016, "Weight normalization: a simple reparameterization to accelerate
training of deep neural networks", NeurIPS) writes each unit's weight vector as :math:`w = g\,v/\|v\|`
(:func:`weight_norm`): :math:`\|w\| = |g|` whatever :math:`v`, and
:math:`\nabla_v L = \frac{g}{\|v\|}\big(I - \frac{v v^\top}{\|v\|^2}\big)\nabla_w L` is orthogonal to :math:`v`.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory import checks

__all__ = ["BATCH_NORM_EPS", "LAYER_NORM_EPS", "BatchStats", "batch_norm_eval", "batch_norm_train", "layer_norm",
           "update_running_stats", "weight_norm"]

BATCH_NORM_EPS = 1e-5  # flax.linen.BatchNorm's default epsilon
LAYER_NORM_EPS = 1e-6  # flax.linen.LayerNorm's default epsilon


class BatchStats(NamedTuple):
    """Per-feature statistics ``mean_D`` and (biased) ``var_D`` of a batch, or their running averages."""

    mean_D: jax.Array
    var_D: jax.Array


def _lead(a: ArrayLike, z: jax.Array) -> jax.Array:
    """``a`` (shape ``z.shape[k:]``) with leading unit axes up to ``z.ndim`` (explicit: no rank promotion)."""
    a = jnp.asarray(a)
    return a.reshape((1,) * (z.ndim - a.ndim) + a.shape)


def _affine(z_hat: jax.Array, scale_D: ArrayLike | None, bias_D: ArrayLike | None) -> jax.Array:
    if scale_D is not None:
        z_hat = z_hat * _lead(scale_D, z_hat)
    if bias_D is not None:
        z_hat = z_hat + _lead(bias_D, z_hat)
    return z_hat


def _check_eps(eps: float) -> None:
    checks.nonnegative("eps", eps)


def batch_norm_train(z_NxD: ArrayLike, scale_D: ArrayLike | None = None, bias_D: ArrayLike | None = None, *,
                     eps: float = BATCH_NORM_EPS) -> tuple[jax.Array, BatchStats]:
    r"""Training-mode batch norm over axis 0; returns ``(output, BatchStats(mu_B, sigma_B^2))`` (biased variance).

    Every example's output depends on the whole batch through :math:`\mu_B, \sigma_B^2`.
    """
    _check_eps(eps)
    z = jnp.asarray(z_NxD)
    if z.ndim < 2 or z.shape[0] < 2:
        raise checks.fail("z_NxD", "a batch of >= 2 examples (N, D...)", z.shape)
    mean, var = jnp.mean(z, axis=0, keepdims=True), jnp.var(z, axis=0, keepdims=True)
    return _affine((z - mean) / jnp.sqrt(var + eps), scale_D, bias_D), BatchStats(mean[0], var[0])


def update_running_stats(running: BatchStats, batch: BatchStats, momentum: float = 0.99) -> BatchStats:
    r"""Exponential moving average :math:`r \leftarrow m\,r + (1-m)\,s_B` of both statistics (flax's ``momentum``
    convention, default 0.99 as in ``flax.linen.BatchNorm``; ``momentum`` in [0, 1))."""
    if not 0.0 <= checks.scalar("momentum", momentum) < 1.0:
        raise checks.fail("momentum", "in [0, 1)", momentum)
    return BatchStats(*(momentum * r + (1 - momentum) * s for r, s in zip(running, batch, strict=True)))


def batch_norm_eval(z_NxD: ArrayLike, running: BatchStats, scale_D: ArrayLike | None = None,
                    bias_D: ArrayLike | None = None, *, eps: float = BATCH_NORM_EPS) -> jax.Array:
    r"""Evaluation-mode batch norm: :math:`\alpha (z - r_\mu)/\sqrt{r_{\sigma^2} + \epsilon} + \beta` with the running
    statistics; a fixed affine map of each example, independent of the rest of the batch."""
    _check_eps(eps)
    checks.nonnegative("running.var_D", running.var_D)
    z = jnp.asarray(z_NxD)
    mean, var = _lead(running.mean_D, z), _lead(running.var_D, z)
    return _affine((z - mean) / jnp.sqrt(var + eps), scale_D, bias_D)


def layer_norm(z_NxD: ArrayLike, scale_D: ArrayLike | None = None, bias_D: ArrayLike | None = None, *,
               eps: float = LAYER_NORM_EPS) -> jax.Array:
    r"""Layer norm over the last axis: :math:`\alpha (z - \mu_n)/\sqrt{\sigma_n^2 + \epsilon} + \beta` with the mean
    and (biased) variance of each example's features."""
    _check_eps(eps)
    z = jnp.asarray(z_NxD)
    if z.ndim < 1 or z.shape[-1] < 2:
        raise checks.fail("z_NxD", "an array with >= 2 features on its last axis", z.shape)
    mean, var = jnp.mean(z, axis=-1, keepdims=True), jnp.var(z, axis=-1, keepdims=True)
    return _affine((z - mean) / jnp.sqrt(var + eps), scale_D, bias_D)


def weight_norm(v_IxO: ArrayLike, g_O: ArrayLike, *, eps: float = 0.0) -> jax.Array:
    r"""Weight-normalized kernel :math:`w_{:,o} = g_o\, v_{:,o}/\sqrt{\|v_{:,o}\|^2 + \epsilon}` for a dense kernel
    ``(in, out)``: one norm per output unit (flax's ``WeightNorm`` with ``feature_axes=-1`` uses ``eps=1e-12``)."""
    _check_eps(eps)
    v = jnp.asarray(v_IxO)
    if v.ndim != 2:
        raise checks.fail("v_IxO", "a 2-D kernel (in, out)", v.shape)
    g = jnp.asarray(g_O)
    if g.shape != v.shape[1:]:
        raise checks.fail("g_O", f"of shape ({v.shape[1]},), one gain per output unit", g.shape)
    return g[None] * v / jnp.sqrt(jnp.sum(v * v, axis=0, keepdims=True) + eps)
