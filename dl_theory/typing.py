"""Shared type aliases and the pure-function model protocol.

A model is a pair of pure functions (the stax convention of Bradbury et al., 2018, used by neural-tangents):

* ``init(key, input_shape) -> (output_shape, params)`` draws parameters for inputs of ``input_shape``
  (the batch axis may be ``-1``);
* ``apply(params, x, **kwargs) -> y`` evaluates the network.

Analysis modules (kernels, Hessians, bounds) take the same ``apply`` and parameter pytree that training uses.
"""

from collections.abc import Callable
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
