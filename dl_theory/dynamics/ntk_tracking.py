r"""Track the empirical NTK during training through :func:`dl_theory.training.train`'s ``callback``.

At every logged step :math:`t` the callback evaluates :math:`\Theta_t` on fixed inputs and records

* ``ntk_change``: :math:`\|\Theta_t - \Theta_0\|_F / \|\Theta_0\|_F` (lazy training keeps it small: :math:`O(m^{-1/2})`
  in the NTK parameterization, Lee et al., 2019; :math:`O(1/\alpha)` for output scale :math:`\alpha`, Chizat, Oyallon &
  Bach, 2019),
* ``ntk_alignment``: :math:`A(\Theta_t, \Theta_0)`, and, given targets, ``target_alignment``:
  :math:`A(\Theta_t, yy^\top)` (it grows when features are learned; Baratin et al., 2021).
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory.kernels.metrics import kernel_alignment, relative_frobenius_change
from dl_theory.typing import Params, PyTree


def ntk_tracking_callback(
    ntk_fn: Callable[..., jax.Array], x: PyTree, targets: ArrayLike | None = None, **apply_fn_kwargs: Any
) -> Callable[[int, Params], dict[str, jax.Array]]:
    """Return ``callback(step, params)`` for :func:`dl_theory.training.train` (see the module docstring).

    Args:
        ntk_fn: ``ntk_fn(x1, x2, params, **kwargs)``, e.g. from :func:`dl_theory.empirical_ntk_fn`, returning an
            ``(n, n)`` kernel (scalar outputs, or ``trace_axes=(-1,)``).
        x: inputs on which the kernel is tracked; the first call (step 0) fixes :math:`\\Theta_0`.
        targets: optional ``(n,)`` or ``(n, k)`` targets for the kernel-target alignment.
    """
    kernel = jax.jit(lambda p: ntk_fn(x, None, p, **apply_fn_kwargs))
    yyt = None if targets is None else (lambda y: y @ y.T)(jnp.asarray(targets).reshape(len(targets), -1))
    state: dict[str, jax.Array] = {}

    def callback(step: int, params: Params) -> dict[str, jax.Array]:
        theta = kernel(params)
        if "theta0" not in state:
            state["theta0"] = theta
        out = {"ntk_change": relative_frobenius_change(theta, state["theta0"]),
               "ntk_alignment": kernel_alignment(theta, state["theta0"])}
        if yyt is not None:
            out["target_alignment"] = kernel_alignment(theta, yyt)
        return out

    return callback
