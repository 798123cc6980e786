r"""``Dense`` (fully connected over the channel axis) and ``Identity``.

NTK parameterization (Jacot et al., 2018, arXiv:1806.07572, p. 3): :math:`W_{ij}, b_j \sim \mathcal N(0, 1)` and
:math:`z = \frac{\sigma_W}{\sqrt{n_\text{in}}} x W + \sigma_b b`. Standard parameterization (Sohl-Dickstein et al.,
2020, arXiv:2001.07301): :math:`W_{ij} \sim \mathcal N(0, \sigma_W^2 / (n_\text{in}/s_0))`,
:math:`b_j \sim \mathcal N(0, \sigma_b^2)` and :math:`z = x W / \sqrt{s_0} + b`. Both have the same NNGP,

.. math:: K' = \sigma_W^2 K + \sigma_b^2,

and the NTKs :math:`\Theta' = K' + \sigma_W^2 \Theta` (NTK) and
:math:`\Theta' = \tfrac{n_\text{in}}{s_0} K + \sigma_W^2 \Theta + [\sigma_b \text{ given}]` (standard), where :math:`K`
is the input covariance averaged over the channels (the gradient w.r.t. the weights contributes :math:`x \cdot x'`
scaled by the parameterization).
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from dl_theory.stax.kernel import Kernel
from dl_theory.stax.layer import SAME, layer, with_axes, with_rule

__all__ = ["Dense", "Identity", "affine", "check_parameterization"]


def check_parameterization(parameterization: str) -> str:
    """Lower-cased ``parameterization``; ``ValueError`` unless it is ``'ntk'`` or ``'standard'``."""
    p = str(parameterization).lower()
    if p not in ("ntk", "standard"):
        raise ValueError(f"`parameterization` must be 'ntk' or 'standard', got {parameterization!r}.")
    return p


def affine(mat: jax.Array | None, W_std: float, b_std: float | None) -> jax.Array | None:
    r""":math:`\sigma_W^2 \cdot \text{mat} + \sigma_b^2` (no shift when ``b_std`` is ``None``)."""
    if mat is None:
        return None
    mat = W_std**2 * mat
    return mat if b_std is None else mat + b_std**2


@layer
def Identity() -> tuple[Callable, Callable, Callable]:
    """The identity layer: outputs equal inputs, kernels unchanged."""
    init_fn = lambda key, input_shape: (input_shape, ())
    apply_fn = lambda params, inputs, **kwargs: inputs
    return init_fn, apply_fn, with_rule(lambda k, **kwargs: k, SAME)


@layer
def Dense(
    out_dim: int,
    W_std: float = 1.0,
    b_std: float | None = None,
    batch_axis: int = 0,
    channel_axis: int = -1,
    parameterization: str = "ntk",
    s: tuple[int, int] = (1, 1),
) -> tuple[Callable, Callable, Callable]:
    """Fully connected layer acting on ``channel_axis`` (every other axis is kept, position-wise).

    Args:
      out_dim: output channels (ignored by ``kernel_fn`` in the NTK parameterization).
      W_std: weight standard deviation :math:`\\sigma_W`.
      b_std: bias standard deviation :math:`\\sigma_b`; ``None`` means no bias (params ``(W, None)``).
      batch_axis: batch axis of the inputs.
      channel_axis: channel axis of the inputs (taken to infinity by ``kernel_fn``).
      parameterization: ``'ntk'`` or ``'standard'`` (see the module docstring).
      s: width scalings ``(s_in, s_out)`` of the standard parameterization; ``W`` has shape
        ``(in_dim, s_out * out_dim)`` and the pre-activations are divided by ``sqrt(s_in)``.

    Returns:
      ``(init_fn, apply_fn, kernel_fn)``; params ``(W, b)`` with ``W`` of shape ``(in_dim, out_dim)`` and ``b``
      of shape ``(1, ..., out_dim, ..., 1)`` (``out_dim`` at ``channel_axis``) or ``None``.
    """
    param = check_parameterization(parameterization)
    width = out_dim if param == "ntk" else out_dim * s[1]

    def init_fn(key: jax.Array, input_shape: tuple[int, ...]) -> tuple[tuple[int, ...], tuple]:
        c = channel_axis % len(input_shape)
        out_shape = tuple(input_shape[:c]) + (width,) + tuple(input_shape[c + 1 :])
        k_w, k_b = jax.random.split(key)
        W = jax.random.normal(k_w, (input_shape[c], width))
        b = None
        if b_std is not None:
            b_shape = [1] * len(input_shape)
            b_shape[c] = width
            b = jax.random.normal(k_b, tuple(b_shape))
        if param == "standard":
            W = W * (W_std / (input_shape[c] / s[0]) ** 0.5)
            b = None if b is None else b * b_std
        return out_shape, (W, b)

    def apply_fn(params: tuple, inputs: jax.Array, **kwargs: Any) -> jax.Array:
        W, b = params
        c = channel_axis % inputs.ndim
        out = jnp.moveaxis(jnp.tensordot(inputs, W, axes=((c,), (0,))), -1, c)
        if param == "ntk":
            out = out * (W_std / inputs.shape[c] ** 0.5)
            return out if b is None else out + b_std * b
        out = out / s[0] ** 0.5
        return out if b is None else out + b

    def kfn(k: Kernel, **kwargs: Any) -> Kernel:
        if param == "ntk":
            nngp = affine(k.nngp, W_std, b_std)
            ntk = None if k.ntk is None else nngp + W_std**2 * k.ntk
        else:
            n_in = k.shape1[channel_axis % len(k.shape1)] / s[0]
            ntk = None
            if k.ntk is not None:
                ntk = n_in * k.nngp + W_std**2 * k.ntk + (0.0 if b_std is None else 1.0)
            nngp = affine(k.nngp, W_std, b_std)
        return k.replace(
            nngp=nngp,
            ntk=ntk,
            cov1=affine(k.cov1, W_std, b_std),
            cov2=affine(k.cov2, W_std, b_std),
            is_gaussian=True,
            is_input=False,
        )

    return init_fn, apply_fn, with_axes(with_rule(kfn, SAME), batch_axis, channel_axis)
