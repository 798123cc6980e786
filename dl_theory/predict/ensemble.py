r"""Mean and covariance of an infinite ensemble of infinitely wide networks trained by MSE gradient flow.

Marginalizing the Gaussian initialization :math:`f_0 \sim \mathcal{GP}(0, K)` (NNGP) of the linear function-space
dynamics with kernel :math:`\Theta` gives a Gaussian at every time (Lee et al., 2019, "Wide neural networks of any depth
evolve as linear models under gradient descent", eqs. 14-16), with :math:`A_t = \Theta^{-1}(I - e^{-\eta\Theta t/n})`
(``n = y_train.size``):

.. math::
    \mu_t(x) = \Theta(x, X) A_t Y, \qquad
    \Sigma_t = K_{**} + \Theta_{*X} A_t K A_t^\top \Theta_{X*} - (\Theta_{*X} A_t K_{X*} + \mathrm{h.c.}).

``get='nngp'`` uses :math:`\Theta = K` (Bayesian-style dynamics of the last layer), where
:math:`\Sigma_t = K_{**} - K_{*X} K^{-1}(I - e^{-2\eta K t/n}) K_{X*}`. On the training set
:math:`\mu_t = (I - e^{-\eta\Theta t/n}) Y` and :math:`\Sigma_t = e^{-\eta\Theta t/n} K e^{-\eta\Theta t/n}`. At
``t=None`` (infinity) this is :func:`dl_theory.predict.gp_inference`.
"""

import functools
from collections import namedtuple
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory.kernels.get import canonicalize_get, pack_output
from dl_theory.predict._linalg import eigh_reg, expm1_decay, from_2d, inv_expm1_decay, layout, make_2d
from dl_theory.predict.gp import Gaussian, gp_inference
from dl_theory.tree import is_array_tree
from dl_theory.typing import Axes

_KernelPair = namedtuple("Kernel", "nngp ntk", defaults=(None, None))


def _dependencies(names: tuple[str, ...], compute_cov: bool) -> tuple[str, ...]:
    """Kernels needed for ``names``: the NTK covariance also needs the NNGP."""
    for g in names:
        if g not in ("nngp", "ntk"):
            raise NotImplementedError(f'Can only get either "nngp" or "ntk" predictions, got {g!r}.')
    deps = ("nngp",) if "nngp" in names or ("ntk" in names and compute_cov) else ()
    return deps + (("ntk",) if "ntk" in names else ())


def _merge_kwargs(train_kw: dict[str, Any], test_kw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Keyword arguments for the test-train and test-test kernel calls (neural-tangents' rules).

    A pair ``(v_1, v_2)`` of arrays (one per input of ``kernel_fn(x1, x2)``) becomes ``(v_test, v_train)``
    for the test-train call; other array arguments take the test value; non-array arguments must agree.
    """
    kw_td, kw_tt = dict(train_kw), dict(train_kw)
    for k, v_tt in test_kw.items():
        if k not in train_kw:
            raise ValueError(f"kernel_fn keyword `{k}` given for the test set but not for the training set.")
        v_dd = train_kw[k]
        if is_array_tree(v_dd) and is_array_tree(v_tt):
            pairs = all(isinstance(v, tuple) and len(v) == 2 for v in (v_dd, v_tt))
            v_td = (v_tt[0], v_dd[0]) if pairs else v_tt
        elif v_dd is not v_tt and v_dd != v_tt:
            raise ValueError(
                f"kernel_fn keyword `{k}` differs between train-train ({v_dd}) and test ({v_tt}) kernels."
            )
        else:
            v_td = v_tt
        kw_td[k], kw_tt[k] = v_td, v_tt
    return kw_td, kw_tt


def gradient_descent_mse_ensemble(kernel_fn: Callable[..., Any], x_train: ArrayLike, y_train: ArrayLike,
                                  learning_rate: float = 1.0, diag_reg: float = 0.0,
                                  diag_reg_absolute_scale: bool = False, trace_axes: Axes = (-1,),
                                  **kernel_fn_train_train_kwargs: Any) -> Callable[..., Any]:
    r"""Predicts the Gaussian over outputs induced by MSE gradient flow from random initialization.

    Args:
      kernel_fn: ``kernel_fn(x1, x2, get, **kwargs)`` returning arrays (``get`` a string) or an object with
        ``nngp`` / ``ntk`` attributes (``get`` a tuple): an analytic ``stax`` kernel, a Monte-Carlo kernel, or
        ``empirical_kernel_fn``.
      x_train: training inputs.
      y_train: training targets.
      learning_rate: step size :math:`\eta`; times are in steps (absolute time ``learning_rate * t``).
      diag_reg: diagonal regularizer of the train-train kernel (in the eigendecomposition and Cholesky).
      diag_reg_absolute_scale: ``True``: absolute units; ``False``: relative to the mean diagonal.
      trace_axes: output axes along which kernels are :math:`\cdot \otimes I` (absent from them).
      **kernel_fn_train_train_kwargs: passed to ``kernel_fn`` for the train-train kernel (and, merged with the
        test keywords, for the test kernels).

    Returns:
      ``predict_fn(t=None, x_test=None, get=None, compute_cov=False, **kernel_fn_test_test_kwargs)``: for each
      mode in ``get`` (``'nngp'``, ``'ntk'``; ``None`` for both) the mean, or a :class:`Gaussian` with
      ``compute_cov=True``, at times ``t`` (leading axes ``t.shape``); ``x_test=None`` means the training set.
      A string ``get`` returns one result, a tuple a namedtuple ``Gaussians``.
    """
    y_train = jnp.asarray(y_train)
    outputs = layout(y_train, trace_axes)
    y_PxC = outputs.to_matrix(y_train)
    n = y_train.size
    k_dd_cache: dict[str, jax.Array] = {}

    def train_kernels(names: tuple[str, ...]) -> Any:
        missing = tuple(g for g in names if g not in k_dd_cache)
        if len(missing) == 1:
            k_dd_cache[missing[0]] = kernel_fn(x_train, None, missing[0], **kernel_fn_train_train_kwargs)
        elif missing:
            k = kernel_fn(x_train, None, missing, **kernel_fn_train_train_kwargs)
            k_dd_cache.update({g: getattr(k, g) for g in missing})
        return _KernelPair(**k_dd_cache)

    @functools.cache
    def eigenspace(g: str) -> tuple[jax.Array, jax.Array]:
        return eigh_reg(make_2d(k_dd_cache[g]), diag_reg, diag_reg_absolute_scale)

    @functools.cache
    def predict_inf(available: tuple[str, ...]):
        return gp_inference(train_kernels(available), y_train, diag_reg, diag_reg_absolute_scale, trace_axes)

    def predict_fn(t=None, x_test=None, get=None, compute_cov=False, **kernel_fn_test_test_kwargs):
        single, names = canonicalize_get(get, default=("nngp", "ntk"))
        deps = _dependencies(names, compute_cov)
        k_dd = train_kernels(deps)
        if x_test is None:
            k_td, nngp_tt = None, (True if compute_cov else None)
        else:
            kw_td, kw_tt = _merge_kwargs(kernel_fn_train_train_kwargs, kernel_fn_test_test_kwargs)
            k_td = kernel_fn(x_test, x_train, deps, **kw_td)
            nngp_tt = kernel_fn(x_test, None, "nngp", **kw_tt) if compute_cov else None

        if t is None:
            out = predict_inf(tuple(sorted(k_dd_cache)))(get=names, k_test_train=k_td, k_test_test=nngp_tt)
            return pack_output("Gaussians", out._asdict(), single)

        t = jnp.asarray(t) * learning_rate
        t_T = t.reshape(-1)
        out = {}
        for g in names:
            evals_P, v_PxP = eigenspace(g)
            side = (getattr(k_dd, g) if k_td is None else getattr(k_td, g)).shape[::2]
            if k_td is None:
                mean = jnp.einsum("ji,ti,ki,kc->tjc", v_PxP, -expm1_decay(evals_P, t_T, n), v_PxP, y_PxC)
            else:
                k_QxP = make_2d(getattr(k_td, g))
                mean = jnp.einsum(
                    "lj,ji,ti,ki,kc->tlc", k_QxP, v_PxP, -inv_expm1_decay(evals_P, t_T, n), v_PxP, y_PxC
                )
            mean = outputs.from_matrix(mean, t.shape, side)
            if nngp_tt is None:
                out[g] = mean
                continue
            nngp_dd = make_2d(k_dd.nngp)
            if k_td is None:
                cov = _train_covariance(g, evals_P, v_PxP, t_T, n, nngp_dd)
            else:
                cov = _test_covariance(
                    g, evals_P, v_PxP, t_T, n, nngp_dd, k_QxP, make_2d(k_td.nngp), make_2d(nngp_tt)
                )
            out[g] = Gaussian(mean, from_2d(cov, t.shape, side))
        return pack_output("Gaussians", out, single)

    return predict_fn


def _train_covariance(g, evals_P, v_PxP, t_T, n, nngp_PxP) -> jax.Array:
    """Training-set covariance :math:`e^{-\\Theta t/n} K e^{-\\Theta t/n}` (``(T, P, P)``)."""
    lam = jnp.maximum(evals_P, 0.0)[None, :]
    if g == "nngp":
        return jnp.einsum("ji,ti,ki->tjk", v_PxP, lam * jnp.exp(-2 * lam * t_T[:, None] / n), v_PxP)
    decay_TxPxP = jnp.einsum("mi,ti,ki->tmk", v_PxP, jnp.exp(-lam * t_T[:, None] / n), v_PxP)
    return jnp.einsum("tmk,kl,tnl->tmn", decay_TxPxP, nngp_PxP, decay_TxPxP)


def _test_covariance(g, evals_P, v_PxP, t_T, n, nngp_PxP, k_QxP, nngp_QxP, nngp_QxQ) -> jax.Array:
    """Test-set covariance :math:`\\Sigma_t` of the module docstring (``(T, Q, Q)``)."""
    if g == "nngp":
        a2_TxP = -inv_expm1_decay(evals_P, 2 * t_T, n)
        return nngp_QxQ[None] - jnp.einsum("mj,ji,ti,ki,lk->tml", k_QxP, v_PxP, a2_TxP, v_PxP, k_QxP)
    a_TxP = -inv_expm1_decay(evals_P, t_T, n)
    term_1 = jnp.einsum("mi,ti,ki,lk->tml", v_PxP, a_TxP, v_PxP, k_QxP)
    term_2 = jnp.einsum("mj,ji,ti,ki,lk->tml", k_QxP, v_PxP, a_TxP, v_PxP, nngp_QxP)
    term_2 = term_2 + jnp.swapaxes(term_2, 1, 2)
    return jnp.einsum("tji,jk,tkl->til", term_1, nngp_PxP, term_1) - term_2 + nngp_QxQ[None]
