r"""Spectral graph theory: Laplacians, the graph Fourier transform, polynomial and Chebyshev filters.

For an undirected graph with adjacency :math:`A` and degrees :math:`D = \operatorname{diag}(A\mathbf 1)`, the
Laplacian :math:`L = D - A` is symmetric positive semidefinite, since

.. math:: x^\top L x = \tfrac12 \sum_{u,v} A_{uv} (x_u - x_v)^2 \ge 0,

and the normalized Laplacian is :math:`L_\text{sym} = D^{-1/2} L D^{-1/2}` (zero rows for isolated nodes, as in
networkx). With :math:`L = U \Lambda U^\top` (``eigh``), the graph Fourier transform of a signal :math:`x` is
:math:`\hat x = U^\top x` and its inverse :math:`x = U \hat x`. A spectral filter multiplies each frequency,
:math:`g(L) x = U g(\Lambda) U^\top x`; a polynomial :math:`p(L) = \sum_{k=0}^K \alpha_k L^k` is the multiplier
:math:`p(\lambda)` and, because :math:`(L^k)_{uv} = 0` when :math:`u, v` are more than :math:`k` hops apart, it is
:math:`K`-hop local. ChebNet (Defferrard et al., 2016, arXiv:1606.09375) writes the same polynomial in the Chebyshev
basis of :math:`\tilde L = 2L/\lambda_\max - I`, :math:`\sum_k \theta_k T_k(\tilde L) x` with
:math:`T_k = 2\tilde L T_{k-1} - T_{k-2}`, computed with matrix-vector products only. The spectral convolution of two
signals is :math:`x \star y = U((U^\top x) \odot (U^\top y))` (Bruna et al., 2014, arXiv:1312.6203; Shuman et al.,
2013, "The Emerging Field of Signal Processing on Graphs", arXiv:1211.0053).
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.models.graph.adjacency import check_adjacency

__all__ = ["chebyshev_filter", "fourier_basis", "gft", "inverse_gft", "laplacian", "monomial_to_chebyshev",
           "normalized_laplacian", "polynomial_filter", "spectral_convolution", "spectral_filter"]


def _undirected(a_NxN: ArrayLike) -> jax.Array:
    a = check_adjacency("a_NxN", a_NxN, symmetric=True)
    checks.nonnegative("a_NxN", a)
    return a


def laplacian(a_NxN: ArrayLike) -> jax.Array:
    r"""The combinatorial Laplacian :math:`L = D - A` of an undirected (symmetric, nonnegative) adjacency."""
    a = _undirected(a_NxN)
    return jnp.sum(a, axis=-1)[..., None] * jnp.eye(a.shape[-1], dtype=a.dtype) - a


def normalized_laplacian(a_NxN: ArrayLike) -> jax.Array:
    r""":math:`L_\text{sym} = D^{-1/2} (D - A) D^{-1/2}` (eigenvalues in :math:`[0, 2]`; isolated nodes: zero rows)."""
    a = _undirected(a_NxN)
    d = jnp.sum(a, axis=-1)
    inv_sqrt = jnp.where(d > 0, 1.0 / jnp.sqrt(jnp.where(d > 0, d, 1.0)), 0.0)
    return inv_sqrt[..., :, None] * laplacian(a) * inv_sqrt[..., None, :]


def fourier_basis(l_NxN: ArrayLike) -> tuple[jax.Array, jax.Array]:
    r"""``(eigenvalues_N, u_NxN)`` of a symmetric Laplacian, ascending: :math:`L = U \operatorname{diag}(\lambda)
    U^\top` with orthonormal columns (the graph's Fourier modes, lowest frequency first)."""
    return jnp.linalg.eigh(check_adjacency("l_NxN", l_NxN, symmetric=True))


def gft(u_NxN: ArrayLike, x_NxD: ArrayLike) -> jax.Array:
    r"""Graph Fourier transform :math:`\hat x = U^\top x` of node signals ``x_NxD`` (or ``(N,)``)."""
    return jnp.swapaxes(jnp.asarray(u_NxN), -1, -2) @ jnp.asarray(x_NxD)


def inverse_gft(u_NxN: ArrayLike, xhat_NxD: ArrayLike) -> jax.Array:
    r"""Inverse graph Fourier transform :math:`x = U \hat x`."""
    return jnp.asarray(u_NxN) @ jnp.asarray(xhat_NxD)


def spectral_filter(u_NxN: ArrayLike, response_N: ArrayLike, x_NxD: ArrayLike) -> jax.Array:
    r""":math:`U \operatorname{diag}(g) U^\top x`: multiplies frequency :math:`i` of ``x`` by ``response_N[i]``."""
    x_hat = gft(u_NxN, x_NxD)
    g = jnp.asarray(response_N)
    return inverse_gft(u_NxN, g[:, None] * x_hat if x_hat.ndim == 2 else g * x_hat)


def spectral_convolution(u_NxN: ArrayLike, x_N: ArrayLike, y_N: ArrayLike) -> jax.Array:
    r""":math:`x \star y = U((U^\top x) \odot (U^\top y))` for node signals of shape ``(N,)`` or ``(N, D)``."""
    return inverse_gft(u_NxN, gft(u_NxN, x_N) * gft(u_NxN, y_N))


def polynomial_filter(l_NxN: ArrayLike, alphas: ArrayLike, x_NxD: ArrayLike) -> jax.Array:
    r""":math:`\sum_{k=0}^{K} \alpha_k L^k x` by Horner's rule (``K`` matrix products with ``x``, never :math:`L^k`)."""
    l_mat = check_adjacency("l_NxN", l_NxN)
    alphas = jnp.asarray(alphas)
    if alphas.ndim != 1 or alphas.shape[0] < 1:
        raise checks.fail("alphas", "a non-empty 1-D array of coefficients", f"shape {alphas.shape}")
    return _horner(l_mat, alphas, jnp.asarray(x_NxD))


@jax.jit
def _horner(l_mat: jax.Array, alphas: jax.Array, x: jax.Array) -> jax.Array:
    return jax.lax.fori_loop(1, alphas.shape[0], lambda i, acc: l_mat @ acc + alphas[-1 - i] * x, alphas[-1] * x)


def chebyshev_filter(l_NxN: ArrayLike, thetas: ArrayLike, x_NxD: ArrayLike, lambda_max: float) -> jax.Array:
    r""":math:`\sum_{k=0}^{K} \theta_k T_k(\tilde L) x`, :math:`\tilde L = 2L/\lambda_\max - I`, by the three-term
    recurrence :math:`\bar x_k = 2\tilde L \bar x_{k-1} - \bar x_{k-2}` (ChebNet)."""
    l_mat = check_adjacency("l_NxN", l_NxN)
    checks.positive("lambda_max", lambda_max)
    thetas = jnp.asarray(thetas)
    if thetas.ndim != 1 or thetas.shape[0] < 1:
        raise checks.fail("thetas", "a non-empty 1-D array of coefficients", f"shape {thetas.shape}")
    return _chebyshev(l_mat, thetas, jnp.asarray(x_NxD), lambda_max)


@jax.jit
def _chebyshev(l_mat: jax.Array, thetas: jax.Array, x: jax.Array, lambda_max: jax.Array) -> jax.Array:
    scaled = lambda v: (2.0 / lambda_max) * (l_mat @ v) - v  # noqa: E731

    def step(k, carry):
        prev, cur, acc = carry
        nxt = 2.0 * scaled(cur) - prev
        return cur, nxt, acc + thetas[k] * nxt

    first = scaled(x)
    acc = thetas[0] * x + (thetas[1] * first if thetas.shape[0] > 1 else 0.0)
    return jax.lax.fori_loop(2, thetas.shape[0], step, (x, first, acc))[2]


def monomial_to_chebyshev(alphas: ArrayLike, lambda_max: float) -> np.ndarray:
    r"""Chebyshev coefficients :math:`\theta` with :math:`\sum_k \theta_k T_k(2\lambda/\lambda_\max - 1) =
    \sum_k \alpha_k \lambda^k` for all :math:`\lambda` (same degree), so :func:`chebyshev_filter` with
    :math:`\theta` equals :func:`polynomial_filter` with :math:`\alpha`."""
    checks.positive("lambda_max", lambda_max)
    p = np.polynomial.Polynomial(np.asarray(alphas, np.float64))
    # lambda = (t + 1) lambda_max / 2 as a function of t in [-1, 1]
    in_t = p(np.polynomial.Polynomial([lambda_max / 2, lambda_max / 2]))
    theta = in_t.convert(kind=np.polynomial.Chebyshev).coef
    return np.pad(theta, (0, len(np.atleast_1d(alphas)) - len(theta)))
