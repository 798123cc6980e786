r"""``Conv``: 1-D/2-D/3-D convolution with ``VALID``/``SAME``/``CIRCULAR`` padding, strides, any layout.

The infinite-channel limit (Novak et al., 2019, arXiv:1810.05148; Garriga-Alonso et al., 2019) of
:math:`z[y] = \frac{\sigma_W}{\sqrt{n_\text{in} |f|}} \sum_{i \in f} x[s y + i] W_i + \sigma_b b` is

.. math:: K'[y, y'] = \frac{\sigma_W^2}{|f|} \sum_{i \in f} K[s y + i, s y' + i] + \sigma_b^2,
   \qquad \Theta' = K' + \frac{\sigma_W^2}{|f|} \sum_{i \in f} \Theta[s y + i, s y' + i]

(independent weights per filter offset give the same offset on both sides), so a same-position-only (diagonal) kernel
stays diagonal. The standard parameterization is as for :mod:`dl_theory.stax.dense`, with fan-in
:math:`n_\text{in} |f|`.
"""

import math
import string
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from dl_theory.stax.dense import affine, check_parameterization
from dl_theory.stax.kernel import Kernel, map_covariances
from dl_theory.stax.layer import SAME, check_ndim, layer, with_axes, with_rule
from dl_theory.stax.spatial import Padding, check_padding, pad_axes, pair_window, window_sum

__all__ = ["Conv", "default_dimension_numbers", "transpose_spatial"]


def default_dimension_numbers(n: int) -> tuple[str, str, str]:
    """Channel-last default, as neural-tangents: e.g. ``('NABC', 'ABIO', 'NABC')`` for ``n == 2`` (NHWC/HWIO)."""
    letters = "".join(c for c in string.ascii_uppercase if c not in "NCIO")[:n]
    return "N" + letters + "C", letters + "IO", "N" + letters + "C"


def transpose_spatial(k: Kernel, perm: Sequence[int]) -> Kernel:
    """Permute the spatial axes of all covariances: new spatial axis ``i`` is old axis ``perm[i]``."""
    perm = tuple(perm)
    if perm == tuple(range(len(perm))):
        return k

    def permute(mat: jax.Array, nb: int) -> jax.Array:
        per = [nb + p for p in perm] if k.diagonal_spatial else [nb + 2 * p + j for p in perm for j in (0, 1)]
        return jnp.transpose(mat, tuple(range(nb)) + tuple(per))

    return map_covariances(k, permute)


def conv_cov(mat: jax.Array | None, nb: int, filters: Sequence[int], strides: Sequence[int], padding: Padding,
             diagonal_spatial: bool) -> jax.Array | None:
    """Unscaled kernel map of a convolution: the average of ``mat`` over equal filter offsets on both sides."""
    if mat is None or mat.ndim == 0:
        return mat
    if diagonal_spatial:
        axes = tuple(range(nb, mat.ndim))
        return window_sum(mat, axes, tuple(filters), tuple(strides), padding) / math.prod(filters)
    for d, (f, s) in enumerate(zip(filters, strides, strict=True)):
        mat = pair_window(mat, nb + 2 * d, f, s, padding, diagonal=True)
    return mat


@layer
def Conv(
    out_chan: int,
    filter_shape: Sequence[int],
    strides: Sequence[int] | None = None,
    padding: str = "VALID",
    W_std: float = 1.0,
    b_std: float | None = None,
    dimension_numbers: tuple[str, str, str] | None = None,
    parameterization: str = "ntk",
    s: tuple[int, int] = (1, 1),
) -> tuple[Callable, Callable, Callable]:
    """General convolution (``lax.conv_general_dilated``) with Gaussian weights and optional bias.

    Args:
      out_chan: output channels (ignored by ``kernel_fn`` in the NTK parameterization).
      filter_shape: spatial filter sizes, in the order of the spatial letters of the ``rhs`` spec.
      strides: window strides (same order); ``None`` means all ones.
      padding: ``'VALID'``, ``'SAME'`` or ``'CIRCULAR'`` (periodic).
      W_std: weight standard deviation.
      b_std: bias standard deviation; ``None`` means no bias.
      dimension_numbers: ``(lhs_spec, rhs_spec, out_spec)`` strings as in ``lax.conv_general_dilated``;
        ``None`` means channel-last (``NHWC``, ``HWIO``, ``NHWC`` for 2-D).
      parameterization: ``'ntk'`` or ``'standard'``.
      s: width scalings ``(s_in, s_out)`` of the standard parameterization.

    Returns:
      ``(init_fn, apply_fn, kernel_fn)``; params ``(W, b)`` with ``W`` laid out by ``rhs_spec`` and ``b`` of
      shape ``(1, ..., out_chan, ..., 1)`` (``out_chan`` at the ``C`` of ``out_spec``) or ``None``.
    """
    param = check_parameterization(parameterization)
    pad = check_padding(padding)
    n = len(filter_shape)
    filter_shape = tuple(int(f) for f in filter_shape)
    strides = tuple(int(v) for v in (strides or (1,) * n))
    if len(strides) != n:
        raise ValueError(f"Conv: `strides` must have {n} entries like `filter_shape`, got {strides}.")
    lhs_spec, rhs_spec, out_spec = dimension_numbers or default_dimension_numbers(n)
    if not (len(lhs_spec) == len(rhs_spec) == len(out_spec) == n + 2):
        raise ValueError(f"Conv: `dimension_numbers` {dimension_numbers} do not match {n} spatial dimensions.")
    width = out_chan if param == "ntk" else out_chan * s[1]
    in_spatial = [c for c in lhs_spec if c not in "NC"]
    rhs_spatial = [c for c in rhs_spec if c not in "IO"]
    out_spatial = [c for c in out_spec if c not in "NC"]
    dn = (lhs_spec, rhs_spec, out_spec)

    def fan_in(shape: Sequence[int]) -> int:
        return shape[lhs_spec.index("C")] * math.prod(filter_shape)

    def conv(x: jax.Array, W: jax.Array) -> jax.Array:
        if pad == Padding.CIRCULAR:
            axes = tuple(lhs_spec.index(c) for c in rhs_spatial)
            x = pad_axes(x, axes, filter_shape, strides, pad)
        lax_pad = "VALID" if pad == Padding.CIRCULAR else pad.value
        return lax.conv_general_dilated(x, W, strides, lax_pad, dimension_numbers=dn)

    def init_fn(key: jax.Array, input_shape: Sequence[int]) -> tuple[tuple[int, ...], tuple]:
        check_ndim(input_shape, n + 2, "Conv")
        it = iter(filter_shape)
        w_shape = tuple(width if c == "O" else input_shape[lhs_spec.index("C")] if c == "I" else next(it)
                        for c in rhs_spec)
        out_shape = jax.eval_shape(conv, jax.ShapeDtypeStruct(tuple(input_shape), jnp.float32),
                                   jax.ShapeDtypeStruct(w_shape, jnp.float32)).shape
        k_w, k_b = jax.random.split(key)
        W = jax.random.normal(k_w, w_shape)
        b = None if b_std is None else jax.random.normal(k_b, tuple(width if c == "C" else 1 for c in out_spec))
        if param == "standard":
            W = W * (W_std / (fan_in(input_shape) / s[0]) ** 0.5)
            b = None if b is None else b * b_std
        return tuple(out_shape), (W, b)

    def apply_fn(params: tuple, inputs: jax.Array, **kwargs: Any) -> jax.Array:
        check_ndim(inputs.shape, n + 2, "Conv")
        W, b = params
        if param == "ntk":
            out = conv(inputs, W) * (W_std / fan_in(inputs.shape) ** 0.5)
            return out if b is None else out + b_std * b
        out = conv(inputs, W) / s[0] ** 0.5
        return out if b is None else out + b

    def kfn(k: Kernel, **kwargs: Any) -> Kernel:
        check_ndim(k.shape1, n + 2, "Conv")
        filters = [filter_shape[rhs_spatial.index(c)] for c in in_spatial]
        strd = [strides[rhs_spatial.index(c)] for c in in_spatial]
        cv = lambda mat, nb: conv_cov(mat, nb, filters, strd, pad, k.diagonal_spatial)
        nngp_u = cv(k.nngp, 2)
        nngp = affine(nngp_u, W_std, b_std)
        ntk = None
        if k.ntk is not None and param == "ntk":
            ntk = nngp + W_std**2 * cv(k.ntk, 2)
        elif k.ntk is not None:
            ntk = fan_in(k.shape1) / s[0] * nngp_u + W_std**2 * cv(k.ntk, 2) + (0.0 if b_std is None else 1.0)
        nb = k.cov_batch_ndim
        out = k.replace(
            nngp=nngp,
            ntk=ntk,
            cov1=affine(cv(k.cov1, nb), W_std, b_std),
            cov2=affine(cv(k.cov2, nb), W_std, b_std),
            is_gaussian=True,
            is_input=False,
            is_reversed=k.is_reversed != (not k.diagonal_spatial),
            batch_axis=out_spec.index("N"),
            channel_axis=out_spec.index("C"),
        )
        return transpose_spatial(out, [in_spatial.index(c) for c in out_spatial])

    kfn = with_axes(with_rule(kfn, SAME), lhs_spec.index("N"), lhs_spec.index("C"))
    return init_fn, apply_fn, kfn
