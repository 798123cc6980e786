r"""Linear models: least squares, ridge, the pseudo-inverse, SGD, and logistic regression.

Least squares :math:`L[w] = \|Xw - y\|^2 / (2n)` with :math:`\nabla L = (X^\top X w - X^\top y)/n`; the minimum-norm
minimizer is :math:`X^+ y` with :math:`X^+ = \lim_{\delta\to0}(X^\top X + \delta I)^{-1}X^\top` (Moore–Penrose).
Ridge :math:`\tfrac12\|Xw-y\|^2 + \tfrac\lambda2\|w\|^2` is minimized by :math:`(X^\top X + \lambda I)^{-1}X^\top y`.
Logistic regression with :math:`y \in \{0,1\}`: :math:`\ell(y, z) = -y\log\sigma(z) - (1-y)\log(1-\sigma(z))
= -\log\sigma((2y-1)z)` and :math:`\nabla_w \ell = [\sigma(w^\top x) - y]\,x`.
"""

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory import checks, losses


def mse_loss(w_D: ArrayLike, x_NxD: ArrayLike, y_N: ArrayLike) -> jax.Array:
    """:math:`\\|Xw - y\\|^2 / (2n)`: the mean of :func:`dl_theory.losses.squared_error` on the linear scores."""
    return jnp.mean(losses.squared_error(jnp.asarray(x_NxD) @ jnp.asarray(w_D), y_N))


def mse_grad(w_D: ArrayLike, x_NxD: ArrayLike, y_N: ArrayLike) -> jax.Array:
    """:math:`(X^\\top X w - X^\\top y)/n` (closed form of ``grad(mse_loss)``)."""
    x_NxD = jnp.asarray(x_NxD)
    return (x_NxD.T @ (x_NxD @ jnp.asarray(w_D)) - x_NxD.T @ jnp.asarray(y_N)) / x_NxD.shape[0]


def min_norm_solution(x_NxD: ArrayLike, y_N: ArrayLike) -> jax.Array:
    """:math:`X^+ y`, the least-squares solution of smallest Euclidean norm."""
    return jnp.linalg.pinv(jnp.asarray(x_NxD)) @ jnp.asarray(y_N)


def ridge_solution(x_NxD: ArrayLike, y_N: ArrayLike, lam: float) -> jax.Array:
    """:math:`(X^\\top X + \\lambda I)^{-1} X^\\top y` for :math:`\\lambda > 0` (solved, not inverted)."""
    checks.positive("lam", lam)
    x_NxD = jnp.asarray(x_NxD)
    gram = x_NxD.T @ x_NxD + lam * jnp.eye(x_NxD.shape[1], dtype=x_NxD.dtype)
    return jnp.linalg.solve(gram, x_NxD.T @ jnp.asarray(y_N))


def sgd_step(w_D: ArrayLike, x_D: ArrayLike, y: ArrayLike, lr: float) -> jax.Array:
    """The notes' SGD update :math:`w + \\eta (y - w^\\top x) x` on one example."""
    w_D, x_D = jnp.asarray(w_D), jnp.asarray(x_D)
    return w_D + lr * (y - w_D @ x_D) * x_D


def logistic_loss(w_D: ArrayLike, x_NxD: ArrayLike, y01_N: ArrayLike) -> jax.Array:
    """Mean cross-entropy :math:`-\\log\\sigma((2y-1)\\,w^\\top x)` for labels in {0, 1}: the mean of
    :func:`dl_theory.losses.logistic` on the linear scores."""
    return jnp.mean(losses.logistic(jnp.asarray(x_NxD) @ jnp.asarray(w_D), y01_N))


def logistic_grad(w_D: ArrayLike, x_NxD: ArrayLike, y01_N: ArrayLike) -> jax.Array:
    """:math:`\\frac1n\\sum_i [\\sigma(w^\\top x_i) - y_i]\\, x_i` (closed form of ``grad(logistic_loss)``)."""
    x_NxD = jnp.asarray(x_NxD)
    return x_NxD.T @ (jax.nn.sigmoid(x_NxD @ jnp.asarray(w_D)) - jnp.asarray(y01_N)) / x_NxD.shape[0]
