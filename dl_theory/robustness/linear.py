r"""Exact minimal adversarial perturbations of linear classifiers.

Binary classifier :math:`\operatorname{sign}(w^\top x + b)` with labels :math:`y \in \{-1, +1\}`. A perturbation
:math:`\delta` flips the prediction once :math:`y\,w^\top\delta \le -y(w^\top x + b)`, so the smallest one in a norm
:math:`\|\cdot\|` is :math:`|w^\top x + b| / \|w\|_*` with :math:`\|\cdot\|_*` the dual norm (Hölder's inequality is
tight):

* L2 (self-dual): :math:`\delta^* = -\frac{w^\top x + b}{\|w\|_2^2} w`, :math:`\|\delta^*\|_2 = |w^\top x + b|/\|w\|_2`;
* L∞ (dual L1): :math:`\delta^* = -\varepsilon\, y \operatorname{sign}(w)` with
  :math:`\varepsilon = |w^\top x + b| / \|w\|_1` (the notes write :math:`-\operatorname{sign}(yw)` and drop
  :math:`\varepsilon`).

Multiclass :math:`\arg\max_k w_k^\top x + b_k` with weights ``W_DxC``: the margin of the true class :math:`y` over
class :math:`j` is :math:`m_j(x) = (w_y - w_j)^\top x + (b_y - b_j)` (the notes lost the indices); the prediction stays
:math:`y` while every :math:`m_j > 0`, so the region of class :math:`y` is an intersection of half-spaces and the
smallest perturbation that changes the prediction has norm :math:`\min_{j \ne y} m_j(x)/\|w_y - w_j\|_*` (the distance
to a union of half-spaces is the smallest of the distances to each).

Reference: Goodfellow, Shlens & Szegedy 2015, "Explaining and harnessing adversarial examples", ICLR;
Moosavi-Dezfooli, Fawzi & Frossard 2016, "DeepFool", CVPR (the multiclass linear case).
"""

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory import checks

DUAL_ORD = {"l2": 2, "linf": 1, "l1": jnp.inf}
"""The order of the dual norm of each perturbation norm (``jnp.linalg.norm``'s ``ord``)."""


def _dual_ord(norm: str) -> float:
    checks.one_of(*DUAL_ORD)("norm", norm)
    return DUAL_ORD[norm]


@jax.jit
def scores(w_D: ArrayLike, b: ArrayLike, x_NxD: ArrayLike) -> jax.Array:
    r"""The scores :math:`w^\top x_n + b`, shape ``(N,)``."""
    return jnp.asarray(x_NxD) @ jnp.asarray(w_D) + b


@jax.jit
def l2_minimal_perturbation(w_D: ArrayLike, b: ArrayLike, x_NxD: ArrayLike) -> jax.Array:
    r"""The smallest-L2 perturbations onto the boundary, :math:`\delta^*_n = -\frac{w^\top x_n + b}{\|w\|_2^2} w`."""
    w_D = jnp.asarray(w_D)
    return -(scores(w_D, b, x_NxD) / jnp.sum(w_D**2))[:, None] * w_D[None, :]


def linf_attack(w_D: ArrayLike, x_NxD: ArrayLike, y_N: ArrayLike, eps: ArrayLike) -> jax.Array:
    r"""The L∞ attack :math:`x_n - \varepsilon\, y_n \operatorname{sign}(w)` with labels :math:`y_n \in \{-1, +1\}`:
    among :math:`\|\delta\|_\infty \le \varepsilon` the one that lowers :math:`y\,(w^\top x + b)` most, by
    :math:`\varepsilon\|w\|_1`."""
    checks.nonnegative("eps", eps)
    shift_NxD = jnp.asarray(y_N)[:, None] * jnp.sign(jnp.asarray(w_D))[None, :]
    eps_N = jnp.broadcast_to(jnp.asarray(eps), shift_NxD.shape[:1])
    return jnp.asarray(x_NxD) - eps_N[:, None] * shift_NxD


@functools.partial(jax.jit, static_argnames="norm")
def distance(w_D: ArrayLike, b: ArrayLike, x_NxD: ArrayLike, norm: str = "l2") -> jax.Array:
    r"""The smallest ``norm`` of a perturbation that reaches the boundary, :math:`|w^\top x_n + b| / \|w\|_*`
    (``norm`` in ``'l2'``, ``'linf'``, ``'l1'``; the L∞ one is the :math:`\varepsilon` of :func:`linf_attack`)."""
    return jnp.abs(scores(w_D, b, x_NxD)) / jnp.linalg.norm(jnp.asarray(w_D), ord=_dual_ord(norm))


@jax.jit
def multiclass_margins(W_DxC: ArrayLike, b_C: ArrayLike, x_NxD: ArrayLike, y_N: ArrayLike) -> jax.Array:
    r"""Margins :math:`m_{nj} = (w_{y_n} - w_j)^\top x_n + (b_{y_n} - b_j)`, shape ``(N, C)`` (zero at
    :math:`j = y_n`); :math:`x_n` is classified as :math:`y_n` iff every other margin is positive."""
    logits_NxC = jnp.asarray(x_NxD) @ jnp.asarray(W_DxC) + jnp.asarray(b_C)[None, :]
    return jnp.take_along_axis(logits_NxC, jnp.asarray(y_N)[:, None], axis=1) - logits_NxC


@functools.partial(jax.jit, static_argnames="norm")
def multiclass_distances(W_DxC: ArrayLike, b_C: ArrayLike, x_NxD: ArrayLike, y_N: ArrayLike,
                         norm: str = "l2") -> jax.Array:
    r"""Signed distances :math:`m_{nj} / \|w_{y_n} - w_j\|_*` to the boundary between :math:`y_n` and each class
    :math:`j`, shape ``(N, C)``, with ``inf`` at :math:`j = y_n`."""
    W_DxC, y_N = jnp.asarray(W_DxC), jnp.asarray(y_N)
    diff_NxDxC = W_DxC.T[y_N][:, :, None] - W_DxC[None]
    dual_NxC = jnp.linalg.norm(diff_NxDxC, ord=_dual_ord(norm), axis=1)
    own_NxC = jnp.arange(W_DxC.shape[1])[None, :] == y_N[:, None]
    margins_NxC = multiclass_margins(W_DxC, b_C, x_NxD, y_N)
    return jnp.where(own_NxC, jnp.inf, margins_NxC / jnp.where(own_NxC, 1.0, dual_NxC))


@jax.jit
def multiclass_minimal_perturbation(W_DxC: ArrayLike, b_C: ArrayLike, x_NxD: ArrayLike,
                                    y_N: ArrayLike) -> tuple[jax.Array, jax.Array]:
    r"""The smallest-L2 perturbations onto the nearest boundary and the class :math:`j^*_n` across it.

    :math:`j^* = \arg\min_{j \ne y} m_j/\|w_y - w_j\|_2` and :math:`\delta^* = -\frac{m_{j^*}}{\|v\|_2^2} v` with
    :math:`v = w_y - w_{j^*}`: the projection of :math:`x` onto the hyperplane :math:`m_{j^*} = 0`. Returns
    ``(delta_NxD, j_N)``.
    """
    W_DxC, y_N = jnp.asarray(W_DxC), jnp.asarray(y_N)
    j_N = jnp.argmin(multiclass_distances(W_DxC, b_C, x_NxD, y_N), axis=1)
    v_NxD = W_DxC.T[y_N] - W_DxC.T[j_N]
    m_N = jnp.take_along_axis(multiclass_margins(W_DxC, b_C, x_NxD, y_N), j_N[:, None], axis=1)[:, 0]
    return -(m_N / jnp.sum(v_NxD**2, axis=1))[:, None] * v_NxD, j_N
