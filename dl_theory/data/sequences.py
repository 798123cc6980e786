r"""Synthetic long-range-memory tasks for recurrent networks: the adding problem and the copy problem.

* :func:`adding_problem` (Hochreiter & Schmidhuber 1997): a sequence of T pairs :math:`(v_t, m_t)` with
  :math:`v_t \sim U[0, 1]` and exactly two markers :math:`m_t = 1`, one in each half; the target is the sum of the two
  marked values. The trivial predictor (always 1) has mean squared error :math:`\operatorname{Var}(v + v') = 1/6`,
  so the normalized error MSE / (1/6) is 1 for a model that remembers nothing and 0 for a perfect one. The first
  marker lies at least T/2 steps before the end: the memory must span half the sequence.
* :func:`copy_problem` (Arjovsky, Shah & Bengio 2016): ``n_copy`` symbols from {1..K}, then ``delay`` blanks (0), a
  delimiter (K + 1) and ``n_copy - 1`` more blanks; the target is blank everywhere except the last ``n_copy`` steps,
  which repeat the symbols. Inputs are one-hot over K + 2 tokens; chance accuracy on the copied steps is 1/K.
"""

import jax
import jax.numpy as jnp

from dl_theory import checks


def adding_problem(key: jax.Array, n: int, length: int) -> tuple[jax.Array, jax.Array]:
    """``n`` adding-problem sequences of ``length`` >= 2: inputs ``x_NxTx2`` (value, marker), targets ``y_Nx1``."""
    checks.count("n", n)
    checks.at_least(2)("length", length)
    k_v, k_a, k_b = jax.random.split(key, 3)
    half = length // 2
    values = jax.random.uniform(k_v, (n, length))
    first = jax.random.randint(k_a, (n,), 0, half)
    second = jax.random.randint(k_b, (n,), half, length)
    t = jnp.arange(length)[None, :]
    markers = ((t == first[:, None]) | (t == second[:, None])).astype(values.dtype)
    return jnp.stack([values, markers], axis=-1), jnp.sum(values * markers, axis=1, keepdims=True)


ADDING_TRIVIAL_MSE = 1.0 / 6.0
"""Mean squared error of the best constant prediction (1) on the adding problem: the variance of a sum of two U[0,1]."""


def copy_problem(key: jax.Array, n: int, delay: int, *, n_copy: int = 5,
                 n_symbols: int = 8) -> tuple[jax.Array, jax.Array]:
    """``n`` copy-problem sequences of length ``2 n_copy + delay``: one-hot ``x_NxLx(K+2)`` and labels ``y_NxL``."""
    checks.count("n", n)
    checks.at_least(0)("delay", delay)
    checks.count("n_copy", n_copy)
    checks.at_least(2)("n_symbols", n_symbols)
    symbols = jax.random.randint(key, (n, n_copy), 1, n_symbols + 1)
    blanks = jnp.zeros((n, delay), symbols.dtype)
    tail = jnp.zeros((n, n_copy - 1), symbols.dtype)
    delimiter = jnp.full((n, 1), n_symbols + 1, symbols.dtype)
    tokens = jnp.concatenate([symbols, blanks, delimiter, tail], axis=1)
    labels = jnp.concatenate([jnp.zeros((n, n_copy + delay), symbols.dtype), symbols], axis=1)
    return jax.nn.one_hot(tokens, n_symbols + 2), labels
