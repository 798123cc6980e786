r"""L1 regularization: the proximal operator (soft thresholding) and proximal gradient descent (ISTA).

The proximal operator of :math:`\beta |\cdot|` solves :math:`\min_a \tfrac12 (a - b)^2 + \beta |a|` in closed form,

.. math:: \operatorname{prox}_{\beta|\cdot|}(b) = \operatorname{sgn}(b) \max(0, |b| - \beta),

so for a quadratic with diagonal Hessian :math:`\operatorname{diag}(h_i)` the L1-regularized minimizer is
:math:`\operatorname{sgn}(\theta^*_i)\max(0, |\theta^*_i| - \lambda/h_i)`: small coordinates become exactly zero.
For :math:`f + \lambda\|\cdot\|_1` with :math:`f` convex and :math:`L`-smooth, proximal gradient descent
:math:`x_{t+1} = \operatorname{prox}_{\eta\lambda\|\cdot\|_1}(x_t - \eta \nabla f(x_t))`, :math:`\eta \le 1/L`,
converges to a minimizer at rate :math:`O(1/t)` (linearly when :math:`f` is strongly convex); on
:math:`f = \tfrac12\|Xw - y\|^2` it is ISTA. Reference: Parikh & Boyd, *Proximal Algorithms* (2014), sec. 4.2, 6.5.1;
Beck & Teboulle, *A Fast Iterative Shrinkage-Thresholding Algorithm* (2009).
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import ArrayLike

from dl_theory import checks


def soft_threshold(b: ArrayLike, beta: ArrayLike) -> jax.Array:
    r""":math:`\operatorname{sgn}(b)\max(0, |b| - \beta)`, the minimizer of :math:`\tfrac12(a-b)^2 + \beta|a|`
    (elementwise, :math:`\beta \ge 0`)."""
    checks.nonnegative("beta", beta)
    b = jnp.asarray(b)
    return jnp.sign(b) * jnp.maximum(0.0, jnp.abs(b) - beta)


def proximal_gradient(grad_f: Callable[[jax.Array], jax.Array], lam: float, x0: ArrayLike, step: float,
                      n_steps: int) -> jax.Array:
    r"""``n_steps`` of :math:`x \leftarrow \operatorname{sgn}(z)\max(0,|z| - \eta\lambda)`,
    :math:`z = x - \eta\nabla f(x)`, for :math:`\min f + \lambda\|x\|_1`; returns the last iterate."""
    checks.nonnegative("lam", lam)
    checks.positive("step", step)
    n_steps = checks.count("n_steps", n_steps)
    body = lambda _, x: soft_threshold(x - step * grad_f(x), step * lam)  # noqa: E731
    return lax.fori_loop(0, n_steps, body, jnp.asarray(x0))


def lasso_objective(x: ArrayLike, y: ArrayLike, w: ArrayLike, lam: float) -> jax.Array:
    r""":math:`\tfrac12\|Xw - y\|^2 + \lambda\|w\|_1` (scikit-learn's ``Lasso(alpha)`` minimizes this divided by
    :math:`n`, with :math:`\lambda = n\,\alpha`)."""
    checks.nonnegative("lam", lam)
    x_NxD, y_N, w_D = jnp.asarray(x), jnp.asarray(y), jnp.asarray(w)
    return 0.5 * jnp.sum((x_NxD @ w_D - y_N) ** 2) + lam * jnp.sum(jnp.abs(w_D))


def ista(x: ArrayLike, y: ArrayLike, lam: float, n_steps: int) -> jax.Array:
    r"""ISTA for :math:`\min_w \tfrac12\|Xw - y\|^2 + \lambda\|w\|_1` from :math:`w = 0` with step
    :math:`1/\|X\|_2^2` (the gradient's Lipschitz constant)."""
    x_NxD, y_N = jnp.asarray(x), jnp.asarray(y)
    step = 1.0 / jnp.linalg.norm(x_NxD, 2) ** 2
    return proximal_gradient(lambda w: x_NxD.T @ (x_NxD @ w - y_N), lam, jnp.zeros(x_NxD.shape[1], x_NxD.dtype),
                             step, n_steps)
