r"""Adversarial training (Madry et al. 2018): minimize the loss at the worst perturbation found by PGD.

The robust objective is the min-max problem

.. math:: \min_\theta \frac1N \sum_n \max_{\|\delta_n\| \le \varepsilon} L(f(\theta, x_n + \delta_n), y_n).

The inner maximum is approximated by PGD at the current parameters, and by Danskin's theorem the gradient of the
outer objective is the gradient of the loss *at* the maximizer, so the attack sees the parameters through
``stop_gradient`` (nothing is differentiated through its steps) and the loss is differentiated only through the model
at the adversarial inputs. :func:`adversarial_loss` returns
``loss(params, batch, key)``, the form :func:`dl_theory.training.train` calls with ``noise_key`` (a fresh PGD random
start every step, a function of the step so that a resumed run draws the same starts).

Reference: Madry, Makelov, Schmidt, Tsipras & Vladu 2018, "Towards deep learning models resistant to adversarial
attacks", ICLR.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp

from dl_theory import checks
from dl_theory.losses import PerExampleLoss, softmax_cross_entropy
from dl_theory.robustness.attacks import NORMS, pgd
from dl_theory.typing import ApplyFn, Params, PyTree


def adversarial_loss(apply_fn: ApplyFn, eps: float, *, norm: str = "linf", n_steps: int = 7,
                     step_size: float | None = None, bounds: tuple[float, float] | None = None,
                     loss: PerExampleLoss = softmax_cross_entropy
                     ) -> Callable[[Params, PyTree, jax.Array], jax.Array]:
    r"""``loss(params, (x, y), key)``: the mean loss at the PGD adversarial inputs of the batch.

    Args:
      apply_fn: the model.
      eps: training radius, >= 0 (0: ordinary training).
      norm, n_steps, step_size, bounds: the inner PGD attack (:func:`~dl_theory.robustness.attacks.pgd`).
      loss: per-example loss, the same one the attack raises.
    """
    checks.nonnegative("eps", eps)
    checks.one_of(*NORMS)("norm", norm)
    n_steps = checks.count("n_steps", n_steps)
    if step_size is not None:
        checks.positive("step_size", step_size)

    def robust_loss(params: Params, batch: PyTree, key: jax.Array) -> jax.Array:
        x, y = batch
        x_adv = pgd(apply_fn, jax.lax.stop_gradient(params), x, y, eps, key=key, norm=norm, n_steps=n_steps,
                    step_size=step_size, bounds=bounds, loss=loss)
        return jnp.mean(loss(apply_fn(params, x_adv), y))

    return robust_loss
