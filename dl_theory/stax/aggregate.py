r"""``Aggregate``: message passing on graphs (each vertex becomes the weighted sum of its predecessors).

With a per-sample (weighted) adjacency :math:`A_n` over the vertices :math:`v` of the aggregated axes,
:math:`h'_n[v'] = \sum_v A_n[v, v']\, h_n[v]`, a linear map on each side of the covariance:

.. math:: K'_{nm}[v', w'] = \sum_{v, w} A_n[v, v']\, K_{nm}[v, w]\, A_m[w, w'],

likewise for the NTK (Du et al., 2019, "Graph Neural Tangent Kernel", arXiv:1905.13192). ``pattern`` is passed to
``apply_fn`` and, as a pair ``(pattern1, pattern2)``, to ``kernel_fn``. ``implementation='SPARSE'`` takes edge lists
``(batch, n_edges, K, 2)`` (or ``(batch, n_edges, 2)`` when ``K == 1``) of (tail, head) vertex indices, negative indices
meaning padding; they are turned into dense count matrices here.
"""

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from dl_theory.kernels.axes import canonicalize_axes, unzip_axes, zip_axes
from dl_theory.stax.kernel import Kernel
from dl_theory.stax.layer import FULL, layer, with_axes, with_rule

__all__ = ["Aggregate"]


def _sparse_to_dense(pattern: jax.Array, agg_shape: tuple[int, ...]) -> jax.Array:
    """Edge lists ``(N, E, K, 2)`` / ``(N, E, 2)`` -> count matrices ``(N, V, V)``; negative vertices dropped."""
    pattern = jnp.asarray(pattern)
    if pattern.shape[-1] != 2:
        raise ValueError(f"Aggregate: sparse `pattern` needs a trailing axis of size 2, got {pattern.shape}.")
    if pattern.ndim == 3:
        pattern = pattern[:, :, None, :]
    if pattern.ndim != 4 or pattern.shape[2] != len(agg_shape):
        raise ValueError(f"Aggregate: sparse `pattern` must be (N, E, {len(agg_shape)}, 2), got {pattern.shape}.")
    v = math.prod(agg_shape)

    def flat(idx: jax.Array) -> jax.Array:  # (N, E, K) -> (N, E), -1 for padding
        ok = jnp.all(idx >= 0, axis=-1)
        lin = jnp.ravel_multi_index(tuple(jnp.moveaxis(idx, -1, 0)), agg_shape, mode="clip")
        return jnp.where(ok, lin, -1)

    tails, heads = flat(pattern[..., 0]), flat(pattern[..., 1])
    valid = (tails >= 0) & (heads >= 0)
    one_hot = lambda i: jax.nn.one_hot(jnp.where(valid, i, v), v + 1)[..., :v]
    return jnp.einsum("nev,new->nvw", one_hot(tails), one_hot(heads))


@layer
def Aggregate(
    aggregate_axis: int | Sequence[int] | None = None,
    batch_axis: int = 0,
    channel_axis: int = -1,
    to_dense: Callable[[jax.Array], jax.Array] | None = lambda p: p,
    implementation: str = "DENSE",
) -> tuple[Callable, Callable, Callable]:
    """Graph aggregation over ``aggregate_axis`` (all spatial axes by default).

    Args:
      aggregate_axis: axes holding the vertices; ``None`` means every axis but batch and channel.
      batch_axis: batch axis of the inputs.
      channel_axis: channel axis of the inputs.
      to_dense: maps ``pattern`` to the dense ``(N, *V, *V)`` adjacency (``DENSE`` only).
      implementation: ``'DENSE'`` (adjacency tensors) or ``'SPARSE'`` (edge lists).

    Returns:
      ``(init_fn, apply_fn, kernel_fn)``; ``apply_fn(params, x, pattern=A)`` and
      ``kernel_fn(x1, x2, pattern=(A1, A2))``; ``pattern=None`` is the identity.
    """
    impl = str(implementation).upper()
    if impl not in ("DENSE", "SPARSE"):
        raise ValueError(f"Aggregate: `implementation` must be 'DENSE' or 'SPARSE', got {implementation!r}.")

    def axes_of(ndim: int) -> tuple[int, int, tuple[int, ...]]:
        b, c = batch_axis % ndim, channel_axis % ndim
        if aggregate_axis is None:
            agg = tuple(i for i in range(ndim) if i not in (b, c))
        else:
            agg = canonicalize_axes(np.atleast_1d(aggregate_axis).tolist(), ndim, "aggregate_axis")
        if b in agg or c in agg:
            raise ValueError(f"Aggregate: `aggregate_axis` {agg} must not contain the batch or channel axis.")
        return b, c, agg

    def dense(pattern: jax.Array, shape: Sequence[int], agg: tuple[int, ...]) -> jax.Array:
        agg_shape = tuple(int(shape[a]) for a in agg)
        if impl == "SPARSE":
            return _sparse_to_dense(pattern, agg_shape)
        a = jnp.asarray(to_dense(pattern) if to_dense is not None else pattern)
        v = math.prod(agg_shape)
        if a.shape[1:] != agg_shape * 2:
            raise ValueError(f"Aggregate: dense `pattern` must be (N, *{agg_shape}, *{agg_shape}), got {a.shape}.")
        return a.reshape((a.shape[0], v, v))

    def init_fn(key: jax.Array, input_shape: Sequence[int]) -> tuple[Sequence[int], tuple]:
        return input_shape, ()

    def apply_fn(params: tuple, inputs: jax.Array, *, pattern: jax.Array | None = None, **kwargs: Any) -> jax.Array:
        if pattern is None:
            return inputs
        b, _, agg = axes_of(inputs.ndim)
        a = dense(pattern, inputs.shape, agg).astype(inputs.dtype)
        x = jnp.moveaxis(inputs, (b,) + agg, tuple(range(1 + len(agg))))
        moved_shape = x.shape
        x = x.reshape((x.shape[0], a.shape[1], -1))
        out = jnp.einsum("nvr,nvw->nwr", x, a).reshape(moved_shape)
        return jnp.moveaxis(out, tuple(range(1 + len(agg))), (b,) + agg)

    def kfn(k: Kernel, *, pattern: tuple | None = (None, None), **kwargs: Any) -> Kernel:
        p1, p2 = (None, None) if pattern is None else pattern
        if p1 is None and p2 is None:
            return k
        if p1 is None or p2 is None:
            raise ValueError("Aggregate: `pattern` must be a pair (pattern1, pattern2) of arrays, or None.")
        if k.diagonal_spatial:
            raise ValueError("Aggregate needs cross-vertex covariances; use diagonal_spatial=False.")
        ndim = len(k.shape1)
        b, c, agg = axes_of(ndim)
        spatial = [i for i in range(ndim) if i not in (b, c)]
        a1 = dense(p1, k.shape1, agg)
        a2 = dense(p2, k.shape2, agg)
        d_agg = [spatial.index(a) for a in agg]
        d_rest = [d for d in range(len(spatial)) if d not in d_agg]

        def agg_mat(mat: jax.Array | None, nb: int, left: jax.Array, right: jax.Array, same: bool) -> Any:
            if mat is None or mat.ndim == 0:
                return mat
            s = len(spatial)
            u = unzip_axes(mat, nb)  # (batch..., S, S')
            order = list(range(nb)) + [nb + d for d in d_agg] + [nb + s + d for d in d_agg]
            order += [nb + d for d in d_rest] + [nb + s + d for d in d_rest]
            u = jnp.transpose(u, order)
            moved_shape = u.shape
            v = left.shape[1]
            u = u.reshape(u.shape[:nb] + (v, v, -1))
            if nb == 1:
                out = jnp.einsum("nvwr,nvV,nwW->nVWr", u, left, left)
            elif same:
                out = jnp.einsum("nmvwr,nvV,mwW->nmVWr", u, left, left)
            else:
                out = jnp.einsum("nmvwr,nvV,mwW->nmVWr", u, left, right)
            out = jnp.transpose(out.reshape(moved_shape), np.argsort(order))
            return zip_axes(out, nb)

        nb = k.cov_batch_ndim
        return k.replace(
            nngp=agg_mat(k.nngp, 2, a1, a2, False),
            ntk=agg_mat(k.ntk, 2, a1, a2, False),
            cov1=agg_mat(k.cov1, nb, a1, a1, True),
            cov2=agg_mat(k.cov2, nb, a2, a2, True),
            is_reversed=False,
        )

    return init_fn, apply_fn, with_axes(with_rule(kfn, FULL), batch_axis, channel_axis)
