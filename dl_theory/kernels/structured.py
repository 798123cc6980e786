r"""Structured-derivative empirical NTK: weights that enter through one linear product are never differentiated.

If a parameter leaf :math:`W` is used exactly once, by a product :math:`y_{bj} = \sum_i a_{bi} W_{ij}` that is linear in
:math:`W` (:math:`b` the output positions, :math:`j` the output features, :math:`i` the contracted input entries), then
:math:`\partial f / \partial W_{ij} = \sum_b g_{bj}\, a_{bi}` with :math:`g = \partial f / \partial y`, and its NTK
contribution factorizes:

.. math::
    \Theta_W(x_1, x_2) = \sum_{b, c, j} g^{(1)}_{bj}\, g^{(2)}_{cj} \sum_i a^{(1)}_{bi}\, a^{(2)}_{ci}.

Two products have this form (the rules of neural-tangents' ``STRUCTURED_DERIVATIVES``; Novak et al., 2022, "Fast Finite
Width Neural Tangent Kernel", ICML, §4):

* ``dot_general`` (dense layers): :math:`a` is the other operand, :math:`b` its free axes, :math:`i` the contracted
  ones; on one example :math:`B = 1`, so the Jacobian with respect to :math:`W` (size :math:`O \cdot I \cdot J`) is
  replaced by :math:`g` (size :math:`O \cdot J`) and :math:`a`;
* ``conv_general_dilated`` with the weight as kernel (no feature or batch groups): :math:`a` holds the input patches
  (``jax.lax.conv_general_dilated_patches`` with the convolution's strides, padding and dilations), :math:`b` the batch
  and spatial output positions, :math:`j` the output channels.

The four-factor contraction is handed to ``jnp.einsum`` with an optimal path, which either contracts :math:`a a^\top`
and :math:`g g^\top` (cheap for dense layers) or forms :math:`\sum_b g_{bj} a_{bi}` as one batched GEMM per side (cheap
for convolutions with many positions) -- whichever has fewer flops. Every other leaf (biases, weights used twice) is
differentiated as in Jacobian contraction.

The products are found in the function's jaxpr (``jax.make_jaxpr``), which is re-evaluated with a zero "tap" added to
each such product's output, so that :math:`g` is the Jacobian with respect to the tap. Only JAX's public API is used:
``jax.make_jaxpr``, ``jax.extend.core``'s jaxpr types and primitive binding; nested ``jit`` calls are inlined, every
other primitive (custom derivatives, control flow) is bound unchanged.
"""

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.extend.core as jex
import jax.numpy as jnp

from dl_theory.kernels import axes as kernel_axes
from dl_theory.typing import PyTree

_CALLS = ("jit", "pjit", "closed_call", "core_call")  # call primitives whose body is inlined


class DotRule(NamedTuple):
    """``dot_general`` without batch axes; the weight is operand ``side`` (0 lhs, 1 rhs)."""

    side: int
    weight_contracting: tuple[int, ...]
    input_contracting: tuple[int, ...]
    input_ndim: int
    weight_ndim: int

    def input_matrix(self, a: jax.Array) -> jax.Array:
        """The other operand as ``(B, I)``: free axes first, contracting axes in pairing order."""
        free = [d for d in range(self.input_ndim) if d not in self.input_contracting]
        moved = jnp.transpose(a, free + list(self.input_contracting))
        return moved.reshape(math.prod(a.shape[d] for d in free), -1)

    def cotangent_matrix(self, g: jax.Array, n_out: int) -> jax.Array:
        """``g`` (output axes, then the product's axes: lhs free, rhs free) as ``(output axes, B, J)``."""
        n_a = self.input_ndim - len(self.input_contracting)
        n_w = self.weight_ndim - len(self.weight_contracting)
        a_axes, w_axes = (range(n_w, n_w + n_a), range(n_w)) if self.side == 0 else (range(n_a), range(n_a, n_a + n_w))
        return _group(g, n_out, list(a_axes), list(w_axes))


class ConvRule(NamedTuple):
    """``conv_general_dilated`` with the weight as kernel (rhs), one feature group and one batch group."""

    filter_shape: tuple[int, ...]
    window_strides: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    lhs_dilation: tuple[int, ...]
    rhs_dilation: tuple[int, ...]
    dimension_numbers: Any  # jax.lax.ConvDimensionNumbers

    def input_matrix(self, a: jax.Array) -> jax.Array:
        """The input's patches as ``(B, I)``: batch and spatial output positions, then patch entries."""
        patches = jax.lax.conv_general_dilated_patches(
            a, self.filter_shape, self.window_strides, self.padding, self.lhs_dilation, self.rhs_dilation,
            self.dimension_numbers, precision=jax.lax.Precision.HIGHEST,
        )
        out_spec = self.dimension_numbers.out_spec
        return _group(patches, 0, [out_spec[0], *out_spec[2:]], [out_spec[1]])

    def cotangent_matrix(self, g: jax.Array, n_out: int) -> jax.Array:
        out_spec = self.dimension_numbers.out_spec
        return _group(g, n_out, [out_spec[0], *out_spec[2:]], [out_spec[1]])


def _group(x: jax.Array, n_lead: int, rows: list[int], cols: list[int]) -> jax.Array:
    """``x`` with its first ``n_lead`` axes kept and the rest (numbered from 0) grouped as ``(rows, cols)``."""
    lead, rest = x.shape[:n_lead], x.shape[n_lead:]
    order = list(range(n_lead)) + [n_lead + d for d in rows] + [n_lead + d for d in cols]
    return jnp.transpose(x, order).reshape(*lead, math.prod(rest[d] for d in rows), math.prod(rest[d] for d in cols))


class Product(NamedTuple):
    """A weight leaf used once, linearly, by one equation: its rule and the equation's output."""

    leaf: int
    side: int
    rule: DotRule | ConvRule
    output: jax.ShapeDtypeStruct | None


def _rule(eqn: Any, side: int) -> DotRule | ConvRule | None:
    """The structured rule for the weight as operand ``side`` of ``eqn``, or ``None``."""
    if eqn.primitive.name not in ("dot_general", "conv_general_dilated") or eqn.invars[0] is eqn.invars[1]:
        return None
    ndims = [v.aval.ndim for v in eqn.invars]
    if eqn.primitive.name == "dot_general":
        contracting, batch = eqn.params["dimension_numbers"]
        if batch[0] or batch[1]:
            return None
        return DotRule(side, tuple(contracting[side]), tuple(contracting[1 - side]), ndims[1 - side], ndims[side])
    p = eqn.params
    if side != 1 or p["feature_group_count"] != 1 or p["batch_group_count"] != 1:
        return None
    dn, shape = p["dimension_numbers"], eqn.invars[1].aval.shape
    return ConvRule(tuple(shape[d] for d in dn.rhs_spec[2:]), tuple(p["window_strides"]),
                    tuple(map(tuple, p["padding"])), tuple(p["lhs_dilation"]), tuple(p["rhs_dilation"]), dn)


class Factors(NamedTuple):
    """One side's derivatives: Jacobians of the unstructured leaves, and ``g``, ``a`` per structured product.

    ``jacobians[k]`` and ``cotangents[k]`` map leaf indices to arrays with output leaf ``k``'s axes first
    (then the leaf's axes, or ``(B, J)``); ``inputs`` maps leaf indices to ``a`` as ``(B, I)``.
    """

    jacobians: list[dict[int, jax.Array]]
    cotangents: list[dict[int, jax.Array]]
    inputs: dict[int, jax.Array]


def _is_call(eqn: Any) -> bool:
    return eqn.primitive.name in _CALLS and isinstance(eqn.params.get("jaxpr"), jex.ClosedJaxpr)


def find_products(jaxpr: jex.Jaxpr) -> dict[int, list[Product]]:
    """Structured products of ``jaxpr`` (invars = parameter leaves), keyed by ``id`` of their equation (two when
    both operands are such weights)."""
    uses: dict[int, list] = {i: [] for i in range(len(jaxpr.invars))}

    def walk(jaxpr: jex.Jaxpr, leaf_of: dict) -> None:
        for eqn in jaxpr.eqns:
            leaves = {pos: leaf_of[v] for pos, v in enumerate(eqn.invars)
                      if not isinstance(v, jex.Literal) and v in leaf_of}
            if _is_call(eqn):
                inner = eqn.params["jaxpr"].jaxpr
                walk(inner, {inner.invars[pos]: leaf for pos, leaf in leaves.items()})
                continue
            for pos, leaf in leaves.items():
                uses[leaf].append((eqn, pos))
        for v in jaxpr.outvars:
            if not isinstance(v, jex.Literal) and v in leaf_of:
                uses[leaf_of[v]].append(None)

    walk(jaxpr, {v: i for i, v in enumerate(jaxpr.invars)})
    products: dict[int, list[Product]] = {}
    for leaf, found in uses.items():
        rule = _rule(*found[0]) if len(found) == 1 and found[0] is not None else None
        if rule is not None:
            eqn, side = found[0]
            y = eqn.outvars[0].aval
            products.setdefault(id(eqn), []).append(Product(leaf, side, rule, jax.ShapeDtypeStruct(y.shape, y.dtype)))
    return products


def _read(env: dict, v: Any) -> Any:
    return v.val if isinstance(v, jex.Literal) else env[v]


def _eval(jaxpr: jex.Jaxpr, consts: Sequence, args: Sequence, products: dict, taps: dict, inputs: dict) -> list:
    """Evaluate ``jaxpr``, adding ``taps[leaf]`` to each structured product and recording its other operand."""
    env = dict(zip(jaxpr.constvars, consts, strict=True))
    env.update(zip(jaxpr.invars, args, strict=True))
    for eqn in jaxpr.eqns:
        vals = [_read(env, v) for v in eqn.invars]
        if _is_call(eqn):
            closed = eqn.params["jaxpr"]
            outs = _eval(closed.jaxpr, closed.consts, vals, products, taps, inputs)
        else:
            bind = eqn.primitive.get_bind_params(eqn.params)  # JAX < 0.7 also returns sub-functions
            subfuns, params = bind if isinstance(bind, tuple) else ((), bind)
            outs = eqn.primitive.bind(*subfuns, *vals, **params)
            outs = list(outs) if eqn.primitive.multiple_results else [outs]
            for product in products.get(id(eqn), ()):
                inputs[product.leaf] = vals[1 - product.side]
                outs = [outs[0] + taps[product.leaf]]
        env.update(zip(eqn.outvars, outs, strict=True))
    return [_read(env, v) for v in jaxpr.outvars]


def factors(fn: Callable[[PyTree], PyTree], params: PyTree, jacobian: Callable) -> tuple[Factors, tuple[Product]]:
    """Derivatives of ``fn(params)`` (one side, or one example under ``vmap``) in factored form.

    Args:
        fn: the network on fixed inputs, a function of the parameters only.
        params: the parameter pytree.
        jacobian: ``jacobian(fn, args, out_size, n_args, has_aux)``, the forward/reverse-mode choice of Jacobian
            contraction.

    Returns:
        The :class:`Factors` and the structured :class:`Product` s without their output shapes (which depend on
        the batch size), so that both sides can be checked to agree.
    """
    leaves, treedef = jax.tree.flatten(params)
    closed = jax.make_jaxpr(lambda *ls: fn(jax.tree.unflatten(treedef, ls)))(*leaves)
    products = find_products(closed.jaxpr)
    by_leaf = {p.leaf: p for ps in products.values() for p in ps}
    free = {i: leaf for i, leaf in enumerate(leaves) if i not in by_leaf}
    taps = {i: jnp.zeros(p.output.shape, p.output.dtype) for i, p in by_leaf.items()}

    def run(args: tuple[dict, dict]) -> tuple[list, dict]:
        free_now, taps_now = args
        inputs: dict = {}
        values = [free_now.get(i, leaf) for i, leaf in enumerate(leaves)]
        return _eval(closed.jaxpr, closed.consts, values, products, taps_now, inputs), inputs

    n_args = sum(math.prod(jnp.shape(v)) for v in (*free.values(), *taps.values()))
    out_size = sum(math.prod(a.shape) for a in closed.out_avals)
    jac, inputs = jacobian(run, (free, taps), out_size, n_args, has_aux=True)
    cotangents = [{i: by_leaf[i].rule.cotangent_matrix(g, a.ndim) for i, g in j_taps.items()}
                  for (_, j_taps), a in zip(jac, closed.out_avals, strict=True)]
    inputs = {i: by_leaf[i].rule.input_matrix(a) for i, a in inputs.items()}
    layout = tuple(p._replace(output=None) for _, p in sorted(by_leaf.items()))
    return Factors([j_free for j_free, _ in jac], cotangents, inputs), layout


def kernel(
    f1: Factors, f2: Factors, k: int, shape1: Sequence[int], trace: Sequence[int], diag: Sequence[int],
    batch_axis: int | None,
) -> jax.Array:
    r"""NTK of output leaf ``k``: Jacobian contraction over unstructured leaves plus the structured products.

    Each product is contracted in whichever of two orders costs fewer multiply-adds (:func:`_factored_cost`,
    :func:`_jacobian_cost`): factored (:math:`g^{(1)} g^{(2)\top}` times :math:`a^{(1)} a^{(2)\top}`; dense
    layers) or through its Jacobian :math:`\sum_b g_{bj} a_{bi}`, formed once per side and contracted with the
    unstructured ones (convolutions, whose many output positions make :math:`a^{(1)} a^{(2)\top}` large).

    Args:
        f1, f2: the two sides' factors (output axes first; under ``vmap`` the example axis sits at
            ``batch_axis`` of the outputs and leads the recorded inputs); ``f2 is f1`` when ``x2`` is ``None``.
        k: the output leaf; ``shape1`` its shape on side 1.
        trace, diag: its canonical traced and diagonal axes.
        batch_axis: the example axis of the outputs under ``vmap``, else ``None``.
    """
    ndim = len(shape1)
    pairs = [(f1.jacobians[k][i], f2.jacobians[k][i]) for i in f1.jacobians[k]]
    lhs, rhs, out = kernel_axes.labels(ndim, 0, trace, diag)
    b1, b2, i_, j_ = range(2 * ndim, 2 * ndim + 4)
    n1, n2 = ([], []) if batch_axis is None else ([lhs[batch_axis]], [rhs[batch_axis]])
    scale = math.prod(shape1[t] for t in trace)
    factored = 0.0
    for i, g1 in f1.cotangents[k].items():
        g2, a1, a2 = f2.cotangents[k][i], f1.inputs[i], f2.inputs[i]
        n_pairs = math.prod(kernel_axes.kernel_shape(g1.shape[:ndim], g2.shape[:ndim], trace, diag)) * scale
        if _factored_cost(g1, a1, a2, n_pairs, batch_axis) <= _jacobian_cost(g1, g2, a1, n_pairs, ndim):
            factored = factored + jnp.einsum(
                g1, lhs + [b1, j_], g2, rhs + [b2, j_], a1, n1 + [b1, i_], a2, n2 + [b2, i_], out, optimize="optimal"
            ) / scale
        else:
            j1 = _jacobian(g1, a1, ndim, batch_axis)
            pairs.append((j1, j1 if f2 is f1 else _jacobian(g2, a2, ndim, batch_axis)))
    return factored + (kernel_axes.contract(pairs, ndim, trace, diag) if pairs else 0.0)


def _jacobian(g: jax.Array, a: jax.Array, ndim: int, batch_axis: int | None) -> jax.Array:
    r""":math:`J_{\dots ij} = \sum_b g_{\dots bj}\, a_{bi}`, the product's weight Jacobian as ``(outputs, I, J)``."""
    lead = list(range(ndim))
    b, i, j = ndim, ndim + 1, ndim + 2
    return jnp.einsum(g, lead + [b, j], a, ([] if batch_axis is None else [batch_axis]) + [b, i], lead + [i, j])


def _factored_cost(g1: jax.Array, a1: jax.Array, a2: jax.Array, n_pairs: int, batch_axis: int | None) -> int:
    """:math:`a^{(1)} a^{(2)\\top}` per pair of examples, then :math:`g^{(1)} g^{(2)\\top}` per output pair."""
    (b1, i), (b2, j) = a1.shape[-2:], (a2.shape[-2], g1.shape[-1])
    examples = 1 if batch_axis is None else a1.shape[0] * a2.shape[0]
    return examples * b1 * b2 * i + n_pairs * b1 * b2 * j


def _jacobian_cost(g1: jax.Array, g2: jax.Array, a1: jax.Array, n_pairs: int, ndim: int) -> int:
    """Both Jacobians :math:`\\sum_b g_{bj} a_{bi}`, then their contraction per output pair."""
    (b, j), i = g1.shape[-2:], a1.shape[-1]
    return (math.prod(g1.shape[:ndim]) + math.prod(g2.shape[:ndim])) * b * i * j + n_pairs * i * j
