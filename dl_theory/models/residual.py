r"""Residual MLP blocks :math:`x + \alpha(\varphi(Wx + b) - \varphi(0))` and the path expansion of a linear stack.

Subtracting :math:`\varphi(0)` makes the block with zero parameters the identity, :math:`F[0, 0] = \mathrm{id}`, for
any activation (exactly, in floating point: :math:`\varphi(0) - \varphi(0) = 0`), so a deep stack can start at the
identity map. For linear branches the stack is :math:`y = \prod_{k=L}^{1}(I + \alpha W_k)\, x`; expanding the
product gives one term per subset :math:`S \subseteq \{1..L\}` of branches taken,

.. math:: \prod_{k=L}^{1}(I + \alpha W_k) = \sum_{S} \alpha^{|S|} \prod_{k \in S,\ \text{descending}} W_k,

:math:`2^L` paths, :math:`\binom{L}{j}` of length :math:`j` (Veit, Wilber & Belongie, *Residual networks behave like
ensembles of relatively shallow networks*, NeurIPS 2016; He et al., *Deep residual learning*, CVPR 2016).
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.regularization.residual_scaling import BRANCH_ACTIVATIONS
from dl_theory.typing import Model, Shape


def residual_mlp(depth: int, *, alpha: float = 1.0, activation: str = "relu", W_std: float = 1.0,
                 b_std: float = 0.0) -> Model:
    r"""``(init_fn, apply_fn)`` of :math:`L` width-preserving blocks :math:`x \mapsto x + \alpha(\varphi(xW + b) -
    \varphi(0))`.

    Args:
      depth: number of blocks ``L``.
      alpha: branch scale.
      activation: ``'identity'``, ``'relu'`` or ``'tanh'``.
      W_std: :math:`W_{ij} \sim \mathcal N(0, \sigma_w^2 / d)`.
      b_std: :math:`b_i \sim \mathcal N(0, \sigma_b^2)` (0: zero biases).

    Returns:
      ``init_fn(key, input_shape) -> (input_shape, params)`` with params a list of ``{"w": (d, d), "b": (d,)}``, and
      ``apply_fn(params, x_BxD) -> y_BxD``.
    """
    depth = checks.count("depth", depth)
    checks.finite("alpha", alpha)
    checks.nonnegative("W_std", W_std)
    checks.nonnegative("b_std", b_std)
    checks.one_of(*BRANCH_ACTIVATIONS)("activation", activation)
    phi = BRANCH_ACTIVATIONS[activation]

    def init_fn(key: jax.Array, input_shape: Shape) -> tuple[Shape, list[dict[str, jax.Array]]]:
        d = input_shape[-1]
        keys = jax.random.split(key, 2 * depth).reshape(depth, 2)
        return input_shape, [{"w": W_std / np.sqrt(d) * jax.random.normal(kw, (d, d)),
                              "b": b_std * jax.random.normal(kb, (d,))} for kw, kb in keys]

    def apply_fn(params: list[dict[str, jax.Array]], x_BxD: ArrayLike, **kwargs) -> jax.Array:
        y = jnp.asarray(x_BxD)
        for layer in params:
            z = y @ layer["w"] + layer["b"].reshape((1,) * (y.ndim - 1) + layer["b"].shape)
            y = y + alpha * (phi(z) - phi(jnp.zeros_like(z)))
        return y

    return Model(init_fn, apply_fn)


def linear_stack_matrix(w_LxDxD: ArrayLike, alpha: float) -> np.ndarray:
    r""":math:`\prod_{k=L}^{1}(I + \alpha W_k)` (column convention, :math:`y = M x`), multiplied out in order."""
    w = np.asarray(w_LxDxD)
    out = np.eye(w.shape[-1], dtype=w.dtype)
    for w_k in w:
        out = (np.eye(w.shape[-1], dtype=w.dtype) + alpha * w_k) @ out
    return out


def path_expansion(w_LxDxD: ArrayLike, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    r"""All :math:`2^L` path terms :math:`\alpha^{|S|}\prod_{k \in S} W_k` of the linear residual stack.

    Enumerates every subset :math:`S` (bit :math:`k` of the path index says whether block :math:`k+1`'s branch is
    taken) and multiplies only the chosen branches; the skips contribute :math:`I`. Their sum equals
    :func:`linear_stack_matrix` up to rounding.

    Returns:
      ``terms_PxDxD`` (:math:`P = 2^L`) and ``lengths_P`` (:math:`|S|`, the number of branches on each path).
    """
    w = np.asarray(w_LxDxD)
    checks.count("depth", w.shape[0])
    depth, d = w.shape[0], w.shape[-1]
    masks_PxL = (np.arange(2**depth)[:, None] >> np.arange(depth)[None, :]) & 1
    terms = np.empty((2**depth, d, d), dtype=w.dtype)
    for p, mask in enumerate(masks_PxL):
        term = np.eye(d, dtype=w.dtype)
        for k in np.flatnonzero(mask):
            term = alpha * w[k] @ term
        terms[p] = term
    return terms, masks_PxL.sum(axis=1)


def path_length_counts(lengths_P: ArrayLike, depth: int) -> np.ndarray:
    """How many enumerated paths have each length ``0..depth`` (a histogram of :func:`path_expansion`'s lengths)."""
    return np.bincount(np.asarray(lengths_P), minlength=checks.count("depth", depth) + 1)

