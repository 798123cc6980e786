r"""MLP builder on :mod:`dl_theory.stax`, in the NTK or the standard parameterization.

:func:`mlp` (and :func:`dl_theory.models.conv.cnn`) return the stax triple ``(init_fn, apply_fn, kernel_fn)``: the
same network can be trained (``init_fn``/``apply_fn`` are pure functions for :func:`dl_theory.training.train`),
analysed empirically (:func:`dl_theory.kernels.empirical_ntk_fn`) and taken to infinite width (``kernel_fn``). In the
NTK parameterization (Jacot et al., 2018) a layer computes :math:`\frac{\sigma_W}{\sqrt{n_\text{in}}} W x + \sigma_b b`
with standard Gaussian :math:`W, b`; in the standard one, :math:`W x + b` with
:math:`W \sim \mathcal N(0, \sigma_W^2/n_\text{in})`. Both have the same function distribution at initialization;
they differ in the gradient scale (hence training).
"""

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory import stax
from dl_theory.typing import Model, Shape

ACTIVATIONS: dict[str, Callable[[], tuple]] = {
    "relu": stax.Relu, "erf": stax.Erf, "gelu": stax.Gelu, "abs": stax.Abs, "sign": stax.Sign,
    "identity": stax.Identity,
}
StaxTriple = tuple[Callable, Callable, Callable]


def activation_layer(name: str) -> StaxTriple:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def check_widths(name: str, widths: Sequence[int]) -> None:
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
    check_widths("hidden", hidden)
    check_widths("out_dim", [out_dim])
    layers = []
    for width in hidden:
        layers += [stax.Dense(width, W_std=W_std, b_std=b_std, parameterization=parameterization),
                   activation_layer(activation)]
    layers.append(stax.Dense(out_dim, W_std=last_W_std, b_std=b_std, parameterization=parameterization))
    return stax.serial(*layers)


def dense_mlp(hidden: Sequence[int], out_dim: int, *, activation: Callable[[jax.Array], jax.Array] = jnp.tanh
              ) -> Model:
    r"""A plain MLP ``(init_fn, apply_fn)`` whose parameters are a list of ``{"w": (n_in, n_out), "b": (n_out,)}``.

    Standard parameterization with LeCun-normal weights :math:`W \sim \mathcal N(0, 1/n_\text{in})` and zero biases;
    ``activation`` (tanh by default) after every hidden layer, a linear readout. The layout is the one a PyTorch stack
    of ``nn.Linear`` layers holds (transposed), so a benchmark peer can compute exactly the same function from the same
    weights; the Hessian experiments use it for that reason. Any ``activation`` works (no kernel function is needed).
    """
    check_widths("hidden", hidden)
    check_widths("out_dim", [out_dim])

    def init_fn(key: jax.Array, input_shape: Shape) -> tuple[Shape, list[dict[str, jax.Array]]]:
        sizes = (input_shape[-1], *hidden, out_dim)
        keys = jax.random.split(key, len(sizes) - 1)
        params = [{"w": jax.random.normal(k, (m, n)) / np.sqrt(m), "b": jnp.zeros((n,))}
                  for k, m, n in zip(keys, sizes[:-1], sizes[1:], strict=True)]
        return (*input_shape[:-1], out_dim), params

    def apply_fn(params: list[dict[str, jax.Array]], x_NxD: ArrayLike, **kwargs) -> jax.Array:
        h = jnp.asarray(x_NxD)
        bias = lambda b: b.reshape((1,) * (h.ndim - 1) + b.shape)  # explicit: no rank promotion
        for layer in params[:-1]:
            h = activation(h @ layer["w"] + bias(layer["b"]))
        return h @ params[-1]["w"] + bias(params[-1]["b"])

    return Model(init_fn, apply_fn)
