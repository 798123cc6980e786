r"""Function-space gradient flow for any loss, integrated numerically (optionally with momentum).

For a linearized network with constant kernel :math:`\Theta`, gradient flow on :math:`\mathcal{L}(f(X), Y)` is the ODE
(Lee et al., 2019, "Wide neural networks of any depth evolve as linear models under gradient descent", eq. 6)

.. math::
    \dot f_t(X) = -\eta\, \Theta(X, X)\, \nabla_f \mathcal{L}(f_t(X)), \qquad
    \dot f_t(x) = -\eta\, \Theta(x, X)\, \nabla_f \mathcal{L}(f_t(X)),

solved with :func:`jax.experimental.ode.odeint` (adaptive Dormand-Prince). With momentum :math:`\beta` the continuous
heavy-ball limit :math:`\ddot f = -\Theta \nabla_f\mathcal{L} + \frac{\beta - 1}{\sqrt\eta} \dot f` is solved in units
of :math:`\sqrt\eta` (Qian, 1999), carrying the velocity in ``qx_train`` / ``qx_test``.
"""

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.experimental import ode
from jax.typing import ArrayLike

from dl_theory.predict._linalg import kernel_matrix, layout
from dl_theory.predict.mse import check_inputs
from dl_theory.typing import Axes


@dataclasses.dataclass(frozen=True)
class ODEState:
    """ODE state: outputs ``fx_*`` and auxiliary variables ``qx_*`` (the velocity, with momentum)."""

    fx_train: jax.Array | None = None
    fx_test: jax.Array | None = None
    qx_train: jax.Array | None = None
    qx_test: jax.Array | None = None


jax.tree_util.register_dataclass(
    ODEState, data_fields=["fx_train", "fx_test", "qx_train", "qx_test"], meta_fields=[]
)


def gradient_descent(
    loss: Callable[[jax.Array, jax.Array], jax.Array],
    k_train_train: ArrayLike,
    y_train: ArrayLike,
    learning_rate: float = 1.0,
    momentum: float | None = None,
    trace_axes: Axes = (-1,),
):
    r"""Predicts function-space (momentum) gradient descent on any loss by solving the ODE above.

    Args:
      loss: ``loss(fx_train, y_train) -> scalar``, symmetric in batch and output axes.
      k_train_train: NTK on the training data, shape ``zip(y_train.shape, y_train.shape)`` without trace axes.
      y_train: training targets.
      learning_rate: step size :math:`\eta`. Without momentum times are in steps (absolute time
        ``learning_rate * t``); with momentum the absolute time is ``learning_rate**0.5 * t``.
      momentum: heavy-ball momentum :math:`\beta`, or ``None`` for plain gradient flow.
      trace_axes: output axes along which the kernel is :math:`\Theta \otimes I` (absent from it).

    Returns:
      ``predict_fn(t=None, fx_train_or_state_0=0., fx_test_0=None, k_test_train=None)``: outputs at the
      (strictly increasing) times ``t`` with leading axes ``t.shape``; ``t=None`` integrates to infinity.
      Passing an :class:`ODEState` returns an :class:`ODEState` (the way to read or resume the momentum
      variables).
    """
    y_train = jnp.asarray(y_train)
    outputs = layout(y_train, trace_axes)
    k_PxP, side_train = kernel_matrix("k_train_train", k_train_train, outputs.side_shape)
    dtype = k_PxP.dtype
    grad_loss = jax.grad(lambda fx: loss(fx, y_train))
    if momentum is not None:
        learning_rate = learning_rate**0.5
        friction = (momentum - 1.0) / learning_rate

    def apply(k_QxP: jax.Array, side: tuple[int, ...], dl_PxC: jax.Array) -> jax.Array:
        return outputs.from_matrix(k_QxP @ dl_PxC, (), side)

    def dstate_dt(k_QxP, side_test):
        def f(state: ODEState, _t) -> ODEState:
            dl_PxC = outputs.to_matrix(grad_loss(state.fx_train))
            df_train = -apply(k_PxP, side_train, dl_PxC)
            df_test = None if state.fx_test is None else -apply(k_QxP, side_test, dl_PxC)
            if momentum is None:
                return ODEState(df_train, df_test)
            dq_train = df_train + friction * state.qx_train
            dq_test = None if state.qx_test is None else df_test + friction * state.qx_test
            return ODEState(state.qx_train, state.qx_test, dq_train, dq_test)

        return f

    def predict_fn(t=None, fx_train_or_state_0=0.0, fx_test_0=None, k_test_train=None):
        is_state = isinstance(fx_train_or_state_0, ODEState)
        if is_state and fx_test_0 is not None:
            raise ValueError("`fx_test_0` is included in `ODEState` and must be set to `None`.")
        state = fx_train_or_state_0 if is_state else ODEState(fx_train_or_state_0, fx_test_0)
        check_inputs(state.fx_train, state.fx_test, k_test_train)

        side_test, k_QxP = side_train, k_PxP
        if k_test_train is not None:
            k_QxP, side_test = kernel_matrix("k_test_train", k_test_train, outputs.side_shape)
        test_shape = outputs.output_shape(side_test)
        if momentum is None and (state.qx_train is not None or state.qx_test is not None):
            raise ValueError("Got passed momentum state variables, while `momentum is None`.")

        def initial(value: ArrayLike | None, shape: tuple[int, ...]) -> jax.Array:
            return jnp.zeros(shape, dtype) if value is None else jnp.broadcast_to(jnp.asarray(value, dtype), shape)

        fx_train = initial(state.fx_train, y_train.shape)
        fx_test = None if state.fx_test is None else initial(state.fx_test, test_shape)
        qx_train = qx_test = None
        if momentum is not None:
            qx_train = initial(state.qx_train, y_train.shape)
            if fx_test is not None:
                qx_test = initial(state.qx_test, test_shape)

        t = jnp.asarray(jnp.inf if t is None else t, dtype) * learning_rate
        t_T = t.reshape(-1)
        # odeint needs the initial time first, then increasing times: prepend 0 (-1e-24 if t[0] == 0).
        t0 = jnp.where(t_T[0] == 0, jnp.full((1,), -1e-24, dtype), jnp.zeros((1,), dtype))
        state_0 = ODEState(fx_train, fx_test, qx_train, qx_test)
        traj = ode.odeint(dstate_dt(k_QxP, side_test), state_0, jnp.concatenate([t0, t_T]))
        traj = jax.tree_util.tree_map(lambda x: x[1:].reshape(t.shape + x.shape[1:]), traj)
        if is_state:
            return traj
        if state.fx_train is not None and state.fx_test is None:
            return traj.fx_train
        if state.fx_test is not None and state.fx_train is None:
            return traj.fx_test
        return traj.fx_train, traj.fx_test

    return predict_fn
