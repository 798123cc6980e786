r"""L2 regularization and weight decay: the ridge shrinkage of a quadratic, and coupled vs decoupled decay in optax.

With :math:`\Omega_\mu(\theta) = \tfrac{\mu}{2}\|\theta\|^2` added to a quadratic with minimizer :math:`\theta^*` and
Hessian :math:`H = Q \Lambda Q^\top`, the regularized minimizer is

.. math:: \theta_\mu^* = (H + \mu I)^{-1} H \theta^* = Q \operatorname{diag}\!\Big(\frac{\lambda_i}{\lambda_i + \mu}
    \Big) Q^\top \theta^*:

directions with :math:`\lambda_i \gg \mu` are kept, flat ones (:math:`\lambda_i \ll \mu`) shrunk to zero.

An L2 penalty adds :math:`\mu\theta` to the gradient *before* the optimizer's transformation (``coupled``);
decoupled weight decay (Loshchilov & Hutter 2019, AdamW) adds it *after*: the update is
:math:`-\eta(\,T(g + \mu\theta))` vs :math:`-\eta(\,T(g) + \mu\theta)`. For SGD (:math:`T = \mathrm{id}`) the two are
the same update; for Adam :math:`T` rescales the decay term per coordinate, so they differ. Both are written with
``optax.add_decayed_weights``; the decoupled form with ``optax.scale_by_adam`` is ``optax.adamw``. Reference:
Goodfellow, Bengio & Courville, *Deep Learning* (2016), sec. 7.1.1; Loshchilov & Hutter, *Decoupled Weight Decay
Regularization*, ICLR 2019.
"""

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from dl_theory import checks


def l2_penalty(params, mu: float) -> jax.Array:
    r""":math:`\tfrac{\mu}{2} \|\theta\|^2` over every leaf of ``params``."""
    checks.nonnegative("mu", mu)
    return 0.5 * mu * sum(jnp.sum(leaf ** 2) for leaf in jax.tree.leaves(params))


def ridge_shrinkage(hessian: ArrayLike, theta_star: ArrayLike, mu: float) -> jax.Array:
    r"""The minimizer :math:`Q \operatorname{diag}(\lambda_i/(\lambda_i + \mu)) Q^\top \theta^*` of
    :math:`\tfrac12 (\theta - \theta^*)^\top H (\theta - \theta^*) + \tfrac{\mu}{2}\|\theta\|^2`.

    Args:
      hessian: symmetric positive semi-definite ``H``, shape ``(d, d)``.
      theta_star: unregularized minimizer, shape ``(d,)``.
      mu: regularization strength ``>= 0``.
    """
    checks.nonnegative("mu", mu)
    lam_D, q_DxD = jnp.linalg.eigh(jnp.asarray(hessian))
    return q_DxD @ (lam_D / (lam_D + mu) * (q_DxD.T @ jnp.asarray(theta_star)))


def coupled_weight_decay(direction: optax.GradientTransformation, mu: float,
                         learning_rate: float) -> optax.GradientTransformation:
    r"""An L2 penalty: :math:`\Delta\theta = -\eta\, T(g + \mu\theta)`, ``T`` = ``direction`` (e.g.
    ``optax.identity()`` for SGD, ``optax.scale_by_adam()`` for Adam); the gradient of
    :math:`R + \tfrac{\mu}{2}\|\theta\|^2` fed to ``T``."""
    checks.nonnegative("mu", mu)
    checks.positive("learning_rate", learning_rate)
    return optax.chain(optax.add_decayed_weights(mu), direction, optax.scale(-learning_rate))


def decoupled_weight_decay(direction: optax.GradientTransformation, mu: float,
                           learning_rate: float) -> optax.GradientTransformation:
    r"""Decoupled weight decay: :math:`\Delta\theta = -\eta\,(T(g) + \mu\theta)`; with ``optax.scale_by_adam()`` it is
    ``optax.adamw(learning_rate, weight_decay=mu)``."""
    checks.nonnegative("mu", mu)
    checks.positive("learning_rate", learning_rate)
    return optax.chain(direction, optax.add_decayed_weights(mu), optax.scale(-learning_rate))
