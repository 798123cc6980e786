r"""Pooling: ``AvgPool``, ``SumPool``, ``GlobalAvgPool``, ``GlobalSumPool``.

Pooling is linear and weight-free, so it acts on covariances on both sides: for windows :math:`w(y)`,

.. math:: K'[y, y'] = c(y) c(y') \sum_{i \in w(y)} \sum_{j \in w(y')} K[i, j],

with :math:`c = 1` (sum), :math:`1/|w|` (average) or one over the number of in-image positions (``normalize_edges`` with
``SAME`` padding); the NTK transforms the same way (no parameters). Global pooling sums or averages over all positions
on both sides. Pooling needs the off-diagonal (cross-position) covariances.
"""

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from dl_theory.stax.kernel import Kernel, map_covariances
from dl_theory.stax.layer import FULL, layer, spatial_shape, with_axes, with_rule
from dl_theory.stax.spatial import Padding, check_padding, pair_window, window_sum

__all__ = ["AvgPool", "GlobalAvgPool", "GlobalSumPool", "SumPool"]


def _spatial_axes(ndim: int, batch_axis: int, channel_axis: int) -> tuple[int, ...]:
    return tuple(i for i in range(ndim) if i not in (batch_axis % ndim, channel_axis % ndim))


def _needs_full(k: Kernel, name: str) -> None:
    if k.diagonal_spatial:
        raise ValueError(
            f"`{name}` needs cross-position covariances, but the Kernel has diagonal_spatial=True; recompute "
            "it with diagonal_spatial=False."
        )


def _edge_counts(size: int, window: int, stride: int, padding: Padding) -> jax.Array:
    """Number of in-image positions in each output window along one axis."""
    return window_sum(jnp.ones((size,)), (0,), (window,), (stride,), padding)


def _pool(
    window_shape: Sequence[int],
    strides: Sequence[int] | None,
    padding: str,
    normalize_edges: bool,
    average: bool,
    batch_axis: int,
    channel_axis: int,
    name: str,
) -> tuple[Callable, Callable, Callable]:
    window = tuple(int(w) for w in window_shape)
    strides = tuple(int(s) for s in (strides or (1,) * len(window)))
    pad = check_padding(padding)
    if len(strides) != len(window):
        raise ValueError(f"{name}: `strides` {strides} and `window_shape` {window} differ in length.")

    def check(shape: Sequence[int]) -> tuple[int, ...]:
        axes = _spatial_axes(len(shape), batch_axis, channel_axis)
        if len(axes) != len(window):
            raise ValueError(
                f"`{name}` with a {len(window)}-D window expects inputs of rank {len(window) + 2}, got shape "
                f"{tuple(shape)}."
            )
        return axes

    def scale(size: int, d: int) -> jax.Array | float:
        if not average:
            return 1.0
        if normalize_edges and pad == Padding.SAME:
            return 1.0 / _edge_counts(size, window[d], strides[d], pad)
        return 1.0 / window[d]

    def apply_fn(params: tuple, inputs: jax.Array, **kwargs: Any) -> jax.Array:
        axes = check(inputs.shape)
        out = window_sum(inputs, axes, window, strides, pad)
        for d, a in enumerate(axes):
            c = scale(inputs.shape[a], d)
            if not isinstance(c, float):
                c = c.reshape([-1 if i == a else 1 for i in range(out.ndim)])
            out = out * c
        return out

    def init_fn(key: jax.Array, input_shape: Sequence[int]) -> tuple[tuple[int, ...], tuple]:
        check(input_shape)
        out = jax.eval_shape(lambda x: apply_fn((), x), jax.ShapeDtypeStruct(tuple(input_shape), jnp.float32))
        return tuple(out.shape), ()

    def kfn(k: Kernel, **kwargs: Any) -> Kernel:
        check(k.shape1)
        _needs_full(k, name)
        sizes = spatial_shape(k.shape1, k.batch_axis, k.channel_axis)

        def pool(mat: jax.Array, nb: int) -> jax.Array:
            for d in range(len(window)):
                a = nb + 2 * d
                mat = pair_window(mat, a, window[d], strides[d], pad, diagonal=False)
                c = scale(sizes[d], d)
                if not isinstance(c, float):
                    shape = [1] * mat.ndim
                    shape[a] = shape[a + 1] = c.shape[0]
                    c = jnp.outer(c, c).reshape(shape)
                else:
                    c = c * c
                mat = mat * c
            return mat

        return map_covariances(k, pool)

    return init_fn, apply_fn, with_axes(with_rule(kfn, FULL), batch_axis, channel_axis)


@layer
def AvgPool(
    window_shape: Sequence[int],
    strides: Sequence[int] | None = None,
    padding: str = "VALID",
    normalize_edges: bool = False,
    batch_axis: int = 0,
    channel_axis: int = -1,
) -> tuple[Callable, Callable, Callable]:
    """Average pooling over the spatial axes.

    Args:
      window_shape: window size per spatial axis.
      strides: window strides; ``None`` means all ones.
      padding: ``'VALID'``, ``'SAME'`` or ``'CIRCULAR'``.
      normalize_edges: with ``SAME`` padding, divide by the number of in-image positions of each window
        (as ``jax.example_libraries.stax.AvgPool``) instead of the window size.
      batch_axis: batch axis of the inputs.
      channel_axis: channel axis of the inputs.

    Returns:
      ``(init_fn, apply_fn, kernel_fn)``.
    """
    return _pool(window_shape, strides, padding, normalize_edges, True, batch_axis, channel_axis, "AvgPool")


@layer
def SumPool(
    window_shape: Sequence[int],
    strides: Sequence[int] | None = None,
    padding: str = "VALID",
    batch_axis: int = 0,
    channel_axis: int = -1,
) -> tuple[Callable, Callable, Callable]:
    """Sum pooling over the spatial axes (arguments as :func:`AvgPool`)."""
    return _pool(window_shape, strides, padding, False, False, batch_axis, channel_axis, "SumPool")


def _global_pool(average: bool, batch_axis: int, channel_axis: int, name: str) -> tuple:
    def init_fn(key: jax.Array, input_shape: Sequence[int]) -> tuple[tuple[int, ...], tuple]:
        n = len(input_shape)
        keep = sorted({batch_axis % n, channel_axis % n})
        return tuple(input_shape[i] for i in keep), ()

    def apply_fn(params: tuple, inputs: jax.Array, **kwargs: Any) -> jax.Array:
        axes = _spatial_axes(inputs.ndim, batch_axis, channel_axis)
        return jnp.mean(inputs, axes) if average else jnp.sum(inputs, axes)

    def kfn(k: Kernel, **kwargs: Any) -> Kernel:
        _needs_full(k, name)

        def pool(mat: jax.Array, nb: int) -> jax.Array:
            axes = tuple(range(nb, mat.ndim))
            return jnp.mean(mat, axes) if average else jnp.sum(mat, axes)

        ndim = len(k.shape1)
        batch_first = batch_axis % ndim < channel_axis % ndim
        return map_covariances(
            k,
            pool,
            is_reversed=False,
            batch_axis=0 if batch_first else 1,
            channel_axis=1 if batch_first else 0,
        )

    return init_fn, apply_fn, with_axes(with_rule(kfn, FULL), batch_axis, channel_axis)


@layer
def GlobalAvgPool(batch_axis: int = 0, channel_axis: int = -1) -> tuple[Callable, Callable, Callable]:
    """Average over all spatial axes (removed), keeping the batch and channel axes in their order."""
    return _global_pool(True, batch_axis, channel_axis, "GlobalAvgPool")


@layer
def GlobalSumPool(batch_axis: int = 0, channel_axis: int = -1) -> tuple[Callable, Callable, Callable]:
    """Sum over all spatial axes (removed), keeping the batch and channel axes in their order."""
    return _global_pool(False, batch_axis, channel_axis, "GlobalSumPool")

