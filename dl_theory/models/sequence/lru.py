r"""The Linear Recurrent Unit (Orvieto et al. 2023): a diagonal complex linear recurrence with a stable
parameterization, and the residual block and model built on it.

On inputs :math:`u_t \in \mathbb R^H` the layer computes, with N complex states,

.. math:: x_t = \lambda \odot x_{t-1} + \gamma \odot (B u_t), \qquad y_t = \operatorname{Re}(C x_t) + D \odot u_t,
   \qquad \lambda_j = \exp(-e^{\nu_j} + i\varphi_j),

so :math:`|\lambda_j| = \exp(-e^{\nu_j}) \in (0, 1)` for every real :math:`\nu_j`: the recurrence is stable whatever
the optimizer does (the notes' parameterization). The normalization :math:`\gamma_j = \sqrt{1 - |\lambda_j|^2}` keeps
:math:`E|x_t|^2` of the order of :math:`E|B u|^2` for white inputs when :math:`|\lambda| \to 1`; as in the paper it is
a trained parameter (``gamma_log``) initialized to that value. Every parameter is real (``B``, ``C`` as real and
imaginary parts), so optax never sees a complex number.

*Ring initialization*: :math:`|\lambda|` uniform on the annulus :math:`r_{\min} \le |\lambda| \le r_{\max}` of the
complex plane (area measure, i.e. :math:`|\lambda|^2 \sim U[r_{\min}^2, r_{\max}^2]`) with phase
:math:`\varphi \sim U[0, \varphi_{\max}]`, via :math:`\nu = \log(-\tfrac12 \log |\lambda|^2)`.

The recurrence runs as :func:`~dl_theory.models.sequence.linear_scan.parallel_scan` (``lax.associative_scan``) or
:func:`~dl_theory.models.sequence.linear_scan.sequential_scan` (``lax.scan``). :func:`lru_block` is the paper's
block: LayerNorm, LRU, GELU, a GLU :math:`(W_1 h) \odot \sigma(W_2 h)`, plus the residual :math:`u`;
:func:`lru_model` stacks blocks between a linear encoder and a linear readout of the time-averaged or last output.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.models.sequence.cells import as_batch
from dl_theory.models.sequence.linear_scan import parallel_scan, sequential_scan
from dl_theory.typing import Model, Params, Shape


def eigenvalues(nu_N: ArrayLike, phi_N: ArrayLike) -> jax.Array:
    r""":math:`\lambda = \exp(-e^{\nu} + i\varphi)`, complex; :math:`|\lambda| < 1` for every finite real input."""
    nu, phi = jnp.asarray(nu_N), jnp.asarray(phi_N)
    return jnp.exp(-jnp.exp(nu) + 1j * phi)


def _check_ring(r_min: float, r_max: float, max_phase: float) -> None:
    checks.in_interval(0.0, 1.0)("r_max", r_max)
    checks.in_interval(0.0, 1.0, closed=True)("r_min", r_min)
    if not r_min < r_max:
        raise checks.fail("r_min", f"< r_max = {r_max}", r_min)
    checks.in_interval(0.0, 2 * math.pi, closed=True)("max_phase", max_phase)
    checks.positive("max_phase", max_phase)


def ring_init(key: jax.Array, n: int, r_min: float = 0.0, r_max: float = 0.99,
              max_phase: float = 2 * math.pi) -> tuple[jax.Array, jax.Array]:
    r"""``(nu_N, phi_N)`` with :math:`|\lambda|^2 \sim U[r_{\min}^2, r_{\max}^2]` and
    :math:`\varphi \sim U[0, \varphi_{\max}]`; needs :math:`0 \le r_{\min} < r_{\max} < 1`."""
    checks.count("n", n)
    _check_ring(r_min, r_max, max_phase)
    k_r, k_p = jax.random.split(key)
    modulus_sq = jax.random.uniform(k_r, (n,), minval=r_min**2, maxval=r_max**2)
    return jnp.log(-0.5 * jnp.log(modulus_sq)), max_phase * jax.random.uniform(k_p, (n,))


def lru(state_dim: int, *, r_min: float = 0.0, r_max: float = 0.99, max_phase: float = 2 * math.pi,
        parallel: bool = True) -> Model:
    """The LRU layer ``u_BxTxH -> y_BxTxH`` (see the module docstring) as ``(init_fn, apply_fn)``.

    Params: ``nu``, ``phi``, ``gamma_log`` (N), ``B_re``, ``B_im`` (N x H), ``C_re``, ``C_im`` (H x N), ``D`` (H).
    ``parallel`` picks ``lax.associative_scan`` (True) or ``lax.scan`` (False); both give the same outputs.
    """
    checks.count("state_dim", state_dim)
    _check_ring(r_min, r_max, max_phase)

    def init_fn(key: jax.Array, input_shape: Shape) -> tuple[Shape, Params]:
        h = input_shape[-1]
        k_l, k_b, k_c, k_d = jax.random.split(key, 4)
        nu, phi = ring_init(k_l, state_dim, r_min, r_max, max_phase)
        b = jax.random.normal(k_b, (2, state_dim, h)) / np.sqrt(2 * h)
        c = jax.random.normal(k_c, (2, h, state_dim)) / np.sqrt(state_dim)
        gamma_log = 0.5 * jnp.log1p(-jnp.abs(eigenvalues(nu, phi)) ** 2)
        return tuple(input_shape), {"nu": nu, "phi": phi, "gamma_log": gamma_log, "B_re": b[0], "B_im": b[1],
                                    "C_re": c[0], "C_im": c[1], "D": jax.random.normal(k_d, (h,))}

    def apply_fn(params: Params, u_BxTxH: ArrayLike, **kwargs) -> jax.Array:
        u = as_batch(u_BxTxH)
        lam = eigenvalues(params["nu"], params["phi"])
        b = (params["B_re"] + 1j * params["B_im"]) * jnp.exp(params["gamma_log"])[:, None]
        bu_TxBxN = jnp.einsum("bth,nh->tbn", u.astype(b.dtype), b)
        x = (parallel_scan if parallel else sequential_scan)(lam[None, :], bu_TxBxN)
        y = jnp.einsum("tbn,hn->bth", x, params["C_re"] + 1j * params["C_im"]).real
        return y + u * params["D"][None, None, :]

    return Model(init_fn, apply_fn)


def _dense(key: jax.Array, n_in: int, n_out: int) -> Params:
    return {"w": jax.random.normal(key, (n_in, n_out)) / np.sqrt(n_in), "b": jnp.zeros((n_out,))}


def _apply_dense(p: Params, x: jax.Array) -> jax.Array:
    return x @ p["w"] + p["b"].reshape((1,) * (x.ndim - 1) + p["b"].shape)


def _layer_norm(x: jax.Array, eps: float = 1e-5) -> jax.Array:
    mean = x.mean(axis=-1, keepdims=True)
    return (x - mean) / jnp.sqrt(x.var(axis=-1, keepdims=True) + eps)


def lru_block(state_dim: int, *, norm: bool = True, **lru_kwargs) -> Model:
    r"""``u + GLU(GELU(LRU(LayerNorm(u))))`` with :math:`\mathrm{GLU}(h) = (W_1 h + c_1) \odot \sigma(W_2 h + c_2)`;
    ``norm=False`` drops the (parameter-free) LayerNorm. Params ``{"lru", "glu_1", "glu_2"}``."""
    lru_init, lru_apply = lru(state_dim, **lru_kwargs)

    def init_fn(key: jax.Array, input_shape: Shape) -> tuple[Shape, Params]:
        h = input_shape[-1]
        k_l, k_1, k_2 = jax.random.split(key, 3)
        return tuple(input_shape), {"lru": lru_init(k_l, input_shape)[1], "glu_1": _dense(k_1, h, h),
                                    "glu_2": _dense(k_2, h, h)}

    def apply_fn(params: Params, u_BxTxH: ArrayLike, **kwargs) -> jax.Array:
        u = as_batch(u_BxTxH)
        h = jax.nn.gelu(lru_apply(params["lru"], _layer_norm(u) if norm else u))
        return u + _apply_dense(params["glu_1"], h) * jax.nn.sigmoid(_apply_dense(params["glu_2"], h))

    return Model(init_fn, apply_fn)


def lru_model(state_dim: int, width: int, depth: int, out_dim: int, *, pool: str = "mean",
              **block_kwargs) -> Model:
    """A linear encoder ``D -> width``, ``depth`` :func:`lru_block` s, pooling over time (``"mean"`` or ``"last"``)
    and a linear readout ``width -> out_dim``: ``x_BxTxD -> y_BxK``. Params ``{"encoder", "blocks", "readout"}``."""
    for name, value in (("width", width), ("depth", depth), ("out_dim", out_dim)):
        checks.count(name, value)
    checks.one_of("mean", "last")("pool", pool)
    block_init, block_apply = lru_block(state_dim, **block_kwargs)

    def init_fn(key: jax.Array, input_shape: Shape) -> tuple[Shape, Params]:
        k_e, k_r, *k_b = jax.random.split(key, depth + 2)
        hidden = (*input_shape[:-1], width)
        return (input_shape[0], out_dim), {"encoder": _dense(k_e, input_shape[-1], width),
                                           "blocks": [block_init(k, hidden)[1] for k in k_b],
                                           "readout": _dense(k_r, width, out_dim)}

    def apply_fn(params: Params, x_BxTxD: ArrayLike, **kwargs) -> jax.Array:
        h = _apply_dense(params["encoder"], as_batch(x_BxTxD))
        for p in params["blocks"]:
            h = block_apply(p, h)
        return _apply_dense(params["readout"], h.mean(axis=1) if pool == "mean" else h[:, -1])

    return Model(init_fn, apply_fn)
