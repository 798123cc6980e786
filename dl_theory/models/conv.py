"""CNN builder on :mod:`dl_theory.stax`: convolutions, global average pooling (or flattening) and a dense readout.

The triple ``(init_fn, apply_fn, kernel_fn)`` serves training, the empirical NTK and the infinite-width kernels alike;
parameterizations and standard deviations are as in :mod:`dl_theory.models.mlp`.
"""

from collections.abc import Sequence

import numpy as np

from dl_theory import stax
from dl_theory.models.mlp import StaxTriple, activation_layer, check_widths


def _per_layer(name: str, value: Sequence[int] | Sequence[Sequence[int]], n_layers: int) -> list[tuple[int, ...]]:
    """One window (filter shape or strides) for every layer: ``value`` itself, or its ``i``-th entry for layer ``i``."""
    if all(np.ndim(v) == 0 for v in value):
        return [tuple(value)] * n_layers
    if len(value) != n_layers:
        raise ValueError(f"{name} must be one window or one per convolution ({n_layers}), got {tuple(value)}")
    return [tuple(v) for v in value]


def cnn(channels: Sequence[int], out_dim: int = 1, *, filter_shape: Sequence[int] | Sequence[Sequence[int]] = (3, 3),
        strides: Sequence[int] | Sequence[Sequence[int]] | None = None, padding: str = "SAME",
        pooling: str = "global_avg", activation: str = "relu", parameterization: str = "ntk", W_std: float = 2.0**0.5,
        b_std: float | None = 0.05, last_W_std: float = 1.0) -> StaxTriple:
    """``Conv -> activation`` for every channel count, then global average pooling (or ``Flatten``) and a
    ``Dense(out_dim)`` readout. Inputs are NHWC (or N + spatial dims + C for 1-D/3-D filters).

    Args:
      channels: channels of each convolution.
      out_dim: number of outputs.
      filter_shape: spatial filter size (its length sets the number of spatial dimensions), or one per convolution,
        e.g. ``((9,), (3,))``.
      strides: window strides like ``filter_shape`` (one for all convolutions or one per convolution); ``None`` means
        stride 1 everywhere.
      padding: ``'SAME'``, ``'VALID'`` or ``'CIRCULAR'``.
      pooling: ``'global_avg'`` (translation-invariant readout) or ``'flatten'``.
      activation, parameterization, W_std, b_std, last_W_std: as in :func:`mlp`.
    """
    check_widths("channels", channels)
    readouts = {"global_avg": stax.GlobalAvgPool, "flatten": stax.Flatten}
    if pooling not in readouts:
        raise ValueError(f"pooling must be one of {sorted(readouts)}; got {pooling!r}")
    filters = _per_layer("filter_shape", filter_shape, len(channels))
    strides_per_layer = [None] * len(channels) if strides is None else _per_layer("strides", strides, len(channels))
    layers = []
    for width, window, stride in zip(channels, filters, strides_per_layer, strict=True):
        layers += [stax.Conv(width, window, stride, padding=padding, W_std=W_std, b_std=b_std,
                             parameterization=parameterization), activation_layer(activation)]
    layers += [readouts[pooling](), stax.Dense(out_dim, W_std=last_W_std, b_std=b_std,
                                               parameterization=parameterization)]
    return stax.serial(*layers)
