"""Argument handling shared by the empirical kernels: kwargs splitting, ``vmap_axes``, input/param checks.

Conventions follow neural-tangents' empirical kernels (Novak et al., 2022, "Fast Finite Width Neural Tangent Kernel",
ICML): ``x2=None`` means ``x2 = x1``; a keyword argument given as a pair ``(v1, v2)`` goes ``v1`` to ``f(params, x1)``
and ``v2`` to ``f(params, x2)``; an ``rng`` key is reused for ``x2`` when ``x2`` equals ``x1`` and folded with 1
otherwise.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from dl_theory.typing import PyTree, VmapAxes


def split_kwargs(kwargs: dict[str, Any], x1: PyTree, x2: PyTree | None) -> tuple[dict, dict]:
    """Split ``apply_fn`` keyword arguments into those for ``x1`` and those for ``x2``."""
    kw1, kw2 = {}, {}
    for k, v in kwargs.items():
        if k == "rng" and x2 is not None and v is not None:
            kw1[k], kw2[k] = _split_rng(v, x1, x2)
        elif isinstance(v, tuple) and len(v) == 2:
            kw1[k], kw2[k] = v
        else:
            kw1[k] = kw2[k] = v
    return kw1, kw2


def _split_rng(key: jax.Array, x1: PyTree, x2: PyTree) -> tuple[jax.Array, jax.Array]:
    same = jax.tree.structure(x1) == jax.tree.structure(x2) and all(
        a.shape == b.shape for a, b in zip(jax.tree.leaves(x1), jax.tree.leaves(x2), strict=True)
    )
    if not same:
        return key, jax.random.fold_in(key, 1)
    pairs = zip(jax.tree.leaves(x1), jax.tree.leaves(x2), strict=True)
    equal = jnp.all(jnp.stack([jnp.all(a == b) for a, b in pairs]))
    return key, jnp.where(equal, key, jax.random.fold_in(key, 1))


class BatchAxes(NamedTuple):
    """Canonical ``vmap_axes``: batch axis per leaf of ``x``, of ``f(x)``, and per keyword argument."""

    x: PyTree
    fx: PyTree
    kw: dict[str, int | None]


def _triple(vmap_axes: VmapAxes) -> tuple[Any, Any, Any]:
    if isinstance(vmap_axes, tuple) and len(vmap_axes) == 3:
        return vmap_axes
    return vmap_axes, vmap_axes, {}


def _mod_axes(axes: PyTree, tree: PyTree, name: str) -> PyTree:
    """Per-leaf non-negative axes (``None`` leaves kept) for the leaves of ``tree``."""
    if isinstance(axes, int):
        axes = jax.tree.map(lambda _: axes, tree)
    try:
        return jax.tree.map(lambda a, t: None if a is None else a % max(len(jnp.shape(t)), 1), axes, tree,
                            is_leaf=lambda a: a is None)
    except ValueError as err:
        raise ValueError(f"`vmap_axes` {name} axes {axes!r} do not match the structure of the {name}.") from err


def input_batch_axes(vmap_axes: VmapAxes, x: PyTree) -> PyTree | None:
    """The per-leaf input axes of ``vmap_axes`` (``None`` if ``vmap_axes`` is ``None``)."""
    return None if vmap_axes is None else _mod_axes(_triple(vmap_axes)[0], x, "input")


def canonicalize_vmap_axes(vmap_axes: VmapAxes, x: PyTree, fx: PyTree, kwargs: dict[str, Any]) -> BatchAxes | None:
    """Interpret ``vmap_axes`` as neural-tangents does: a triple ``(in_axes, out_axes, kwargs_axes)`` or one
    axis used for inputs and outputs (``kwargs_axes = {}``); ``None`` means no batch structure."""
    if vmap_axes is None:
        return None
    x_axis, fx_axis, kw_axes = _triple(vmap_axes)
    if isinstance(kw_axes, int):
        kw_axes = dict.fromkeys(kwargs, kw_axes)
    unknown = set(kw_axes) - set(kwargs)
    if unknown:
        raise ValueError(f"`vmap_axes` names keyword arguments {sorted(unknown)} that were not passed.")
    return BatchAxes(
        _mod_axes(x_axis, x, "input"),
        _mod_axes(fx_axis, fx, "output"),
        {k: None if a is None else a % max(jnp.ndim(kwargs[k]), 1) for k, a in kw_axes.items()},
    )


def check_inputs(x1: PyTree, x2: PyTree | None, x_axis: PyTree | None) -> None:
    """``x1`` and ``x2`` must have one structure and equal shapes except along the batch axis (0 by default,
    the ``vmap_axes`` input axis when given).

    Raises:
        ValueError: naming the first leaf whose trailing shape differs.
    """
    if x2 is None:
        return
    leaves1, tree1 = jax.tree.flatten(x1)
    leaves2, tree2 = jax.tree.flatten(x2)
    if tree1 != tree2:
        raise ValueError(f"x1 and x2 must have the same pytree structure, got {tree1} and {tree2}.")
    axes = [0] * len(leaves1) if x_axis is None else jax.tree.leaves(x_axis, is_leaf=lambda a: a is None)
    for i, (a, b, ax) in enumerate(zip(leaves1, leaves2, axes, strict=True)):
        s1, s2 = jnp.shape(a), jnp.shape(b)
        drop = () if (ax is None or not s1) else (ax,)
        rest1 = tuple(n for j, n in enumerate(s1) if j not in drop)
        rest2 = tuple(n for j, n in enumerate(s2) if j not in drop)
        if len(s1) != len(s2) or rest1 != rest2:
            raise ValueError(
                f"x1 and x2 must agree on all axes but the batch axis {drop or '(none)'}: input leaf {i} has "
                f"shapes {s1} and {s2}."
            )


def output_shapes(f: Any, params: PyTree, x: PyTree, kwargs: dict[str, Any], name: str) -> PyTree:
    """``jax.eval_shape`` of ``f(params, x, **kwargs)``, turning a failure into a clear ``ValueError``."""
    try:
        out = jax.eval_shape(lambda p, xx, kw: f(p, xx, **kw), params, x, kwargs)
    except Exception as err:  # any failure inside user code means the arguments do not fit `f`
        p_shapes = jax.tree.map(jnp.shape, params)
        x_shapes = jax.tree.map(jnp.shape, x)
        raise ValueError(
            f"`f(params, {name}, **kwargs)` failed: the params (leaf shapes {p_shapes}) or {name} "
            f"(shapes {x_shapes}) do not fit the function. Original error: {type(err).__name__}: {err}"
        ) from err
    for leaf in jax.tree.leaves(params):
        if not jnp.issubdtype(jnp.result_type(leaf), jnp.inexact):
            raise TypeError(f"params must have floating-point leaves to differentiate, got dtype {leaf.dtype}.")
    return out


def expand(tree: PyTree, axes: PyTree | None) -> PyTree:
    """Re-insert a size-1 batch axis at ``axes`` (a per-leaf tree, ``None`` leaves untouched)."""
    if axes is None:
        return tree
    return jax.tree.map(lambda a, t: t if a is None else jnp.expand_dims(t, a), axes, tree,
                        is_leaf=lambda a: a is None)


def squeeze(tree: PyTree, axes: PyTree) -> PyTree:
    """Remove the size-1 batch axis at ``axes`` (per leaf)."""
    return jax.tree.map(lambda a, t: jnp.squeeze(t, a), axes, tree)


def per_example_fn(f: Any, batch_axes: BatchAxes, keys: list[str]) -> Any:
    """``fn(params, x_i, *kw_i)``: ``f`` on one example (batch axes removed), output squeezed at ``batch_axes.fx``."""
    def fn(params: PyTree, x_i: PyTree, *kw_vals: Any) -> PyTree:
        kw = {k: v if batch_axes.kw.get(k) is None else jnp.expand_dims(v, batch_axes.kw[k])
              for k, v in zip(keys, kw_vals, strict=True)}
        return squeeze(f(params, expand(x_i, batch_axes.x), **kw), batch_axes.fx)

    return fn
