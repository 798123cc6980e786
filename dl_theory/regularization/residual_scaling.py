r"""Scaled residual stacks :math:`y_k = \alpha f(y_{k-1}; W_k) + y_{k-1}` and the size of their output.

With :math:`f(y; W) = W \varphi(y)` and i.i.d. :math:`W_{ij} \sim \mathcal{N}(0, \sigma_w^2/d)`, the cross term has
mean zero and :math:`\mathbb{E}_W \|W\varphi(y)\|^2 = \sigma_w^2 \|\varphi(y)\|^2`, so

.. math:: \mathbb{E}\|y_k\|^2 = \mathbb{E}\|y_{k-1}\|^2 + \alpha^2\sigma_w^2\, \mathbb{E}\|\varphi(y_{k-1})\|^2.

For the identity :math:`\varphi` this is :math:`\mathbb{E}\|y_L\|^2 = (1 + \alpha^2\sigma_w^2)^L \|x\|^2` exactly
(:func:`linear_second_moment`); for ReLU (:math:`\|\varphi(y)\|^2 \le \|y\|^2`) it is at most that. With
:math:`\alpha = a/\sqrt{L}` the factor :math:`(1 + a^2\sigma_w^2/L)^L` increases to :math:`e^{a^2\sigma_w^2}`: bounded
in depth; with :math:`\alpha = 1` it is :math:`(1 + \sigma_w^2)^L`, geometric (the notes' ":math:`\alpha^2 =
\alpha/a`" should read :math:`\alpha^2 = a^2/L`). Reference: Hanin & Rolnick, *How to start training: the effect of
initialization and architecture*, NeurIPS 2018; Zhang, Dauphin & Ma, *Fixup initialization*, ICLR 2019.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import ArrayLike

from dl_theory import checks

BRANCH_ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "identity": lambda y: y, "relu": jax.nn.relu, "tanh": jnp.tanh}


def residual_stack(depth: int, *, alpha: ArrayLike, activation: str = "relu",
                   W_std: float = 1.0) -> tuple[Callable, Callable]:
    r"""``(init_fn, apply_fn)`` of :math:`y_k = \alpha W_k \varphi(y_{k-1}) + y_{k-1}`, :math:`k = 1..L`, width
    kept, no biases, :math:`W_k \sim \mathcal{N}(0, \sigma_w^2/d)`.

    Args:
      depth: number of residual blocks ``L``.
      alpha: branch scale (``a / sqrt(L)`` keeps the output bounded in depth), or one per block, shape ``(L,)``
        (zeros past some block give a shallower stack with the same weights).
      activation: ``'identity'``, ``'relu'`` or ``'tanh'`` (:data:`BRANCH_ACTIVATIONS`).
      W_std: :math:`\sigma_w`.

    Returns:
      ``init_fn(key, input_shape) -> (input_shape, W_LxDxD)`` and ``apply_fn(W_LxDxD, x_BxD) -> y_BxD``.
    """
    depth = checks.count("depth", depth)
    checks.finite("alpha", alpha)
    alpha_L = jnp.broadcast_to(jnp.asarray(alpha, float), (depth,))
    checks.positive("W_std", W_std)
    checks.one_of(*BRANCH_ACTIVATIONS)("activation", activation)
    phi = BRANCH_ACTIVATIONS[activation]

    def init_fn(key: jax.Array, input_shape: tuple[int, ...]):
        width = input_shape[-1]
        return input_shape, W_std / jnp.sqrt(width) * jax.random.normal(key, (depth, width, width))

    def apply_fn(w_LxDxD: jax.Array, x_BxD: jax.Array) -> jax.Array:
        block = lambda y_BxD, w_a: (y_BxD + w_a[1] * phi(y_BxD) @ w_a[0].T, None)  # noqa: E731
        return lax.scan(block, x_BxD, (w_LxDxD, alpha_L.astype(x_BxD.dtype)))[0]

    return init_fn, apply_fn


def linear_second_moment(depth: ArrayLike, alpha: ArrayLike, W_std: float = 1.0) -> jax.Array:
    r""":math:`\mathbb{E}\|y_L\|^2 / \|x\|^2 = (1 + \alpha^2 \sigma_w^2)^L` for the identity activation."""
    checks.nonnegative("depth", depth)
    return (1.0 + jnp.asarray(alpha) ** 2 * W_std**2) ** jnp.asarray(depth)
