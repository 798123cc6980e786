r"""Linearization and Taylor expansion of a network in its parameters.

For :math:`f(\theta, x)` expanded around :math:`\theta_0` with :math:`\delta = \theta - \theta_0`,

.. math::
    f^{(k)}(\theta, x) = \sum_{j=0}^{k} \frac{1}{j!} \, D^j_\theta f(\theta_0, x)[\delta, \dots, \delta]
      = \sum_{j=0}^{k} \frac{h^{(j)}(0)}{j!}, \qquad h(t) = f(\theta_0 + t\delta, x).

:math:`k = 1` is the linearized network whose gradient-descent dynamics are governed by the empirical NTK (Lee et al.,
2019, "Wide Neural Networks of Any Depth Evolve as Linear Models Under Gradient Descent"). Same semantics as
``neural_tangents.linearize`` / ``taylor_expand``.
"""

import math
import operator
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from dl_theory import checks
from dl_theory.typing import PyTree


def _delta(params: PyTree, params0: PyTree) -> PyTree:
    checks.same_tree("params", params, "the expansion point", params0)
    return jax.tree.map(operator.sub, params, params0)


def linearize(f: Callable[..., PyTree], params: PyTree) -> Callable[..., PyTree]:
    r"""Return ``f_lin(p, *args, **kwargs)`` :math:`= f(\theta_0) + J(\theta_0)(p - \theta_0)`.

    Args:
        f: ``f(params, *args, **kwargs)`` returning a pytree.
        params: the expansion point :math:`\theta_0`.
    """

    def f_lin(p: PyTree, *args: Any, **kwargs: Any) -> PyTree:
        out, tangent = jax.jvp(lambda q: f(q, *args, **kwargs), (params,), (_delta(p, params),))
        return jax.tree.map(operator.add, out, tangent)

    return f_lin


def taylor_expand(f: Callable[..., PyTree], params: PyTree, degree: int) -> Callable[..., PyTree]:
    r"""Return ``f_tayl(p, *args, **kwargs)``, the degree-``degree`` Taylor polynomial of ``f`` around ``params``.

    The derivatives :math:`h^{(j)}(0)` along the line :math:`t \mapsto \theta_0 + t\delta` come from ``degree``
    nested ``jax.jvp`` calls in the scalar :math:`t`, each returning all lower orders too.

    Raises:
        ValueError: ``degree`` is negative.
        TypeError: ``degree`` is not an integer.
    """
    degree = checks.at_least(0)("degree", degree)

    def f_tayl(p: PyTree, *args: Any, **kwargs: Any) -> PyTree:
        delta = _delta(p, params)
        leaves = jax.tree.leaves(delta)
        t0 = jnp.zeros((), jnp.result_type(*leaves) if leaves else jnp.float32)

        def h(t: jax.Array) -> list[PyTree]:
            return [f(jax.tree.map(lambda a, d: a + (t * d).astype(jnp.result_type(a)), params, delta),
                      *args, **kwargs)]

        derivs = h
        for _ in range(degree):
            derivs = _append_derivative(derivs, t0)
        terms = derivs(t0)
        return jax.tree.map(lambda *c: sum(cj / math.factorial(j) for j, cj in enumerate(c)), *terms)

    return f_tayl


def _append_derivative(derivs: Callable[[jax.Array], list[PyTree]], t0: jax.Array) -> Callable:
    """From ``t -> [h, ..., h^(j)]`` build ``t -> [h, ..., h^(j), h^(j+1)]``."""

    def more(t: jax.Array) -> list[PyTree]:
        values, tangents = jax.jvp(derivs, (t,), (jnp.ones_like(t0),))
        return [*values, tangents[-1]]

    return more
