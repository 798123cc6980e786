r"""Gradient-descent convergence theory: curvature constants, rates, step sizes, measured-vs-predicted.

For :math:`f` twice differentiable, :math:`L`-smoothness is :math:`\lambda_i(\nabla^2 f) \le L` and
:math:`\mu`-strong convexity :math:`\lambda_i(\nabla^2 f) \ge \mu` everywhere; the Polyak-Lojasiewicz (PL)
condition is :math:`\tfrac12\|\nabla f(x)\|^2 \ge \mu (f(x) - f^*)`. Gradient descent
:math:`x_{t+1} = x_t - \eta\nabla f(x_t)` then satisfies (course notes §2/§3; Nesterov 2004; Karimi, Nutini &
Schmidt 2016):

* strongly convex, :math:`\eta\le 1/L`: :math:`\|x_t-x^*\|^2 \le (1-\eta\mu)^t\|x_0-x^*\|^2`;
* quadratic, any :math:`\eta`: :math:`\|x_t-x^*\| \le \max_i|1-\eta\lambda_i|^t\,\|x_0-x^*\|`;
* convex, :math:`\eta\le 1/L`: :math:`f(x_t)-f^* \le \|x_0-x^*\|^2/(2\eta t)`;
* non-convex, :math:`\eta\le 1/L`: :math:`\min_{i\le t}\|\nabla f(x_i)\|^2 \le 2(f(x_0)-f^*)/(\eta(t+1))`;
* PL, :math:`\eta<2/L`: :math:`f(x_t)-f^* \le (1-2\mu\eta(1-L\eta/2))^t (f(x_0)-f^*)`.

The PL factor equals the notes' :math:`1-\mu/L` at :math:`\eta = 1/L`. The notes pair that rate with
:math:`\eta^* = 2/(L+\mu)`, where the same descent-lemma argument only gives :math:`1 - 4\mu^2/(L+\mu)^2`;
:func:`pl_rate` takes :math:`\eta` so both can be shown. The notes' strongly convex bound writes the exponent
as :math:`k`; it is the iteration count :math:`t`.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.curvature.spectral import Matvec, check_matvec, lanczos


def _curvature(L: ArrayLike, mu: ArrayLike) -> None:
    checks.positive("L", L)
    checks.nonnegative("mu", mu)
    checks.nonnegative("L - mu", np.asarray(L) - np.asarray(mu))


class Curvature(NamedTuple):
    """Smoothness ``L`` (largest Hessian eigenvalue) and strong convexity ``mu`` (smallest)."""

    L: jax.Array
    mu: jax.Array


def curvature_from_hessian(h_DxD: ArrayLike) -> Curvature:
    r""":math:`L = \lambda_{\max}(H)`, :math:`\mu = \lambda_{\min}(H)` of a dense symmetric Hessian (constant
    for a quadratic; local otherwise)."""
    h_DxD = jnp.asarray(h_DxD)
    if h_DxD.ndim != 2 or h_DxD.shape[0] != h_DxD.shape[1]:
        raise ValueError(f"h_DxD must be a square matrix, got shape {h_DxD.shape}")
    lam = jnp.linalg.eigvalsh(h_DxD)
    return Curvature(lam[-1], lam[0])


def curvature_from_matvec(
    matvec: Matvec, dim: int, *, key: jax.Array, num_iters: int = 60, dtype: jnp.dtype = jnp.float32
) -> Curvature:
    """The extreme Ritz values of ``num_iters`` Lanczos steps (extremes converge first), for large models."""
    check_matvec(matvec, dim, dtype)
    k0, k1 = jax.random.split(key)
    tri = lanczos(matvec, jax.random.normal(k0, (dim,), dtype), min(num_iters, dim), key=k1)
    theta = jnp.linalg.eigvalsh(tri.dense())
    return Curvature(theta[-1], theta[0])


def smoothness_along_run(xs_TxD: ArrayLike, grads_TxD: ArrayLike) -> jax.Array:
    r"""Lower estimate of :math:`L` from a run: :math:`\max_t \|g_{t+1}-g_t\| / \|x_{t+1}-x_t\|`."""
    xs_TxD, grads_TxD = jnp.asarray(xs_TxD), jnp.asarray(grads_TxD)
    if xs_TxD.shape != grads_TxD.shape or xs_TxD.ndim != 2:
        raise ValueError(
            f"xs_TxD and grads_TxD must be equal (T, D) arrays, got {xs_TxD.shape}, {grads_TxD.shape}"
        )
    dx = jnp.linalg.norm(jnp.diff(xs_TxD, axis=0), axis=1)
    dg = jnp.linalg.norm(jnp.diff(grads_TxD, axis=0), axis=1)
    return jnp.max(jnp.where(dx > 0, dg / jnp.where(dx > 0, dx, 1.0), 0.0))


def pl_constant_along_run(fs_T: ArrayLike, grad_sq_T: ArrayLike, f_star: float) -> jax.Array:
    r"""Upper estimate of the PL constant from a run: :math:`\min_t \tfrac12\|\nabla f(x_t)\|^2/(f(x_t)-f^*)`
    over the steps with :math:`f(x_t) > f^*`."""
    gap = jnp.asarray(fs_T) - f_star
    ratio = 0.5 * jnp.asarray(grad_sq_T) / jnp.where(gap > 0, gap, 1.0)
    return jnp.min(jnp.where(gap > 0, ratio, jnp.inf))


def strongly_convex_rate(t: ArrayLike, eta: float, mu: float, dist0_sq: float) -> jax.Array:
    r""":math:`(1-\eta\mu)^t \|x_0-x^*\|^2`, the bound on :math:`\|x_t - x^*\|^2` for :math:`\eta \le 1/L`."""
    checks.positive("eta", eta)
    return (1.0 - eta * mu) ** jnp.asarray(t) * dist0_sq


def quadratic_rate(t: ArrayLike, eta: float, eigenvalues: ArrayLike, dist0: float) -> jax.Array:
    r""":math:`\max_i|1-\eta\lambda_i|^t \|x_0-x^*\|`, the bound on :math:`\|x_t-x^*\|` for
    :math:`f = \tfrac12 (x-x^*)^\top Q (x-x^*)` with eigenvalues :math:`\lambda_i` of :math:`Q`."""
    return contraction_factor(eta, eigenvalues) ** jnp.asarray(t) * dist0


def contraction_factor(eta: float, eigenvalues: ArrayLike) -> jax.Array:
    r""":math:`\rho(\eta) = \max_i |1 - \eta\lambda_i|`; GD on a quadratic diverges iff :math:`\rho > 1`."""
    checks.positive("eta", eta)
    return jnp.max(jnp.abs(1.0 - eta * jnp.asarray(eigenvalues)))


def convex_rate(t: ArrayLike, eta: float, dist0_sq: float) -> jax.Array:
    r""":math:`\|x_0-x^*\|^2/(2\eta t)`, the bound on :math:`f(x_t)-f^*` (:math:`t \ge 1`, :math:`\eta\le
    1/L`)."""
    checks.positive("eta", eta)
    return dist0_sq / (2.0 * eta * jnp.asarray(t))


def nonconvex_rate(t: ArrayLike, eta: float, gap0: float) -> jax.Array:
    r""":math:`2(f(x_0)-f^*)/(\eta(t+1))`, the bound on :math:`\min_{i\le t}\|\nabla f(x_i)\|^2`
    (:math:`\eta\le 1/L`)."""
    checks.positive("eta", eta)
    return 2.0 * gap0 / (eta * (jnp.asarray(t) + 1.0))


def pl_rate(t: ArrayLike, eta: float, mu: float, L: float, gap0: float) -> jax.Array:
    r""":math:`(1-2\mu\eta(1-L\eta/2))^t (f(x_0)-f^*)`; :math:`(1-\mu/L)^t(f(x_0)-f^*)` at
    :math:`\eta=1/L`."""
    checks.positive("eta", eta)
    _curvature(L, mu)
    if eta >= 2.0 / L:
        raise ValueError(f"eta must be < 2/L = {2.0 / L} for the PL bound, got {eta}")
    return (1.0 - 2.0 * mu * eta * (1.0 - L * eta / 2.0)) ** jnp.asarray(t) * gap0


def step_size_smooth(L: float) -> float:
    r""":math:`\eta^* = 1/L`, the step of the descent lemma (maximizes the guaranteed decrease)."""
    checks.positive("L", L)
    return 1.0 / L


def step_size_strongly_convex(L: float, mu: float) -> float:
    r""":math:`\eta^* = 2/(L+\mu)`: minimizes :math:`\max(|1-\eta\mu|, |1-\eta L|)`, giving the contraction
    :math:`(\kappa-1)/(\kappa+1)` of :math:`\|x_t-x^*\|` on quadratics (:math:`\kappa = L/\mu`)."""
    _curvature(L, mu)
    return 2.0 / (L + mu)


def max_stable_step_size(lambda_max: float) -> float:
    r""":math:`2/\lambda_{\max}`: GD on a quadratic converges iff :math:`\eta < 2/\lambda_{\max}` (for PSD
    :math:`Q`); the edge-of-stability threshold of Cohen et al. (2021)."""
    checks.positive("lambda_max", lambda_max)
    return 2.0 / lambda_max


class HeavyBall(NamedTuple):
    """Polyak's optimal heavy-ball step ``eta``, momentum ``beta`` and asymptotic contraction ``rate``."""

    eta: float
    beta: float
    rate: float


def heavy_ball(L: float, mu: float) -> HeavyBall:
    r"""Optimal heavy-ball parameters on quadratics with spectrum in :math:`[\mu, L]` (Polyak 1964):

    .. math:: \eta = \frac{4}{(\sqrt L + \sqrt\mu)^2},\quad
              \beta = \Big(\frac{\sqrt L-\sqrt\mu}{\sqrt L+\sqrt\mu}\Big)^2,\quad
              \text{rate} = \frac{\sqrt\kappa - 1}{\sqrt\kappa + 1}

    for :math:`x_{t+1} = x_t - \eta\nabla f(x_t) + \beta(x_t - x_{t-1})`.
    """
    _curvature(L, mu)
    sl, sm = np.sqrt(L), np.sqrt(mu)
    return HeavyBall(4.0 / (sl + sm) ** 2, ((sl - sm) / (sl + sm)) ** 2, (sl - sm) / (sl + sm))


class Trajectory(NamedTuple):
    """A GD run: iterates ``xs`` (T+1, D), losses ``fs`` (T+1,) and squared gradient norms ``grad_sq``
    (T+1,)."""

    xs: jax.Array
    fs: jax.Array
    grad_sq: jax.Array


def gradient_descent(
    f: Callable[[jax.Array], jax.Array], x0: ArrayLike, eta: float, num_steps: int
) -> Trajectory:
    """Runs ``num_steps`` of :math:`x_{t+1} = x_t - \\eta\\nabla f(x_t)` under ``lax.scan``, recording
    every iterate."""
    checks.positive("eta", eta)
    x0 = jnp.asarray(x0)
    out = jax.eval_shape(f, x0)
    if out.shape != ():
        raise ValueError(f"f must return a scalar, got shape {out.shape}")
    value_and_grad = jax.value_and_grad(f)

    def step(x, _):
        fx, g = value_and_grad(x)
        return x - eta * g, (x, fx, jnp.sum(g**2))

    x_last, (xs, fs, gsq) = lax.scan(step, x0, None, length=num_steps)
    f_last, g_last = value_and_grad(x_last)
    return Trajectory(
        jnp.concatenate([xs, x_last[None]]),
        jnp.append(fs, f_last),
        jnp.append(gsq, jnp.sum(g_last**2)),
    )


class RateCheck(NamedTuple):
    """``measured`` vs ``predicted`` per step; ``holds`` if measured <= predicted * (1 + rtol) + atol
    everywhere; ``worst_ratio`` = max measured / predicted."""

    measured: np.ndarray
    predicted: np.ndarray
    holds: bool
    worst_ratio: float


def compare_to_bound(
    measured: ArrayLike, predicted: ArrayLike, *, rtol: float = 1e-6, atol: float = 0.0
) -> RateCheck:
    """Checks a measured curve against a theoretical upper bound, step by step."""
    m, p = np.asarray(measured, float), np.asarray(predicted, float)
    if m.shape != p.shape:
        raise ValueError(f"measured and predicted must have the same shape, got {m.shape} and {p.shape}")
    holds = bool(np.all(m <= p * (1 + rtol) + atol))
    positive = p > 0
    worst = float(np.max(m[positive] / p[positive])) if positive.any() else float("nan")
    return RateCheck(m, p, holds, worst)
