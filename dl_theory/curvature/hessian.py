r"""Hessians of a loss over parameter pytrees: products, dense matrices and spectra.

The loss is :math:`f(\theta) = \frac1N\sum_{n=1}^N \ell(\theta; z_n)`, given as ``loss_fn(params, batch) ->
scalar`` (the mean over the batch) and a data pytree whose leaves share a leading axis of length :math:`N`.
With ``batch_size=None`` the whole data set is one batch; otherwise the data is split into ``N //
batch_size`` batches, scanned with ``lax.scan`` (so only one batch is live at a time), plus one remainder
batch, each weighted by its share of :math:`N`. That is exact whenever ``loss_fn`` is a per-example mean.

The Hessian-vector product is forward-over-reverse,
:math:`Hv = \partial_\epsilon \nabla f(\theta + \epsilon v)|_{\epsilon=0}` (``jax.jvp`` of ``jax.grad``;
Pearlmutter 1994), at the cost of about two gradients. :func:`hessian_matvec` flattens it with
``ravel_pytree`` so that the spectral routines of :mod:`dl_theory.curvature.spectral` (re-exported here:
:func:`top_eigenvalues`, :func:`trace`, :func:`spectral_density`, :func:`power_iteration`) see only a
matvec on :math:`\mathbb R^D`.
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
from jax.flatten_util import ravel_pytree

from dl_theory import checks, tree
from dl_theory.curvature.spectral import power_iteration, spectral_density, top_eigenvalues, trace
from dl_theory.typing import LossFn, Params, PyTree

__all__ = [
    "dataset_mean",
    "loss_and_grad",
    "hvp",
    "hessian",
    "hessian_matvec",
    "power_iteration",
    "top_eigenvalues",
    "trace",
    "spectral_density",
]


def dataset_mean(fn: Callable[[PyTree], PyTree], data: PyTree, batch_size: int | None = None) -> PyTree:
    r"""The example-weighted mean :math:`\sum_b \frac{|B_b|}{N} \mathrm{fn}(B_b)` over batches of ``data``.

    Full batches are scanned with ``lax.scan``; a remainder batch (if ``N`` is not a multiple of
    ``batch_size``) is evaluated once more. Exact for any ``fn`` that is a per-example mean.
    """
    n = tree.leading_size("data", data)
    if batch_size is None or batch_size >= n:
        return fn(data)
    checks.count("batch_size", batch_size)
    num_full = n // batch_size
    head = jax.tree_util.tree_map(
        lambda x: x[: num_full * batch_size].reshape(num_full, batch_size, *x.shape[1:]), data
    )
    first = fn(jax.tree_util.tree_map(lambda x: x[0], head))

    def body(acc, batch):
        return jax.tree_util.tree_map(jnp.add, acc, fn(batch)), None

    rest = jax.tree_util.tree_map(lambda x: x[1:], head)
    total, _ = lax.scan(body, first, rest)
    total = jax.tree_util.tree_map(lambda t: t * (batch_size / n), total)
    if num_full * batch_size == n:
        return total
    tail = jax.tree_util.tree_map(lambda x: x[num_full * batch_size :], data)
    return jax.tree_util.tree_map(lambda t, r: t + r * ((n - num_full * batch_size) / n), total, fn(tail))


def _check_scalar_loss(loss_fn: LossFn, params: Params, data: PyTree, batch_size: int | None) -> None:
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    n = tree.leading_size("data", data)
    probe = (
        data
        if batch_size is None or batch_size >= n
        else jax.tree_util.tree_map(lambda x: x[:batch_size], data)
    )
    out = jax.eval_shape(loss_fn, params, probe)
    if not hasattr(out, "shape") or out.shape != ():
        got = getattr(out, "shape", type(out).__name__)
        raise ValueError(f"loss_fn(params, batch) must return a scalar (shape ()), got shape {got}")


def loss_and_grad(
    loss_fn: LossFn, params: Params, data: PyTree, *, batch_size: int | None = None
) -> tuple[jax.Array, Params]:
    """The data-set loss :math:`f(\\theta)` and its gradient, accumulated over batches."""
    _check_scalar_loss(loss_fn, params, data, batch_size)
    return dataset_mean(lambda batch: jax.value_and_grad(loss_fn)(params, batch), data, batch_size)


def hvp(loss_fn: LossFn, params: Params, v: Params, data: PyTree, *, batch_size: int | None = None) -> Params:
    r"""The Hessian-vector product :math:`\nabla^2 f(\theta)\,v` (forward-over-reverse) over batches.

    Args:
        loss_fn: ``loss_fn(params, batch) -> scalar``, a mean over the examples of ``batch``.
        params: the point :math:`\theta`, any pytree of arrays.
        v: the direction, a pytree with the structure, shapes and dtypes of ``params``.
        data: pytree whose leaves share the leading example axis.
        batch_size: examples per scanned batch (``None``: all at once).

    Raises:
        ValueError: if ``loss_fn`` is not scalar or ``v`` does not match ``params``.
    """
    _check_scalar_loss(loss_fn, params, data, batch_size)
    checks.same_tree("v", v, "params", params)
    v = jax.tree_util.tree_map(lambda p, x: jnp.asarray(x, jnp.result_type(p)), params, v)
    return _hvp(loss_fn, params, v, data, batch_size)


def _hvp(loss_fn: LossFn, params: Params, v: Params, data: PyTree, batch_size: int | None) -> Params:
    def batch_hvp(batch: Any) -> Params:
        return jax.jvp(lambda p: jax.grad(loss_fn)(p, batch), (params,), (v,))[1]

    return dataset_mean(batch_hvp, data, batch_size)


def hessian_matvec(
    loss_fn: LossFn, params: Params, data: PyTree, *, batch_size: int | None = None
) -> tuple[Callable[[jax.Array], jax.Array], int]:
    """The flat Hessian matvec ``v_D -> H_DxD v_D`` at ``params`` and the dimension ``D``.

    This is the boundary between pytrees and the spectral routines: ``v`` is unravelled to the parameter
    pytree, multiplied by :func:`hvp` and ravelled again.
    """
    _check_scalar_loss(loss_fn, params, data, batch_size)
    flat, unravel = ravel_pytree(params)

    def matvec(v_D: jax.Array) -> jax.Array:
        if v_D.shape != flat.shape:
            raise ValueError(f"v_D must have the flat parameter shape {flat.shape}, got {v_D.shape}")
        return ravel_pytree(_hvp(loss_fn, params, unravel(v_D.astype(flat.dtype)), data, batch_size))[0]

    return matvec, flat.shape[0]


def hessian(loss_fn: LossFn, params: Params, data: PyTree, *, batch_size: int | None = None) -> jax.Array:
    r"""The dense Hessian :math:`\nabla^2 f(\theta) \in \mathbb R^{D\times D}` of the flattened parameters.

    ``jax.hessian`` (forward-over-reverse) per batch, accumulated over batches; memory :math:`O(D^2)`, so
    for small models only (it is the reference the matrix-free routines are tested against).
    """
    _check_scalar_loss(loss_fn, params, data, batch_size)
    flat, unravel = ravel_pytree(params)
    return dataset_mean(
        lambda batch: jax.hessian(lambda w: loss_fn(unravel(w), batch))(flat), data, batch_size
    )
