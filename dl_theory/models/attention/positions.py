r"""Positional encodings: fixed sinusoids and a learned table, both added to the token features.

Self-attention without positions is permutation *equivariant*: permuting the input rows permutes the output rows the
same way (every token is treated alike, only the content of the others matters). Adding a position-dependent vector
to each token breaks that symmetry and lets the model use order.

* :func:`sinusoidal` -- :math:`PE_{t, 2i} = \sin(t / 10000^{2i/d})`, :math:`PE_{t, 2i+1} = \cos(t / 10000^{2i/d})`
  (Vaswani et al. 2017, §3.5): fixed, defined for every length, and :math:`PE_{t+k}` is a rotation of
  :math:`PE_t` per frequency;
* :func:`learned_positions` -- a trainable table :math:`E \in \mathbb{R}^{T_{max} \times d}` (BERT, ViT), as an
  ``(init_fn, apply_fn)`` pair adding :math:`E_{1..T}` to ``x_BxTxD``.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.typing import Model, Params, Shape


def sinusoidal(length: int, dim: int, base: float = 10000.0) -> jax.Array:
    """``PE_TxD``: sin on even features, cos on odd ones, frequencies ``base^(-2i/d)``; ``dim`` must be even."""
    checks.count("length", length)
    checks.count("dim", dim)
    checks.positive("base", base)
    if dim % 2:
        raise checks.fail("dim", "an even number of features", dim)
    angle = np.arange(length)[:, None] * base ** (-np.arange(0, dim, 2) / dim)[None, :]
    pe = np.empty((length, dim))
    pe[:, 0::2], pe[:, 1::2] = np.sin(angle), np.cos(angle)
    return jnp.asarray(pe, dtype=jnp.result_type(float))


def add_sinusoidal(x_BxTxD: ArrayLike) -> jax.Array:
    """``x + PE``: the sinusoidal encoding of positions ``0..T-1`` added to every sequence."""
    x = jnp.asarray(x_BxTxD)
    return x + sinusoidal(x.shape[1], x.shape[2]).astype(x.dtype)[None]


def learned_positions(max_length: int, stddev: float = 0.02) -> Model:
    """A learned table of ``max_length`` position vectors, ``N(0, stddev²)`` at init; ``apply(p, x_BxTxD) = x + E[:T]``.

    Params ``{"embedding": max_length x D}``; ``T <= max_length`` is required.
    """
    checks.count("max_length", max_length)
    checks.positive("stddev", stddev)

    def init_fn(key: jax.Array, input_shape: Shape) -> tuple[Shape, Params]:
        return tuple(input_shape), {"embedding": stddev * jax.random.normal(key, (max_length, input_shape[-1]))}

    def apply_fn(params: Params, x_BxTxD: ArrayLike, **kwargs) -> jax.Array:
        x = jnp.asarray(x_BxTxD)
        table = params["embedding"]
        if x.shape[1] > table.shape[0]:
            raise checks.fail("sequence length", f"at most max_length = {table.shape[0]}", x.shape[1])
        return x + table[None, : x.shape[1]]

    return Model(init_fn, apply_fn)
