"""Independent networks trained as one: stacked parameters, one compiled training loop for all of them.

``S`` networks with parameters stacked on a leading axis are evaluated by ``jax.vmap`` and their outputs put on axis 1,
``(N, S, C)``. With targets of shape ``(N, S, C)`` (or ``(N, 1, C)``, broadcast), ``dl_theory.losses.mse`` of the
ensemble is :math:`\\sum_s \\frac{1}{2N}\\sum_n \\|f_s(x_n) - y_{n s}\\|^2`, the sum of the networks' own losses, whose
gradient in the parameters of network ``s`` is that network's own gradient: one ``train`` call runs ``S`` independent
gradient descents, and compiles once for all of them.
"""

import jax
import jax.numpy as jnp

from dl_theory.dynamics.taylor import linearize
from dl_theory.typing import ApplyFn, InitFn, Params, Shape


def ensemble(apply_fn: ApplyFn) -> ApplyFn:
    """``apply(params_S, x) -> (N, S, C)``: ``S`` networks with stacked parameters on the same inputs."""
    return lambda params_S, x: jnp.moveaxis(jax.vmap(apply_fn, in_axes=(0, None))(params_S, x), 0, 1)


def linearized_ensemble(apply_fn: ApplyFn, params0_S: Params) -> ApplyFn:
    """``apply(params_S, x) -> (N, S, C)``: the linearization of network ``s`` around ``params0_S[s]``."""
    one = lambda p, p0, x: linearize(apply_fn, p0)(p, x)  # noqa: E731
    return lambda params_S, x: jnp.moveaxis(jax.vmap(one, in_axes=(0, 0, None))(params_S, params0_S, x), 0, 1)


def stacked_init(init_fn: InitFn, keys_S: jax.Array, input_shape: Shape) -> Params:
    """Parameters of ``len(keys_S)`` networks, stacked on a leading axis (network ``s`` from ``keys_S[s]``).

    ``lax.map`` draws the same parameters as ``vmap`` and compiles the random draws about twice as fast."""
    return jax.jit(lambda ks: jax.lax.map(lambda k: init_fn(k, input_shape)[1], ks))(keys_S)
