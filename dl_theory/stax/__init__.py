"""Infinite-width layers ``(init_fn, apply_fn, kernel_fn)``: the public semantics of ``neural_tangents.stax``.

Explicit re-exports only; each layer lives in a small module of its own.
"""

from dl_theory.stax.aggregate import Aggregate
from dl_theory.stax.attention import GlobalSelfAttention
from dl_theory.stax.branching import FanInConcat, FanInProd, FanInSum, FanOut
from dl_theory.stax.combinators import parallel, repeat, serial
from dl_theory.stax.conv import Conv
from dl_theory.stax.dense import Dense, Identity
from dl_theory.stax.elementwise import (
    ABRelu,
    Abs,
    Cos,
    Erf,
    Exp,
    Gaussian,
    Gelu,
    LeakyRelu,
    Rbf,
    Relu,
    Sigmoid_like,
    Sign,
    Sin,
)
from dl_theory.stax.elementwise_general import (
    Elementwise,
    ElementwiseNumerical,
    Hermite,
    Monomial,
    Polynomial,
    RectifiedMonomial,
)
from dl_theory.stax.flatten import Flatten
from dl_theory.stax.kernel import Kernel
from dl_theory.stax.layer import layer
from dl_theory.stax.normalization import Dropout, LayerNorm
from dl_theory.stax.pooling import AvgPool, GlobalAvgPool, GlobalSumPool, SumPool
from dl_theory.stax.spatial import Padding

__all__ = [
    "Aggregate",
    "GlobalSelfAttention",
    "Dropout",
    "LayerNorm",
    "AvgPool",
    "Conv",
    "Flatten",
    "GlobalAvgPool",
    "GlobalSumPool",
    "Padding",
    "SumPool",
    "ABRelu",
    "Abs",
    "Cos",
    "Elementwise",
    "ElementwiseNumerical",
    "Erf",
    "Exp",
    "Gaussian",
    "Gelu",
    "Hermite",
    "LeakyRelu",
    "Monomial",
    "Polynomial",
    "Rbf",
    "RectifiedMonomial",
    "Relu",
    "Sigmoid_like",
    "Sign",
    "Sin",
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
