r"""The two empirical-NTK implementations behind :func:`dl_theory.kernels.empirical.empirical_ntk_fn`.

* :func:`jacobian_contraction`: :math:`\Theta = \sum_\ell J_\ell(x_1) J_\ell(x_2)^\top` from Jacobians taken in reverse
  mode (per example under ``vmap_axes``), contracted per parameter leaf as GEMMs.
* :func:`structured_derivatives`: as Jacobian contraction, but weights used once by a matrix product or a convolution
  contribute through the factored form of :mod:`dl_theory.kernels.structured` (layer inputs and output cotangents)
  instead of their Jacobians.
* :func:`ntk_vector_products`: column :math:`j` of :math:`\Theta` is :math:`J(x_1)(J(x_2)^\top e_j)`, one VJP and one
  JVP per output coordinate of :math:`f(x_2)`, never forming :math:`J` (Novak et al., 2022, "Fast Finite Width Neural
  Tangent Kernel", ICML).

All take a validated :class:`NtkCall` and return one kernel per output leaf.
"""

import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from dl_theory.kernels import _empirical_args as args_
from dl_theory.kernels import axes as kernel_axes
from dl_theory.kernels import structured as structured_
from dl_theory.typing import ApplyFn, PyTree


class NtkCall:
    """Validated arguments of one NTK call, with the closures the implementations need.

    ``vmap_axes`` is the canonical :class:`~dl_theory.kernels._empirical_args.BatchAxes` (``None``: no batch
    structure) and ``per_example_fn(params, x_i, *kw_i)`` evaluates ``f`` on one example under it.
    """

    def __init__(self, f, x1, x2, params, kwargs, trace_axes, diagonal_axes, vmap_axes):
        kw1, kw2 = args_.split_kwargs(kwargs, x1, x2)
        args_.check_inputs(x1, x2, args_.input_batch_axes(vmap_axes, x1))
        self.fx1 = args_.output_shapes(f, params, x1, kw1, "x1")
        self.fx2 = self.fx1 if x2 is None else args_.output_shapes(f, params, x2, kw2, "x2")
        self.vmap_axes = args_.canonicalize_vmap_axes(vmap_axes, x1, self.fx1, kw1)
        self.out_tree = jax.tree.structure(self.fx1)
        if jax.tree.structure(self.fx2) != self.out_tree:
            raise ValueError(f"f(x1) and f(x2) have different structures: {self.out_tree} vs "
                             f"{jax.tree.structure(self.fx2)}.")
        self.shapes1 = [s.shape for s in self.out_tree.flatten_up_to(self.fx1)]
        self.shapes2 = [s.shape for s in self.out_tree.flatten_up_to(self.fx2)]
        self.axes = [kernel_axes.validate_axes(trace_axes, diagonal_axes, s1, s2)
                     for s1, s2 in zip(self.shapes1, self.shapes2, strict=True)]
        self.keys = list(kw1)
        self.inputs = ((x1, [kw1[k] for k in self.keys]),
                       (x1, [kw1[k] for k in self.keys]) if x2 is None else (x2, [kw2[k] for k in self.keys]))
        self.full_fns = tuple(functools.partial(_apply, f, x, dict(zip(self.keys, kw, strict=True)))
                              for x, kw in self.inputs)
        self.same = x2 is None
        self.n_params = sum(math.prod(jnp.shape(p)) for p in jax.tree.leaves(params))
        if self.vmap_axes is not None:
            self.per_example_fn = args_.per_example_fn(f, self.vmap_axes, self.keys)
            self.fx_axes = self.out_tree.flatten_up_to(self.vmap_axes.fx)
            self.kw_in_axes = [self.vmap_axes.kw.get(k) for k in self.keys]

    def per_example_shape(self, shape: tuple[int, ...], leaf: int) -> tuple[int, ...]:
        return shape[: self.fx_axes[leaf]] + shape[self.fx_axes[leaf] + 1:]


def _apply(f: ApplyFn, x: PyTree, kwargs: dict, params: PyTree) -> PyTree:
    return f(params, x, **kwargs)


def _jacobian(
    fn: Callable[[PyTree], PyTree], params: PyTree, out_size: int, n_params: int, has_aux: bool = False
) -> PyTree:
    """Reverse mode unless the network has fewer parameters than outputs."""
    return (jax.jacfwd if n_params < out_size else jax.jacrev)(fn, has_aux=has_aux)(params)


def _jacobians(call: NtkCall, params: PyTree, side: int) -> PyTree:
    shapes = call.shapes1 if side == 0 else call.shapes2
    if call.vmap_axes is None:
        return _jacobian(call.full_fns[side], params, sum(math.prod(s) for s in shapes), call.n_params)
    per_size = sum(math.prod(call.per_example_shape(s, i)) for i, s in enumerate(shapes))

    def one(x_i: PyTree, *kw_i: Any) -> PyTree:
        return _jacobian(lambda p: call.per_example_fn(p, x_i, *kw_i), params, per_size, call.n_params)

    x, kw = call.inputs[side]
    return jax.vmap(one, in_axes=(call.vmap_axes.x, *call.kw_in_axes), out_axes=call.vmap_axes.fx)(x, *kw)


def jacobian_contraction(call: NtkCall, params: PyTree) -> PyTree:
    j1 = call.out_tree.flatten_up_to(_jacobians(call, params, 0))
    j2 = j1 if call.same else call.out_tree.flatten_up_to(_jacobians(call, params, 1))
    kernels = []
    for a1, a2, s1, (trace, diag) in zip(j1, j2, call.shapes1, call.axes, strict=True):
        pairs = list(zip(jax.tree.leaves(a1), jax.tree.leaves(a2), strict=True))
        kernels.append(kernel_axes.contract(pairs, len(s1), trace, diag))
    return call.out_tree.unflatten(kernels)


def ntk_vector_products(call: NtkCall, params: PyTree) -> PyTree:
    _, push1 = jax.linearize(call.full_fns[0], params)
    dtypes = [s.dtype for s in call.out_tree.flatten_up_to(call.fx2)]
    kernels = []
    for leaf, (s1, s2, (trace, diag)) in enumerate(zip(call.shapes1, call.shapes2, call.axes, strict=True)):

        def columns(pullback: Callable, shapes: list[tuple[int, ...]], leaf: int = leaf) -> jax.Array:
            """Theta[:, j] for every output coordinate j of leaf `leaf` of the pulled-back output."""
            size = math.prod(shapes[leaf])
            basis = jnp.eye(size, dtype=dtypes[leaf]).reshape((size, *shapes[leaf]))

            def column(e: jax.Array) -> jax.Array:
                ct = [e if k == leaf else jnp.zeros(s, d)
                      for k, (s, d) in enumerate(zip(shapes, dtypes, strict=True))]
                (v,) = pullback(call.out_tree.unflatten(ct))
                return call.out_tree.flatten_up_to(push1(v))[leaf]

            return jax.vmap(column)(basis)

        if call.vmap_axes is None:
            _, pullback = jax.vjp(call.full_fns[1], params)
            k21 = columns(pullback, call.shapes2).reshape(s2 + s1)
        else:
            singles = [call.per_example_shape(s, i) for i, s in enumerate(call.shapes2)]

            def per_example(x_j: PyTree, *kw_j: Any, singles: list = singles) -> jax.Array:
                _, pullback = jax.vjp(lambda p: call.per_example_fn(p, x_j, *kw_j), params)
                return columns(pullback, singles)

            x2, kw2 = call.inputs[1]
            cols = jax.vmap(per_example, in_axes=(call.vmap_axes.x, *call.kw_in_axes))(x2, *kw2)
            k21 = jnp.moveaxis(cols.reshape((s2[call.fx_axes[leaf]], *singles[leaf], *s1)), 0, call.fx_axes[leaf])
        nd = len(s1)
        k12 = k21.transpose(tuple(range(nd, 2 * nd)) + tuple(range(nd)))
        kernels.append(kernel_axes.trace_and_diagonal(k12, nd, trace, diag))
    return call.out_tree.unflatten(kernels)


def _factors(call: NtkCall, params: PyTree, side: int) -> tuple[structured_.Factors, tuple]:
    """One side's structured factors, per example under ``vmap_axes`` (example axis moved to the outputs')."""
    if call.vmap_axes is None:
        return structured_.factors(call.full_fns[side], params, _jacobian)
    found: list = []

    def one(x_i: PyTree, *kw_i: Any) -> structured_.Factors:
        out, products = structured_.factors(lambda p: call.per_example_fn(p, x_i, *kw_i), params, _jacobian)
        found.append(products)  # static, recorded while tracing
        return out

    x, kw = call.inputs[side]
    stacked = jax.vmap(one, in_axes=(call.vmap_axes.x, *call.kw_in_axes))(x, *kw)
    move = [lambda a, k=k: jnp.moveaxis(a, 0, call.fx_axes[k]) for k in range(len(stacked.jacobians))]
    return structured_.Factors(
        [jax.tree.map(move[k], j) for k, j in enumerate(stacked.jacobians)],
        [jax.tree.map(move[k], g) for k, g in enumerate(stacked.cotangents)],
        stacked.inputs,
    ), found[0]


def structured_derivatives(call: NtkCall, params: PyTree) -> PyTree:
    f1, products1 = _factors(call, params, 0)
    f2, products2 = (f1, products1) if call.same else _factors(call, params, 1)
    if products1 != products2:
        raise ValueError("f uses its parameters differently on x1 and on x2 (shape-dependent code), so the "
                         "structured derivatives of the two sides do not match; use implementation 1 or 2.")
    kernels = [structured_.kernel(f1, f2, k, s1, trace, diag, None if call.vmap_axes is None else call.fx_axes[k])
               for k, (s1, (trace, diag)) in enumerate(zip(call.shapes1, call.axes, strict=True))]
    return call.out_tree.unflatten(kernels)
