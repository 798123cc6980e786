r"""The ``Kernel`` pytree: infinite-width covariances carried from layer to layer.

A network of infinite width (channels :math:`n \to \infty`) maps a Gaussian process to a Gaussian process (Neal, 1994;
Lee et al., 2018; Matthews et al., 2018); its gradient-descent dynamics are governed by the neural tangent kernel (Jacot
et al., 2018). A ``Kernel`` holds everything a layer needs to map the input covariances to the output ones, with the
semantics of neural-tangents (Novak et al., 2020, arXiv:1912.02803).

Array layouts
-------------
Write ``N1``/``N2`` for the two batch sizes and ``X, Y, ...`` for the ``S >= 0`` spatial sizes (the input axes other
than ``batch_axis`` and ``channel_axis``, in input order). Channel axes never appear: channels are i.i.d. The spatial
axes of the two arguments of a covariance are *zipped* (interleaved), ``(X, X, Y, Y)``, never ``(X, Y, X, Y)``.

=====================  =========================  ====================  ========================
field                  ``diagonal_spatial=False``  ``diagonal_spatial``  meaning
=====================  =========================  ====================  ========================
``nngp``, ``ntk``      ``(N1, N2, X, X, Y, Y)``   ``(N1, N2, X, Y)``    :math:`K(x_1, x_2)`
``cov1`` (batch diag)  ``(N1, X, X, Y, Y)``       ``(N1, X, Y)``        :math:`K(x_{1i}, x_{1i})`
``cov1`` (batch full)  ``(N1, N1, X, X, Y, Y)``   ``(N1, N1, X, Y)``    :math:`K(x_{1i}, x_{1j})`
``cov2``               as ``cov1`` with ``N2``    as ``cov1``, ``N2``   ``None`` if ``x2 is None``
=====================  =========================  ====================  ========================

"batch diag" is ``diagonal_batch=True`` (the default): ``cov1[i, ...]`` is the covariance of sample ``i`` with itself;
"batch full" is ``diagonal_batch=False``. With ``diagonal_spatial=True`` only the same-position covariances
``K(x_1[h, w], x_2[h, w])`` are stored; this is exact whenever the top of the network needs only them (e.g.
``Conv -> Relu -> Flatten``) and it is inferred automatically (see :mod:`dl_theory.stax.layer`).

Index convention, e.g. for images: ``nngp[i, j, h, h', w, w'] = E[f(x1_i)[h, w, c] f(x2_j)[h', w', c]]`` for any one
channel ``c``. ``ntk`` has the shape of ``nngp``, except on the inputs, where it is the 0-d zero (as in neural-tangents;
layers broadcast it), and it is ``None`` when the NTK was not requested (``get`` without ``'ntk'``).

Other fields: ``x1_is_x2`` is a boolean array, true when the second batch is the first one (``x2 is None`` or equal
values); ``cov2 is None`` iff ``x2`` was ``None`` (read it as ``cov1`` then). ``is_gaussian``: the outputs are jointly
Gaussian given the inputs (true after an affine layer with Gaussian weights). ``is_reversed`` mirrors neural-tangents:
each full-layout ``Conv`` flips it, and a ``Kernel`` handed to or returned by a public ``kernel_fn`` with
``is_reversed=True`` (and ``diagonal_spatial=False``) stores its spatial axis pairs in reverse order, ``(W, W, H, H)``;
inside the combinators arrays are always kept in the natural order. ``shape1``/``shape2`` are the shapes of the
finite-width activations the covariances describe (their channel size is a placeholder).
"""

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

__all__ = [
    "Kernel",
    "DualInputs",
    "Variances",
    "broadcast_pair",
    "dual_inputs",
    "diagonal_of",
    "self_pairs",
    "map_covariances",
    "variances",
]


@dataclasses.dataclass(frozen=True)
class Kernel:
    """Infinite-width NNGP/NTK covariances of a layer's outputs; layouts in the module docstring.

    Attributes:
      nngp: covariance between the first and the second batch.
      ntk: neural tangent kernel, same shape as ``nngp``, or ``None`` when not computed.
      cov1: covariance of the first batch with itself.
      cov2: covariance of the second batch with itself, ``None`` when ``x2`` is ``None``.
      x1_is_x2: boolean array, true when both batches are the same inputs.
      is_gaussian: outputs are Gaussian given the inputs (after an affine Gaussian layer).
      is_reversed: spatial axis pairs stored in reverse order (see the module docstring).
      is_input: ``False``, as in neural-tangents (kept for compatibility).
      diagonal_batch: ``cov1``/``cov2`` keep one batch axis (the diagonal) instead of two.
      diagonal_spatial: only same-position spatial covariances are stored.
      shape1: shape of the first batch of finite-width activations.
      shape2: shape of the second batch of finite-width activations.
      batch_axis: batch axis of the activations.
      channel_axis: channel axis of the activations (the one taken to infinity).
      mask1: always ``None`` (masking is not supported).
      mask2: always ``None``.
    """

    nngp: jax.Array
    ntk: jax.Array | None
    cov1: jax.Array
    cov2: jax.Array | None
    x1_is_x2: jax.Array
    is_gaussian: bool = False
    is_reversed: bool = False
    is_input: bool = False
    diagonal_batch: bool = True
    diagonal_spatial: bool = False
    shape1: Any = None
    shape2: Any = None
    batch_axis: int = 0
    channel_axis: int = -1
    mask1: jax.Array | None = None
    mask2: jax.Array | None = None

    def replace(self, **changes: Any) -> "Kernel":
        """A copy with ``changes`` applied (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def asdict(self) -> dict[str, Any]:
        """Fields as a shallow ``dict``."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @property
    def n_spatial(self) -> int:
        """Number of spatial axes ``S``."""
        return self.nngp.ndim - 2 if self.diagonal_spatial else (self.nngp.ndim - 2) // 2

    @property
    def cov_batch_ndim(self) -> int:
        """Number of leading batch axes of ``cov1``/``cov2`` (1 or 2)."""
        return 1 if self.diagonal_batch else 2


_DATA_FIELDS = ("nngp", "ntk", "cov1", "cov2", "x1_is_x2", "mask1", "mask2")
_META_FIELDS = tuple(f.name for f in dataclasses.fields(Kernel) if f.name not in _DATA_FIELDS)
jax.tree_util.register_dataclass(Kernel, data_fields=list(_DATA_FIELDS), meta_fields=list(_META_FIELDS))

FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Kernel))


def map_covariances(k: Kernel, fn: Callable[[jax.Array, int], jax.Array], **changes: Any) -> Kernel:
    """``k`` with ``fn(array, n_batch_axes)`` applied to each covariance, and the fields ``changes`` replaced.

    ``fn`` receives ``nngp`` and ``ntk`` with 2 leading batch axes and ``cov1``/``cov2`` with
    :attr:`Kernel.cov_batch_ndim`; a missing covariance (``None``) and the 0-d zero NTK of the inputs are kept as
    they are.
    """

    def apply(mat: jax.Array | None, nb: int) -> jax.Array | None:
        return mat if mat is None or mat.ndim == 0 else fn(mat, nb)

    nb = k.cov_batch_ndim
    return k.replace(nngp=apply(k.nngp, 2), ntk=apply(k.ntk, 2), cov1=apply(k.cov1, nb), cov2=apply(k.cov2, nb),
                     **changes)


def _diagonal_pairs(x: jax.Array, start: int, count: int) -> jax.Array:
    """Diagonal over ``count`` consecutive axis pairs from ``start``; one axis stays per pair, in place."""
    for _ in range(count):
        x = jnp.diagonal(x, axis1=start, axis2=start + 1)
    return jnp.moveaxis(x, tuple(range(x.ndim - count, x.ndim)), tuple(range(start, start + count)))


def diagonal_of(cov: jax.Array, diagonal_batch: bool, diagonal_spatial: bool) -> jax.Array:
    """Variances ``v[i, X, Y] = K(x_i[X, Y], x_i[X, Y])`` of a ``cov1``/``cov2`` array, shape ``(N, *S)``."""
    if not diagonal_batch:
        cov = _diagonal_pairs(cov, 0, 1)
    if not diagonal_spatial:
        cov = _diagonal_pairs(cov, 1, (cov.ndim - 1) // 2)
    return cov


def broadcast_pair(
    v_a: jax.Array, v_b: jax.Array, two_batch_axes: bool, diagonal_spatial: bool
) -> tuple[jax.Array, jax.Array]:
    """Reshape per-point quantities ``(N_a, *S)``, ``(N_b, *S)`` to broadcast against a covariance layout.

    Args:
      v_a: quantity of the left argument (e.g. its variance), shape ``(N_a, *S)``.
      v_b: quantity of the right argument, shape ``(N_b, *S)``.
      two_batch_axes: the target has two batch axes (``nngp``, ``ntk``, or a ``cov`` with
        ``diagonal_batch=False``); otherwise one (a ``cov`` with ``diagonal_batch=True``, ``N_a == N_b``).
      diagonal_spatial: the target stores only same-position covariances.

    Returns:
      ``(a, b)`` such that ``a * b`` has the target layout, e.g. shapes ``(N_a, 1, X, 1, Y, 1)`` and
      ``(1, N_b, 1, X, 1, Y)``.
    """
    if two_batch_axes:
        v_a, v_b = v_a[:, None], v_b[None, :]
    b = 2 if two_batch_axes else 1
    if diagonal_spatial:
        return v_a, v_b
    shape_a = v_a.shape[:b] + tuple(d for n in v_a.shape[b:] for d in (n, 1))
    shape_b = v_b.shape[:b] + tuple(d for n in v_b.shape[b:] for d in (1, n))
    return v_a.reshape(shape_a), v_b.reshape(shape_b)


class Variances(NamedTuple):
    """Per-entry variances of the two arguments of each covariance, broadcastable to its layout.

    ``nngp[i, j, ...]`` pairs ``var(x1_i[...])`` (``nngp[0]``) with ``var(x2_j[...])`` (``nngp[1]``); likewise
    ``cov1`` (both factors from the first batch) and ``cov2`` (``None`` when ``Kernel.cov2`` is ``None``).
    """

    cov1: tuple[jax.Array, jax.Array]
    nngp: tuple[jax.Array, jax.Array]
    cov2: tuple[jax.Array, jax.Array] | None


def variances(k: Kernel) -> Variances:
    """The :class:`Variances` of ``k``: what a nonlinearity needs besides the covariances themselves."""
    v1 = diagonal_of(k.cov1, k.diagonal_batch, k.diagonal_spatial)
    v2 = v1 if k.cov2 is None else diagonal_of(k.cov2, k.diagonal_batch, k.diagonal_spatial)
    two = not k.diagonal_batch
    return Variances(
        cov1=broadcast_pair(v1, v1, two, k.diagonal_spatial),
        nngp=broadcast_pair(v1, v2, True, k.diagonal_spatial),
        cov2=None if k.cov2 is None else broadcast_pair(v2, v2, two, k.diagonal_spatial),
    )


def self_pairs(k: Kernel) -> jax.Array:
    """Boolean mask, broadcastable to ``k.nngp``: the entries that pair a point and position with themselves.

    True at ``nngp[i, i, x, x, y, y]`` (``nngp[i, i, x, y]`` with ``diagonal_spatial``) when ``k.x1_is_x2``,
    false everywhere else (and everywhere when the two batch sizes differ).
    """
    n1, n2 = k.nngp.shape[:2]
    if n1 != n2:
        return jnp.zeros((), bool)
    mask = jnp.eye(n1, dtype=bool)
    if k.diagonal_spatial:
        mask = mask.reshape(mask.shape + (1,) * (k.nngp.ndim - 2))
    else:
        for n in k.nngp.shape[2::2]:
            mask = mask[..., None, None] & jnp.eye(n, dtype=bool).reshape((1,) * mask.ndim + (n, n))
    return mask & k.x1_is_x2


class DualInputs(NamedTuple):
    """The arguments ``(q12, q11, q22)`` of a dual activation for each covariance of a :class:`Kernel`.

    ``q12`` is the covariance itself and ``q11``/``q22`` the variances of its two arguments (as in
    :class:`Variances`); ``cov2`` is ``None`` when ``Kernel.cov2`` is.
    """

    nngp: tuple[jax.Array, jax.Array, jax.Array]
    cov1: tuple[jax.Array, jax.Array, jax.Array]
    cov2: tuple[jax.Array, jax.Array, jax.Array] | None


def dual_inputs(k: Kernel) -> DualInputs:
    r"""What a nonlinearity maps: each covariance with its variances, self-correlations made exactly 1.

    A self-correlation pairs a point and position with itself, so :math:`q_{12} = q_{11} = q_{22}` holds
    mathematically. In ``cov1``/``cov2`` it holds bitwise, since the variances are read off their diagonals.
    On the diagonal of ``nngp`` when ``x1_is_x2`` (:func:`self_pairs`) it need not: ``nngp`` and ``cov1`` are
    computed by different reductions and fusions, and a one-ulp gap gives the arc-cosine angle
    :math:`\theta \approx \sqrt{2\epsilon}` instead of 0 (:math:`\sim 3\cdot 10^{-4}` in float32), which
    :math:`\dot T` of ReLU (:math:`\tfrac12 - \theta/2\pi`) and ``Sign`` feel at first order. Those entries
    are therefore set to ``q12 = q11 = q22 =`` the variance from ``cov1``, for which
    :func:`~dl_theory.stax.dual_activations.angle` returns exactly :math:`\theta = 0`.
    """
    var = variances(k)
    q11, q22 = var.nngp
    mask = self_pairs(k)
    q12 = jnp.where(mask, q11, k.nngp)
    q22 = jnp.where(mask, q11, q22)
    pair = lambda cov, v: None if cov is None else (cov, *v)
    return DualInputs(nngp=(q12, q11, q22), cov1=pair(k.cov1, var.cov1), cov2=pair(k.cov2, var.cov2))
