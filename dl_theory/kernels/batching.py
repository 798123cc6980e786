"""Compute large kernels in tiles, spread over all devices (neural-tangents' ``nt.batch`` on ``jax.sharding``).

``batch(kernel_fn, batch_size, device_count, store_on_device)`` returns a function with the signature of
``kernel_fn(x1, x2=None, *args, **kwargs)`` that cuts the kernel matrix into tiles: ``x1`` into row blocks of
``batch_size * device_count`` inputs and ``x2`` into column blocks of ``batch_size`` inputs. Each row block is split
over a 1-D :class:`jax.sharding.Mesh` of devices by :func:`jax.shard_map` (device ``i`` computes a
``batch_size x batch_size`` tile against the replicated column block), the tiles are computed one after the other by one
compiled function, and the result is reassembled. Tiling is exact for kernels that act independently on each pair of
inputs (every ``stax`` kernel without batch-coupling layers, every empirical kernel), so results agree with the untiled
``kernel_fn`` and across device counts up to float round-off. One caveat: with ``x2=None`` a tile does not know that its
rows and columns are the same points, so arc-cosine kernels (ReLU family, ``Sign``) see a self-correlation of 1 - O(eps)
instead of exactly 1 on the diagonal; their diagonal entries then differ from the untiled ones by O(sqrt(eps)) relative
(about 1e-4 in float32, 1e-8 in float64).

Outputs may be arrays or any pytree of arrays (a ``Kernel``, a namedtuple). Which axis of each output leaf is indexed by
``x1`` (rows) and which by ``x2`` (columns) is found from abstract evaluations (:func:`jax.eval_shape`) with one more
row or column; static fields (e.g. ``Kernel.shape1``) are taken from an abstract evaluation on the full inputs. Keyword
arguments given as a pair ``(v1, v2)`` of arrays (e.g. graph ``pattern``; ``v2=None`` means ``v2 = v1``) are cut along
with ``x1`` and ``x2``; other arrays (parameters, keys) are passed whole to every tile.
"""

import functools
import math
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, PartitionSpec

from dl_theory import checks
from dl_theory.tree import is_array_tree, leading_size

_F = TypeVar("_F", bound=Callable[..., Any])
_AXIS = "batch"


def batch(kernel_fn: _F, batch_size: int = 0, device_count: int = -1, store_on_device: bool = True) -> _F:
    """Returns ``kernel_fn`` computed in ``batch_size x batch_size`` tiles over ``device_count`` devices.

    Args:
      kernel_fn: ``kernel_fn(x1, x2=None, *args, **kwargs)`` returning an array or a pytree of arrays; ``x1`` and
        ``x2`` are arrays (or pytrees of arrays) with a leading batch axis.
      batch_size: inputs per tile side; ``0`` computes the whole kernel at once. ``x1.shape[0]`` must be
        divisible by ``batch_size * device_count`` and ``x2.shape[0]`` by ``batch_size`` (a ``batch_size`` above
        ``gcd(n1, n2) / device_count`` is reduced to it, with a warning).
      device_count: devices to spread row blocks over; ``-1`` all local devices, ``0`` one device.
      store_on_device: ``False`` moves every tile to host memory as it is computed (larger kernels fit).

    Returns:
      A function with the signature and results of ``kernel_fn``.
    """
    batch_size = checks.at_least(0)("batch_size", batch_size)
    device_count = checks.at_least(-1)("device_count", device_count)
    cache: dict[Any, Callable] = {}

    @functools.wraps(kernel_fn)
    def batched_fn(x1: Any, x2: Any = None, *args: Any, **kwargs: Any) -> Any:
        if not _is_input(x1) or not (x2 is None or _is_input(x2)):
            raise TypeError(
                f"x1, x2: batch() tiles inputs (arrays or lists/tuples of arrays), got {type(x1).__name__} and "
                f"{type(x2).__name__}; batching a Kernel input is not supported."
            )
        n1 = leading_size("x1", x1)
        n2 = n1 if x2 is None else leading_size("x2", x2)
        devices = _devices(device_count, n1)
        n1_tile, n2_tile = _tile_sizes(n1, n2, batch_size, len(devices))
        call = _Call(kernel_fn, args, kwargs)
        xs2 = x1 if x2 is None else x2
        signature = jax.tree.map(lambda a: (a.shape, str(a.dtype)), (x1, x2, call.arrays, call.pairs))
        key = _cache_key(call, signature, n1_tile, n2_tile, len(devices))
        if key is None or key not in cache:
            out_struct = jax.eval_shape(call.function(x2 is None), x1, x2, call.arrays, call.pairs)
            layout = _layout(call, x1, xs2, n1_tile // len(devices), n2_tile)
            entry = (out_struct, layout, _compile(call, layout, devices))
            if key is None:
                cache.clear()
            cache[key] = entry
        out_struct, layout, tile_fn = cache[key]
        rows = []
        for i in range(n1 // n1_tile):
            row = []
            for j in range(n2 // n2_tile):
                tile = tile_fn(
                    _take(x1, i, n1_tile),
                    _take(xs2, j, n2_tile),
                    call.arrays,
                    _take_pairs(call.pairs, i, n1_tile, j, n2_tile),
                )
                row.append(tile if store_on_device else jax.device_get(tile))
            rows.append(row)
        return _assemble(rows, layout, out_struct, store_on_device)

    return batched_fn


class _Call:
    """``kernel_fn`` with its non-array arguments closed over and array arguments exposed as pytrees."""

    def __init__(self, kernel_fn: Callable, args: tuple, kwargs: dict):
        self.kernel_fn = kernel_fn
        self.arg_is_array = tuple(is_array_tree(a) for a in args)
        self.statics = tuple(None if is_arr else a for a, is_arr in zip(args, self.arg_is_array, strict=True))
        self.pair_keys = tuple(k for k, v in kwargs.items() if _is_pair(v))
        self.kw_array_keys = tuple(k for k, v in kwargs.items() if k not in self.pair_keys and is_array_tree(v))
        self.kw_statics = {k: v for k, v in kwargs.items() if k not in self.pair_keys + self.kw_array_keys}
        self.arrays = (
            tuple(a for a, is_arr in zip(args, self.arg_is_array, strict=True) if is_arr),
            {k: kwargs[k] for k in self.kw_array_keys},
        )
        # ``(v1, None)``: the second input's value is the first's (the pair for ``x2=None``).
        self.pairs = ({k: kwargs[k][0] for k in self.pair_keys},
                      {k: kwargs[k][0] if kwargs[k][1] is None else kwargs[k][1] for k in self.pair_keys})

    def function(self, x2_is_none: bool = False) -> Callable:
        """``(x1, x2, arrays, pairs) -> kernel_fn(x1, x2, *args, **kwargs)``."""

        def fn(x1, x2, arrays, pairs):
            it = iter(arrays[0])
            args = tuple(next(it) if is_arr else s for is_arr, s in zip(self.arg_is_array, self.statics, strict=True))
            pair_kw = {k: (pairs[0][k], pairs[1][k]) for k in self.pair_keys}
            return self.kernel_fn(x1, None if x2_is_none else x2, *args, **arrays[1], **pair_kw, **self.kw_statics)

        return fn


def _is_input(x: Any) -> bool:
    if isinstance(x, np.ndarray | jax.Array):
        return True
    return type(x) in (list, tuple) and bool(x) and all(_is_input(u) for u in x)


def _is_pair(v: Any) -> bool:
    return isinstance(v, tuple) and len(v) == 2 and is_array_tree(v[0]) and (v[1] is None or is_array_tree(v[1]))


def _devices(device_count: int, n1: int) -> list:
    available = jax.local_devices()
    if device_count == 0:
        return available[:1]
    count = len(available) if device_count == -1 else device_count
    if count > len(available):
        raise checks.fail("device_count", f"at most the {len(available)} local devices", device_count)
    return available[: min(count, n1)]


def _tile_sizes(n1: int, n2: int, batch_size: int, n_devices: int) -> tuple[int, int]:
    """Rows of ``x1`` per tile (over all devices) and columns of ``x2`` per tile."""
    if batch_size == 0:
        if n1 % n_devices:
            raise ValueError(
                f"x1: {n1} inputs cannot be split over {n_devices} devices; pass batch_size or "
                "device_count dividing it."
            )
        return n1, n2
    max_size = math.gcd(n1, n2) // n_devices
    if max_size == 0:
        raise ValueError(f"batch_size: no tile size fits n1={n1}, n2={n2} on {n_devices} devices.")
    size = min(batch_size, max_size)
    if size != batch_size:
        warnings.warn(
            f"Batch size is reduced from requested {batch_size} to effective {size} to fit the dataset.", stacklevel=3
        )
    if n1 % (size * n_devices) or n2 % size:
        raise ValueError(
            f"batch_size: n1={n1} must be divisible by batch_size * device_count = "
            f"{size * n_devices} and n2={n2} by batch_size = {size}."
        )
    return size * n_devices, size


def _abstract(tree: Any, n: int) -> Any:
    """``tree`` with leading axes of size ``n``, as abstract values of the dtypes JAX will compute in."""
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct((n,) + a.shape[1:], jax.dtypes.canonicalize_dtype(a.dtype)),
                        tree)


def _layout(call: _Call, x1: Any, x2: Any, a: int, b: int) -> list[tuple[Any, int | None, int | None]]:
    """``(path, row_axis, col_axis)`` per output leaf of a ``a x b`` tile, from ``+1`` row/column probes."""
    fn = call.function()

    def probe(n1: int, n2: int):
        pairs = (_abstract(call.pairs[0], n1), _abstract(call.pairs[1], n2))
        out = jax.eval_shape(fn, _abstract(x1, n1), _abstract(x2, n2), call.arrays, pairs)
        return jax.tree_util.tree_flatten_with_path(out)[0]

    base, more_rows, more_cols = probe(a, b), probe(a + 1, b), probe(a, b + 1)
    layout = []
    for (path, s0), (_, s1), (_, s2) in zip(base, more_rows, more_cols, strict=True):
        rows = [i for i, (u, v) in enumerate(zip(s0.shape, s1.shape, strict=True)) if u != v]
        cols = [i for i, (u, v) in enumerate(zip(s0.shape, s2.shape, strict=True)) if u != v]
        if len(rows) > 1 or len(cols) > 1:
            raise NotImplementedError(
                f"batch: output {jax.tree_util.keystr(path)} couples inputs of one batch (shape {s0.shape}, "
                "e.g. diagonal_batch=False); it cannot be tiled. Use batch_size=0 and device_count=0."
            )
        layout.append((path, rows[0] if rows else None, cols[0] if cols else None))
    return layout


def _cache_key(call: _Call, signature: Any, *sizes: int) -> Any:
    """A hashable key of everything a compiled tile function depends on, or ``None`` if unhashable."""
    leaves, treedef = jax.tree.flatten(
        signature, is_leaf=lambda v: isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], str)
    )
    key = (
        call.statics,
        tuple(sorted(call.kw_statics.items())),
        call.pair_keys,
        call.kw_array_keys,
        call.arg_is_array,
        tuple(leaves),
        treedef,
        sizes,
    )
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _compile(call: _Call, layout: list, devices: list) -> Callable:
    """The jitted tile function; with several devices its rows are split by ``shard_map``."""
    fn = call.function()
    if len(devices) == 1:
        return jax.jit(fn)
    mesh = Mesh(np.array(devices), (_AXIS,))
    row = PartitionSpec(_AXIS)
    specs = [PartitionSpec(*([None] * r + [_AXIS])) if r is not None else PartitionSpec() for _, r, _ in layout]

    def sharded(x1, x2, arrays, pairs):
        out_tree = jax.tree.structure(
            jax.eval_shape(fn, _local(x1, len(devices)), x2, arrays, (_local(pairs[0], len(devices)), pairs[1]))
        )
        body = jax.shard_map(
            fn,
            mesh=mesh,
            in_specs=(row, PartitionSpec(), PartitionSpec(), (row, PartitionSpec())),
            out_specs=jax.tree.unflatten(out_tree, specs),
            check_vma=False,
        )
        return body(x1, x2, arrays, pairs)

    return jax.jit(sharded)


def _local(tree: Any, n_devices: int) -> Any:
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct((a.shape[0] // n_devices,) + a.shape[1:], a.dtype), tree)


def _take(tree: Any, i: int, size: int) -> Any:
    return jax.tree.map(lambda a: a[i * size : (i + 1) * size], tree)


def _take_pairs(pairs: tuple[dict, dict], i: int, n1: int, j: int, n2: int) -> tuple[dict, dict]:
    return _take(pairs[0], i, n1), _take(pairs[1], j, n2)


def _assemble(rows: list[list[Any]], layout: list, out_struct: Any, store_on_device: bool) -> Any:
    """Concatenate tile leaves along their row/column axes into the structure of the full output."""
    xp = jnp if store_on_device else np
    tiles = [[dict(jax.tree_util.tree_flatten_with_path(t)[0]) for t in row] for row in rows]
    axes = {path: (r, c) for path, r, c in layout}
    leaves = []
    for path, struct in jax.tree_util.tree_flatten_with_path(out_struct)[0]:
        if path not in axes:
            raise ValueError(f"batch: output {jax.tree_util.keystr(path)} is missing from the tiles.")
        r, c = axes[path]
        row_parts = [xp.concatenate([t[path] for t in row], c) if c is not None else row[0][path] for row in tiles]
        leaf = xp.concatenate(row_parts, r) if r is not None else row_parts[0]
        if leaf.shape != struct.shape:
            raise ValueError(
                f"batch: assembled {jax.tree_util.keystr(path)} has shape {leaf.shape}, the untiled "
                f"kernel_fn gives {struct.shape}."
            )
        leaves.append(leaf if store_on_device else jax.device_put(leaf, jax.devices("cpu")[0]))
    return jax.tree.unflatten(jax.tree.structure(out_struct), leaves)
