r"""Distances and similarities between kernel matrices, for tracking how far a kernel moves in training.

* relative Frobenius change :math:`\|K_t - K_0\|_F / \|K_0\|_F` (the lazy-training diagnostic of Chizat, Oyallon & Bach,
  2019; Lee et al., 2019),
* kernel alignment :math:`A(K_1, K_2) = \langle K_1, K_2\rangle_F / (\|K_1\|_F \|K_2\|_F)` (Cristianini et al., 2002),
* centered kernel alignment :math:`A(HK_1H, HK_2H)` with :math:`H = I - \tfrac1n \mathbf 1 \mathbf 1^\top` (Cortes,
  Mohri & Rostamizadeh, 2012).

Kernels of any shape are compared entrywise (flattened); centering needs square ``n x n`` kernels.
"""

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike


def _pair(k1: ArrayLike, k2: ArrayLike, names: tuple[str, str]) -> tuple[jax.Array, jax.Array]:
    a, b = jnp.asarray(k1), jnp.asarray(k2)
    if a.shape != b.shape:
        raise ValueError(f"`{names[0]}` and `{names[1]}` must have the same shape, got {a.shape} and {b.shape}.")
    return a, b


def relative_frobenius_change(k_t: ArrayLike, k_0: ArrayLike) -> jax.Array:
    r""":math:`\|K_t - K_0\|_F / \|K_0\|_F`."""
    a, b = _pair(k_t, k_0, ("k_t", "k_0"))
    return jnp.linalg.norm((a - b).ravel()) / jnp.linalg.norm(b.ravel())


def kernel_alignment(k1: ArrayLike, k2: ArrayLike) -> jax.Array:
    r""":math:`\langle K_1, K_2\rangle_F / (\|K_1\|_F \|K_2\|_F)`, in :math:`[-1, 1]`; 1 iff :math:`K_2 = cK_1, c>0`."""
    a, b = _pair(k1, k2, ("k1", "k2"))
    a, b = a.ravel(), b.ravel()
    return jnp.vdot(a, b) / (jnp.linalg.norm(a) * jnp.linalg.norm(b))


def center_kernel(k: ArrayLike) -> jax.Array:
    r""":math:`HKH` with :math:`H = I - \tfrac1n \mathbf 1\mathbf 1^\top`: subtract row and column means, add the
    grand mean (the Gram matrix of the mean-centered features)."""
    k_nxn = jnp.asarray(k)
    if k_nxn.ndim != 2 or k_nxn.shape[0] != k_nxn.shape[1]:
        raise ValueError(f"centering needs a square n x n kernel, got shape {k_nxn.shape}.")
    return (k_nxn - k_nxn.mean(axis=0, keepdims=True) - k_nxn.mean(axis=1, keepdims=True)
            + k_nxn.mean())


def centered_kernel_alignment(k1: ArrayLike, k2: ArrayLike) -> jax.Array:
    r"""Alignment of the centered kernels :math:`A(HK_1H, HK_2H)`."""
    a, b = _pair(k1, k2, ("k1", "k2"))
    return kernel_alignment(center_kernel(a), center_kernel(b))
