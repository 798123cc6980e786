r"""Layer machinery: turn ``(init_fn, apply_fn, Kernel -> Kernel)`` into the public stax triple.

Every public layer is written as a function returning ``(init_fn, apply_fn, kfn)`` where ``kfn(k, **kwargs)`` maps a
:class:`~dl_theory.stax.kernel.Kernel` (or a list of them, for multi-input layers) to the output one. The :func:`layer`
decorator wraps ``kfn`` into the neural-tangents ``kernel_fn``::

    kernel_fn(x1_or_kernel, x2=None, get=None, *, diagonal_batch=None, diagonal_spatial=None, **kw)

which accepts raw inputs (and builds the input ``Kernel``
:math:`K^0(x, x')[s, s'] = \sum_c x[s, c]\, x'[s', c] / n_{\text{channels}}`) or a ``Kernel``; ``get`` is ``None`` (the
``Kernel``), a field name (that array) or a tuple of names (an ``AnalyticKernel`` namedtuple in the order asked).

Layout inference (``diagonal_spatial``): each ``kfn`` carries a *spatial rule* ``rule(out_ok) -> in_ok``: if the layer's
output may store only same-position covariances, may its input? Position-wise layers (``Dense``, nonlinearities, and
``Conv``, whose weights are independent across filter offsets) use :data:`SAME`; layers that drop the spatial axes using
only the diagonal (``Flatten``) use :data:`ANY`; layers that mix positions (pooling, attention, graph aggregation,
``LayerNorm`` over space) use :data:`FULL`. Combinators compose the rules. The network output is full unless the user
asks ``diagonal_spatial=True`` (an error if the network cannot give it). Kernel functions without a rule (e.g. user
code) get the full layout.
"""

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from dl_theory.kernels.axes import zip_axes
from dl_theory.kernels.get import canonicalize_get, kernel_tuple
from dl_theory.stax.kernel import FIELDS, Kernel, map_covariances

__all__ = ["ANY", "FULL", "SAME", "layer", "no_kernel", "spatial_rule", "with_rule", "axes_req", "with_axes"]

SpatialRule = Callable[[bool], bool]
SAME: SpatialRule = lambda out_ok: out_ok
ANY: SpatialRule = lambda out_ok: True
FULL: SpatialRule = lambda out_ok: False

_RULE_ATTR = "_dl_spatial_rule"
_AXES_ATTR = "_dl_axes_req"
_RAW_ATTR = "_dl_raw"


def with_rule(fn: Callable, rule: SpatialRule) -> Callable:
    """Attach a spatial rule to a kernel function (returns ``fn``)."""
    setattr(fn, _RULE_ATTR, rule)
    return fn


def spatial_rule(fn: Callable) -> SpatialRule:
    """The spatial rule of ``fn``; :data:`FULL` (the safe choice) when it has none."""
    return getattr(fn, _RULE_ATTR, FULL)


def with_axes(fn: Callable, batch_axis: int, channel_axis: int) -> Callable:
    """Attach the input ``(batch_axis, channel_axis)`` a layer requires (returns ``fn``)."""
    setattr(fn, _AXES_ATTR, (batch_axis, channel_axis))
    return fn


def axes_req(fn: Callable) -> tuple[int, int] | None:
    """The ``(batch_axis, channel_axis)`` that ``fn`` requires of its inputs, or ``None`` (no requirement)."""
    return getattr(fn, _AXES_ATTR, None)


def no_kernel(name: str) -> Callable:
    """A ``kfn`` for layers without an infinite-width kernel: raises a clear ``NotImplementedError``."""

    def kfn(k: Any, **kwargs: Any) -> Kernel:
        raise NotImplementedError(
            f"Layer `{name}` has no infinite-width kernel; use it only with init_fn/apply_fn."
        )

    return with_rule(kfn, FULL)


# ----------------------------------------------------------------------------------------------- input kernel


def _to_float(x: Any, name: str) -> jax.Array:
    if isinstance(x, Kernel) or isinstance(x, (str, dict)) or x is None:
        raise TypeError(f"`{name}` must be an array, got {type(x).__name__}.")
    return jnp.asarray(x, dtype=jax.dtypes.canonicalize_dtype(jnp.float64))


def _pair_cov(xa: jax.Array, xb: jax.Array, diagonal_spatial: bool) -> jax.Array:
    """``(Na, *S, C), (Nb, *S, C) -> (Na, Nb, *zipped S)`` averaged over channels."""
    c = xa.shape[-1]
    if diagonal_spatial:
        return jnp.einsum("i...c,j...c->ij...", xa, xb) / c
    s = xa.ndim - 2
    out = jnp.tensordot(xa, xb, axes=((xa.ndim - 1,), (xb.ndim - 1,)))  # (Na, *S, Nb, *S)
    out = jnp.moveaxis(out, 1 + s, 1)
    return zip_axes(out, 2) / c


def _self_cov(x: jax.Array, diagonal_batch: bool, diagonal_spatial: bool) -> jax.Array:
    if not diagonal_batch:
        return _pair_cov(x, x, diagonal_spatial)
    return jax.vmap(lambda xi: _pair_cov(xi[None], xi[None], diagonal_spatial)[0, 0])(x)


def inputs_to_kernel(
    x1: jax.Array,
    x2: jax.Array | None,
    *,
    diagonal_batch: bool,
    diagonal_spatial: bool,
    compute_ntk: bool,
    batch_axis: int,
    channel_axis: int,
    eps: float = 1e-12,
) -> Kernel:
    """The input ``Kernel``: :math:`K^0_{ij}[s, s'] = \\sum_c x_{1i}[s, c] x_{2j}[s', c] / n_c`; NTK 0."""
    x1 = _to_float(x1, "x1")
    if x1.ndim < 2:
        raise ValueError(f"Inputs need a batch and a channel axis (ndim >= 2), got `x1.shape == {x1.shape}`.")
    if not all(-x1.ndim <= a < x1.ndim for a in (batch_axis, channel_axis)) or (
        batch_axis % x1.ndim == channel_axis % x1.ndim
    ):
        raise ValueError(
            f"Wrong input rank: `x1.shape == {x1.shape}` has no distinct batch axis {batch_axis} and channel axis "
            f"{channel_axis} (the axes the network's first layer expects)."
        )
    b, c = batch_axis % x1.ndim, channel_axis % x1.ndim
    canon = lambda x: jnp.moveaxis(x, (b, c), (0, x.ndim - 1))
    x1c = canon(x1)
    if x2 is None:
        x2c, x1_is_x2 = None, jnp.array(True)
    else:
        x2 = _to_float(x2, "x2")
        x2c = canon(x2)
        if x2.ndim != x1.ndim or x2c.shape[1:] != x1c.shape[1:]:
            raise ValueError(
                f"`x1` and `x2` must agree in all axes but the batch axis, got {x1.shape} and {x2.shape}."
            )
        x1_is_x2 = jnp.array(False)
        if x2c.shape == x1c.shape:
            x1_is_x2 = jnp.max(jnp.abs(x1c - x2c)) < eps
    nngp = _pair_cov(x1c, x1c if x2c is None else x2c, diagonal_spatial)
    return Kernel(
        nngp=nngp,
        ntk=jnp.zeros((), nngp.dtype) if compute_ntk else None,
        cov1=_self_cov(x1c, diagonal_batch, diagonal_spatial),
        cov2=None if x2c is None else _self_cov(x2c, diagonal_batch, diagonal_spatial),
        x1_is_x2=x1_is_x2,
        diagonal_batch=diagonal_batch,
        diagonal_spatial=diagonal_spatial,
        shape1=tuple(x1.shape),
        shape2=tuple(x1.shape if x2 is None else x2.shape),
        batch_axis=b,
        channel_axis=c,
    )


# ----------------------------------------------------------------------------------------------- get / shapes


def _select(k: Any, single: bool, names: tuple[str, ...] | None) -> Any:
    """The fields ``names`` of a ``Kernel`` (or of each of a list of them); see the module docstring."""
    if names is None:
        return k
    if isinstance(k, list | tuple):
        if single:
            return type(k)(getattr(ki, names[0]) for ki in k)
        return kernel_tuple("AnalyticKernel", names)(*(type(k)(getattr(ki, n) for ki in k) for n in names))
    if single:
        return getattr(k, names[0])
    return kernel_tuple("AnalyticKernel", names)(*(getattr(k, n) for n in names))


def _out_shape(init_fn: Callable, shape: Any) -> Any:
    """Output shape of ``init_fn`` for ``shape`` (abstract evaluation, no parameters drawn)."""
    captured = []

    def f(key):
        out_shape, params = init_fn(key, shape)
        captured.append(out_shape)
        return params

    jax.eval_shape(f, jax.random.key(0))
    out = captured[0]
    if isinstance(out, list):
        return [tuple(int(d) for d in o) for o in out]
    return tuple(int(d) for d in out)


def _shapes(k: Any) -> tuple[Any, Any]:
    if isinstance(k, (list, tuple)):
        return [ki.shape1 for ki in k], [ki.shape2 for ki in k]
    return k.shape1, k.shape2


def _set_shapes(out: Any, s1: Any, s2: Any) -> Any:
    if isinstance(out, (list, tuple)):
        return [o.replace(shape1=a, shape2=b) for o, a, b in zip(out, s1, s2, strict=True)]
    return out.replace(shape1=s1, shape2=s2)


def _reverse_spatial(k: Any) -> Any:
    """Flip the order of the spatial axis pairs (neural-tangents' ``is_reversed`` storage) of full layouts."""
    if isinstance(k, (list, tuple)):
        return [_reverse_spatial(ki) for ki in k]
    if not k.is_reversed or k.diagonal_spatial:
        return k

    def rev(mat: jax.Array, nb: int) -> jax.Array:
        s = (mat.ndim - nb) // 2
        order = [nb + 2 * d + j for d in reversed(range(s)) for j in (0, 1)]
        return jnp.transpose(mat, tuple(range(nb)) + tuple(order))

    return map_covariances(k, rev)


def raw(kernel_fn: Callable) -> Callable:
    """The ``Kernel -> Kernel`` map behind a public ``kernel_fn`` (natural spatial order, for combinators)."""
    return getattr(kernel_fn, _RAW_ATTR, kernel_fn)


def _is_kernel_tree(x: Any) -> bool:
    if isinstance(x, (list, tuple)):
        return len(x) > 0 and all(isinstance(xi, Kernel) for xi in x)
    return isinstance(x, Kernel)


# ----------------------------------------------------------------------------------------------- decorator


def make_kernel_fn(init_fn: Callable, kfn: Callable, name: str) -> Callable:
    """The public ``kernel_fn`` for an internal ``kfn`` (see the module docstring)."""
    rule = spatial_rule(kfn)
    axes = axes_req(kfn)

    def on_kernel(k: Any, **kwargs: Any) -> Any:
        out = kfn(k, **kwargs)
        s1, s2 = _shapes(k)
        if s1 is None or (isinstance(s1, list) and any(s is None for s in s1)):
            return out
        return _set_shapes(out, _out_shape(init_fn, s1), _out_shape(init_fn, s2))

    def kernel_fn(
        x1_or_kernel: Any,
        x2: Any = None,
        get: str | tuple[str, ...] | None = None,
        *,
        diagonal_batch: bool | None = None,
        diagonal_spatial: bool | None = None,
        batch_axis: int | None = None,
        channel_axis: int | None = None,
        **kwargs: Any,
    ) -> Any:
        single, names = canonicalize_get(get, FIELDS)
        if _is_kernel_tree(x1_or_kernel):
            if x2 is not None:
                raise TypeError("`x2` must be None when `kernel_fn` is applied to a Kernel.")
            out = on_kernel(_reverse_spatial(x1_or_kernel), **kwargs)
            return _select(_reverse_spatial(out), single, names)
        if diagonal_spatial is None:
            diag_s = bool(rule(False))
        else:
            diag_s = bool(diagonal_spatial)
            if diag_s and not rule(True):
                raise ValueError(
                    f"Asked for `diagonal_spatial=True`, but `{name}` needs off-diagonal spatial covariances "
                    "(pooling, attention, aggregation or normalization over space); use the default None."
                )
        b_default, c_default = axes if axes is not None else (0, -1)
        make = functools.partial(
            inputs_to_kernel,
            diagonal_batch=True if diagonal_batch is None else bool(diagonal_batch),
            diagonal_spatial=diag_s,
            compute_ntk=names is None or "ntk" in names,
            batch_axis=b_default if batch_axis is None else batch_axis,
            channel_axis=c_default if channel_axis is None else channel_axis,
        )
        if isinstance(x1_or_kernel, (list, tuple)):
            x2s = [None] * len(x1_or_kernel) if x2 is None else x2
            if not isinstance(x2s, (list, tuple)) or len(x2s) != len(x1_or_kernel):
                raise ValueError(f"`x2` must be None or a list like `x1` of length {len(x1_or_kernel)}.")
            k = [make(a, b) for a, b in zip(x1_or_kernel, x2s, strict=True)]
        else:
            k = make(x1_or_kernel, x2)
        return _select(_reverse_spatial(on_kernel(k, **kwargs)), single, names)

    kernel_fn.__name__ = name
    with_rule(kernel_fn, rule)
    setattr(kernel_fn, _RAW_ATTR, on_kernel)
    if axes is not None:
        with_axes(kernel_fn, *axes)
    return kernel_fn


def layer(layer_fn: Callable[..., tuple[Callable, Callable, Callable]]) -> Callable[..., tuple]:
    """Decorator: a constructor returning ``(init_fn, apply_fn, kfn)`` becomes a public stax layer.

    ``kfn(k, **kwargs)`` maps a ``Kernel`` (or list of them) to a ``Kernel`` (or list); attach its
    spatial rule with :func:`with_rule` and an input-axes requirement with :func:`with_axes`. The public
    ``kernel_fn`` is described in the module docstring.
    """
    name = layer_fn.__name__

    @functools.wraps(layer_fn)
    def public(*args: Any, **kwargs: Any) -> tuple[Callable, Callable, Callable]:
        init_fn, apply_fn, kfn = layer_fn(*args, **kwargs)
        kernel_fn = make_kernel_fn(init_fn, kfn, name)
        init_fn.__name__ = apply_fn.__name__ = name
        return init_fn, apply_fn, kernel_fn

    return public


def check_layer(lyr: Any, where: str) -> tuple[Callable, Callable, Callable]:
    """Validate that ``lyr`` is an ``(init_fn, apply_fn, kernel_fn)`` triple; ``where`` names the argument."""
    if isinstance(lyr, (tuple, list)) and len(lyr) == 2 and all(callable(f) for f in lyr):
        raise TypeError(
            f"{where} is an (init_fn, apply_fn) pair without a kernel_fn (e.g. a jax.example_libraries.stax "
            "layer); use the dl_theory.stax layer of the same name."
        )
    if not (isinstance(lyr, (tuple, list)) and len(lyr) == 3 and all(callable(f) for f in lyr)):
        raise TypeError(f"{where} must be an (init_fn, apply_fn, kernel_fn) triple, got {type(lyr).__name__}")
    return tuple(lyr)


def check_ndim(shape: Sequence[int], ndim: int | Sequence[int], name: str) -> None:
    """Raise a ``ValueError`` naming layer ``name`` when ``len(shape)`` is not (one of) ``ndim``."""
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if len(shape) not in allowed:
        ranks = " or ".join(map(str, allowed))
        raise ValueError(f"`{name}` expects inputs of rank {ranks}, got shape {tuple(shape)}.")


def spatial_shape(shape: Sequence[int], batch_axis: int, channel_axis: int) -> tuple[int, ...]:
    """Sizes of the spatial axes (all but batch and channel), in order."""
    n = len(shape)
    return tuple(int(d) for i, d in enumerate(shape) if i not in (batch_axis % n, channel_axis % n))

