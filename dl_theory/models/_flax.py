"""Flax modules as the pure ``(init_fn, apply_fn)`` pair that every analysis of this library takes.

:func:`from_flax` turns a ``flax.linen.Module`` or a ``flax.nnx.Module`` into a :class:`~dl_theory.typing.Model`:
``init_fn(key, input_shape) -> (output_shape, params)`` and ``apply_fn(params, x, **kwargs) -> y``, where ``params`` is
a plain nested dict of arrays. The empirical NTK (:func:`dl_theory.kernels.empirical_ntk_fn`), the Hessian and spectral
routines (:mod:`dl_theory.curvature.hessian`), the convergence estimates (:mod:`dl_theory.optim.convergence`), the
PAC-Bayes posterior and certificate (:mod:`dl_theory.generalization.pac_bayes`) and :func:`dl_theory.training.train`
then take the flax model unchanged, because they only ever see ``apply_fn`` and a parameter pytree.

For a linen module, ``params`` is the ``"params"`` collection of ``module.init`` and ``apply_fn`` is
``module.apply({"params": params}, x, **kwargs)``; ``init_fn`` draws fresh parameters from its key, as stax's does.
An nnx module is built eagerly, with its parameters already drawn, so ``init_fn`` returns the module's *current*
``nnx.Param`` values (``nnx.split(module, nnx.Param, ...)`` as a pure dict) and ignores its key: to draw new
parameters, build a new module from new ``nnx.Rngs`` and call :func:`from_flax` again. ``apply_fn`` rebuilds the
module with ``nnx.merge`` on every call, so the module passed in is never modified; trained parameters go back into
it with ``nnx.update(module, params)``.

The parameters are the whole state that an analysis differentiates and perturbs; anything else a module holds is
frozen into ``apply_fn``. That is only sound when a forward pass does not change it, so both adapters refuse state
that a call would update. A linen module may hold only the ``"params"`` collection (``init_fn`` raises on
``batch_stats`` and other collections: a pure ``apply_fn`` cannot return them). An nnx module may hold other
variables (BatchNorm's running statistics in evaluation mode, the keys of a deterministic Dropout, constants), but a
call that assigns a new value to any variable -- BatchNorm in training mode, Dropout drawing noise -- raises; call
``module.eval()`` first. The check looks at which variables a call reassigns, not at their values, so it adds
nothing to compiled code and also works under ``jit``, ``grad`` and ``vmap``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from dl_theory import checks
from dl_theory.typing import Model, Params, Shape


def from_flax(module: Any, *, input_dtype: DTypeLike = jnp.float32,
              init_kwargs: Mapping[str, Any] | None = None) -> Model:
    """The pure ``(init_fn, apply_fn)`` pair of a flax linen or nnx module (see the module docstring).

    Args:
      module: a ``flax.linen.Module`` instance (unbound) or a ``flax.nnx.Module`` instance.
      input_dtype: dtype of the dummy input with which ``init_fn`` initializes (linen) and infers the output shape.
      init_kwargs: keyword arguments of the module's call used by ``init_fn`` (e.g. ``{"train": False}``).

    Returns:
      ``Model(init_fn, apply_fn)``. ``init_fn(key, input_shape)`` returns ``(output_shape, params)``; entries ``-1``
      of ``input_shape`` (a batch axis of unknown size) give ``-1`` in every output axis whose size follows them.
      ``apply_fn(params, x, **kwargs)`` passes ``kwargs`` to the module's call; for linen, ``rngs=`` (e.g.
      ``{"dropout": key}``) goes to ``module.apply``.

    Raises:
      TypeError: ``module`` is not a flax linen or nnx module instance.
    """
    import flax.linen as nn
    from flax import nnx

    init_kwargs = dict(init_kwargs or {})
    if isinstance(module, nn.Module):
        init_fn, apply_fn = _linen(module, init_kwargs)
    elif isinstance(module, nnx.Module):
        init_fn, apply_fn = _nnx(module)
    else:
        raise TypeError(f"module must be a flax.linen.Module or flax.nnx.Module instance, got {_describe(module)}")

    def init(key: jax.Array, input_shape: Shape) -> tuple[Shape, Params]:
        input_shape = tuple(input_shape)
        for i, size in enumerate(input_shape):
            if checks.integer(f"input_shape[{i}]", size) == 0 or size < -1:
                raise checks.fail(f"input_shape[{i}]", "a positive size or -1 (any size)", size)
        params = init_fn(key, _concrete(input_shape, 1), input_dtype, init_kwargs)
        return _output_shape(apply_fn, params, input_shape, input_dtype, init_kwargs), params

    return Model(init, apply_fn)


def _describe(module: Any) -> str:
    if isinstance(module, type):
        return f"the class {module.__name__} (instantiate it first)"
    if isinstance(module, tuple):
        return "a tuple (stax triples and dl_theory Models already are pure functions: use them directly)"
    return f"{type(module).__name__}"


def _concrete(input_shape: Shape, batch: int) -> Shape:
    return tuple(batch if size == -1 else size for size in input_shape)


def _output_shape(apply_fn, params: Params, input_shape: Shape, dtype: DTypeLike, kwargs: dict) -> Shape:
    """Output shape(s) by abstract evaluation at two sizes of the ``-1`` axes; axes that follow them become -1."""

    def shapes(batch: int):
        x = jax.ShapeDtypeStruct(_concrete(input_shape, batch), dtype)
        return jax.tree.map(lambda y: y.shape, jax.eval_shape(lambda p, x: apply_fn(p, x, **kwargs), params, x))

    one = shapes(1)
    if -1 not in input_shape:
        return one
    two = shapes(2)
    return jax.tree.map(lambda a, b: tuple(-1 if m != n else m for m, n in zip(a, b, strict=True)), one, two,
                        is_leaf=lambda s: isinstance(s, tuple))


def _linen(module, init_kwargs: dict):
    if module.scope is not None:
        raise ValueError(f"module must be an unbound flax.linen.Module, got a bound {type(module).__name__} "
                         "(pass the module itself, not module.bind(...))")

    def init_fn(key: jax.Array, shape: Shape, dtype: DTypeLike, kwargs: dict) -> Params:
        variables = dict(module.init(key, jnp.zeros(shape, dtype), **kwargs))
        other = sorted(name for name in variables if name != "params")
        if other:
            raise ValueError(
                f"the variables of {type(module).__name__} must be only the 'params' collection, got also {other} "
                "(from_flax supports linen modules whose only variables are params, since apply_fn receives "
                "nothing else; normalize without running statistics, e.g. LayerNorm, or use an nnx module in "
                "eval mode for frozen BatchNorm statistics)")
        return variables.get("params", {})

    def apply_fn(params: Params, x: Any, **kwargs: Any) -> jax.Array:
        rngs = kwargs.pop("rngs", None)
        return module.apply({"params": params}, x, rngs=rngs, **kwargs)

    return init_fn, apply_fn


def _nnx(module):
    from flax import nnx

    graphdef, param_state, other_state = nnx.split(module, nnx.Param, ...)
    param_def, other_def = jax.tree.structure(param_state), jax.tree.structure(other_state)
    other_leaves = jax.tree.leaves(other_state)
    current = nnx.to_pure_dict(param_state)
    name = type(module).__name__

    def init_fn(key: jax.Array, shape: Shape, dtype: DTypeLike, kwargs: dict) -> Params:
        del key, shape, dtype, kwargs  # an nnx module's parameters already exist; the shape is checked by the caller
        return jax.tree.map(jnp.asarray, current)

    def apply_fn(params: Params, x: Any, **kwargs: Any) -> jax.Array:
        if isinstance(params, nnx.State):
            params = nnx.to_pure_dict(params)
        checks.same_tree("params", params, f"the parameters of {name}", current)
        param_leaves = jax.tree.leaves(params)
        # fresh Variables on every call: merge shares its Variable objects, and a call must not touch the closure
        model = nnx.merge(graphdef, jax.tree.unflatten(param_def, param_leaves),
                          jax.tree.unflatten(other_def, other_leaves))
        y = model(x, **kwargs)
        _, params_after, other_after = nnx.split(model, nnx.Param, ...)
        _check_unchanged(name, param_state, param_leaves, params_after, "parameters")
        _check_unchanged(name, other_state, other_leaves, other_after, "non-Param state")
        return y

    return init_fn, apply_fn


def _check_unchanged(name: str, template, before: list, after, what: str) -> None:
    """Raise if the call reassigned a variable (a new leaf object where the merged one was) or added one."""
    if jax.tree.structure(after) != jax.tree.structure(template):
        raise ValueError(f"the {what} of {name} must stay unchanged by a forward pass, got new variables "
                         f"{jax.tree.structure(after)} (e.g. from sow or lazy initialization)")
    changed = [jax.tree_util.keystr(path) for (path, _), old, new in zip(
        jax.tree_util.tree_leaves_with_path(template), before, jax.tree.leaves(after), strict=True) if new is not old]
    if changed:
        raise ValueError(
            f"the {what} of {name} must stay unchanged by a forward pass, got updates of {changed} (from_flax "
            "supports state a call only reads: call module.eval() for BatchNorm statistics and Dropout, or keep "
            "changing state out of the module)")
