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

:func:`retrieve` runs the dynamics for any weight matrix. :func:`retrieve_hebbian` runs the same dynamics for
Hebbian weights :math:`W = \Xi^\top\Xi - sI` (:math:`\Xi` the :math:`s \times n` pattern matrix) without forming
:math:`W`: it keeps the pattern overlaps :math:`m = \Xi X`, so the field of unit :math:`i` is
:math:`h_i = \xi_i^\top m - s X_i` and the energy is :math:`E = -\tfrac12(\|m\|^2 - sn)`, both exact in integers,
at :math:`O(s)` cost per update and :math:`O(sn)` memory instead of :math:`O(n)` and :math:`O(n^2)`.
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
      initial_energy: :math:`E(x_0)`, so that the change made by the very first update is known too.
    """

    x: jax.Array
    sweeps: jax.Array
    converged: jax.Array
    energies: jax.Array
    initial_energy: jax.Array


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
    return Retrieval(x, sweeps, done, energies, energy(w_NxN, x0_N))


def retrieve_hebbian(patterns_SxN: ArrayLike, x0_N: ArrayLike, key: jax.Array, max_sweeps: int,
                     mask_S: ArrayLike | None = None) -> Retrieval:
    r""":func:`retrieve` with the integer Hebbian weights of the (masked) ±1 patterns, without forming them.

    With :math:`\Xi` the active patterns (masked rows set to 0) and :math:`s` their number,
    :math:`W = \Xi^\top\Xi - sI` is ``hebbian_weights(patterns_SxN, mask_S, normalize=False)``. The overlaps
    :math:`m = \Xi X` give the field :math:`h_i = \xi_i^\top m - s X_i` and the energy
    :math:`E(X) = -\tfrac12 X^\top W X = -\tfrac12(\|m\|^2 - sn)`; a change :math:`\Delta` of :math:`X_i` adds
    :math:`\Delta\,\xi_i` to :math:`m`. The visiting order is the one :func:`retrieve` draws from ``key``, so both
    give the same trajectory. Energies (after every update, shape ``(max_sweeps, n)``) are exact int64 under
    ``jax.enable_x64`` and int32 otherwise (exact while :math:`sn^2 < 2^{31}`).
    """
    p = jnp.asarray(patterns_SxN)
    if mask_S is not None:
        p = p * jnp.asarray(mask_S, p.dtype)[:, None]
    p = p.astype(jnp.int8)  # ±1 or 0: a quarter of the memory of int32
    n = p.shape[1]
    x0_N = jnp.asarray(x0_N).astype(jnp.int32)
    if x0_N.shape != (n,):
        raise ValueError(f"x0_N must have shape ({n},) to match patterns_SxN {p.shape}; got {x0_N.shape}")
    s = jnp.sum(jnp.any(p != 0, axis=1), dtype=jnp.int32)
    p_NxS = p.T
    wide = jnp.asarray(0).dtype  # int64 under x64, else int32
    energy_of = lambda m: -(jnp.sum(m.astype(wide) ** 2) - s.astype(wide) * n) // 2

    def update(carry, i):
        x, m, changed = carry
        row = p_NxS[i].astype(jnp.int32)
        h = row @ m - s * x[i]
        new = jnp.where(h > 0, 1, jnp.where(h < 0, -1, x[i])).astype(x.dtype)
        delta = new - x[i]
        m = m + delta * row
        return (x.at[i].set(new), m, changed | (delta != 0)), energy_of(m)

    def sweep(carry, t):
        x, m, done, sweeps = carry
        order = jax.random.permutation(jax.random.fold_in(key, t), n)
        (x_new, m_new, changed), per_update = jax.lax.scan(update, (x, m, False), order)
        x_new, m_new = jnp.where(done, x, x_new), jnp.where(done, m, m_new)
        trace = jnp.where(done, energy_of(m), per_update)
        return (x_new, m_new, done | ~changed, sweeps + (~done).astype(jnp.int32)), trace

    m0 = p.astype(jnp.int32) @ x0_N
    (x, _, done, sweeps), energies = jax.lax.scan(sweep, (x0_N, m0, False, jnp.int32(0)), jnp.arange(max_sweeps))
    return Retrieval(x, sweeps, done, energies, energy_of(m0))


def is_fixed_point(w_NxN: ArrayLike, x_N: ArrayLike) -> jax.Array:
    """Whether no single asynchronous update changes ``x_N`` (every aligned local field is >= 0)."""
    x_N = jnp.asarray(x_N)
    return jnp.all((jnp.asarray(w_NxN) @ x_N) * x_N >= 0)


def hebbian_fixed_points(patterns_SxN: ArrayLike, mask_S: ArrayLike | None = None) -> jax.Array:
    r"""For each stored pattern, whether it is a fixed point of the integer Hebbian weights (:func:`is_fixed_point`).

    The aligned fields of every pattern at once, from the Gram matrix :math:`G = \Xi\Xi^\top` of the active
    patterns: :math:`h^\mu = \Xi^\top G_{:\mu} - s\,\xi^\mu`, in :math:`O(s^2 n)` time and without forming
    :math:`W`. The products run in float32, exact while :math:`sn < 2^{24}`. Masked-out patterns are reported as
    ``False``.
    """
    p = jnp.asarray(patterns_SxN).astype(jnp.float32)
    active = jnp.ones(p.shape[0], bool) if mask_S is None else jnp.asarray(mask_S, bool)
    p = p * active[:, None]
    fields_SxN = (p @ p.T) @ p - jnp.sum(active) * p
    return jnp.all(fields_SxN * p >= 0, axis=1) & active
