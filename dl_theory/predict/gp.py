r"""Posterior of the NNGP / NTK / NTKGP Gaussian processes at infinite training time.

With train kernel :math:`K` (NNGP) or :math:`\Theta` (NTK), the test mean is kernel regression
:math:`\mu(x) = k(x, X) k(X, X)^{-1} Y`, and the covariances are

* NNGP (exact Bayesian posterior of an infinitely wide network, Lee et al., 2018) and NTKGP (He et al., 2020, "Bayesian
  deep ensembles via the neural tangent kernel", the same formula with :math:`\Theta`):
  :math:`\Sigma = K_{**} - K_{*X} K^{-1} K_{X*}`;
* NTK (infinite ensemble of infinitely wide networks trained to convergence; Lee et al., 2019, eq. 16 at
  :math:`t = \infty`): :math:`\Sigma = K_{**} + \Theta_{*X}\Theta^{-1} K \Theta^{-1}\Theta_{X*} - (A + A^\top)` with
  :math:`A = \Theta_{*X}\Theta^{-1} K_{X*}`.
"""

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory.kernels.get import canonicalize_get, pack_output
from dl_theory.predict._linalg import cho_solver, first_kernel, from_2d, get_kernel, layout, make_2d
from dl_theory.typing import Axes


class Gaussian(NamedTuple):
    """A ``(mean, covariance)`` pair: mean shaped like the outputs, covariance like the (zipped) kernel."""

    mean: jax.Array
    covariance: jax.Array


def _has(k: Any, g: str) -> bool:
    return not isinstance(k, np.ndarray | jax.Array) and getattr(k, g, None) is not None


def gp_inference(
    k_train_train: Any,
    y_train: ArrayLike,
    diag_reg: float = 0.0,
    diag_reg_absolute_scale: bool = False,
    trace_axes: Axes = (-1,),
):
    r"""Posterior of the NNGP / NTK / NTKGP 'Gaussian process' on a test set (see the module docstring).

    Args:
      k_train_train: train-train kernel: an array (used for every mode), or a ``Kernel`` / namedtuple with
        ``nngp`` and/or ``ntk``. The NTK covariance needs both.
      y_train: training targets.
      diag_reg: strength of the diagonal regularizer added to the train-train kernel before its Cholesky
        factorization (computed once per mode and cached).
      diag_reg_absolute_scale: ``True``: absolute units; ``False``: relative to the mean diagonal.
      trace_axes: output axes along which the kernels are :math:`\cdot \otimes I` (absent from them).

    Returns:
      ``predict_fn(get=None, k_test_train=None, k_test_test=None)``. ``get`` is ``'nngp'``, ``'ntk'``,
      ``'ntkgp'`` or a tuple of them (``None``: ``('nngp', 'ntk')``); a string gives one result, a tuple a
      namedtuple ``Gaussians``. Each result is the posterior mean, or a :class:`Gaussian` when
      ``k_test_test`` is given. ``k_test_train=None`` gives train-set outputs ``N(y_train, 0)``.
    """
    y_train = jnp.asarray(y_train)
    outputs = layout(y_train, trace_axes)
    y_PxC = outputs.to_matrix(y_train)
    if make_2d(first_kernel(k_train_train)).shape[0] != y_PxC.shape[0]:
        raise ValueError(f"k_train_train must be a kernel with {y_PxC.shape[0]} rows (y_train {y_train.shape} "
                         f"without trace_axes {outputs.trace_axes}), got shape {first_kernel(k_train_train).shape}")

    @functools.cache
    def solve(g: str):
        return cho_solver(
            make_2d(get_kernel(k_train_train, g)), diag_reg, diag_reg_absolute_scale, f"k_train_train ({g})"
        )

    @functools.cache
    def k_inv_y(g: str) -> jax.Array:
        return solve(g)(y_PxC)

    def predict_fn(get=None, k_test_train=None, k_test_test=None):
        single, names = canonicalize_get(get, ("nngp", "ntk", "ntkgp"), default=("nngp", "ntk"))
        results = {}
        for g in names:
            k = "ntk" if g == "ntkgp" else g
            k_dd = get_kernel(k_train_train, k)
            if k_test_train is None:
                mean = y_train.astype(k_dd.dtype)
            else:
                k_td = get_kernel(k_test_train, k)
                side_test = k_td.shape[::2]
                mean = outputs.from_matrix(make_2d(k_td) @ k_inv_y(k), (), side_test)
            if k_test_test is None:
                results[g] = mean
            elif k_test_train is None:
                results[g] = Gaussian(mean, jnp.zeros_like(k_dd))
            else:
                results[g] = Gaussian(
                    mean,
                    from_2d(_covariance(g, k_train_train, k_test_train, k_test_test, solve), (), side_test),
                )
        return pack_output("Gaussians", results, single)

    return predict_fn


def _covariance(g: str, k_train_train: Any, k_test_train: Any, k_test_test: Any, solve) -> jax.Array:
    """The ``(Q, Q)`` posterior covariance of mode ``g`` (formulas in the module docstring)."""
    if g == "ntk" and not (_has(k_train_train, "nngp") and _has(k_test_train, "nngp")):
        raise ValueError(
            "The NTK posterior covariance on the test set needs both NTK and NNGP train-train and test-train "
            "kernels: pass `k_train_train` and `k_test_train` as Kernel objects / namedtuples with `nngp` and "
            "`ntk`, or ask for get='nngp' or 'ntkgp'."
        )
    k = "ntk" if g == "ntkgp" else g
    g_init = "ntk" if g == "ntkgp" else "nngp"
    k_td = make_2d(get_kernel(k_test_train, k))
    k_tt = make_2d(get_kernel(k_test_test, g_init))
    kinv_k_dt = solve(k)(make_2d(get_kernel(k_test_train, g_init)).T)
    if g in ("nngp", "ntkgp"):
        return k_tt - k_td @ kinv_k_dt
    term_1 = solve("ntk")(k_td.T)
    term_2 = k_td @ kinv_k_dt
    return term_1.T @ make_2d(get_kernel(k_train_train, "nngp")) @ term_1 - term_2 - term_2.T + k_tt
