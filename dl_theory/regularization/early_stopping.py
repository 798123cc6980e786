r"""Early stopping as implicit L2 regularization on a quadratic.

Gradient descent from :math:`\theta_0 = 0` on :math:`\tfrac12(\theta - \theta^*)^\top H (\theta - \theta^*)`,
:math:`H = Q \Lambda Q^\top`, step :math:`\eta < 1/\lambda_{\max}`, has
:math:`Q^\top(\theta_t - \theta^*) = (I - \eta\Lambda)^t Q^\top(0 - \theta^*)`, i.e.

.. math:: \theta_t = Q \operatorname{diag}\big(1 - (1 - \eta\lambda_i)^t\big) Q^\top \theta^*,

a spectral filter like weight decay's :math:`\lambda_i/(\lambda_i + \mu)`
(:func:`~dl_theory.regularization.weight_decay.ridge_shrinkage`). Both filters rise from 0 to 1 with :math:`\lambda`;
for :math:`\eta\lambda_i \ll 1` and :math:`\lambda_i \ll \mu` they agree to first order when
:math:`t = 1/(\eta\mu)` (the notes write :math:`1/\lambda` in one place). The step count at which they agree exactly
for one eigenvalue is :math:`t_i = \ln(1 + \lambda_i/\mu) / (-\ln(1 - \eta\lambda_i)) \le 1/(\eta\mu)`
(:func:`matching_steps`); each squared filter gap decreases in :math:`t` below :math:`t_i` and increases above, so
the step count whose iterate is nearest to :math:`\theta_\mu^*` lies in :math:`[\min_i t_i, \max_i t_i]`.
Reference: Goodfellow, Bengio & Courville, *Deep Learning* (2016), sec. 7.8; Bishop, *Regularization and complexity
control in feed-forward networks* (1995).
"""

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import ArrayLike

from dl_theory import checks


def gd_trajectory(hessian: ArrayLike, theta_star: ArrayLike, learning_rate: float, n_steps: int) -> jax.Array:
    r"""Iterates :math:`\theta_0 = 0, \ldots, \theta_T` of :math:`\theta \leftarrow \theta - \eta H(\theta -
    \theta^*)`, shape ``(n_steps + 1, d)``."""
    checks.positive("learning_rate", learning_rate)
    n_steps = checks.count("n_steps", n_steps)
    h_DxD, star_D = jnp.asarray(hessian), jnp.asarray(theta_star)

    def step(theta_D, _):
        nxt = theta_D - learning_rate * h_DxD @ (theta_D - star_D)
        return nxt, nxt

    zero = jnp.zeros_like(star_D)
    return jnp.concatenate([zero[None], lax.scan(step, zero, None, length=n_steps)[1]])


def early_stopping_filter(eigenvalues: ArrayLike, learning_rate: float, t: ArrayLike) -> jax.Array:
    r""":math:`1 - (1 - \eta\lambda_i)^t`, the factor GD from 0 applies to eigen-direction :math:`i` after
    :math:`t` steps."""
    checks.positive("learning_rate", learning_rate)
    checks.nonnegative("t", t)
    return 1.0 - (1.0 - learning_rate * jnp.asarray(eigenvalues)) ** t


def ridge_filter(eigenvalues: ArrayLike, mu: float) -> jax.Array:
    r""":math:`\lambda_i / (\lambda_i + \mu)`, weight decay's factor on eigen-direction :math:`i`."""
    checks.nonnegative("mu", mu)
    lam = jnp.asarray(eigenvalues)
    return lam / (lam + mu)


def matching_steps(eigenvalues: ArrayLike, learning_rate: float, mu: float) -> jax.Array:
    r"""Per eigenvalue, the (real) step count where the two filters agree:
    :math:`t_i = \ln(1 + \lambda_i/\mu) / (-\ln(1 - \eta\lambda_i))`, at most :math:`1/(\eta\mu)`
    (needs :math:`0 < \eta\lambda_i < 1`, :math:`\mu > 0`)."""
    checks.positive("mu", mu)
    checks.positive("learning_rate", learning_rate)
    lam = jnp.asarray(eigenvalues)
    checks.in_interval(0.0, 1.0)("learning_rate * eigenvalues", learning_rate * lam)
    return jnp.log1p(lam / mu) / -jnp.log1p(-learning_rate * lam)
