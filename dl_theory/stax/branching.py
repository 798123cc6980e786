r"""Branching: ``FanOut`` copies an input; ``FanInSum``, ``FanInProd`` and ``FanInConcat`` merge branches.

Branches merged by a ``FanIn*`` layer are assumed independent given the inputs (each holds its own random weights, e.g.
one ``Dense``/``Conv`` per branch), so for outputs :math:`f = \sum_b f_b`

.. math:: K_f = \sum_b K_{f_b}, \qquad \Theta_f = \sum_b \Theta_{f_b},

for a product :math:`f = \prod_b f_b`, :math:`K_f = \prod_b K_{f_b}` and
:math:`\Theta_f = \sum_b \Theta_{f_b} \prod_{c \ne b} K_{f_c}` (product rule), and a concatenation along channels
averages the kernels weighted by the branch widths, along a spatial axis stacks them block-diagonally (Novak et al.,
2020, arXiv:1912.02803). Sums and spatial concatenations need zero-mean Gaussian branches (``Kernel.is_gaussian``): a
branch ending in a nonlinearity has a nonzero mean that the kernel does not track.
"""

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from dl_theory import checks
from dl_theory.stax.kernel import Kernel
from dl_theory.stax.layer import SAME, layer, with_rule

__all__ = ["FanInConcat", "FanInProd", "FanInSum", "FanOut"]


def _check_list(xs: Any, name: str, what: str) -> None:
    if not isinstance(xs, (list, tuple)) or len(xs) == 0:
        raise TypeError(f"`{name}` expects a non-empty list of {what} (one per branch), got {type(xs).__name__}.")


def _full_ntks(ks: Sequence[Kernel]) -> list[Kernel]:
    """Replace the 0-d input NTK by zeros of the ``nngp`` shape when branches mix it with full NTKs."""
    if all(k.ntk is None or k.ntk.ndim > 0 for k in ks) or all(k.ntk is None or k.ntk.ndim == 0 for k in ks):
        return list(ks)
    return [k.replace(ntk=jnp.zeros_like(k.nngp)) if k.ntk is not None and k.ntk.ndim == 0 else k for k in ks]


def _reversed_majority(ks: Sequence[Kernel]) -> bool:
    """neural-tangents' ``is_reversed`` of a fan-in: the majority flag (arrays here are never stored reversed)."""
    return sum(k.is_reversed for k in ks) > len(ks) / 2


def _check_layouts(ks: Sequence[Kernel], name: str) -> None:
    _check_list(ks, name, "Kernels")
    first = ks[0]
    for k in ks[1:]:
        if (k.diagonal_batch, k.diagonal_spatial, k.batch_axis, k.channel_axis) != (
            first.diagonal_batch,
            first.diagonal_spatial,
            first.batch_axis,
            first.channel_axis,
        ):
            raise ValueError(f"`{name}`: branches have different Kernel layouts or batch/channel axes.")


def _check_same_shapes(shapes: Sequence[Any], name: str) -> None:
    if any(tuple(s) != tuple(shapes[0]) for s in shapes[1:]):
        raise ValueError(f"`{name}` needs all branches to have the same shape, got {[tuple(s) for s in shapes]}.")


@layer
def FanOut(num: int) -> tuple[Callable, Callable, Callable]:
    """``num`` copies of the input (a list), e.g. for the two paths of a residual block."""
    num = checks.count("num", num)
    init_fn = lambda key, input_shape: ([input_shape] * num, ())
    apply_fn = lambda params, inputs, **kwargs: [inputs] * num
    kfn = lambda k, **kwargs: [k] * num
    return init_fn, apply_fn, with_rule(kfn, SAME)


def _sum_init(name: str) -> Callable:
    def init_fn(key: jax.Array, input_shape: Sequence[Any]) -> tuple[Any, tuple]:
        _check_list(input_shape, name, "shapes")
        _check_same_shapes(input_shape, name)
        return input_shape[0], ()

    return init_fn


def _check_same_shape_inputs(inputs: Sequence[jax.Array], name: str) -> None:
    """A list of input arrays of one shape, as elementwise ``FanIn*`` layers need."""
    _check_list(inputs, name, "arrays")
    _check_same_shapes([x.shape for x in inputs], name)


def _same_shape_kernels(ks: Sequence[Kernel], name: str) -> list[Kernel]:
    """The branches' kernels with full NTKs, checked to share layout and shapes (elementwise ``FanIn*``)."""
    _check_layouts(ks, name)
    ks = _full_ntks(ks)
    _check_same_shapes([k.shape1 for k in ks], name)
    _check_same_shapes([k.shape2 for k in ks], name)
    return ks


def _elementwise_fan_in(
    name: str, op: Callable[[jax.Array, jax.Array], jax.Array], combine: Callable[[list[Kernel]], Kernel]
) -> tuple[Callable, Callable, Callable]:
    """A fan-in that reduces same-shape branches by ``op``; ``combine`` maps their checked kernels to the output's."""

    def apply_fn(params: tuple, inputs: Sequence[jax.Array], **kwargs: Any) -> jax.Array:
        _check_same_shape_inputs(inputs, name)
        return functools.reduce(op, inputs)

    def kfn(ks: Sequence[Kernel], **kwargs: Any) -> Kernel:
        return combine(_same_shape_kernels(ks, name))

    return _sum_init(name), apply_fn, with_rule(kfn, SAME)


@layer
def FanInSum() -> tuple[Callable, Callable, Callable]:
    """Sum of the branches; the kernels add (independent zero-mean Gaussian branches)."""

    def combine(ks: list[Kernel]) -> Kernel:
        if len(ks) > 1 and not all(k.is_gaussian for k in ks):
            raise NotImplementedError(
                "FanInSum needs every branch to be zero-mean Gaussian (end each branch with an affine layer such "
                f"as Dense/Conv); got is_gaussian={[k.is_gaussian for k in ks]}."
            )
        add = lambda mats: None if mats[0] is None else functools.reduce(jnp.add, mats)
        return ks[0].replace(
            is_reversed=_reversed_majority(ks),
            nngp=add([k.nngp for k in ks]),
            ntk=add([k.ntk for k in ks]),
            cov1=add([k.cov1 for k in ks]),
            cov2=add([k.cov2 for k in ks]),
        )

    return _elementwise_fan_in("FanInSum", jnp.add, combine)


@layer
def FanInProd() -> tuple[Callable, Callable, Callable]:
    """Elementwise product of the branches; kernels multiply, NTKs follow the product rule."""

    def combine(ks: list[Kernel]) -> Kernel:
        mul = lambda mats: None if mats[0] is None else functools.reduce(jnp.multiply, mats)
        nngp, ntk = ks[0].nngp, ks[0].ntk
        for k in ks[1:]:
            ntk = None if ntk is None else ntk * k.nngp + nngp * k.ntk
            nngp = nngp * k.nngp
        return ks[0].replace(
            is_reversed=_reversed_majority(ks),
            nngp=nngp,
            ntk=ntk,
            cov1=mul([k.cov1 for k in ks]),
            cov2=mul([k.cov2 for k in ks]),
            is_gaussian=len(ks) == 1 and ks[0].is_gaussian,
        )

    return _elementwise_fan_in("FanInProd", jnp.multiply, combine)


def _block_concat(mats: Sequence[jax.Array], axes: tuple[int, ...]) -> jax.Array:
    """Concatenate along ``axes[0]``; with two axes, block-diagonally (zero cross-branch covariance)."""
    if len(axes) == 1:
        return jnp.concatenate(mats, axis=axes[0])
    totals = [sum(m.shape[a] for m in mats) for a in axes]
    offsets = [0] * len(axes)
    out = None
    for m in mats:
        pads = [(0, 0)] * m.ndim
        for i, a in enumerate(axes):
            pads[a] = (offsets[i], totals[i] - offsets[i] - m.shape[a])
            offsets[i] += m.shape[a]
        padded = jnp.pad(m, pads)
        out = padded if out is None else out + padded
    return out


@layer
def FanInConcat(axis: int = -1) -> tuple[Callable, Callable, Callable]:
    """Concatenation of the branches along ``axis`` (channels by default).

    Along the channel axis the kernel is the width-weighted average of the branch kernels (plain average when
    the widths agree) and the output is no longer Gaussian; along a spatial or the batch axis the covariance
    is block-diagonal (needs Gaussian branches).
    """

    def init_fn(key: jax.Array, input_shape: Sequence[Any]) -> tuple[Any, tuple]:
        _check_list(input_shape, "FanInConcat", "shapes")
        ndim = len(input_shape[0])
        a = axis % ndim
        _check_same_shapes([tuple(s[:a]) + tuple(s[a + 1 :]) for s in input_shape], "FanInConcat (off-axis)")
        out = list(input_shape[0])
        out[a] = sum(int(s[a]) for s in input_shape)
        return tuple(out), ()

    def apply_fn(params: tuple, inputs: Sequence[jax.Array], **kwargs: Any) -> jax.Array:
        _check_list(inputs, "FanInConcat", "arrays")
        return jnp.concatenate(inputs, axis=axis)

    def kfn(ks: Sequence[Kernel], **kwargs: Any) -> Kernel:
        _check_layouts(ks, "FanInConcat")
        ks = _full_ntks(ks)
        k0 = ks[0]
        ndim = len(k0.shape1)
        a, b, c = axis % ndim, k0.batch_axis % ndim, k0.channel_axis % ndim
        drop = lambda s: tuple(s[:a]) + tuple(s[a + 1 :])
        _check_same_shapes([drop(k.shape1) for k in ks], "FanInConcat (off-axis)")
        _check_same_shapes([drop(k.shape2) for k in ks], "FanInConcat (off-axis)")
        if a == c:
            widths = [k.shape1[c] for k in ks]
            weights = [1.0] * len(ks) if len(set(widths)) == 1 else widths

            def avg(mats: list) -> jax.Array | None:
                if mats[0] is None:
                    return None
                return sum(w * m for w, m in zip(weights, mats, strict=True)) / sum(weights)

            return k0.replace(
                is_reversed=_reversed_majority(ks),
                nngp=avg([k.nngp for k in ks]),
                ntk=avg([k.ntk for k in ks]),
                cov1=avg([k.cov1 for k in ks]),
                cov2=avg([k.cov2 for k in ks]),
                is_gaussian=False,
            )
        if not all(k.is_gaussian for k in ks):
            raise NotImplementedError("FanInConcat along a non-channel axis needs zero-mean Gaussian branches.")
        spatial = [i for i in range(ndim) if i not in (b, c)]

        def axes_of(two_batch: bool, single_batch_cov: bool) -> tuple[int, ...]:
            nb = 2 if two_batch else 1
            if a == b:
                return (0,) if single_batch_cov else (0, 1)
            d = spatial.index(a)
            return (nb + d,) if k0.diagonal_spatial else (nb + 2 * d, nb + 2 * d + 1)

        cat = lambda mats, ax: mats[0] if mats[0] is None or mats[0].ndim == 0 else _block_concat(mats, ax)
        cov_axes = axes_of(not k0.diagonal_batch, k0.diagonal_batch)
        return k0.replace(
            is_reversed=_reversed_majority(ks),
            nngp=cat([k.nngp for k in ks], axes_of(True, False)),
            ntk=cat([k.ntk for k in ks], axes_of(True, False)),
            cov1=cat([k.cov1 for k in ks], cov_axes),
            cov2=cat([k.cov2 for k in ks], cov_axes),
        )

    return init_fn, apply_fn, with_rule(kfn, SAME)
