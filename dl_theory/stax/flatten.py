r"""``Flatten``: merge all non-batch axes into one channel axis.

The flattened vector has :math:`n_c \prod_s |s|` channels, so its averaged inner product is the mean over positions of
the same-position covariances:

.. math:: K'(x, x') = \frac{1}{|S|} \sum_{s \in S} K(x, x')[s, s],

and likewise for the NTK (Novak et al., 2019, arXiv:1810.05148: "CNN-Vec"). Only the spatial diagonal is used, so a
network that flattens needs no cross-position covariances below.
"""

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from dl_theory.stax.kernel import Kernel, diagonal_of, map_covariances
from dl_theory.stax.layer import ANY, layer, with_axes, with_rule

__all__ = ["Flatten"]


@layer
def Flatten(batch_axis: int = 0, batch_axis_out: int = 0) -> tuple[Callable, Callable, Callable]:
    """Flatten all non-batch axes (row-major) into one.

    Args:
      batch_axis: batch axis of the inputs.
      batch_axis_out: ``0`` for ``(batch, features)`` outputs, ``1`` (or ``-1``) for ``(features, batch)``.

    Returns:
      ``(init_fn, apply_fn, kernel_fn)``.
    """
    if batch_axis_out in (0, -2):
        b_out, c_out = 0, 1
    elif batch_axis_out in (1, -1):
        b_out, c_out = 1, 0
    else:
        raise ValueError(f"Flatten: `batch_axis_out` must be 0 or 1, got {batch_axis_out}.")

    def out_shape(shape: Sequence[int]) -> tuple[int, int]:
        b = batch_axis % len(shape)
        rest = 1
        for i, d in enumerate(shape):
            rest *= 1 if i == b else int(d)
        return (int(shape[b]), rest) if b_out == 0 else (rest, int(shape[b]))

    def init_fn(key: jax.Array, input_shape: Sequence[int]) -> tuple[tuple[int, int], tuple]:
        return out_shape(input_shape), ()

    def apply_fn(params: tuple, inputs: jax.Array, **kwargs: Any) -> jax.Array:
        x = jnp.moveaxis(inputs, batch_axis, 0).reshape((inputs.shape[batch_axis], -1))
        return x if b_out == 0 else x.T

    def kfn(k: Kernel, **kwargs: Any) -> Kernel:
        def flat(mat: jax.Array, nb: int) -> jax.Array:
            if not k.diagonal_spatial:
                # treat the leading batch axes as the "batch" of diagonal_of, keep them
                lead = mat.shape[:nb]
                mat = diagonal_of(mat.reshape((-1,) + mat.shape[nb:]), True, False).reshape(
                    lead + mat.shape[nb::2]
                )
            return jnp.mean(mat, axis=tuple(range(nb, mat.ndim)))

        return map_covariances(
            k,
            flat,
            is_gaussian=False,
            is_reversed=False,
            batch_axis=b_out,
            channel_axis=c_out,
            diagonal_spatial=False,
        )

    return init_fn, apply_fn, with_axes(with_rule(kfn, ANY), batch_axis, -1)
