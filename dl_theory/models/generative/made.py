r"""MADE: a masked MLP whose outputs are autoregressive in its inputs (Germain et al., 2015).

An autoregressive model factorizes :math:`p(x) = \prod_{i=1}^D p(x_i \mid x_{<i})` (in some order). MADE computes
every conditional in one pass of an MLP whose weights are masked so that output :math:`i` sees only the inputs that
precede it. Each unit gets a *degree*: input :math:`i` has degree :math:`d(i) \in \{1, \dots, D\}` (its position in the
order), hidden unit :math:`k` a degree :math:`d(k) \in \{\min_\text{prev}, \dots, D - 1\}`, and an output for dimension
:math:`i` the degree :math:`d(i)`. A connection from unit :math:`k'` to unit :math:`k` is kept when

.. math::
    M^{l}_{k, k'} = \mathbb 1[d(k) \ge d(k')] \quad\text{(hidden layers)}, \qquad
    M^{\text{out}}_{k, k'} = \mathbb 1[d(k) > d(k')] \quad\text{(output layer, strict)},

so every path from input :math:`j` to output :math:`i` passes through degrees :math:`d(j) \le \dots < d(i)`: output
:math:`i` depends only on inputs with :math:`d(j) < d(i)` and the Jacobian :math:`\partial\,\text{out}_i/\partial x_j`
is strictly triangular in the order. With no hidden layer this is the fully visible sigmoid belief net (a masked
logistic regression).

Binary data (:func:`bernoulli_log_prob`): the outputs are logits :math:`l_i(x_{<i})` and
:math:`\log p(x) = \sum_i x_i \log\sigma(l_i) + (1 - x_i)\log\sigma(-l_i)` exactly, normalized over the :math:`2^D`
binary vectors. Sampling (:func:`bernoulli_sample`) is ancestral: :math:`D` sequential passes, pass :math:`t` fixing the
dimension of degree :math:`t`. Real data (:func:`gaussian_outputs`): two outputs per dimension, a shift :math:`\mu_i`
and a log-scale :math:`\alpha_i`, the conditionals of MAF and IAF (:mod:`dl_theory.models.generative.flows`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.typing import Params


class MADE(NamedTuple):
    """A masked MLP: ``init(key) -> params``, ``apply(params, x_ND) -> out`` of shape ``(..., n_outputs, D)``.

    Attributes:
      dim: ``D``, the number of inputs.
      n_outputs: outputs per input dimension (1: Bernoulli logits; 2: Gaussian shift and log-scale).
      input_degrees: ``(D,)`` degrees of the inputs (a permutation of ``1..D``: the autoregressive order).
      masks: one ``(fan_in, fan_out)`` 0/1 mask per layer, the last one the strict output mask (repeated
        ``n_outputs`` times along its columns).
      init: ``init(key) -> params``, a list of ``(W, b)`` per layer (the masks are applied in ``apply``).
      apply: ``apply(params, x) -> (..., n_outputs, D)``.
    """

    dim: int
    n_outputs: int
    input_degrees: np.ndarray
    masks: tuple[np.ndarray, ...]
    init: Callable[[jax.Array], Params]
    apply: Callable[[Params, ArrayLike], jax.Array]


def degrees(dim: int, hidden: Sequence[int], *, order: ArrayLike | None = None,
            key: jax.Array | None = None) -> list[np.ndarray]:
    """Degrees of the input and hidden units: ``[d_in (D,), d_1 (H_1,), ...]``.

    Inputs: ``order[i]`` (default ``1..D``; any permutation of ``1..D``). Hidden layer ``l``: cyclic
    ``min_prev + (k mod (D - min_prev))`` by default, or, with ``key``, uniform on ``{min_prev, ..., D - 1}`` as in
    Germain et al., where ``min_prev`` is the smallest degree of the layer below (so no hidden unit is disconnected).
    """
    checks.count("dim", dim)
    for i, width in enumerate(hidden):
        checks.count(f"hidden[{i}]", width)
    d_in = np.arange(1, dim + 1) if order is None else np.asarray(order, dtype=int)
    if sorted(d_in.tolist()) != list(range(1, dim + 1)):
        raise checks.fail("order", f"a permutation of 1..{dim}", order)
    result = [d_in]
    for l_idx, width in enumerate(hidden):
        low = min(int(result[-1].min()), dim - 1)
        if key is None:
            d = low + np.arange(width) % max(dim - low, 1)
        else:
            d = np.asarray(jax.random.randint(jax.random.fold_in(key, l_idx), (width,), low, max(dim, low + 1)))
        result.append(d.astype(int))
    return result


def masks(degrees_list: Sequence[np.ndarray], n_outputs: int = 1) -> tuple[np.ndarray, ...]:
    """The MADE masks from :func:`degrees`: ``1[d(k) >= d(k')]`` between hidden layers, ``1[d(k) > d(k')]`` into the
    outputs (whose degrees are the input degrees, repeated ``n_outputs`` times); shapes ``(fan_in, fan_out)``."""
    checks.count("n_outputs", n_outputs)
    result = [(d_out[None, :] >= d_in[:, None]).astype(np.float32)
              for d_in, d_out in zip(degrees_list[:-1], degrees_list[1:], strict=True)]
    out_degrees = np.tile(degrees_list[0], n_outputs)
    result.append((out_degrees[None, :] > degrees_list[-1][:, None]).astype(np.float32))
    return tuple(result)


def made(dim: int, hidden: Sequence[int] = (64,), n_outputs: int = 1, *, order: ArrayLike | None = None,
         degree_key: jax.Array | None = None, activation: Callable[[jax.Array], jax.Array] = jax.nn.relu,
         out_scale: float = 1.0) -> MADE:
    """A MADE network on ``dim`` inputs (see the module docstring).

    Args:
      dim: ``D``.
      hidden: hidden widths (empty: the fully visible, masked-linear model).
      n_outputs: outputs per dimension.
      order: input degrees, a permutation of ``1..D`` (default: the natural order).
      degree_key: draw hidden degrees at random (default: cyclic, deterministic).
      activation: hidden nonlinearity.
      out_scale: scale of the output layer's initial weights (small values start a flow near the identity).
    """
    checks.nonnegative("out_scale", out_scale)
    degs = degrees(dim, hidden, order=order, key=degree_key)
    mask_list = masks(degs, n_outputs)
    widths = [dim, *hidden, n_outputs * dim]

    def init(key: jax.Array) -> Params:
        params = []
        for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            scale = (out_scale if i == len(widths) - 2 else 1.0) / np.sqrt(fan_in)
            w = scale * jax.random.normal(jax.random.fold_in(key, i), (fan_in, fan_out))
            params.append((w, jnp.zeros(fan_out)))
        return params

    def apply(params: Params, x: ArrayLike) -> jax.Array:
        h = jnp.asarray(x)
        if h.shape[-1:] != (dim,):
            raise checks.fail("x", f"of shape (..., {dim})", h.shape)
        for i, ((w, b), m) in enumerate(zip(params, mask_list, strict=True)):
            h = h @ (w * jnp.asarray(m, w.dtype))
            h = h + b.reshape((1,) * (h.ndim - 1) + b.shape)
            if i < len(mask_list) - 1:
                h = activation(h)
        return h.reshape(*h.shape[:-1], n_outputs, dim)

    return MADE(dim, n_outputs, degs[0], mask_list, init, apply)


def _check_binary(x: ArrayLike) -> jax.Array:
    v = checks.concrete(x)
    if v is not None and not np.all((v == 0) | (v == 1)):
        raise checks.fail("x", "binary (every entry 0 or 1)", v[(v != 0) & (v != 1)])
    return jnp.asarray(x)


def bernoulli_log_prob(model: MADE, params: Params, x: ArrayLike) -> jax.Array:
    r""":math:`\log p(x) = \sum_i x_i \log\sigma(l_i) + (1 - x_i)\log\sigma(-l_i)` per example (nats), exact.

    Args:
      model: a :class:`MADE` with ``n_outputs=1``.
      params: its parameters.
      x: binary data ``(..., D)``; non-binary values raise ``ValueError`` (checked when ``x`` is concrete).
    """
    if model.n_outputs != 1:
        raise checks.fail("model.n_outputs", "1 (Bernoulli logits)", model.n_outputs)
    x = _check_binary(x)
    logits = model.apply(params, x)[..., 0, :]
    return -jnp.sum(jax.nn.softplus(-(2 * x - 1) * logits), axis=-1)


def bernoulli_sample(model: MADE, params: Params, key: jax.Array, n: int) -> jax.Array:
    """``n`` ancestral samples ``(n, D)``: one ``lax.fori_loop`` of ``D`` MADE passes, pass ``t`` drawing the
    dimension of degree ``t`` from its conditional given the dimensions already drawn."""
    checks.count("n", n)
    if model.n_outputs != 1:
        raise checks.fail("model.n_outputs", "1 (Bernoulli logits)", model.n_outputs)
    u_NxD = jax.random.uniform(key, (n, model.dim))
    degree_D = jnp.asarray(model.input_degrees)

    def step(t, x_NxD):
        p = jax.nn.sigmoid(model.apply(params, x_NxD)[:, 0, :])
        return jnp.where(degree_D[None, :] == t, (u_NxD < p).astype(x_NxD.dtype), x_NxD)

    return jax.lax.fori_loop(1, model.dim + 1, step, jnp.zeros((n, model.dim), u_NxD.dtype))


def gaussian_outputs(model: MADE, params: Params, x: ArrayLike) -> tuple[jax.Array, jax.Array]:
    r"""The shift :math:`\mu_i(x_{<i})` and log-scale :math:`\alpha_i(x_{<i})`, each ``(..., D)``, of a MADE with
    ``n_outputs=2`` (the affine conditionals of MAF and IAF)."""
    if model.n_outputs != 2:
        raise checks.fail("model.n_outputs", "2 (shift and log-scale)", model.n_outputs)
    out = model.apply(params, x)
    return out[..., 0, :], out[..., 1, :]


def independent_bernoulli_fit(x_NxD: ArrayLike, pseudo_count: float = 1.0) -> jax.Array:
    r"""Logits of the independent-pixel baseline :math:`p(x) = \prod_i \pi_i^{x_i}(1-\pi_i)^{1-x_i}` fitted by
    maximum likelihood with ``pseudo_count`` (add-one by default) smoothing: :math:`\pi_i = (\sum_n x_{ni} + a)/(N +
    2a)`, so a pixel never seen on stays finite."""
    checks.nonnegative("pseudo_count", pseudo_count)
    x_NxD = _check_binary(x_NxD)
    pi = (jnp.sum(x_NxD, axis=0) + pseudo_count) / (x_NxD.shape[0] + 2 * pseudo_count)
    return jnp.log(pi) - jnp.log1p(-pi)


def independent_bernoulli_log_prob(logits_D: ArrayLike, x: ArrayLike) -> jax.Array:
    """Log-likelihood per example of the independent-pixel model with ``logits_D`` (nats)."""
    x = _check_binary(x)
    logits = jnp.broadcast_to(jnp.asarray(logits_D), x.shape)
    return -jnp.sum(jax.nn.softplus(-(2 * x - 1) * logits), axis=-1)
