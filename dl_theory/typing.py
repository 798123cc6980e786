"""Shared type aliases and the pure-function model protocol.

A model is a pair of pure functions (the stax convention of Bradbury et al., 2018, used by neural-tangents):

* ``init(key, input_shape) -> (output_shape, params)`` draws parameters for inputs of ``input_shape`` (the batch axis
  may be ``-1``);
* ``apply(params, x, **kwargs) -> y`` evaluates the network.

Analysis modules (kernels, Hessians, bounds) take the same ``apply`` and parameter pytree that training uses. The other
aliases name the arguments that several packages share: output axes (``Axes``), the batch structure of an ``apply``
function (``VmapAxes``), a loss (``LossFn``) and a matrix seen only through its products (``Matvec``).
"""

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

import jax
from jax.typing import ArrayLike

PyTree = Any
Params = PyTree
Shape = tuple[int, ...]


class InitFn(Protocol):
    def __call__(self, key: jax.Array, input_shape: Shape) -> tuple[Shape, Params]: ...


class ApplyFn(Protocol):
    def __call__(self, params: Params, x: ArrayLike, **kwargs: Any) -> jax.Array: ...


class Model(NamedTuple):
    """A network as two pure functions; see the module docstring."""

    init: InitFn
    apply: ApplyFn


LossFn = Callable[[Params, Any], jax.Array]
"""``loss(params, batch) -> scalar``."""


Axes = int | Sequence[int]
"""One output axis or several, negative indices counting from the end (``trace_axes``, ``diagonal_axes``)."""

VmapAxes = int | tuple[PyTree, PyTree, dict[str, int | None]] | None
"""neural-tangents' ``vmap_axes``: ``None`` (no batch structure), one batch axis of inputs and outputs, or a triple
``(in_axes, out_axes, kwargs_axes)`` of per-leaf batch axes of ``x``, of ``apply(params, x)`` and per keyword."""

Matvec = Callable[[jax.Array], jax.Array]
"""``v_D -> A v_D``: a ``D x D`` matrix (a Hessian, a Gram matrix) seen only through its products."""
