r"""MLP and CNN builders on :mod:`dl_theory.stax`, in the NTK or the standard parameterization.

Each builder returns the stax triple ``(init_fn, apply_fn, kernel_fn)``: the same network can be trained
(``init_fn``/``apply_fn`` are pure functions for :func:`dl_theory.training.train`), analysed empirically
(:func:`dl_theory.empirical_ntk_fn`) and taken to infinite width (``kernel_fn``). In the NTK parameterization
(Jacot et al., 2018) a layer computes :math:`\frac{\sigma_W}{\sqrt{n_\text{in}}} W x + \sigma_b b` with standard
Gaussian :math:`W, b`; in the standard one, :math:`W x + b` with :math:`W \sim \mathcal N(0, \sigma_W^2/n_\text{in})`.
Both have the same function distribution at initialization; they differ in the gradient scale (hence training).
"""

from collections.abc import Callable, Sequence

from dl_theory import stax

ACTIVATIONS: dict[str, Callable[[], tuple]] = {
    "relu": stax.Relu, "erf": stax.Erf, "gelu": stax.Gelu, "abs": stax.Abs, "sign": stax.Sign,
    "identity": stax.Identity,
}
StaxTriple = tuple[Callable, Callable, Callable]


def _activation(name: str) -> StaxTriple:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def _check_widths(name: str, widths: Sequence[int]) -> None:
    if any(int(w) != w or w < 1 for w in widths):
        raise ValueError(f"{name} must be positive integers; got {tuple(widths)}")


def mlp(hidden: Sequence[int], out_dim: int = 1, *, activation: str = "relu", parameterization: str = "ntk",
        W_std: float = 2.0**0.5, b_std: float | None = 0.05, last_W_std: float = 1.0) -> StaxTriple:
    """``Dense -> activation`` for every width in ``hidden``, then a linear ``Dense(out_dim)`` readout.

    Args:
      hidden: hidden-layer widths (may be empty: a linear model).
      out_dim: number of outputs.
      activation: a key of :data:`ACTIVATIONS`.
      parameterization: ``'ntk'`` or ``'standard'``.
      W_std, b_std: weight and bias standard deviations of the hidden layers (He scaling for ReLU by default).
      last_W_std: weight standard deviation of the readout.
    """
    _check_widths("hidden", hidden)
    _check_widths("out_dim", [out_dim])
    layers = []
    for width in hidden:
        layers += [stax.Dense(width, W_std=W_std, b_std=b_std, parameterization=parameterization),
                   _activation(activation)]
    layers.append(stax.Dense(out_dim, W_std=last_W_std, b_std=b_std, parameterization=parameterization))
    return stax.serial(*layers)


def cnn(channels: Sequence[int], out_dim: int = 1, *, filter_shape: Sequence[int] = (3, 3),
        padding: str = "SAME", pooling: str = "global_avg", activation: str = "relu",
        parameterization: str = "ntk", W_std: float = 2.0**0.5, b_std: float | None = 0.05,
        last_W_std: float = 1.0) -> StaxTriple:
    """``Conv -> activation`` for every channel count, then global average pooling (or ``Flatten``) and a
    ``Dense(out_dim)`` readout. Inputs are NHWC (or N + spatial dims + C for 1-D/3-D filters).

    Args:
      channels: channels of each convolution.
      out_dim: number of outputs.
      filter_shape: spatial filter size (its length sets the number of spatial dimensions).
      padding: ``'SAME'``, ``'VALID'`` or ``'CIRCULAR'``.
      pooling: ``'global_avg'`` (translation-invariant readout) or ``'flatten'``.
      activation, parameterization, W_std, b_std, last_W_std: as in :func:`mlp`.
    """
    _check_widths("channels", channels)
    readouts = {"global_avg": stax.GlobalAvgPool, "flatten": stax.Flatten}
    if pooling not in readouts:
        raise ValueError(f"pooling must be one of {sorted(readouts)}; got {pooling!r}")
    layers = []
    for width in channels:
        layers += [stax.Conv(width, tuple(filter_shape), padding=padding, W_std=W_std, b_std=b_std,
                             parameterization=parameterization), _activation(activation)]
    layers += [readouts[pooling](), stax.Dense(out_dim, W_std=last_W_std, b_std=b_std,
                                               parameterization=parameterization)]
    return stax.serial(*layers)
