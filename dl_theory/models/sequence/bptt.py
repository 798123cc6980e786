r"""Backpropagation through time written out, and the Jacobian of the last state with respect to earlier ones.

For the simple RNN :math:`z_t = \varphi(a_t)`, :math:`a_t = W z_{t-1} + U x_t + b`, and a risk
:math:`R = \sum_t \ell_t(z_t)`, weight sharing makes the gradient a sum over time (the notes' BPTT formula, with
the index the notes garble put right):

.. math:: \frac{\partial R}{\partial w_{ij}} = \sum_{t=1}^T \frac{\partial R}{\partial z_t^i}\,
   \varphi'(a_t^i)\, z_{t-1}^j, \qquad
   \frac{\partial R}{\partial u_{ik}} = \sum_t \frac{\partial R}{\partial z_t^i}\, \varphi'(a_t^i)\, x_t^k,

where :math:`\partial R/\partial z_t` is the *total* derivative, accumulated backward:
:math:`\partial R/\partial z_t = \partial \ell_t/\partial z_t + W^\top (\varphi'(a_{t+1}) \odot
\partial R/\partial z_{t+1})`. :func:`explicit_bptt` evaluates exactly these sums in NumPy float64, independently
of ``jax.grad``.

The backward flow from step T to step t is :math:`\partial z_T/\partial z_t = \prod_{r=t+1}^{T}
S(a_r) W` with :math:`S = \operatorname{diag}(\varphi')`, hence
:math:`\|\partial z_T/\partial z_t\|_2 \le (\max|\varphi'|\,\sigma_{\max}(W))^{T-t}`: the notes' bound
:math:`\sigma_{\max}(W)^{T-t}` needs :math:`|\varphi'| \le 1` (tanh; not a ReLU or tanh with a gain above 1).
:func:`state_jacobian_norms` measures the left side with autodiff (Bengio, Simard & Frasconi 1994; Pascanu,
Mikolov & Bengio 2013).
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory.models.sequence.cells import Cell, as_batch
from dl_theory.typing import Params


def explicit_bptt(params: Params, x_BxTxD: ArrayLike, dl_dz_BxTxH: ArrayLike) -> dict[str, np.ndarray]:
    r"""Gradients of :math:`R = \sum_t \ell_t(z_t)` for a tanh :func:`~dl_theory.models.sequence.cells.simple_rnn`
    by the explicit sums over time (see the module docstring), in float64.

    Args:
      params: ``{"W", "U", "b"}`` of the simple RNN (tanh), started from :math:`z_0 = 0`.
      x_BxTxD: inputs.
      dl_dz_BxTxH: the direct derivative :math:`\partial \ell_t / \partial z_t` at every step (summed over the batch).

    Returns:
      ``{"W": HxH, "U": HxD, "b": H}``, the same layout as the params.
    """
    w, u, b = (np.asarray(params[k], np.float64) for k in ("W", "U", "b"))
    x = np.asarray(as_batch(x_BxTxD), np.float64)
    g = np.asarray(dl_dz_BxTxH, np.float64)
    n, steps, _ = x.shape
    z = np.zeros((n, steps + 1, w.shape[0]))  # z[:, t] is z_t, z_0 = 0
    for t in range(steps):
        z[:, t + 1] = np.tanh(z[:, t] @ w.T + x[:, t] @ u.T + b)
    dphi = 1.0 - z[:, 1:] ** 2  # tanh'(a_t) = 1 - z_t^2
    total = np.zeros_like(g)  # dR/dz_t
    for t in reversed(range(steps)):
        later = (total[:, t + 1] * dphi[:, t + 1]) @ w if t + 1 < steps else 0.0
        total[:, t] = g[:, t] + later
    delta = total * dphi
    return {"W": np.einsum("bti,btj->ij", delta, z[:, :-1]), "U": np.einsum("bti,btk->ik", delta, x),
            "b": delta.sum(axis=(0, 1))}


def state_jacobian_norms(cell: Cell, params: Params, x_BxTxD: ArrayLike) -> jax.Array:
    r"""Spectral norms :math:`\|\partial z_T / \partial z_t\|_2` for :math:`t = 0, \ldots, T-1`, shape ``(B, T)``.

    The cell's carry must be one array (simple RNN, GRU). The Jacobian with respect to :math:`z_t` is the Jacobian
    with respect to a perturbation added to the state after step t (``jax.jacrev``, one backward pass per output
    unit); entry ``[:, t]`` is at lag T - t.
    """
    x = as_batch(x_BxTxD)

    def final_state(eps_TxH: jax.Array, x_TxD: jax.Array) -> jax.Array:
        def step(z, inputs):
            e, x_t = inputs
            z, _ = cell.step(params, z + e[None], x_t[None])
            return z, None

        z, _ = jax.lax.scan(step, cell.initial_carry(1, x.dtype), (eps_TxH, x_TxD))
        return z[0]

    def norms(x_TxD: jax.Array) -> jax.Array:
        jac_HxTxH = jax.jacrev(final_state)(jnp.zeros((x.shape[1], cell.features), x.dtype), x_TxD)
        return jnp.linalg.norm(jnp.moveaxis(jac_HxTxH, 1, 0), ord=2, axis=(1, 2))

    return jax.vmap(norms)(x)
