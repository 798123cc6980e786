r"""``GlobalSelfAttention``: multi-head dot-product self-attention over all spatial positions.

Write :math:`P` for the number of positions (the product of the spatial sizes), :math:`n` for the input channels,
:math:`d_k, d_v` for the key/value channels and :math:`H` for the heads. In the NTK parameterization (all weights
:math:`\mathcal N(0, 1)`) one head computes, at positions :math:`s, t`,

.. math:: G_{st} = \frac{\sigma_Q\sigma_K}{n\, d_k^{\alpha}} \langle x_s W^Q, x_t W^K\rangle, \qquad
          h_s = \sum_t \phi(G)_{st}\, x_t W^V,

and the layer returns :math:`f(x)_s = \frac{\sigma_O\sigma_V}{\sqrt{d_v H n}} [h^1_s, \dots, h^H_s] W^O + \sigma_b b`,
with :math:`\phi` one of softmax (over :math:`t`), identity, abs or relu. With ``linear_scaling=True``
(:math:`\alpha = 1`) the query weights are tied to the key weights, :math:`W^Q = W^K`, so
:math:`G_{st} \to \sigma_Q\sigma_K K[s, t]` as :math:`n, d_k \to \infty`; the attention matrix becomes deterministic and
(Hron et al., 2020, "Infinite attention: NNGP and NTK for deep attention networks", arXiv:2006.10540, Thm. 3)

.. math:: K'(x, x')[s, s'] = \sigma_O^2\sigma_V^2 \sum_{t, t'} \phi(G(x))_{st}\, K(x, x')[t, t']\,
          \phi(G(x'))_{s't'} + \sigma_b^2, \qquad
          \Theta' = \sigma_O^2\sigma_V^2\, \phi(G)\, \Theta\, \phi(G')^\top + \sigma_b^2
          + 2 (K' - \sigma_b^2),

the last term from the gradients w.r.t. :math:`W^V` and :math:`W^O` (those w.r.t. :math:`W^K` vanish in the limit). With
:math:`\alpha = 1/2` (independent :math:`W^Q, W^K`) only ``IDENTITY`` has a closed form (ibid., Thm. 2): :math:`G` is
Gaussian and

.. math:: K'[s, s'] = (\sigma_Q\sigma_K\sigma_O\sigma_V)^2\, K[s, s'] \sum_{t, t'} K[t, t'] K_V[t, t'] + \sigma_b^2.

Positional embeddings :math:`E` (a parameter, :math:`\mathcal N(0, 1)` entries correlated across positions by
:math:`R = L L^\top`, :math:`R_{st} = \text{decay}(\|s - t\|_p^p)`, or :math:`R = I` without ``pos_emb_decay_fn``) are
added to (``SUM``) or concatenated with (``CONCAT``) the inputs of the keys/queries (and the values with
``val_pos_emb``), which replaces :math:`K` by :math:`w_x K + w_E \sigma_E^2 R` with channel-share weights :math:`w`
(both 1 for ``SUM``). Semantics, parameters and kernels follow neural-tangents 0.6.5.
"""

import enum
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from dl_theory import checks
from dl_theory.kernels.axes import unzip_axes, zip_axes
from dl_theory.stax.dense import affine
from dl_theory.stax.kernel import Kernel
from dl_theory.stax.layer import FULL, layer, spatial_shape, with_axes, with_rule

__all__ = ["AttentionMechanism", "GlobalSelfAttention", "PositionalEmbedding"]


class AttentionMechanism(enum.Enum):
    """The map :math:`\\phi` applied to the attention logits."""

    SOFTMAX = "SOFTMAX"
    IDENTITY = "IDENTITY"
    ABS = "ABS"
    RELU = "RELU"

    def fn(self) -> Callable[[jax.Array], jax.Array]:
        """:math:`\\phi` acting on logits whose last axis indexes the keys (softmax normalises over it)."""
        return {
            "SOFTMAX": lambda g: jax.nn.softmax(g, axis=-1),
            "IDENTITY": lambda g: g,
            "ABS": jnp.abs,
            "RELU": lambda g: jnp.maximum(g, 0.0),
        }[self.value]


class PositionalEmbedding(enum.Enum):
    """How positional embeddings enter the attention inputs."""

    NONE = "NONE"
    SUM = "SUM"
    CONCAT = "CONCAT"


def _enum(cls: type[enum.Enum], value: Any, name: str) -> Any:
    try:
        return cls(value.value if isinstance(value, cls) else str(value).upper())
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in cls)
        raise ValueError(f"`{name}` must be one of {allowed}; got {value!r}.") from None


def pos_emb_covariance(
    spatial: Sequence[int], p_norm: float, decay_fn: Callable[[jax.Array], jax.Array] | None
) -> jax.Array:
    """Covariance ``R_PxP`` of the positional embeddings over the ``P`` positions (row-major).

    ``R[s, t] = decay_fn(sum_a |s_a - t_a|^p_norm)``, or the identity when ``decay_fn`` is ``None``.
    """
    size = int(np.prod(spatial, dtype=int))
    if decay_fn is None:
        return jnp.eye(size)
    coords_PxS = jnp.stack(jnp.unravel_index(jnp.arange(size), tuple(spatial)), axis=-1).astype(float)
    dist_PxP = jnp.sum(jnp.abs(coords_PxS[:, None] - coords_PxS[None]) ** p_norm, axis=-1)
    return jnp.asarray(decay_fn(dist_PxP))


# ------------------------------------------------------------------------------------------ covariance layouts


def _to_flat(mat: jax.Array, nb: int) -> jax.Array:
    """``(*batch, X, X', Y, Y')`` -> ``(*batch, P, P')`` (``nb`` batch axes)."""
    mat = unzip_axes(mat, nb)
    s = (mat.ndim - nb) // 2
    p = int(np.prod(mat.shape[nb : nb + s], dtype=int))
    return mat.reshape(mat.shape[:nb] + (p, -1))


def _from_flat(mat: jax.Array, nb: int, spatial: Sequence[int]) -> jax.Array:
    """Inverse of :func:`_to_flat` for the spatial shape ``spatial``."""
    return zip_axes(mat.reshape(mat.shape[:nb] + tuple(spatial) * 2), nb)


def _weigh(mat: jax.Array | None, g1_NxPxP: jax.Array, g2_NxPxP: jax.Array, two: bool) -> jax.Array | None:
    """``sum_{t,t'} G1[i,s,t] mat[i(,j),t,t'] G2[i|j,s',t']`` on flat layouts; 0-d ``mat`` passes through."""
    if mat is None or mat.ndim == 0:
        return mat
    if two:
        mat = jnp.broadcast_to(mat, (g1_NxPxP.shape[0], g2_NxPxP.shape[0]) + mat.shape[2:])
        return jnp.einsum("ist,ijtu,jvu->ijsv", g1_NxPxP, mat, g2_NxPxP)
    mat = jnp.broadcast_to(mat, (g1_NxPxP.shape[0],) + mat.shape[1:])
    return jnp.einsum("ist,itu,ivu->isv", g1_NxPxP, mat, g2_NxPxP)


def _inner(lhs: jax.Array | None, rhs: jax.Array | None) -> jax.Array | None:
    """Per-batch-entry Frobenius product ``<lhs, rhs>`` over the positions, shaped to broadcast (``rhs=None``:
    ``rhs = lhs``)."""
    if lhs is None:
        return None
    rhs = lhs if rhs is None else jnp.broadcast_to(rhs, lhs.shape)
    return jnp.sum(lhs * rhs, axis=(-2, -1), keepdims=True)


# ------------------------------------------------------------------------------------------ layer


@layer
def GlobalSelfAttention(
    n_chan_out: int,
    n_chan_key: int,
    n_chan_val: int,
    n_heads: int,
    linear_scaling: bool = True,
    W_key_std: float = 1.0,
    W_value_std: float = 1.0,
    W_query_std: float = 1.0,
    W_out_std: float = 1.0,
    b_std: float | None = None,
    attention_mechanism: str = "SOFTMAX",
    pos_emb_type: str = "NONE",
    pos_emb_p_norm: float = 2,
    pos_emb_decay_fn: Callable[[jax.Array], jax.Array] | None = None,
    n_chan_pos_emb: int | None = None,
    W_pos_emb_std: float = 1.0,
    val_pos_emb: bool = False,
    batch_axis: int = 0,
    channel_axis: int = -1,
) -> tuple[Callable, Callable, Callable]:
    """Global (all positions) multi-head self-attention; formulas in the module docstring.

    Args:
      n_chan_out: output channels.
      n_chan_key: key/query channels per head.
      n_chan_val: value channels per head.
      n_heads: number of heads.
      linear_scaling: ``True``: logits scaled by ``1 / n_chan_key`` and query weights tied to the key weights
        (analytic kernels for every mechanism); ``False``: ``1 / sqrt(n_chan_key)``, independent queries
        (``kernel_fn`` only for ``'IDENTITY'``).
      W_key_std: key weight std; enters only through ``W_key_std * W_query_std``.
      W_value_std: value weight std; enters only through ``W_out_std * W_value_std``.
      W_query_std: query weight std (see ``W_key_std``).
      W_out_std: output weight std (see ``W_value_std``).
      b_std: output bias std; ``None`` means no bias.
      attention_mechanism: ``'SOFTMAX'``, ``'IDENTITY'``, ``'ABS'`` or ``'RELU'``.
      pos_emb_type: ``'NONE'``, ``'SUM'`` or ``'CONCAT'`` positional embeddings.
      pos_emb_p_norm: exponent ``p`` of the distance ``sum_a |s_a - t_a|^p`` fed to ``pos_emb_decay_fn``.
      pos_emb_decay_fn: maps distances to the embedding covariance; ``None`` means uncorrelated (identity).
      n_chan_pos_emb: embedding channels (``None``: as many as the inputs; must be ``None`` for ``'SUM'`` unless
        equal to the input channels).
      W_pos_emb_std: std of the positional embeddings.
      val_pos_emb: also feed the embeddings to the values (otherwise only to keys/queries).
      batch_axis: batch axis of the inputs.
      channel_axis: channel axis of the inputs.

    Returns:
      ``(init_fn, apply_fn, kernel_fn)``; params ``(W_Q, W_K, W_V, W_O, b, pos_emb)`` with ``W_Q`` of shape
      ``(n_heads, n_in_keys, n_chan_key)`` (``None`` with ``linear_scaling``), ``W_K`` likewise, ``W_V`` of
      shape ``(n_heads, n_in_vals, n_chan_val)``, ``W_O`` of shape ``(n_chan_val * n_heads, n_chan_out)``,
      ``b`` of shape ``(1, ..., n_chan_out, ..., 1)`` or ``None`` and ``pos_emb`` of the input shape with batch
      size 1 and ``n_chan_pos_emb`` channels (``None`` without embeddings).

    Raises:
      ValueError: for invalid arguments (named in the message).
      NotImplementedError: from ``kernel_fn`` when ``linear_scaling=False`` and the mechanism is not
        ``'IDENTITY'`` (no closed form).
    """
    for name, v in (("n_chan_out", n_chan_out), ("n_chan_key", n_chan_key), ("n_chan_val", n_chan_val)):
        checks.count(name, v)
    n_heads = checks.count("n_heads", n_heads)
    mech = _enum(AttentionMechanism, attention_mechanism, "attention_mechanism")
    pe_type = _enum(PositionalEmbedding, pos_emb_type, "pos_emb_type")
    if n_chan_pos_emb is not None:
        checks.count("n_chan_pos_emb", n_chan_pos_emb)
    if pos_emb_decay_fn is not None and not callable(pos_emb_decay_fn):
        raise TypeError(f"`pos_emb_decay_fn` must be callable or None, got {type(pos_emb_decay_fn).__name__}.")
    checks.positive("pos_emb_p_norm", pos_emb_p_norm)
    if batch_axis == channel_axis:
        raise ValueError(f"`batch_axis` and `channel_axis` must differ, got both {batch_axis}.")
    qk_std, ov_std = W_query_std * W_key_std, W_out_std * W_value_std
    use_pe = pe_type != PositionalEmbedding.NONE

    def check(shape: Sequence[int]) -> tuple[int, int, int]:
        """``(batch, channel, n_pos_emb_channels)`` for an input ``shape``, validated."""
        nd = len(shape)
        axes_ok = all(-nd <= a < nd for a in (batch_axis, channel_axis))
        if nd < 3 or not axes_ok or batch_axis % nd == channel_axis % nd:
            raise ValueError(
                f"`GlobalSelfAttention` needs inputs with a batch axis {batch_axis}, a channel axis {channel_axis} "
                f"and at least one spatial axis, got shape {tuple(shape)}."
            )
        b, c = batch_axis % nd, channel_axis % nd
        n_pe = shape[c] if n_chan_pos_emb is None else n_chan_pos_emb
        if pe_type == PositionalEmbedding.SUM and n_pe != shape[c]:
            raise ValueError(
                f"`pos_emb_type='SUM'` needs `n_chan_pos_emb` None or equal to the input channels {shape[c]}, "
                f"got {n_chan_pos_emb}."
            )
        return b, c, n_pe

    def init_fn(key: jax.Array, input_shape: Sequence[int]) -> tuple[tuple[int, ...], tuple]:
        b, c, n_pe = check(input_shape)
        out_shape = tuple(input_shape[:c]) + (n_chan_out,) + tuple(input_shape[c + 1 :])
        k_q, k_k, k_v, k_o, k_b, k_pe = jax.random.split(key, 6)
        n_keys = n_vals = input_shape[c]
        pos_emb = None
        if use_pe:
            pe_shape = list(input_shape)
            pe_shape[b], pe_shape[c] = 1, n_pe
            pos_emb = jax.random.normal(k_pe, tuple(pe_shape))
            if pe_type == PositionalEmbedding.CONCAT:
                n_keys += n_pe
                n_vals += n_pe if val_pos_emb else 0
        W_K = jax.random.normal(k_k, (n_heads, n_keys, n_chan_key))
        W_V = jax.random.normal(k_v, (n_heads, n_vals, n_chan_val))
        W_O = jax.random.normal(k_o, (n_chan_val * n_heads, n_chan_out))
        W_Q = None if linear_scaling else jax.random.normal(k_q, (n_heads, n_keys, n_chan_key))
        bias = None
        if b_std is not None:
            b_shape = [1] * len(input_shape)
            b_shape[c] = n_chan_out
            bias = jax.random.normal(k_b, tuple(b_shape))
        return out_shape, (W_Q, W_K, W_V, W_O, bias, pos_emb)

    def apply_fn(params: tuple, inputs: jax.Array, **kwargs: Any) -> jax.Array:
        W_Q, W_K, W_V, W_O, bias, pos_emb = params
        b, c, n_pe = check(inputs.shape)
        spatial = spatial_shape(inputs.shape, b, c)
        x = jnp.moveaxis(inputs, (b, c), (0, -1))  # (N, *S, C)
        n = x.shape[0]
        x_NxPxC = x.reshape((n, -1, x.shape[-1]))
        x_keys, x_vals = x_NxPxC, x_NxPxC
        if use_pe:
            e_PxE = jnp.moveaxis(pos_emb, (b, c), (0, -1)).reshape((-1, n_pe))
            if pos_emb_decay_fn is not None:
                cov_PxP = pos_emb_covariance(spatial, pos_emb_p_norm, pos_emb_decay_fn).astype(e_PxE.dtype)
                e_PxE = jnp.linalg.cholesky(cov_PxP) @ e_PxE
            e_NxPxE = jnp.broadcast_to(W_pos_emb_std * e_PxE, (n,) + e_PxE.shape)
            if pe_type == PositionalEmbedding.SUM:
                x_keys = x_NxPxC + e_NxPxE
            else:
                x_keys = jnp.concatenate([x_NxPxC, e_NxPxE], axis=-1)
            x_vals = x_keys if val_pos_emb else x_NxPxC
        keys_HxNxPxK = jnp.einsum("npc,hck->hnpk", x_keys, W_K)
        queries = keys_HxNxPxK if linear_scaling else jnp.einsum("npc,hck->hnpk", x_keys, W_Q)
        values_HxNxPxV = jnp.einsum("npc,hcv->hnpv", x_vals, W_V)
        norm = x_keys.shape[-1] * (n_chan_key if linear_scaling else n_chan_key**0.5)
        logits_HxNxPxP = jnp.einsum("hnpk,hnqk->hnpq", queries, keys_HxNxPxK) * (qk_std / norm)
        heads_HxNxPxV = jnp.einsum("hnpq,hnqv->hnpv", mech.fn()(logits_HxNxPxP), values_HxNxPxV)
        heads_NxPxVH = jnp.moveaxis(heads_HxNxPxV, 0, -1).reshape((n, heads_HxNxPxV.shape[2], -1))
        out = heads_NxPxVH @ W_O * (ov_std / (n_chan_val * n_heads * x_vals.shape[-1]) ** 0.5)
        out = jnp.moveaxis(out.reshape((n,) + spatial + (n_chan_out,)), (0, -1), (b, c))
        return out if bias is None else out + b_std * bias

    def kfn(k: Kernel, **kwargs: Any) -> Kernel:
        if k.diagonal_spatial:
            raise ValueError(
                "`GlobalSelfAttention` needs cross-position covariances, but the Kernel has diagonal_spatial=True; "
                "recompute it with diagonal_spatial=False."
            )
        if not linear_scaling and mech != AttentionMechanism.IDENTITY:
            raise NotImplementedError(
                f"No closed-form kernel for `linear_scaling=False` with attention_mechanism={mech.value!r}; use "
                "linear_scaling=True or 'IDENTITY'."
            )
        _, c, n_pe = check(k.shape1)
        spatial = spatial_shape(k.shape1, k.batch_axis, k.channel_axis)
        nb = k.cov_batch_ndim
        cov1, cov2 = _to_flat(k.cov1, nb), None if k.cov2 is None else _to_flat(k.cov2, nb)
        nngp = _to_flat(k.nngp, 2)
        ntk = k.ntk if k.ntk is None or k.ntk.ndim == 0 else _to_flat(k.ntk, 2)

        w_x, w_e = 1.0, W_pos_emb_std**2
        if pe_type == PositionalEmbedding.CONCAT:
            w_x, w_e = k.shape1[c] / (k.shape1[c] + n_pe), w_e * n_pe / (k.shape1[c] + n_pe)
        r_PxP = pos_emb_covariance(spatial, pos_emb_p_norm, pos_emb_decay_fn).astype(nngp.dtype) if use_pe else None

        def interp(mat: jax.Array | None, n_batch: int) -> jax.Array | None:
            if mat is None or r_PxP is None:
                return mat
            return w_x * mat + w_e * r_PxP.reshape((1,) * n_batch + r_PxP.shape)

        cov1_i, cov2_i = interp(cov1, nb), interp(cov2, nb)
        nngp_i, ntk_i = interp(nngp, 2), interp(ntk, 2)
        val = (lambda m_i, m: m_i) if val_pos_emb else (lambda m_i, m: m)

        if linear_scaling:

            def weights(cov_i: jax.Array | None) -> jax.Array | None:
                if cov_i is None:
                    return None
                if nb == 2:
                    cov_i = jnp.moveaxis(jnp.diagonal(cov_i, axis1=0, axis2=1), -1, 0)
                return mech.fn()(qk_std * cov_i)

            g1 = weights(cov1_i)
            g2 = g1 if cov2_i is None else weights(cov2_i)
            out = lambda m, ga, gb, two: affine(_weigh(m, ga, gb, two), ov_std, b_std)
            new_cov1 = out(val(cov1_i, cov1), g1, g1, nb == 2)
            new_cov2 = None if cov2 is None else out(val(cov2_i, cov2), g2, g2, nb == 2)
            new_nngp = out(val(nngp_i, nngp), g1, g2, True)
            new_ntk = None
            if ntk is not None:
                shift = 0.0 if b_std is None else b_std**2
                new_ntk = out(val(ntk_i, ntk), g1, g2, True) + 2 * (new_nngp - shift)
        else:
            std = qk_std * ov_std
            dot12 = _inner(nngp_i, None if val_pos_emb else nngp)
            new_nngp = affine(dot12 * nngp_i, std, b_std)
            new_cov1 = affine(_inner(cov1_i, None if val_pos_emb else cov1) * cov1_i, std, b_std)
            new_cov2 = None
            if cov2 is not None:
                new_cov2 = affine(_inner(cov2_i, None if val_pos_emb else cov2) * cov2_i, std, b_std)
            new_ntk = None
            if ntk is not None:
                if val_pos_emb or not use_pe:
                    dot_ntk = 2 * _inner(nngp_i, ntk_i)
                else:
                    dot_ntk = _inner(nngp_i, ntk) + _inner(nngp, ntk_i)
                new_ntk = affine(dot_ntk * nngp_i + dot12 * (ntk_i + 4 * nngp_i), std, b_std)

        back = lambda mat, n_batch: None if mat is None else _from_flat(mat, n_batch, spatial)

        return k.replace(
            nngp=back(new_nngp, 2),
            ntk=back(new_ntk, 2),
            cov1=back(new_cov1, nb),
            cov2=back(new_cov2, nb),
            is_gaussian=True,
            is_input=False,
        )

    return init_fn, apply_fn, with_axes(with_rule(kfn, FULL), batch_axis, channel_axis)
