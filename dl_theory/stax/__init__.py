"""Infinite-width layers ``(init_fn, apply_fn, kernel_fn)``: the public semantics of ``neural_tangents.stax``.

Explicit re-exports only; each layer lives in a small module of its own.
"""

from dl_theory.stax.branching import FanInConcat, FanInProd, FanInSum, FanOut
from dl_theory.stax.combinators import parallel, repeat, serial
from dl_theory.stax.dense import Dense, Identity
from dl_theory.stax.kernel import Kernel
from dl_theory.stax.layer import layer

__all__ = [
    "Dense",
    "FanInConcat",
    "FanInProd",
    "FanInSum",
    "FanOut",
    "Identity",
    "Kernel",
    "layer",
    "parallel",
    "repeat",
    "serial",
]
