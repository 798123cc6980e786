r"""Empirical Rademacher complexity of norm-bounded linear classes: Monte Carlo and closed-form bounds.

For a sample :math:`x_1,\dots,x_n \in \mathbb R^d` and a class :math:`G`,
:math:`\hat{\mathfrak R}_n(G) = \mathbb E_\sigma \sup_{g\in G} \frac1n \sum_i \sigma_i g(x_i)` with i.i.d. signs
:math:`\sigma_i`. For linear functions the supremum is a dual norm (Bartlett & Mendelson, 2002; Kakade, Sridharan &
Tewari, 2008):

* :math:`\{x\mapsto\langle w,x\rangle : \|w\|_2\le B\}`: :math:`\sup = \frac Bn\|\sum_i\sigma_ix_i\|_2`, and
  :math:`\frac{B}{\sqrt2\,n}\sqrt{\sum_i\|x_i\|^2} \le \hat{\mathfrak R}_n \le \frac Bn\sqrt{\sum_i\|x_i\|^2}
  \le \frac{BR}{\sqrt n}` (Jensen above; Khintchine–Kahane with Latała–Oleszkiewicz's constant below);
* :math:`\{\|w\|_1\le B\}`: :math:`\sup = \frac Bn\|\sum_i\sigma_ix_i\|_\infty`, and Massart's lemma gives
  :math:`\hat{\mathfrak R}_n \le \frac Bn \max_j \|x_{\cdot j}\|_2 \sqrt{2\ln(2d)}`.
"""

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike


def rademacher_signs(key: jax.Array, num_draws: int, n: int) -> jax.Array:
    """``num_draws`` independent vectors of ``n`` uniform signs, shape ``(num_draws, n)``."""
    return jnp.where(jax.random.bernoulli(key, 0.5, (num_draws, n)), 1.0, -1.0)


def linear_sup_l2(x_NxD: ArrayLike, signs_MxN: ArrayLike, bound: float) -> jax.Array:
    r"""For each sign vector, :math:`\sup_{\|w\|_2\le B}\frac1n\sum_i\sigma_i\langle w,x_i\rangle`, shape ``(M,)``."""
    x_NxD = jnp.asarray(x_NxD)
    return bound * jnp.linalg.norm(jnp.asarray(signs_MxN) @ x_NxD, axis=1) / x_NxD.shape[0]


def linear_sup_l1(x_NxD: ArrayLike, signs_MxN: ArrayLike, bound: float) -> jax.Array:
    r"""For each sign vector, :math:`\sup_{\|w\|_1\le B}\frac1n\sum_i\sigma_i\langle w,x_i\rangle`, shape ``(M,)``."""
    x_NxD = jnp.asarray(x_NxD)
    return bound * jnp.max(jnp.abs(jnp.asarray(signs_MxN) @ x_NxD), axis=1) / x_NxD.shape[0]


def l2_upper_bound(x_NxD: ArrayLike, bound: float) -> jax.Array:
    r""":math:`\frac Bn\sqrt{\sum_i\|x_i\|_2^2}` (Jensen)."""
    x_NxD = jnp.asarray(x_NxD)
    return bound * jnp.sqrt(jnp.sum(x_NxD**2)) / x_NxD.shape[0]


def l2_lower_bound(x_NxD: ArrayLike, bound: float) -> jax.Array:
    r""":math:`\frac{B}{\sqrt2\,n}\sqrt{\sum_i\|x_i\|_2^2}` (Khintchine–Kahane, constant :math:`1/\sqrt2`)."""
    return l2_upper_bound(x_NxD, bound) / jnp.sqrt(2.0)


def l1_massart_bound(x_NxD: ArrayLike, bound: float) -> jax.Array:
    r""":math:`\frac Bn\max_j\|x_{\cdot j}\|_2\sqrt{2\ln(2d)}` (Massart's finite-class lemma on the 2d vertices)."""
    x_NxD = jnp.asarray(x_NxD)
    n, d = x_NxD.shape
    return bound * jnp.max(jnp.linalg.norm(x_NxD, axis=0)) * jnp.sqrt(2 * jnp.log(2.0 * d)) / n
