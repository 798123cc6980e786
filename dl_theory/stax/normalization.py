r"""``LayerNorm`` and ``Dropout``.

``LayerNorm`` over the (infinite) channel axis and optionally other axes divides Gaussian pre-activations by their
empirical standard deviation, which converges to the root of the mean variance
:math:`\bar q(x) = \epsilon + \operatorname{mean}_{\text{axes}} K(x, x)`, so

.. math:: K'(x, x') = K(x, x') / \sqrt{\bar q(x)\, \bar q(x')},

and the NTK scales the same way (Novak et al., 2020, arXiv:1912.02803). ``Dropout`` in train mode with keep probability
:math:`p` multiplies each activation by an independent :math:`\mathrm{Bernoulli}(p)/p`; the masks are independent across
samples, positions and channels, so only same-sample, same-position covariances change, by the factor :math:`1/p` (for
the cross-batch kernel only when ``x1`` is ``x2``).
"""

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from dl_theory.kernels.axes import canonicalize_axes
from dl_theory.stax.kernel import Kernel, broadcast_pair, diagonal_of
from dl_theory.stax.layer import SAME, layer, with_axes, with_rule

__all__ = ["Dropout", "LayerNorm"]


@layer
def LayerNorm(
    axis: int | Sequence[int] = -1, eps: float = 1e-12, batch_axis: int = 0, channel_axis: int = -1
) -> tuple[Callable, Callable, Callable]:
    """Layer normalisation ``(x - mean) / sqrt(eps + var)`` over ``axis`` (which must include the channels).

    Args:
      axis: axes to normalise over; must contain ``channel_axis`` for the kernel to exist.
      eps: added to the variance.
      batch_axis: batch axis of the inputs.
      channel_axis: channel axis of the inputs.

    Returns:
      ``(init_fn, apply_fn, kernel_fn)``; ``kernel_fn`` needs Gaussian inputs (right after ``Dense``/``Conv``).
    """

    def init_fn(key: jax.Array, input_shape: Sequence[int]) -> tuple[Sequence[int], tuple]:
        return input_shape, ()

    def apply_fn(params: tuple, inputs: jax.Array, **kwargs: Any) -> jax.Array:
        axes = canonicalize_axes(axis, inputs.ndim, "axis")
        mean = jnp.mean(inputs, axes, keepdims=True)
        var = jnp.var(inputs, axes, keepdims=True)
        return (inputs - mean) / jnp.sqrt(eps + var)

    def kfn(k: Kernel, **kwargs: Any) -> Kernel:
        if not k.is_gaussian:
            raise NotImplementedError("LayerNorm's kernel needs Gaussian inputs (place it after Dense/Conv).")
        ndim = len(k.shape1)
        axes = canonicalize_axes(axis, ndim, "axis")
        b, c = batch_axis % ndim, channel_axis % ndim
        if c not in axes:
            raise ValueError(f"LayerNorm: `axis` must include the channel axis {c} for a kernel; got {axes}.")
        spatial = [i for i in range(ndim) if i not in (b, c)]
        var_axes = tuple([0] * (b in axes) + [1 + spatial.index(a) for a in axes if a in spatial])
        v1 = diagonal_of(k.cov1, k.diagonal_batch, k.diagonal_spatial)
        v2 = v1 if k.cov2 is None else diagonal_of(k.cov2, k.diagonal_batch, k.diagonal_spatial)
        q1 = jnp.broadcast_to(eps + jnp.mean(v1, var_axes, keepdims=True), v1.shape)
        q2 = jnp.broadcast_to(eps + jnp.mean(v2, var_axes, keepdims=True), v2.shape)

        def scale(mat: jax.Array | None, qa: jax.Array, qb: jax.Array, two: bool) -> jax.Array | None:
            if mat is None:
                return None
            a, bb = broadcast_pair(qa, qb, two, k.diagonal_spatial)
            return mat / jnp.sqrt(a * bb)

        two = not k.diagonal_batch
        return k.replace(
            nngp=scale(k.nngp, q1, q2, True),
            ntk=scale(k.ntk, q1, q2, True),
            cov1=scale(k.cov1, q1, q1, two),
            cov2=scale(k.cov2, q2, q2, two),
        )

    return init_fn, apply_fn, with_axes(with_rule(kfn, SAME), batch_axis, channel_axis)


def _diag_mul(mat: jax.Array | None, factor: jax.Array | float, pairs: Sequence[tuple[int, int]]) -> jax.Array | None:
    """Multiply by ``factor`` the entries whose indices agree on every axis pair in ``pairs``."""
    if mat is None or mat.ndim == 0:
        return mat
    mask = jnp.ones((1,) * mat.ndim, bool)
    for a, b in pairs:
        shape = [1] * mat.ndim
        shape[a], shape[b] = mat.shape[a], mat.shape[b]
        mask = mask & jnp.eye(mat.shape[a], mat.shape[b], dtype=bool).reshape(shape)
    return jnp.where(mask, mat * factor, mat)


@layer
def Dropout(rate: float, mode: str = "train") -> tuple[Callable, Callable, Callable]:
    """Dropout with keep probability ``rate`` (``rate=1`` keeps everything), as ``jax.example_libraries.stax``.

    Args:
      rate: keep probability in ``(0, 1]``.
      mode: ``'train'`` (``apply_fn`` needs an ``rng`` keyword) or ``'test'`` (identity).

    Returns:
      ``(init_fn, apply_fn, kernel_fn)``.
    """
    if mode not in ("train", "test"):
        raise ValueError(f"Dropout: `mode` must be 'train' or 'test', got {mode!r}.")
    if not 0.0 < rate <= 1.0:
        raise ValueError(f"Dropout: `rate` (keep probability) must be in (0, 1], got {rate}.")

    def init_fn(key: jax.Array, input_shape: Sequence[int]) -> tuple[Sequence[int], tuple]:
        return input_shape, ()

    def apply_fn(params: tuple, inputs: jax.Array, *, rng: jax.Array | None = None, **kwargs: Any) -> jax.Array:
        if mode == "test":
            return inputs
        if rng is None:
            raise ValueError("Dropout in train mode needs `rng=` in apply_fn.")
        keep = jax.random.bernoulli(rng, rate, inputs.shape)
        return jnp.where(keep, inputs / rate, 0.0)

    def kfn(k: Kernel, **kwargs: Any) -> Kernel:
        if mode == "test":
            return k
        s = k.n_spatial
        spatial_pairs = lambda nb: [] if k.diagonal_spatial else [(nb + 2 * d, nb + 2 * d + 1) for d in range(s)]
        cov_pairs = spatial_pairs(1) if k.diagonal_batch else [(0, 1)] + spatial_pairs(2)
        cross = jnp.where(k.x1_is_x2, 1.0 / rate, 1.0)
        return k.replace(
            nngp=_diag_mul(k.nngp, cross, [(0, 1)] + spatial_pairs(2)),
            ntk=_diag_mul(k.ntk, cross, [(0, 1)] + spatial_pairs(2)),
            cov1=_diag_mul(k.cov1, 1.0 / rate, cov_pairs),
            cov2=_diag_mul(k.cov2, 1.0 / rate, cov_pairs),
            is_gaussian=False,
        )

    return init_fn, apply_fn, with_rule(kfn, SAME)
