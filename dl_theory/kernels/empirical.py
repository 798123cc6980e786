r"""Empirical NNGP and NTK of any ``apply_fn(params, x, **kwargs)`` over any parameter pytree.

For a network :math:`f(\theta, x)` with Jacobian :math:`J(x) = \partial f(\theta, x) / \partial \theta`,

.. math::
    K_{\mathrm{NNGP}}(x_1, x_2) = f(\theta, x_1) f(\theta, x_2)^\top, \qquad
    \Theta(x_1, x_2) = J(x_1) J(x_2)^\top = \sum_{\ell} J_\ell(x_1) J_\ell(x_2)^\top,

the sum running over parameter leaves :math:`\ell` (Jacot et al., 2018; Lee et al., 2019). Output axes are laid out,
traced and diagonalized as in :mod:`dl_theory.kernels.axes` (neural-tangents' public semantics: same names, arguments,
defaults and :class:`NtkImplementation` values, so ``import dl_theory as nt`` ports user code).

NTK implementations (Novak et al., 2022, "Fast Finite Width Neural Tangent Kernel", ICML):

* ``JACOBIAN_CONTRACTION`` (1): :math:`J(x_1)`, :math:`J(x_2)` by reverse mode (``jax.jacrev``; forward mode when the
  network has fewer parameters than outputs), then one ``einsum`` per parameter leaf. Cost
  :math:`\approx O\,[\mathrm{FP}] + O_1 O_2 P` for :math:`O` outputs, :math:`P` parameters.
* ``NTK_VECTOR_PRODUCTS`` (2): never forms :math:`J`. Column :math:`j` of :math:`\Theta` is
  :math:`J(x_1)\,(J(x_2)^\top e_j)`: one VJP through :math:`f(x_2)` and one JVP through :math:`f(x_1)` per output
  coordinate of :math:`f(x_2)`. With ``vmap_axes`` the VJP runs on the single example that owns :math:`e_j`.
* ``STRUCTURED_DERIVATIVES`` (3): Jacobian contraction in which every weight used once by a matrix product or an
  ungrouped convolution contributes through the layer's input :math:`a` (or its patches) and output cotangent :math:`g`,
  :math:`\sum g^{(1)} g^{(2)\top} \odot a^{(1)} a^{(2)\top}`, never differentiated itself
  (:mod:`dl_theory.kernels.structured`; the dense and convolution rules of Novak et al., 2022, §4). Other parameters
  (biases, weights used twice) are differentiated as in 1.
* ``AUTO`` (0): all three are lowered with ``jax.jit(...).lower(...)`` on abstract shapes and the one with fewer XLA
  flops (``Lowered.cost_analysis()['flops']``, ties to 1) is used; the choice is cached per argument shapes. An
  implementation that fails to lower is skipped; if XLA reports no cost at all, ``JACOBIAN_CONTRACTION`` is used.
"""

import enum
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory.kernels import _empirical_args as args_
from dl_theory.kernels import _empirical_impl as impl_
from dl_theory.kernels import axes as kernel_axes
from dl_theory.kernels.get import canonicalize_get, pack_output
from dl_theory.typing import ApplyFn, Axes, PyTree, VmapAxes

__all__ = [
    "DEFAULT_NTK_IMPLEMENTATION", "NtkImplementation", "empirical_kernel_fn", "empirical_nngp_fn",
    "empirical_ntk_fn", "empirical_ntk_vp_fn", "ntk_cost_estimates",
]

KernelFn = Callable[..., PyTree]


class NtkImplementation(enum.IntEnum):
    """How the empirical NTK is computed; values match neural-tangents' enum."""

    AUTO = 0
    JACOBIAN_CONTRACTION = 1
    NTK_VECTOR_PRODUCTS = 2
    STRUCTURED_DERIVATIVES = 3


DEFAULT_NTK_IMPLEMENTATION = NtkImplementation.JACOBIAN_CONTRACTION
_CONCRETE = (NtkImplementation.JACOBIAN_CONTRACTION, NtkImplementation.NTK_VECTOR_PRODUCTS,
             NtkImplementation.STRUCTURED_DERIVATIVES)


def empirical_nngp_fn(f: ApplyFn, trace_axes: Axes = (-1,), diagonal_axes: Axes = ()) -> KernelFn:
    """Return ``nngp_fn(x1, x2, params, **apply_fn_kwargs)``, one draw of :math:`f(x_1) f(x_2)^\\top`.

    The result has one kernel per output leaf of ``f``; its shape is ``zip(f(x1).shape, f(x2).shape)`` with
    ``trace_axes`` removed (averaged) and ``diagonal_axes`` kept once. ``x2=None`` means ``x2 = x1``.
    """

    def nngp_fn(x1: PyTree, x2: PyTree | None, params: PyTree, **apply_fn_kwargs: Any) -> PyTree:
        kw1, kw2 = args_.split_kwargs(apply_fn_kwargs, x1, x2)
        args_.check_inputs(x1, x2, None)
        args_.output_shapes(f, params, x1, kw1, "x1")
        out1 = f(params, x1, **kw1)
        if x2 is not None:
            args_.output_shapes(f, params, x2, kw2, "x2")
        out2 = out1 if x2 is None else f(params, x2, **kw2)

        def leaf_kernel(o1: jax.Array, o2: jax.Array) -> jax.Array:
            trace, diag = kernel_axes.validate_axes(trace_axes, diagonal_axes, o1.shape, o2.shape)
            return kernel_axes.contract([(o1, o2)], o1.ndim, trace, diag)

        return jax.tree.map(leaf_kernel, out1, out2)

    return nngp_fn


def empirical_ntk_fn(f: ApplyFn, trace_axes: Axes = (-1,), diagonal_axes: Axes = (), vmap_axes: VmapAxes = None,
                     implementation: NtkImplementation | int = DEFAULT_NTK_IMPLEMENTATION) -> KernelFn:
    """Return ``ntk_fn(x1, x2, params, **apply_fn_kwargs)``, one draw of :math:`J(x_1) J(x_2)^\\top`.

    Args:
        f: ``f(params, x, **kwargs)`` returning an array or a pytree of arrays (one kernel per output leaf).
        trace_axes: output axes averaged over (the pair of axes is traced and divided by its size).
        diagonal_axes: output axes whose kernel diagonal only is kept (e.g. ``(0,)`` for per-example variances).
        vmap_axes: ``None`` (no batch structure), an int batch axis of inputs and outputs, or a triple
            ``(in_axes, out_axes, kwargs_axes)``; it certifies that example ``i`` of ``f(x)`` depends only on
            example ``i`` of ``x`` (no BatchNorm), which lets Jacobians be taken per example.
        implementation: an :class:`NtkImplementation` (or its int value); see the module docstring.

    Raises:
        ValueError: unknown implementation; at call time, bad axes, mismatched inputs, or params that do not fit.
    """
    impl = _canonical_implementation(implementation)
    if impl == NtkImplementation.AUTO:
        return _auto_ntk_fn(f, trace_axes, diagonal_axes, vmap_axes)
    kernel = {
        NtkImplementation.JACOBIAN_CONTRACTION: impl_.jacobian_contraction,
        NtkImplementation.NTK_VECTOR_PRODUCTS: impl_.ntk_vector_products,
        NtkImplementation.STRUCTURED_DERIVATIVES: impl_.structured_derivatives,
    }[impl]

    def ntk_fn(x1: PyTree, x2: PyTree | None, params: PyTree, **apply_fn_kwargs: Any) -> PyTree:
        call = impl_.NtkCall(f, x1, x2, params, apply_fn_kwargs, trace_axes, diagonal_axes, vmap_axes)
        return kernel(call, params)

    return ntk_fn


def empirical_kernel_fn(f: ApplyFn, trace_axes: Axes = (-1,), diagonal_axes: Axes = (), vmap_axes: VmapAxes = None,
                        implementation: NtkImplementation | int = DEFAULT_NTK_IMPLEMENTATION) -> KernelFn:
    """Return ``kernel_fn(x1, x2, get, params, **apply_fn_kwargs)`` for NNGP and/or NTK draws.

    ``get`` is ``"nngp"``, ``"ntk"``, a tuple of them (an ``EmpiricalKernel`` namedtuple in that order), or
    ``None`` for ``("nngp", "ntk")``. ``vmap_axes`` and ``implementation`` apply to the NTK only.
    """
    fns = {
        "nngp": empirical_nngp_fn(f, trace_axes, diagonal_axes),
        "ntk": empirical_ntk_fn(f, trace_axes, diagonal_axes, vmap_axes, implementation),
    }

    def kernel_fn(
        x1: PyTree, x2: PyTree | None, get: str | tuple[str, ...] | None, params: PyTree, **apply_fn_kwargs: Any
    ) -> Any:
        single, names = canonicalize_get(get, tuple(fns), default=tuple(fns))
        outs = [fns[n](x1, x2, params, **apply_fn_kwargs) for n in names]
        return jax.tree.map(lambda *ks: pack_output("EmpiricalKernel", dict(zip(names, ks, strict=True)), single),
                            *outs)

    return kernel_fn


def empirical_ntk_vp_fn(
    f: ApplyFn, x1: PyTree, x2: PyTree | None, params: PyTree, **apply_fn_kwargs: Any
) -> Callable[[PyTree], PyTree]:
    """Return ``ntk_vp_fn(cotangents) = J(x_1) J(x_2)^\\top v`` without forming the NTK.

    ``cotangents`` has the structure and shapes of ``f(params, x2)``; the result those of ``f(params, x1)``.
    Cost: one VJP through ``f(x2)`` and one JVP through ``f(x1)`` per product.
    """
    kw1, kw2 = args_.split_kwargs(apply_fn_kwargs, x1, x2)
    args_.check_inputs(x1, x2, None)
    args_.output_shapes(f, params, x1, kw1, "x1")
    x2 = x1 if x2 is None else x2
    want = jax.tree.map(lambda s: s.shape, args_.output_shapes(f, params, x2, kw2, "x2"))

    def ntk_vp_fn(cotangents: PyTree) -> PyTree:
        got = jax.tree.map(jnp.shape, cotangents)
        if jax.tree.structure(got) != jax.tree.structure(want) or got != want:
            raise ValueError(f"`cotangents` must have the shapes of f(params, x2) = {want}, got {got}.")
        _, pullback = jax.vjp(lambda p: f(p, x2, **kw2), params)
        return jax.jvp(lambda p: f(p, x1, **kw1), (params,), pullback(cotangents))[1]

    return ntk_vp_fn


def ntk_cost_estimates(
    f: ApplyFn, x1: PyTree, x2: PyTree | None, params: PyTree, trace_axes: Axes = (-1,),
    diagonal_axes: Axes = (), vmap_axes: VmapAxes = None, **apply_fn_kwargs: Any,
) -> dict[NtkImplementation, float]:
    """XLA flop estimates (``jax.jit(ntk_fn).lower(...).cost_analysis()``) of implementations 1, 2 and 3.

    Arrays are replaced by ``jax.ShapeDtypeStruct`` so nothing is executed; values are ``nan`` where XLA reports
    no cost.
    """
    out = {}
    for impl in _CONCRETE:
        ntk_fn = empirical_ntk_fn(f, trace_axes, diagonal_axes, vmap_axes, impl)
        out[impl] = _lowered_flops(ntk_fn, (x1, x2, params), apply_fn_kwargs)
    return out


def _canonical_implementation(implementation: NtkImplementation | int) -> NtkImplementation:
    try:
        impl = NtkImplementation(implementation)
    except ValueError as err:
        raise ValueError(f"`implementation` must be one of {[int(i) for i in NtkImplementation]} "
                         f"(NtkImplementation), got {implementation!r}.") from err
    return impl


def _auto_ntk_fn(f: ApplyFn, trace_axes: Axes, diagonal_axes: Axes, vmap_axes: VmapAxes) -> KernelFn:
    fns = {i: empirical_ntk_fn(f, trace_axes, diagonal_axes, vmap_axes, i) for i in _CONCRETE}
    choice: dict[str, NtkImplementation] = {}

    def ntk_fn(x1: PyTree, x2: PyTree | None, params: PyTree, **apply_fn_kwargs: Any) -> PyTree:
        key = _signature((x1, x2, params), apply_fn_kwargs)
        if key not in choice:
            costs = {i: _lowered_flops(fn, (x1, x2, params), apply_fn_kwargs) for i, fn in fns.items()}
            finite = {i: c for i, c in costs.items() if math.isfinite(c)}
            choice[key] = (min(finite, key=lambda i: (finite[i], i)) if finite
                           else NtkImplementation.JACOBIAN_CONTRACTION)
        return fns[choice[key]](x1, x2, params, **apply_fn_kwargs)

    ntk_fn.choices = choice  # which implementation AUTO picked, per argument signature (for inspection)
    return ntk_fn


def _is_array(a: Any) -> bool:
    return hasattr(a, "shape") and hasattr(a, "dtype")


def _signature(positional: tuple, kwargs: dict) -> str:
    leaves, tree = jax.tree.flatten((positional, kwargs))
    return str(tree) + str([(a.shape, str(a.dtype)) if _is_array(a) else repr(a) for a in leaves])


def _lowered_flops(fn: KernelFn, positional: tuple, kwargs: dict) -> float:
    """Flops XLA estimates for ``fn(*positional, **kwargs)``; array leaves become abstract, others static."""
    leaves, tree = jax.tree.flatten((positional, kwargs))
    mask = [_is_array(a) for a in leaves]
    specs = [jax.ShapeDtypeStruct(jnp.shape(a), a.dtype) for a, m in zip(leaves, mask, strict=True) if m]

    def run(*dynamic: ArrayLike) -> PyTree:
        it = iter(dynamic)
        pos, kw = jax.tree.unflatten(tree, [next(it) if m else a for a, m in zip(leaves, mask, strict=True)])
        return fn(*pos, **kw)

    try:
        cost = jax.jit(run).lower(*specs).cost_analysis()
    except Exception:  # a backend without cost analysis: no estimate
        return float("nan")
    if isinstance(cost, list | tuple):
        cost = cost[0] if cost else None
    return float(cost.get("flops", float("nan"))) if cost else float("nan")

