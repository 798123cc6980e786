r"""The linear autoencoder :math:`\min_{C,D}\|X - XC^\top D^\top\|_F^2` (rows of :math:`X` are centred examples,
encoder :math:`C \in \mathbb R^{k\times d}`, decoder :math:`D \in \mathbb R^{d\times k}`).

The best rank-:math:`k` reconstruction is the projection on the top-:math:`k` principal directions :math:`U_k` (right
singular vectors of :math:`X`), with error :math:`\sum_{j>k} s_j^2` (Eckart & Young 1936). Its optimum set is
:math:`C = AU_k^\top`, :math:`D = U_kA^{-1}` for every invertible :math:`A \in \mathbb R^{k\times k}` (the notes write
:math:`U_k^\top A` and :math:`A^{-1}U_k^\top`). The objective is not convex in :math:`(C, D)` jointly — :math:`(C, D)`
and :math:`(-C, -D)` are both optimal while their midpoint :math:`(0, 0)` has error :math:`\|X\|_F^2` — but every
local minimum is global and the other critical points are saddles (Baldi & Hornik 1989).
"""

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory import checks


def pca_autoencoder(x_NxD: ArrayLike, k: int, a_KxK: ArrayLike | None = None) -> tuple[jax.Array, jax.Array]:
    r"""An optimal pair ``(encoder_KxD, decoder_DxK)`` :math:`= (AU_k^\top, U_kA^{-1})` (``a_KxK`` :math:`= A`,
    default :math:`I`), :math:`U_k` from the SVD of ``x_NxD`` (assumed centred).

    Raises:
      ValueError: if ``k`` is not in ``[1, D)`` or ``a_KxK`` is not of shape ``(k, k)``.
    """
    x_NxD = jnp.asarray(x_NxD)
    if x_NxD.ndim != 2:
        raise checks.fail("x_NxD", "a 2-D array (N, D)", f"shape {x_NxD.shape}")
    k = checks.count("k", k)
    if k >= x_NxD.shape[1]:
        raise checks.fail("k", f"smaller than the data dimension D = {x_NxD.shape[1]}", k)
    u_DxK = jnp.linalg.svd(x_NxD, full_matrices=False)[2][:k].T
    if a_KxK is None:
        return u_DxK.T, u_DxK
    a_KxK = jnp.asarray(a_KxK)
    if a_KxK.shape != (k, k):
        raise checks.fail("a_KxK", f"of shape ({k}, {k})", f"shape {a_KxK.shape}")
    return a_KxK @ u_DxK.T, jnp.linalg.solve(a_KxK.T, u_DxK.T).T


def reconstruction_error(encoder_KxD: ArrayLike, decoder_DxK: ArrayLike, x_NxD: ArrayLike) -> jax.Array:
    r""":math:`\|X - XC^\top D^\top\|_F^2`."""
    x_NxD = jnp.asarray(x_NxD)
    return jnp.sum((x_NxD - x_NxD @ jnp.asarray(encoder_KxD).T @ jnp.asarray(decoder_DxK).T) ** 2)
