r"""Shapley values by sampling permutations, with a standard error (Castro, Gómez & Tejada 2009).

:math:`\phi_j` is the average over uniformly random orderings :math:`\pi` of the marginal contribution
:math:`v(P_j^\pi \cup \{j\}) - v(P_j^\pi)`, where :math:`P_j^\pi` are the players before :math:`j`. The mean over
:math:`n` independent permutations is unbiased, its error is :math:`O(n^{-1/2})` and its standard error is the
sample standard deviation of the contributions over :math:`\sqrt n`. Each permutation costs :math:`d + 1`
evaluations of :math:`v` (its prefixes), all of them batched into one call; the efficiency axiom holds exactly for
every single permutation (the contributions telescope to :math:`v([d]) - v(\emptyset)`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from dl_theory import checks
from dl_theory.interpret.shapley import ValueFn


class Estimate(NamedTuple):
    """Estimated values ``(d,)`` (one per feature) and their standard errors ``(d,)``."""

    values: jax.Array
    stderr: jax.Array


def permutation_gains(value_fn: ValueFn, d: int, key: jax.Array, n_permutations: int) -> jax.Array:
    """The marginal contribution of every player in each of ``n_permutations`` random orderings, ``(n, d)``.

    Row means over the first ``k`` rows are the estimates from ``k`` permutations (a nested design for rate studies).
    """
    d = checks.count("d", d)
    n = checks.count("n_permutations", n_permutations)
    perms_NxD = jax.vmap(lambda k: jax.random.permutation(k, d))(jax.random.split(key, n))
    rank_NxD = jnp.argsort(perms_NxD, axis=1)  # position of each player in its ordering
    prefix_NxKxD = rank_NxD[:, None, :] < jnp.arange(d + 1)[None, :, None]  # the first k players, k = 0..d
    v_NxK = value_fn(prefix_NxKxD.reshape(-1, d)).reshape(n, d + 1)
    return jnp.take_along_axis(v_NxK, rank_NxD + 1, axis=1) - jnp.take_along_axis(v_NxK, rank_NxD, axis=1)


def permutation_shapley(value_fn: ValueFn, d: int, key: jax.Array, n_permutations: int) -> Estimate:
    """Monte-Carlo Shapley values of ``value_fn`` from ``n_permutations >= 2`` random orderings of ``d`` players."""
    n = checks.at_least(2)("n_permutations", n_permutations)
    gains_NxD = permutation_gains(value_fn, d, key, n)
    return Estimate(gains_NxD.mean(axis=0), gains_NxD.std(axis=0, ddof=1) / jnp.sqrt(n))
