r"""Hopfield networks (Hopfield, 1982): Hebbian storage and asynchronous retrieval.

States :math:`X \in \{\pm1\}^n`, symmetric weights with zero diagonal, energy

.. math::  E(X) = -\tfrac12 \sum_{i \ne j} w_{ij} X_i X_j - \sum_i b_i X_i,

and the asynchronous update :math:`X_i \leftarrow \mathrm{sign}(\sum_j w_{ij} X_j + b_i)` (a zero field keeps
:math:`X_i`). Each update changes the energy by :math:`-(X_i' - X_i)\,h_i \le 0`, so the dynamics converge. (The notes
write :math:`+\sum_i b_i X_i` in the energy together with :math:`+b_i` in the update; those signs are inconsistent —
with that energy the update would have to use :math:`-b_i`. We use the consistent pair above.)

Hebbian learning: :math:`w_{ij} = \frac1n \sum_t x^t_i x^t_j`, :math:`w_{ii} = 0`. With ``normalize=False`` the
weights are the integer sums (the dynamics are invariant to the positive factor :math:`1/n`), which makes energies
exact integers.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike


def hebbian_weights(patterns_SxN: ArrayLike, mask_S: ArrayLike | None = None, normalize: bool = True) -> jax.Array:
    """Hebbian weights of the (optionally masked) ±1 patterns; integer-valued (int32) when ``normalize=False``."""
    p = jnp.asarray(patterns_SxN)
    n = p.shape[1]
    if mask_S is not None:
        p = p * jnp.asarray(mask_S, p.dtype)[:, None]
    w = p.T @ p
    w = w * (1 - jnp.eye(n, dtype=w.dtype))
    return w / n if normalize else w.astype(jnp.int32)


def energy(w_NxN: ArrayLike, x_N: ArrayLike, b_N: ArrayLike | None = None) -> jax.Array:
    r""":math:`E(X) = -\tfrac12 X^\top W X - b^\top X` (exact for integer weights: :math:`X^\top W X` is even)."""
    w_NxN, x_N = jnp.asarray(w_NxN), jnp.asarray(x_N)
    quad = x_N @ w_NxN @ x_N
    e = -(quad // 2) if jnp.issubdtype(quad.dtype, jnp.integer) else -0.5 * quad
    return e if b_N is None else e - jnp.asarray(b_N) @ x_N


class Retrieval(NamedTuple):
    """Outcome of :func:`retrieve`.

    Attributes:
      x: final state.
      sweeps: sweeps made (a sweep visits every unit once, in a fresh random order).
      converged: whether the last sweep changed nothing.
      energies: energy after every single update, shape ``(max_sweeps, n)`` (``track_every_update=True``), else
        after every sweep, shape ``(max_sweeps,)``; entries after convergence repeat the final energy.
    """

    x: jax.Array
    sweeps: jax.Array
    converged: jax.Array
    energies: jax.Array


def retrieve(w_NxN: ArrayLike, x0_N: ArrayLike, key: jax.Array, max_sweeps: int,
             track_every_update: bool = False) -> Retrieval:
    """Asynchronous dynamics from ``x0_N`` (no bias) until a sweep changes nothing or ``max_sweeps`` sweeps.

    jit- and vmap-friendly. Tracking the energy after every update costs a full :math:`O(n^2)` energy per update.
    """
    w_NxN, x0_N = jnp.asarray(w_NxN), jnp.asarray(x0_N).astype(jnp.asarray(w_NxN).dtype)
    n = x0_N.shape[0]
    if w_NxN.shape != (n, n):
        raise ValueError(f"w_NxN must be ({n}, {n}) to match x0_N; got {w_NxN.shape}")

    def update(carry, i):
        x, changed = carry
        h = w_NxN[i] @ x
        new = jnp.where(h > 0, 1, jnp.where(h < 0, -1, x[i])).astype(x.dtype)
        changed = changed | (new != x[i])
        x = x.at[i].set(new)
        return (x, changed), (energy(w_NxN, x) if track_every_update else None)

    def sweep(carry, s):
        x, done, sweeps = carry
        order = jax.random.permutation(jax.random.fold_in(key, s), n)
        (x_new, changed), per_update = jax.lax.scan(update, (x, False), order)
        x_new = jnp.where(done, x, x_new)
        e = energy(w_NxN, x_new)
        trace = jnp.where(done, e, per_update) if track_every_update else e
        return (x_new, done | ~changed, sweeps + (~done).astype(jnp.int32)), trace

    (x, done, sweeps), energies = jax.lax.scan(sweep, (x0_N, False, jnp.int32(0)), jnp.arange(max_sweeps))
    return Retrieval(x, sweeps, done, energies)


def is_fixed_point(w_NxN: ArrayLike, x_N: ArrayLike) -> jax.Array:
    """Whether no single asynchronous update changes ``x_N`` (every aligned local field is >= 0)."""
    x_N = jnp.asarray(x_N)
    return jnp.all((jnp.asarray(w_NxN) @ x_N) * x_N >= 0)
