r"""Separable kernels: a rank-1 :math:`q \times q` kernel :math:`w = u v^\top` as two 1-D passes.

:math:`(w \star x)[i, j] = \sum_a u_a \sum_b v_b\, x[i + a, j + b]`: first correlate every row of the
:math:`d \times d` image with :math:`v` (:math:`d (d - q + 1)` outputs of :math:`q` multiply-adds each), then every
column of that with :math:`u` (:math:`(d - q + 1)^2` outputs of :math:`q`): :math:`q (d-q+1)(2d-q+1) = O(d q (d-q))`
multiply-adds against :math:`(d-q+1)^2 q^2 = O((d-q)^2 q^2)` for the direct 2-D sum (the notes' :math:`v \in
\mathbb{R}^p` should read :math:`\mathbb{R}^q`). A kernel is separable iff its matrix has rank 1; the SVD
:math:`w = \sum_i \sigma_i u_i v_i^\top` gives the best rank-1 factors :math:`\sqrt{\sigma_1} u_1, \sqrt{\sigma_1}
v_1` with Frobenius error :math:`(\sum_{i \ge 2} \sigma_i^2)^{1/2}` (Eckart-Young). Reference: Szeliski,
*Computer Vision: Algorithms and Applications* (2nd ed., 2022), sec. 3.2.1.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.models.convolution.ops import Padding, correlate, output_size


class RankOne(NamedTuple):
    """Best rank-1 factors ``w ~ outer(u, v)`` and the Frobenius norm of what they miss."""

    u: jax.Array
    v: jax.Array
    residual: jax.Array


def rank_one_factors(w: ArrayLike) -> RankOne:
    r"""Best rank-1 factorisation :math:`w \approx u v^\top` of a 2-D kernel by the SVD (Eckart-Young); the
    residual is :math:`\|w - u v^\top\|_F = (\sum_{i \ge 2} \sigma_i^2)^{1/2}`, zero iff ``w`` is separable."""
    w_QxQ = jnp.asarray(w)
    if w_QxQ.ndim != 2:
        raise checks.fail("w", "a 2-D kernel", f"shape {w_QxQ.shape}")
    left, sigma, right_t = jnp.linalg.svd(w_QxQ, full_matrices=False)
    scale = jnp.sqrt(sigma[0])
    return RankOne(scale * left[:, 0], scale * right_t[0], jnp.sqrt(jnp.sum(sigma[1:] ** 2)))


def separable_correlate(x: ArrayLike, u: ArrayLike, v: ArrayLike, *, padding: Padding = "valid") -> jax.Array:
    r"""2-D cross-correlation of ``x`` with :math:`u v^\top` as two 1-D passes: rows with ``v``, then columns with
    ``u`` (stride 1, ``padding`` ``'valid'``, ``'same'`` or ``'full'`` as in
    :func:`~dl_theory.models.convolution.ops.correlate`)."""
    checks.one_of("valid", "same", "full")("padding", padding)  # per-pass padding: a string, not a fixed P
    u, v = jnp.asarray(u), jnp.asarray(v)
    if u.ndim != 1 or v.ndim != 1:
        raise checks.fail("u and v", "1-D factors", f"shapes {u.shape} and {v.shape}")
    rows = correlate(x, v[None, :], padding=padding)
    return correlate(rows, u[:, None], padding=padding)


def direct_madds(d: int, q: int) -> int:
    r"""Multiply-adds of the direct valid 2-D correlation of a :math:`d \times d` image with a :math:`q \times q`
    kernel: :math:`(d - q + 1)^2 q^2`."""
    return output_size(d, q) ** 2 * checks.count("q", q) ** 2


def separable_madds(d: int, q: int) -> int:
    r"""Multiply-adds of the two 1-D passes: :math:`d (d-q+1) q + (d-q+1)^2 q = q (d-q+1)(2d-q+1)`."""
    m = output_size(d, q)
    return d * m * q + m * m * q
