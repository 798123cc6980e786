r"""Robust accuracy: the fraction of examples still classified correctly after an attack, over a grid of radii.

The robust accuracy at radius :math:`\varepsilon` is
:math:`\frac1N\sum_n \mathbb 1[\arg\max_c f(x_n + \delta_n)_c = y_n]` with :math:`\delta_n` the attack's perturbation
in the ball :math:`\|\delta_n\| \le \varepsilon`. An attack only finds *some* perturbations, so this is an upper
bound on the true robust accuracy; a stronger attack gives a lower (tighter) one, and at :math:`\varepsilon = 0` it is
the clean accuracy.

Reference: Madry et al. 2018, "Towards deep learning models resistant to adversarial attacks", ICLR.
"""

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.losses import PerExampleLoss, softmax_cross_entropy
from dl_theory.robustness.attacks import fgsm, pgd
from dl_theory.typing import ApplyFn, Params

ATTACKS = ("fgsm", "pgd")


def correct(apply_fn: ApplyFn, params: Params, x_N: ArrayLike, y_N: ArrayLike) -> jax.Array:
    r"""Per-example :math:`\mathbb 1[\arg\max_c f(x_n)_c = y_n]` (boolean, shape ``(N,)``)."""
    return jnp.argmax(apply_fn(params, jnp.asarray(x_N)), axis=-1) == jnp.asarray(y_N)


def robust_correct(apply_fn: ApplyFn, params: Params, x_N: ArrayLike, y_N: ArrayLike, eps_E: Sequence[float], *,
                   attack: str = "pgd", key: jax.Array | None = None, norm: str = "linf", n_steps: int = 10,
                   bounds: tuple[float, float] | None = None,
                   loss: PerExampleLoss = softmax_cross_entropy) -> np.ndarray:
    """Per-radius, per-example correctness under the untargeted ``attack``, a boolean array ``(E, N)``.

    Args:
      apply_fn, params: the model.
      x_N, y_N: clean inputs and integer labels.
      eps_E: radii, each >= 0.
      attack: ``'fgsm'`` or ``'pgd'`` (random start, the default step :math:`2.5\\varepsilon/n_\\text{steps}`,
        radius ``i`` with the key ``fold_in(key, i)``).
      key: PRNG key (required for PGD).
      norm, n_steps, bounds, loss: as in :func:`~dl_theory.robustness.attacks.pgd`.
    """
    checks.one_of(*ATTACKS)("attack", attack)
    checks.each(checks.nonnegative)("eps_E", eps_E)
    if attack == "pgd" and key is None:
        raise ValueError("key is required for the PGD attack (its random start)")
    rows = []
    for i, eps in enumerate(eps_E):
        if attack == "fgsm":
            x_adv = fgsm(apply_fn, params, x_N, y_N, eps, norm=norm, bounds=bounds, loss=loss)
        else:
            x_adv = pgd(apply_fn, params, x_N, y_N, eps, key=jax.random.fold_in(key, i), norm=norm,
                        n_steps=n_steps, bounds=bounds, loss=loss)
        rows.append(np.asarray(correct(apply_fn, params, x_adv, y_N)))
    return np.stack(rows)


def robust_accuracy(apply_fn: ApplyFn, params: Params, x_N: ArrayLike, y_N: ArrayLike, eps_E: Sequence[float],
                    **attack_kwargs) -> np.ndarray:
    """Accuracy under the attack at each radius, shape ``(E,)``; arguments as in :func:`robust_correct`."""
    return robust_correct(apply_fn, params, x_N, y_N, eps_E, **attack_kwargs).mean(axis=1)
