r"""Optimizers in optax form that optax lacks, and the optax ones the course notes name.

Own transformations (stateless, built with ``optax.stateless``; use with ``optax.apply_updates``):

* :func:`exact_line_search_quadratic` -- steepest descent with the exact step
  :math:`\eta_t = g^\top g / g^\top H g` of a quadratic, from a Hessian-vector product;
* :func:`line_search_gd` -- steepest descent with :math:`\eta_t = \arg\min_{0\le\eta\le\eta_{\max}}
  f(x_t - \eta g_t)` by golden-section search (exact for unimodal :math:`\eta \mapsto f`); the notes' "optimal
  step-size" GD that converges linearly under PL;
* :func:`newton` -- :math:`\Delta x = -(\nabla^2 f + \lambda I)^{-1}\nabla f` with the dense Hessian
  (small problems).

optax's ``scale_by_zoom_linesearch`` and ``scale_by_backtracking_linesearch`` find steps satisfying
Wolfe/Armijo conditions, not the minimizing step, which is why the exact versions are here.

Re-exported from optax (the notes' §3): :data:`sign_sgd` (:math:`\theta \leftarrow \theta - \eta\,
\mathrm{sign}(g)`) and :data:`muon` (``optax.contrib.muon``: momentum orthogonalized by a Newton-Schulz
iteration, i.e. approximately :math:`UV^\top` for :math:`G = U\Sigma V^\top`; Jordan et al. 2024). The
notes write the Muon step as :math:`U^\top V`; the orthogonal factor of :math:`G` is :math:`UV^\top`.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from jax import lax
from jax.flatten_util import ravel_pytree

from dl_theory import checks
from dl_theory.typing import Params

sign_sgd = optax.sign_sgd
muon = optax.contrib.muon

_GOLDEN = (jnp.sqrt(5.0) - 1.0) / 2.0


def _need_params(params: Params | None, name: str) -> Params:
    if params is None:
        raise ValueError(f"{name} needs params: call update(grads, state, params)")
    return params


def _dot(a: Params, b: Params) -> jax.Array:
    return sum(
        jnp.vdot(x, y)
        for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True)
    )


def exact_line_search_quadratic(hvp_fn: Callable[[Params, Params], Params]) -> optax.GradientTransformation:
    r"""Steepest descent with the exact minimizing step on a quadratic.

    For :math:`f(x) = \tfrac12 x^\top H x - b^\top x`, :math:`\arg\min_\eta f(x - \eta g) = g^\top g /
    g^\top H g` (Nocedal & Wright 2006, eq. 3.25). Successive gradients are then orthogonal.
    ``hvp_fn(params, v)`` returns
    :math:`Hv`. A zero gradient gives a zero update.
    """

    def update(grads, params=None):
        params = _need_params(params, "exact_line_search_quadratic")
        g_sq = _dot(grads, grads)
        curvature = _dot(grads, hvp_fn(params, grads))
        eta = jnp.where(curvature > 0, g_sq / jnp.where(curvature > 0, curvature, 1.0), 0.0)
        return jax.tree_util.tree_map(lambda g: -eta * g, grads)

    return optax.stateless(update)


def line_search_gd(
    loss_fn: Callable[[Params], jax.Array], max_step: float, num_iters: int = 60
) -> optax.GradientTransformation:
    r"""Steepest descent with a golden-section line search on :math:`\phi(\eta) = f(x - \eta g)`.

    Keeps a bracket :math:`[a, b] \subseteq [0, \eta_{\max}]` and shrinks it by :math:`1/\varphi \approx
    0.618` per iteration (Kiefer 1953), so after ``num_iters`` evaluations the step is within
    :math:`0.618^{n}\eta_{\max}` of the minimizer when :math:`\phi` is unimodal on :math:`[0, \eta_{\max}]`
    (e.g. :math:`f` convex). The step is never worse than :math:`\eta = 0`.
    """
    checks.positive("max_step", max_step)
    checks.count("num_iters", num_iters)

    def update(grads, params=None):
        params = _need_params(params, "line_search_gd")
        phi = lambda eta: loss_fn(jax.tree_util.tree_map(lambda p, g: p - eta * g, params, grads))

        def shrink(_, bracket):
            a, b = bracket
            c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
            left = phi(c) < phi(d)
            return jnp.where(left, a, c), jnp.where(left, d, b)

        dtype = ravel_pytree(params)[0].dtype
        a, b = lax.fori_loop(0, num_iters, shrink, (jnp.zeros((), dtype), jnp.asarray(max_step, dtype)))
        eta = 0.5 * (a + b)
        eta = jnp.where(phi(eta) <= phi(0.0), eta, 0.0)
        return jax.tree_util.tree_map(lambda g: (-eta * g).astype(g.dtype), grads)

    return optax.stateless(update)


def newton(loss_fn: Callable[[Params], jax.Array], damping: float = 0.0) -> optax.GradientTransformation:
    r"""Newton's method :math:`\Delta x = -(\nabla^2 f(x) + \lambda I)^{-1}\nabla f(x)` with the dense
    Hessian.

    Minimizes the local quadratic model exactly, so it solves a strictly convex quadratic in one step and
    converges quadratically near a non-degenerate minimum (Nocedal & Wright 2006, Thm. 3.5). :math:`O(D^2)`
    memory and :math:`O(D^3)` time: small problems only. ``damping`` :math:`\lambda \ge 0` (Levenberg)
    regularizes an indefinite or singular Hessian.
    """
    checks.nonnegative("damping", damping)

    def update(grads, params=None):
        params = _need_params(params, "newton")
        flat, unravel = ravel_pytree(params)
        g_D = ravel_pytree(grads)[0]
        h_DxD = jax.hessian(lambda w: loss_fn(unravel(w)))(flat)
        step_D = jnp.linalg.solve(h_DxD + damping * jnp.eye(flat.shape[0], dtype=flat.dtype), g_D)
        return unravel(-step_D)

    return optax.stateless(update)
