r"""Combinators: ``serial``, ``parallel`` and ``repeat`` of ``(init_fn, apply_fn, kernel_fn)`` layers.

Composition acts on all three functions at once: parameters are initialised layer by layer (one fresh key per layer, as
in ``jax.example_libraries.stax``), inputs flow through ``apply_fn``s, and ``Kernel``s through ``kernel_fn``s, since the
infinite-width limit of a composition is the composition of the limits (Novak et al., 2020, arXiv:1912.02803, Sec. 2).
"""

from collections.abc import Callable
from typing import Any

import jax
from jax import lax

from dl_theory import checks
from dl_theory.stax.layer import axes_req, check_layer, layer, raw, spatial_rule, with_axes, with_rule

__all__ = ["parallel", "repeat", "serial"]


def _annotate(kfn: Callable, rule: Callable[[bool], bool], kernel_fns: tuple[Callable, ...]) -> Callable:
    """``kfn`` with its spatial ``rule`` and the input axes that the first of ``kernel_fns`` to require any needs."""
    with_rule(kfn, rule)
    axes = next((a for a in map(axes_req, kernel_fns) if a is not None), None)
    return kfn if axes is None else with_axes(kfn, *axes)


def _serial_rule(kernel_fns: tuple[Callable, ...]) -> Callable[[bool], bool]:
    """The spatial rule of ``kernel_fns`` applied one after the other (rules compose from the output back)."""

    def rule(out_ok: bool) -> bool:
        for f in reversed(kernel_fns):
            out_ok = spatial_rule(f)(out_ok)
        return out_ok

    return rule


def _split_rngs(kwargs: dict[str, Any], n: int) -> tuple[dict[str, Any], list[Any]]:
    rng = kwargs.pop("rng", None)
    rngs = [None] * n if rng is None else list(jax.random.split(rng, n))
    return kwargs, rngs


@layer
def serial(*layers: tuple) -> tuple[Callable, Callable, Callable]:
    """Serial composition ``layers[-1] o ... o layers[0]``.

    Parameters are a list with one entry per layer (as ``jax.example_libraries.stax.serial``); ``apply_fn``
    splits an optional ``rng`` keyword into one key per layer.

    Args:
      *layers: ``(init_fn, apply_fn, kernel_fn)`` triples.

    Returns:
      ``(init_fn, apply_fn, kernel_fn)``.
    """
    layers = tuple(check_layer(lyr, f"serial: layer {i}") for i, lyr in enumerate(layers))
    init_fns, apply_fns, kernel_fns = zip(*layers, strict=True) if layers else ((), (), ())

    def init_fn(key: jax.Array, input_shape: Any) -> tuple[Any, list]:
        params = []
        for f in init_fns:
            key, layer_key = jax.random.split(key)
            input_shape, p = f(layer_key, input_shape)
            params.append(p)
        return input_shape, params

    def apply_fn(params: list, inputs: Any, **kwargs: Any) -> Any:
        kwargs, rngs = _split_rngs(kwargs, len(apply_fns))
        for f, p, r in zip(apply_fns, params, rngs, strict=True):
            inputs = f(p, inputs, rng=r, **kwargs)
        return inputs

    def kfn(k: Any, **kwargs: Any) -> Any:
        for f in kernel_fns:
            k = raw(f)(k, **kwargs)
        return k

    return init_fn, apply_fn, _annotate(kfn, _serial_rule(kernel_fns), kernel_fns)


@layer
def parallel(*layers: tuple) -> tuple[Callable, Callable, Callable]:
    """Parallel composition: layer ``i`` acts on the ``i``-th element of a list (or tuple) of inputs.

    Typically between ``FanOut`` and a ``FanIn*`` layer (residual blocks). Parameters are a tuple with one entry
    per layer.

    Args:
      *layers: ``(init_fn, apply_fn, kernel_fn)`` triples.

    Returns:
      ``(init_fn, apply_fn, kernel_fn)``; each maps a sequence of the same length as ``layers``.
    """
    layers = tuple(check_layer(lyr, f"parallel: layer {i}") for i, lyr in enumerate(layers))
    init_fns, apply_fns, kernel_fns = zip(*layers, strict=True) if layers else ((), (), ())
    n = len(layers)

    def _check(xs: Any, what: str) -> None:
        if not isinstance(xs, (list, tuple)) or len(xs) != n:
            got = f"a {type(xs).__name__} of length {len(xs)}" if isinstance(xs, (list, tuple)) else type(xs)
            raise ValueError(f"parallel of {n} layers expects {what} to be a list of length {n}, got {got}.")

    def init_fn(key: jax.Array, input_shape: Any) -> tuple[Any, tuple]:
        _check(input_shape, "input_shape")
        keys = jax.random.split(key, n)
        outs = [f(kk, s) for f, kk, s in zip(init_fns, keys, input_shape, strict=True)]
        return type(input_shape)(o[0] for o in outs), tuple(o[1] for o in outs)

    def apply_fn(params: tuple, inputs: Any, **kwargs: Any) -> Any:
        _check(inputs, "inputs")
        kwargs, rngs = _split_rngs(kwargs, n)
        outs = [f(p, x, rng=r, **kwargs) for f, p, x, r in zip(apply_fns, params, inputs, rngs, strict=True)]
        return type(inputs)(outs)

    def kfn(ks: Any, **kwargs: Any) -> Any:
        _check(ks, "its kernels")
        return type(ks)(raw(f)(k, **kwargs) for f, k in zip(kernel_fns, ks, strict=True))

    rule = lambda out_ok: all(spatial_rule(f)(out_ok) for f in kernel_fns)
    return init_fn, apply_fn, _annotate(kfn, rule, kernel_fns)


@layer
def repeat(layer: tuple, n: int) -> tuple[Callable, Callable, Callable]:
    """``serial(*[layer] * n)`` with independent parameters per copy, compiled as one ``lax.scan``.

    Parameters are those of ``layer`` stacked along a new leading axis of size ``n``. ``layer`` must keep the
    activation shape (and the ``Kernel`` metadata) unchanged.

    Args:
      layer: an ``(init_fn, apply_fn, kernel_fn)`` triple whose output shape equals its input shape.
      n: number of repetitions (``n >= 0``).

    Returns:
      ``(init_fn, apply_fn, kernel_fn)``.
    """
    init_f, apply_f, kernel_f = check_layer(layer, "repeat: layer")
    n = checks.at_least(0)("n", n)

    def init_fn(key: jax.Array, input_shape: Any) -> tuple[Any, Any]:
        shape_out = [None]

        def one(kk: jax.Array) -> Any:
            s, p = init_f(kk, input_shape)
            shape_out[0] = s
            return p

        jax.eval_shape(one, key)
        if tuple(shape_out[0]) != tuple(input_shape):
            raise ValueError(
                f"repeat: the layer maps shape {tuple(input_shape)} to {tuple(shape_out[0])}; it must keep "
                "the shape. Use serial(*[layer] * n) instead."
            )

        def body(carry: jax.Array, _: None) -> tuple[jax.Array, Any]:
            carry, layer_key = jax.random.split(carry)
            return carry, init_f(layer_key, input_shape)[1]

        _, params = lax.scan(body, key, None, length=n)
        return input_shape, params

    def apply_fn(params: Any, inputs: jax.Array, **kwargs: Any) -> jax.Array:
        def body(x: jax.Array, p: Any) -> tuple[jax.Array, None]:
            return apply_f(p, x, **kwargs), None

        out, _ = lax.scan(body, inputs, params, length=n)
        return out

    def kfn(k: Any, **kwargs: Any) -> Any:
        if n == 0:
            return k
        step = raw(kernel_f)
        k = step(k, **kwargs)
        k, _ = lax.scan(lambda c, _: (step(c, **kwargs), None), k, None, length=n - 1)
        return k

    return init_fn, apply_fn, _annotate(kfn, _serial_rule((kernel_f,) * n), (kernel_f,))
