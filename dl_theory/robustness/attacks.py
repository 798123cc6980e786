r"""Gradient attacks on any ``apply_fn(params, x)``: FGSM and projected gradient descent under L∞ and L2.

An untargeted attack looks for :math:`\max_{\|\delta\| \le \varepsilon} L(f(x + \delta), y)`, a targeted one for
:math:`\min_{\|\delta\| \le \varepsilon} L(f(x + \delta), t)`; both follow the gradient of the *loss* with respect to
the input (the notes write :math:`\nabla f`). The steepest-ascent direction of a linearized objective under a norm
ball is :math:`\operatorname{sign}(g)` for L∞ and :math:`g/\|g\|_2` for L2, so

* FGSM (Goodfellow et al. 2015) takes one step of length :math:`\varepsilon`:
  :math:`x + \varepsilon\operatorname{sign}(\nabla_x L(f(x), y))` (L∞; the L2 variant is the fast gradient method);
* PGD (Madry et al. 2018) starts from a uniform random point of the ball and iterates
  :math:`\delta_{t+1} = \Pi_{\|\delta\| \le \varepsilon}(\delta_t + \alpha\, d(\nabla_\delta L(f(x + \delta_t), y)))`
  with a step :math:`\alpha \le \varepsilon` (the notes use :math:`\varepsilon` as the step), projecting around the
  clean input with ``optax.projections`` (and onto the valid input box when ``bounds`` is given).

Every attack is jitted and batched: the first axis of ``x`` indexes examples, each with its own ball, gradient
direction and projection. On a linear logistic model the loss gradient is :math:`\propto -y\,w`, so FGSM is exactly
the L∞-optimal linear attack :math:`-\varepsilon y \operatorname{sign}(w)` and L2 PGD converges to the direction of
:math:`-y\,w`, the closed forms of :mod:`dl_theory.robustness.linear`.

Reference: Madry, Makelov, Schmidt, Tsipras & Vladu 2018, "Towards deep learning models resistant to adversarial
attacks", ICLR.
"""

import functools

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.losses import PerExampleLoss, softmax_cross_entropy
from dl_theory.typing import ApplyFn, Params

NORMS = ("linf", "l2")
MADRY_STEP = 2.5
"""Default PGD step :math:`\\alpha = 2.5\\,\\varepsilon / n_\\text{steps}` (Madry et al. 2018): the walk can cross the
ball and still come back."""


def project(delta_N: ArrayLike, eps: ArrayLike, norm: str = "linf") -> jax.Array:
    r"""Each example's perturbation projected onto its ball :math:`\{\|\delta_n\| \le \varepsilon\}`.

    ``optax.projections.projection_linf_ball`` (a clip) or ``projection_l2_ball``
    (:math:`\delta\,\varepsilon/\max(\|\delta\|_2, \varepsilon)`), applied per example (first axis).
    """
    checks.one_of(*NORMS)("norm", norm)
    checks.nonnegative("eps", eps)
    ball = optax.projections.projection_linf_ball if norm == "linf" else optax.projections.projection_l2_ball
    return jax.vmap(ball, in_axes=(0, None))(jnp.asarray(delta_N), eps)


def _direction(g_N: jax.Array, norm: str) -> jax.Array:
    """Steepest-ascent unit direction of a linear objective with gradient ``g`` under ``norm`` (per example)."""
    if norm == "linf":
        return jnp.sign(g_N)
    sq_N = jnp.sum(g_N.reshape(g_N.shape[0], -1) ** 2, axis=1)
    inv_N = jnp.where(sq_N > 0, jax.lax.rsqrt(jnp.where(sq_N > 0, sq_N, 1.0)), 0.0)
    return g_N * inv_N.reshape((-1,) + (1,) * (g_N.ndim - 1))


def _objective_grad(apply_fn: ApplyFn, params: Params, x_N: jax.Array, labels_N: jax.Array, targeted: bool,
                    loss: PerExampleLoss) -> jax.Array:
    """Per-example input gradients of the attacker's objective: the loss (untargeted) or minus the loss to the
    target (targeted); the gradient of the sum is per-example since examples do not interact."""
    sign = -1.0 if targeted else 1.0
    return jax.grad(lambda x: sign * jnp.sum(loss(apply_fn(params, x), labels_N)))(x_N)


def _clip(x_N: jax.Array, bounds: tuple[float, float] | None) -> jax.Array:
    if bounds is None:
        return x_N
    lo, hi = bounds
    return optax.projections.projection_box(x_N, jnp.full_like(x_N, lo), jnp.full_like(x_N, hi))


def _validate(eps: ArrayLike, norm: str, bounds: tuple[float, float] | None) -> None:
    checks.nonnegative("eps", eps)
    checks.one_of(*NORMS)("norm", norm)
    if bounds is not None and not bounds[0] < bounds[1]:
        raise checks.fail("bounds", "(lo, hi) with lo < hi", bounds)


@functools.partial(jax.jit, static_argnames=("apply_fn", "norm", "targeted", "loss", "bounds"))
def _fgsm(apply_fn, params, x_N, labels_N, eps, norm, targeted, loss, bounds):
    g_N = _objective_grad(apply_fn, params, x_N, labels_N, targeted, loss)
    return _clip(x_N + eps * _direction(g_N, norm), bounds)


def fgsm(apply_fn: ApplyFn, params: Params, x_N: ArrayLike, labels_N: ArrayLike, eps: ArrayLike, *,
         norm: str = "linf", targeted: bool = False, bounds: tuple[float, float] | None = None,
         loss: PerExampleLoss = softmax_cross_entropy) -> jax.Array:
    r"""One-step attack :math:`x + \varepsilon\, d(\pm\nabla_x L(f(x), \text{labels}))`, ``d = sign`` (L∞, FGSM)
    or ``g/‖g‖₂`` (L2, fast gradient method); returns the adversarial inputs.

    Args:
      apply_fn, params: the model.
      x_N: clean inputs, first axis over examples.
      labels_N: true labels (untargeted: the loss is raised) or targets (``targeted``: the loss to them is lowered).
      eps: radius of the ball, >= 0.
      norm: ``'linf'`` or ``'l2'``.
      bounds: ``(lo, hi)`` of valid inputs, or None.
      loss: per-example loss ``loss(outputs, labels)``.
    """
    _validate(eps, norm, bounds)
    return _fgsm(apply_fn, params, jnp.asarray(x_N), jnp.asarray(labels_N), jnp.asarray(eps), norm, targeted,
                 loss, bounds)


def ball_uniform(key: jax.Array, shape: tuple[int, ...], eps: ArrayLike, norm: str = "linf") -> jax.Array:
    r"""Uniform draws from the ball of radius ``eps`` per example: a box for L∞; for L2 a Gaussian direction times
    :math:`\varepsilon U^{1/D}` (D the per-example size)."""
    checks.one_of(*NORMS)("norm", norm)
    k_dir, k_rad = jax.random.split(key)
    if norm == "linf":
        return jax.random.uniform(k_dir, shape, minval=-1.0, maxval=1.0) * eps
    z = jax.random.normal(k_dir, shape)
    size = z[0].size
    radius_N = eps * jax.random.uniform(k_rad, (shape[0],)) ** (1.0 / size)
    return _direction(z, "l2") * radius_N.reshape((-1,) + (1,) * (len(shape) - 1))


@functools.partial(jax.jit, static_argnames=("apply_fn", "norm", "n_steps", "random", "targeted", "loss", "bounds"))
def _pgd(apply_fn, params, x_N, labels_N, eps, key, step_size, norm, n_steps, random, targeted, loss, bounds):
    delta0 = ball_uniform(key, x_N.shape, eps, norm) if random else jnp.zeros_like(x_N)

    def step(_, delta):
        g_N = _objective_grad(apply_fn, params, x_N + delta, labels_N, targeted, loss)
        delta = project(delta + step_size * _direction(g_N, norm), eps, norm)
        return _clip(x_N + delta, bounds) - x_N

    return x_N + jax.lax.fori_loop(0, n_steps, step, _clip(x_N + delta0, bounds) - x_N)


def pgd(apply_fn: ApplyFn, params: Params, x_N: ArrayLike, labels_N: ArrayLike, eps: ArrayLike, *,
        key: jax.Array, norm: str = "linf", n_steps: int = 10, step_size: ArrayLike | None = None,
        random_start: bool = True, targeted: bool = False, bounds: tuple[float, float] | None = None,
        loss: PerExampleLoss = softmax_cross_entropy) -> jax.Array:
    r"""Projected gradient ascent on the loss inside the ball around each clean input; returns the last iterate.

    Args:
      apply_fn, params: the model.
      x_N: clean inputs, first axis over examples.
      labels_N: true labels (untargeted) or targets (``targeted``).
      eps: radius of the ball, >= 0.
      key: PRNG key of the random start.
      norm: ``'linf'`` or ``'l2'``.
      n_steps: number of steps, >= 1.
      step_size: :math:`\alpha > 0`; default :math:`2.5\varepsilon/n_\text{steps}` (Madry et al.).
      random_start: start from a uniform point of the ball (else from the clean input).
      targeted: lower the loss to ``labels_N`` instead of raising it.
      bounds: ``(lo, hi)`` of valid inputs (every iterate is projected onto the box too), or None.
      loss: per-example loss ``loss(outputs, labels)``.
    """
    _validate(eps, norm, bounds)
    n_steps = checks.count("n_steps", n_steps)
    if step_size is None:
        step_size = MADRY_STEP * jnp.asarray(eps) / n_steps
    else:
        checks.positive("step_size", step_size)
    return _pgd(apply_fn, params, jnp.asarray(x_N), jnp.asarray(labels_N), jnp.asarray(eps), key,
                jnp.asarray(step_size), norm, n_steps, random_start, targeted, loss, bounds)
