r"""The diagonal linear recurrence :math:`x_t = a_t \odot x_{t-1} + b_t` sequentially and as a parallel scan.

With :math:`x_0 = 0`, the pairs :math:`e_t = (a_t, b_t)` compose under the associative operator

.. math:: (a_i, b_i) \bullet (a_j, b_j) = (a_j a_i,\; a_j b_i + b_j),

(apply step i, then step j), and :math:`x_t` is the second entry of :math:`e_1 \bullet e_2 \bullet \cdots
\bullet e_t`. :func:`sequential_scan` folds the steps one after the other with ``lax.scan``: depth T - 1 combines.
:func:`parallel_scan` hands the operator to ``lax.associative_scan`` (a Blelloch-style odd/even recursion):
depth :math:`O(\log T)` levels, each a vectorized combine, but about twice the total work (Blelloch 1990; the LRU
uses it with :math:`a_t = \lambda` for every t, Orvieto et al. 2023; Martin & Cundy 2018).

:func:`combine_depth` measures the depth of either algorithm on T elements without a formula: each element also
carries a counter, combined as :math:`\max(d_i, d_j) + 1`, so the final counter is the length of the longest chain
of combines that produced an output; :func:`combine_work` counts the combines a scan applies (the sizes of the
operator's calls, recorded at trace time).
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory import checks

Pair = tuple[jax.Array, jax.Array]


def binary_operator(e_i: Pair, e_j: Pair) -> Pair:
    r""":math:`(a_i, b_i) \bullet (a_j, b_j) = (a_j a_i, a_j b_i + b_j)`, elementwise (any leading axes)."""
    a_i, b_i = e_i
    a_j, b_j = e_j
    return a_j * a_i, a_j * b_i + b_j


def _pairs(a_TxN: ArrayLike, b_TxN: ArrayLike) -> Pair:
    a, b = jnp.asarray(a_TxN), jnp.asarray(b_TxN)
    if b.ndim < 1 or b.shape[0] < 1:
        raise checks.fail("b_TxN", "an array with a time axis of length >= 1 first", b.shape)
    return jnp.broadcast_to(a, b.shape).astype(jnp.result_type(a, b)), b.astype(jnp.result_type(a, b))


def sequential_scan(a_TxN: ArrayLike, b_TxN: ArrayLike) -> jax.Array:
    """All states ``x_TxN`` of :math:`x_t = a_t x_{t-1} + b_t`, :math:`x_0 = 0`, one step after the other.

    ``a`` broadcasts to ``b``'s shape (e.g. one diagonal ``a_N`` for every step); time is the first axis.
    """
    a, b = _pairs(a_TxN, b_TxN)

    def step(x, e):
        x = binary_operator((jnp.ones_like(x), x), e)[1]
        return x, x

    return jax.lax.scan(step, jnp.zeros_like(b[0]), (a, b))[1]


def parallel_scan(a_TxN: ArrayLike, b_TxN: ArrayLike) -> jax.Array:
    """The same states by ``lax.associative_scan`` with :func:`binary_operator` (time is the first axis)."""
    return jax.lax.associative_scan(binary_operator, _pairs(a_TxN, b_TxN))[1]


def combine_depth(length: int, algorithm: str) -> int:
    """The longest chain of combines behind any output of a scan of ``length`` elements (see the module docstring).

    ``algorithm`` is ``"sequential"`` (a fold with ``lax.scan``) or ``"parallel"`` (``lax.associative_scan``).
    """
    checks.count("length", length)
    checks.one_of("sequential", "parallel")("algorithm", algorithm)

    def op(e_i, e_j):
        return (*binary_operator(e_i[:2], e_j[:2]), jnp.maximum(e_i[2], e_j[2]) + 1)

    elems = (jnp.ones(length), jnp.ones(length), jnp.zeros(length, jnp.int32))
    if algorithm == "parallel":
        return int(jax.jit(lambda e: jnp.max(jax.lax.associative_scan(op, e)[2]))(elems))

    def step(e, x):
        e = op(e, x)
        return e, e[2]

    def chain(elems):
        return jnp.max(jax.lax.scan(step, tuple(v[0] for v in elems), tuple(v[1:] for v in elems))[1], initial=0)

    return int(jax.jit(chain)(elems))


def combine_work(length: int, algorithm: str) -> int:
    """The number of elementwise combines a scan of ``length`` scalars applies (the operator's call sizes, traced)."""
    checks.count("length", length)
    checks.one_of("sequential", "parallel")("algorithm", algorithm)
    sizes: list[int] = []

    def counted(op: Callable) -> Callable:
        def wrapped(e_i, e_j):
            sizes.append(int(jnp.size(e_j[0])))
            return op(e_i, e_j)
        return wrapped

    elems = (jnp.ones(length), jnp.ones(length))
    if algorithm == "parallel":
        jax.eval_shape(lambda e: jax.lax.associative_scan(counted(binary_operator), e), elems)
        return sum(sizes)
    jax.eval_shape(lambda e: jax.lax.scan(lambda c, x: (counted(binary_operator)(c, x), None),
                                          (e[0][0], e[1][0]), (e[0][1:], e[1][1:])), elems)
    return sum(sizes) * (length - 1)  # the body is traced once and runs length - 1 times
