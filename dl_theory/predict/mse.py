r"""Closed-form gradient flow on the MSE loss in function space, and the largest stable learning rate.

For the loss :math:`\mathcal{L} = \frac{1}{2n}\lVert f(X) - Y\rVert^2` (``n = y_train.size``) and a constant kernel
:math:`\Theta` (the NTK of a linearized / infinitely wide network), gradient flow with learning rate :math:`\eta` is
linear in function space and solves in closed form (Lee et al., 2019, "Wide neural networks of any depth evolve as
linear models under gradient descent", eqs. 8-9):

.. math::
    f_t(X) = Y + e^{-\eta \Theta t / n} (f_0(X) - Y), \qquad
    f_t(x) = f_0(x) + \Theta(x, X)\, \Theta^{-1} \big(e^{-\eta \Theta t / n} - I\big) (f_0(X) - Y).

Matrix functions are applied in the eigenbasis :math:`\Theta = V \operatorname{diag}(\lambda) V^\top`; at
:math:`t = \infty` (``t=None``) the test prediction is kernel regression,
:math:`f_0(x) + \Theta(x, X)\Theta^{-1}(Y - f_0(X))`, computed by a Cholesky solve.
"""

import functools
from typing import Any, Protocol

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory.predict._linalg import (
    cho_solver,
    eigh_reg,
    expm1_decay,
    inv_expm1_decay,
    kernel_matrix,
    layout,
    make_2d,
)
from dl_theory.typing import Axes

ArrayOrScalar = None | int | float | ArrayLike


class PredictFn(Protocol):
    """``predict_fn(t=None, fx_train_0=0., fx_test_0=None, k_test_train=None)``."""

    def __call__(
        self,
        t: ArrayOrScalar = None,
        fx_train_0: ArrayOrScalar = 0.0,
        fx_test_0: ArrayOrScalar = None,
        k_test_train: ArrayLike | None = None,
    ) -> jax.Array | tuple[jax.Array, jax.Array]: ...


def check_inputs(fx_train_0: Any, fx_test_0: Any, k_test_train: Any) -> None:
    """The checks every ``predict_fn`` makes on which outputs to compute."""
    if fx_train_0 is None and fx_test_0 is None:
        raise ValueError(
            "Both `fx_train_0` and `fx_test_0` are `None`, i.e. no predictions will be computed."
        )
    if fx_test_0 is not None and k_test_train is None:
        raise ValueError("To get predictions on the test set, please provide `k_test_train` (got None).")


def gradient_descent_mse(k_train_train: ArrayLike, y_train: ArrayLike, learning_rate: float = 1.0,
                         diag_reg: float = 0.0, diag_reg_absolute_scale: bool = False,
                         trace_axes: Axes = (-1,)) -> PredictFn:
    r"""Predicts function-space gradient flow on the MSE loss in closed form (see the module docstring).

    Time ``t`` is in units of steps: the absolute time is ``learning_rate * t``. The eigendecomposition
    (finite ``t``) or Cholesky factorization (``t=None``) of ``k_train_train + diag_reg I`` is computed at
    the first call and cached.

    Args:
      k_train_train: kernel on the training data, of shape ``zip(y_train.shape, y_train.shape)`` with the
        ``trace_axes`` left out (so ``(n, n)`` for ``y_train`` of shape ``(n, k)`` and ``trace_axes=(-1,)``).
      y_train: training targets.
      learning_rate: step size :math:`\eta`.
      diag_reg: strength of the diagonal regularizer added to ``k_train_train``.
      diag_reg_absolute_scale: ``True``: ``diag_reg`` in absolute units; ``False``: relative to the mean
        diagonal ``tr(K) / P``.
      trace_axes: output axes along which the kernel is :math:`\Theta \otimes I` (absent from the kernels).

    Returns:
      ``predict_fn(t=None, fx_train_0=0., fx_test_0=None, k_test_train=None)`` returning ``fx_train_t``,
      ``fx_test_t``, or both (a tuple) at times ``t`` (extra leading axes ``t.shape``); ``t=None`` means
      :math:`t = \infty`. ``fx_train_0=None`` skips the training set; ``fx_test_0`` needs ``k_test_train`` of
      shape ``zip(y_test.shape, y_train.shape)`` without trace axes.
    """
    y_train = jnp.asarray(y_train)
    outputs = layout(y_train, trace_axes)
    k_PxP, _ = kernel_matrix("k_train_train", k_train_train, outputs.side_shape)
    y_PxC = outputs.to_matrix(y_train)
    n = y_train.size

    eigen = functools.cache(lambda: eigh_reg(k_PxP, diag_reg, diag_reg_absolute_scale))
    solve = functools.cache(lambda: cho_solver(k_PxP, diag_reg, diag_reg_absolute_scale))

    def predict_fn(t=None, fx_train_0=0.0, fx_test_0=None, k_test_train=None):
        check_inputs(fx_train_0, fx_test_0, k_test_train)
        r_PxC = -y_PxC
        if fx_train_0 is not None:
            fx_train_0 = jnp.broadcast_to(jnp.asarray(fx_train_0, k_PxP.dtype), y_train.shape)
            r_PxC = r_PxC + outputs.to_matrix(fx_train_0)
        if fx_test_0 is not None:
            k_QxP, side_test = kernel_matrix("k_test_train", k_test_train, outputs.side_shape)
            fx_test_0 = jnp.broadcast_to(jnp.asarray(fx_test_0, k_PxP.dtype), outputs.output_shape(side_test))

        if t is None:  # infinite time: train outputs interpolate, test outputs are kernel regression
            fx_train_t = y_train.astype(k_PxP.dtype)
            if fx_test_0 is None:
                return fx_train_t
            dfx_QxC = k_QxP @ solve()(-r_PxC)
            fx_test_t = fx_test_0 + outputs.from_matrix(dfx_QxC, (), side_test)
            return fx_test_t if fx_train_0 is None else (fx_train_t, fx_test_t)

        t = jnp.asarray(t, k_PxP.dtype) * learning_rate
        t_T = t.reshape(-1)
        evals_P, evecs_PxP = eigen()
        proj_PxC = evecs_PxP.T @ r_PxC
        lead = (None,) * t.ndim
        if fx_train_0 is not None:
            dfx_TxPxC = jnp.einsum("pi,ti,ic->tpc", evecs_PxP, expm1_decay(evals_P, t_T, n), proj_PxC)
            fx_train_t = fx_train_0[lead] + outputs.from_matrix(dfx_TxPxC, t.shape, outputs.side_shape)
        if fx_test_0 is not None:
            dfx_TxQxC = jnp.einsum(
                "qp,pi,ti,ic->tqc", k_QxP, evecs_PxP, inv_expm1_decay(evals_P, t_T, n), proj_PxC
            )
            fx_test_t = fx_test_0[lead] + outputs.from_matrix(dfx_TxQxC, t.shape, side_test)
        if fx_train_0 is not None and fx_test_0 is not None:
            return fx_train_t, fx_test_t
        return fx_train_t if fx_test_0 is None else fx_test_t

    return predict_fn


def max_learning_rate(
    ntk_train_train: ArrayLike, y_train_size: int | None = None, momentum: float = 0.0, eps: float = 1e-12
) -> jax.Array:
    r"""The largest learning rate for which (momentum) gradient descent on the MSE loss converges.

    For :math:`\mathcal{L} = \frac{1}{2n}\lVert f - y\rVert^2` and a linearized model the Hessian in function
    space is :math:`\Theta / n`, and GD contracts iff :math:`\eta < 2 n / \lambda_{max}(\Theta)`; heavy-ball
    momentum :math:`\beta` stretches this to :math:`2 (1 + \beta) n / \lambda_{max}(\Theta)` (Goh, 2017, "Why momentum
    really works", section "The dynamics of momentum").

    Args:
      ntk_train_train: analytic or empirical NTK on the training data (zipped layout, any trace axes).
      y_train_size: ``n``, the total number of training outputs ``y_train.size``; ``None`` infers it from the
        kernel assuming ``trace_axes=()``.
      momentum: heavy-ball momentum :math:`\beta`.
      eps: added to :math:`\lambda_{max}` to avoid dividing by zero.

    Returns:
      :math:`2 (1 + \beta) n / (\lambda_{max} + \epsilon)`.
    """
    k_PxP = make_2d(ntk_train_train)
    factor = k_PxP.shape[0] if y_train_size is None else y_train_size
    max_eval = jnp.linalg.eigvalsh(k_PxP)[-1]
    return 2 * (1 + momentum) * factor / (max_eval + eps)
