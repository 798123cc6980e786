r"""Variational autoencoders: Gaussian encoder, Gaussian or Bernoulli decoder, the ELBO, the importance-weighted
bound, a two-level hierarchical VAE, and the exact linear-Gaussian references they are checked against.

A VAE (Kingma & Welling 2014; Rezende et al. 2014) has a prior :math:`p(z) = \mathcal N(0, I_M)`, a decoder
:math:`p_\theta(x|z)` (Gaussian :math:`\mathcal N(\mu_\theta(z), \operatorname{diag} e^{\lambda})` with a learned
per-coordinate log-variance :math:`\lambda`, or Bernoulli with logits :math:`\ell_\theta(z)`) and an encoder
:math:`q_\phi(z|x) = \mathcal N(m_\phi(x), \operatorname{diag} e^{v_\phi(x)})`. For every :math:`q`

.. math::
   \ln p_\theta(x) = \underbrace{\mathbb E_{q}[\ln p_\theta(x|z)] - \mathrm{KL}(q_\phi(z|x)\,\|\,p(z))}_{
   \mathrm{ELBO}} + \mathrm{KL}(q_\phi(z|x)\,\|\,p_\theta(z|x)),

so the ELBO is a lower bound, tight exactly when :math:`q` is the posterior. The KL to the prior is in closed form
(:func:`dl_theory.models.generative.divergences.kl_diag_gaussian`); the expectation is estimated with the
reparameterization :math:`z = m + e^{v/2}\odot\varepsilon`, :math:`\varepsilon\sim\mathcal N(0, I)`, which makes it
differentiable in :math:`\phi`. The importance-weighted bound (Burda et al. 2016)

.. math::
   \mathcal L_K(x) = \mathbb E\Big[\ln \frac1K\sum_{k=1}^K w_k\Big],\quad w_k = \frac{p_\theta(x, z_k)}{q_\phi(z_k|x)},
   \quad z_k \overset{iid}{\sim} q_\phi(\cdot|x),

satisfies :math:`\mathrm{ELBO} = \mathcal L_1 \le \mathcal L_K \le \mathcal L_{K+1} \le \ln p_\theta(x)` and
:math:`\mathcal L_K \to \ln p_\theta(x)`; by the delta method :math:`\ln p - \mathcal L_K = \chi^2(p(z|x)\|q)/(2K) +
O(K^{-2})` when the weights have a finite variance (Maddison et al. 2017; Nowozin 2018).

Two-level hierarchical VAE (Sønderby et al. 2016 use the same chain): generative :math:`p(z_2)p_\theta(z_1|z_2)
p_\theta(x|z_1)`, bottom-up inference :math:`q_\phi(z_1|x)q_\phi(z_2|z_1)`, and the consistent ELBO

.. math::
   \mathbb E_q\big[\ln p_\theta(x|z_1) + \ln p_\theta(z_1|z_2) + \ln p(z_2) - \ln q_\phi(z_1|x) -
   \ln q_\phi(z_2|z_1)\big] = \ln p_\theta(x) - \mathrm{KL}(q(z_1, z_2|x)\,\|\,p(z_1, z_2|x)).

The course notes' formula mixes the two directions of inference (a top-down :math:`q(z_1|z_2)` with a bottom-up
:math:`q(z_2|z_1)` and no :math:`q(\cdot|x)` marginal); for a joint :math:`q` it equals the ELBO minus the mutual
information :math:`I_q(z_1; z_2)`, so it is not tight even at the exact posterior (:func:`notes_two_level_gap`).
"""

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.models.generative.divergences import kl_diag_gaussian, kl_gaussian
from dl_theory.models.generative.linear_gaussian import LinearGaussian, log_likelihood, posterior
from dl_theory.models.mlp import mlp
from dl_theory.training import train
from dl_theory.typing import Params

__all__ = ["VAE", "HierarchicalVAE", "TwoLevelLinearGaussian", "conditional_gaussian", "diag_gaussian_log_prob",
           "elbo", "elbo_loss", "fit", "hierarchical_elbo", "hierarchical_log_weights", "hierarchical_vae",
           "iwae_bound", "linear_gaussian_elbo", "log_importance_weights", "notes_two_level_gap", "reparameterize",
           "train_step_fn", "two_level_log_likelihood", "two_level_posterior", "vae"]

LIKELIHOODS = ("gaussian", "bernoulli")
ConditionalGaussian = tuple[Callable, Callable]


def diag_gaussian_log_prob(x_xD: ArrayLike, mean_xD: ArrayLike, log_var_xD: ArrayLike) -> jax.Array:
    r""":math:`\ln\mathcal N(x; \mu, \operatorname{diag} e^{v})` summed over the last axis (``jax.scipy.stats.norm``),
    broadcast over the others."""
    shape = jnp.broadcast_shapes(jnp.shape(x_xD), jnp.shape(mean_xD), jnp.shape(log_var_xD))
    x_xD, mean_xD, log_var_xD = (jnp.broadcast_to(a, shape) for a in (x_xD, mean_xD, log_var_xD))
    return jnp.sum(jax.scipy.stats.norm.logpdf(x_xD, mean_xD, jnp.exp(0.5 * log_var_xD)), axis=-1)


def _apply_2d(apply_fn: Callable, params: Params, x_xD: jax.Array) -> jax.Array:
    """Applies a dense network to the last axis of an array of any rank (the stax layers want 2-D inputs)."""
    out = apply_fn(params, x_xD.reshape(-1, x_xD.shape[-1]))
    return out.reshape(*x_xD.shape[:-1], out.shape[-1])


def conditional_gaussian(hidden: Sequence[int], out_dim: int, *, activation: str = "relu") -> ConditionalGaussian:
    r"""A Gaussian conditional :math:`\mathcal N(m(u), \operatorname{diag} e^{v(u)})`: one
    :func:`dl_theory.models.mlp.mlp` (standard parameterization) with ``2 * out_dim`` outputs split into the mean and
    the log-variance. Returns ``(init_fn(key, in_dim) -> params, apply_fn(params, u_xI) -> (mean_xO, log_var_xO))``
    (leading axes of ``u`` are kept). ``hidden=()`` gives an affine map; its parameters are ``[(W_Ix2O, b_1x2O)]``."""
    checks.count("out_dim", out_dim)
    init_net, apply_net, _ = mlp(hidden, 2 * out_dim, activation=activation, parameterization="standard")

    def init_fn(key: jax.Array, in_dim: int) -> Params:
        return init_net(key, (1, in_dim))[1]

    def apply_fn(params: Params, u_xI: ArrayLike) -> tuple[jax.Array, jax.Array]:
        out = _apply_2d(apply_net, params, jnp.asarray(u_xI))
        return out[..., :out_dim], out[..., out_dim:]

    return init_fn, apply_fn


def _decoder(hidden: Sequence[int], latent_dim: int, data_dim: int, likelihood: str, activation: str,
             init_log_var: float):
    """``(init(key) -> params, decode(params, z) -> mean or logits, log_lik(params, x, z))`` of :math:`p(x|z)`."""
    if likelihood not in LIKELIHOODS:
        raise checks.fail("likelihood", f"one of {LIKELIHOODS}", repr(likelihood))
    init_net, apply_net, _ = mlp(hidden, data_dim, activation=activation, parameterization="standard")

    def init(key: jax.Array) -> Params:
        params = {"net": init_net(key, (1, latent_dim))[1]}
        if likelihood == "gaussian":
            params["log_var"] = jnp.full((data_dim,), init_log_var, jnp.result_type(float))
        return params

    def decode(params: Params, z_xM: ArrayLike) -> jax.Array:
        return _apply_2d(apply_net, params["net"], jnp.asarray(z_xM))

    def log_lik(params: Params, x_xD: ArrayLike, z_xM: ArrayLike) -> jax.Array:
        out = decode(params, z_xM)
        if likelihood == "gaussian":
            return diag_gaussian_log_prob(x_xD, out, params["log_var"])
        return -jnp.sum(optax.sigmoid_binary_cross_entropy(out, jnp.broadcast_to(x_xD, out.shape)), axis=-1)

    return init, decode, log_lik


class VAE(NamedTuple):
    """A VAE as pure functions of a parameter dict ``{"encoder": ..., "decoder": {"net": ..., ["log_var"]}}``.

    Attributes:
      init: ``init(key) -> params``.
      encode: ``encode(params, x_xD) -> (mean_xM, log_var_xM)`` of :math:`q(z|x)`.
      decode: ``decode(params, z_xM)``: the decoder mean (Gaussian) or logits (Bernoulli).
      log_likelihood: ``log_likelihood(params, x_xD, z_xM)``: :math:`\\ln p(x|z)`, summed over the data axis.
      data_dim, latent_dim: :math:`D` and :math:`M`.
      likelihood: ``'gaussian'`` or ``'bernoulli'``.
    """

    init: Callable[[jax.Array], Params]
    encode: Callable[[Params, ArrayLike], tuple[jax.Array, jax.Array]]
    decode: Callable[[Params, ArrayLike], jax.Array]
    log_likelihood: Callable[[Params, ArrayLike, ArrayLike], jax.Array]
    data_dim: int
    latent_dim: int
    likelihood: str


def vae(data_dim: int, latent_dim: int, hidden: Sequence[int] = (128,), *, likelihood: str = "gaussian",
        activation: str = "relu", init_log_var: float = 0.0) -> VAE:
    """A VAE whose encoder and decoder are :func:`dl_theory.models.mlp.mlp` networks with ``hidden`` widths (the
    decoder mirrors the encoder); a Gaussian decoder has one learned log-variance per data coordinate, initialized at
    ``init_log_var``.

    Raises:
      ValueError: if a dimension is not a positive integer or ``likelihood`` is unknown.
    """
    data_dim, latent_dim = checks.count("data_dim", data_dim), checks.count("latent_dim", latent_dim)
    init_enc, encode_net = conditional_gaussian(hidden, latent_dim, activation=activation)
    init_dec, decode, log_lik = _decoder(tuple(hidden)[::-1], latent_dim, data_dim, likelihood, activation,
                                         init_log_var)

    def init(key: jax.Array) -> Params:
        k_enc, k_dec = jax.random.split(key)
        return {"encoder": init_enc(k_enc, data_dim), "decoder": init_dec(k_dec)}

    return VAE(init, lambda p, x: encode_net(p["encoder"], x), lambda p, z: decode(p["decoder"], z),
               lambda p, x, z: log_lik(p["decoder"], x, z), data_dim, latent_dim, likelihood)


def reparameterize(key: jax.Array, mean_xM: ArrayLike, log_var_xM: ArrayLike, n_samples: int) -> jax.Array:
    r""":math:`z_s = m + e^{v/2}\odot\varepsilon_s`, :math:`\varepsilon_s \sim \mathcal N(0, I)`, shape
    ``(n_samples, *mean.shape)``: a sample of :math:`\mathcal N(m, \operatorname{diag}e^{v})` that is a
    differentiable function of :math:`(m, v)` (Kingma & Welling 2014, §2.4)."""
    mean_xM = jnp.asarray(mean_xM)
    eps = jax.random.normal(key, (n_samples, *mean_xM.shape), mean_xM.dtype)
    return mean_xM[None] + jnp.exp(0.5 * jnp.asarray(log_var_xM))[None] * eps


def elbo(model: VAE, params: Params, x_NxD: ArrayLike, key: jax.Array, n_samples: int = 1) -> jax.Array:
    r"""Per-example ELBO :math:`\frac1S\sum_s\ln p(x|z_s) - \mathrm{KL}(q(z|x)\|\mathcal N(0, I))`, shape ``(N,)``,
    with reparameterized :math:`z_s` and the closed-form diagonal-Gaussian KL (an unbiased estimate of the ELBO)."""
    n_samples = checks.count("n_samples", n_samples)
    x_NxD = jnp.asarray(x_NxD)
    mean, log_var = model.encode(params, x_NxD)
    z_SxNxM = reparameterize(key, mean, log_var, n_samples)
    recon = jnp.mean(model.log_likelihood(params, x_NxD[None], z_SxNxM), axis=0)
    return recon - kl_diag_gaussian(mean, jnp.exp(log_var), jnp.zeros_like(mean), jnp.ones_like(mean))


def elbo_loss(model: VAE, n_samples: int = 1) -> Callable[[Params, jax.Array, jax.Array], jax.Array]:
    """``loss(params, x_batch, key) = -mean ELBO``: the loss :func:`dl_theory.training.train` minimizes with a
    ``noise_key`` (fresh :math:`\\varepsilon` at every step)."""
    return lambda params, x_NxD, key: -jnp.mean(elbo(model, params, x_NxD, key, n_samples))


def log_importance_weights(model: VAE, params: Params, x_NxD: ArrayLike, key: jax.Array, n_samples: int, *,
                           chunk: int = 64) -> jax.Array:
    r""":math:`\ln w_k = \ln p(x|z_k) + \ln p(z_k) - \ln q(z_k|x)` for :math:`z_k \sim q(\cdot|x)` i.i.d., shape
    ``(n_samples, N)``, computed ``chunk`` samples at a time (``lax.map``) to bound memory. The mean over ``k`` is
    an unbiased ELBO estimate (without the closed-form KL); :func:`iwae_bound` takes their log-mean-exp."""
    n_samples, chunk = checks.count("n_samples", n_samples), checks.count("chunk", chunk)
    x_NxD = jnp.asarray(x_NxD)
    mean, log_var = model.encode(params, x_NxD)
    n_chunks = -(-n_samples // chunk)

    def one(k):
        z_CxNxM = reparameterize(k, mean, log_var, chunk)
        return (model.log_likelihood(params, x_NxD[None], z_CxNxM)
                + diag_gaussian_log_prob(z_CxNxM, 0.0, 0.0) - diag_gaussian_log_prob(z_CxNxM, mean, log_var))

    log_w = jax.lax.map(one, jax.random.split(key, n_chunks))
    return log_w.reshape(n_chunks * chunk, -1)[:n_samples]


def iwae_bound(model: VAE, params: Params, x_NxD: ArrayLike, key: jax.Array, n_samples: int, *,
               chunk: int = 64) -> jax.Array:
    r"""The importance-weighted bound :math:`\ln\frac1K\sum_k w_k` per example, shape ``(N,)`` (module docstring;
    Burda et al. 2016): a stochastic lower bound on :math:`\ln p(x)` in expectation, increasing in :math:`K`."""
    log_w = log_importance_weights(model, params, x_NxD, key, n_samples, chunk=chunk)
    return jax.nn.logsumexp(log_w, axis=0) - jnp.log(log_w.shape[0])


def fit(model: VAE, params: Params, x_NxD: ArrayLike, optimizer: optax.GradientTransformation, *, n_steps: int,
        batch_size: int, key: jax.Array, n_samples: int = 1, log_every: int = 250,
        desc: str = "VAE") -> tuple[Params, dict]:
    """Maximizes the ELBO with :func:`dl_theory.training.train` (jitted ``lax.scan`` over minibatch steps, a fresh
    reparameterization noise per step). Returns ``(params, history)``; ``history['loss']`` is the negative ELBO."""
    k_batch, k_noise = jax.random.split(key)
    return train(elbo_loss(model, n_samples), params, optimizer, jnp.asarray(x_NxD), n_steps=n_steps,
                 batch_size=batch_size, key=k_batch, noise_key=k_noise, log_every=log_every, desc=desc)


def train_step_fn(model: VAE, optimizer: optax.GradientTransformation, batch_size: int, *, n_samples: int = 1):
    """One jitted VAE training step for timing it alone (a benchmark against other frameworks):
    ``step(params, opt_state, x_BxD, key) -> (params, opt_state, loss)``, the same computation as one step of
    :func:`fit`. ``batch_size`` is checked against ``x_BxD`` at trace time."""
    batch_size = checks.count("batch_size", batch_size)
    loss_fn = elbo_loss(model, n_samples)

    @jax.jit
    def step(params: Params, opt_state: optax.OptState, x_BxD: jax.Array, key: jax.Array):
        if x_BxD.shape != (batch_size, model.data_dim):
            raise checks.fail("x_BxD", f"of shape {(batch_size, model.data_dim)}", f"shape {x_BxD.shape}")
        loss, grads = jax.value_and_grad(loss_fn)(params, x_BxD, key)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step


# --- two-level hierarchical VAE -------------------------------------------------------------------------------


class HierarchicalVAE(NamedTuple):
    """Generative :math:`p(z_2)p(z_1|z_2)p(x|z_1)`, inference :math:`q(z_1|x)q(z_2|z_1)`; parameters are a dict with
    keys ``q_z1``, ``q_z2``, ``p_z1`` (Gaussian conditionals, :func:`conditional_gaussian`) and ``decoder``.

    Attributes:
      init: ``init(key) -> params``.
      q_z1, q_z2, p_z1: ``(params, u) -> (mean, log_var)`` of :math:`q(z_1|x)`, :math:`q(z_2|z_1)`, :math:`p(z_1|z_2)`.
      decode, log_likelihood: as :class:`VAE`, for :math:`p(x|z_1)`.
      data_dim, latent_dims: :math:`D` and :math:`(M_1, M_2)`.
    """

    init: Callable[[jax.Array], Params]
    q_z1: Callable[[Params, ArrayLike], tuple[jax.Array, jax.Array]]
    q_z2: Callable[[Params, ArrayLike], tuple[jax.Array, jax.Array]]
    p_z1: Callable[[Params, ArrayLike], tuple[jax.Array, jax.Array]]
    decode: Callable[[Params, ArrayLike], jax.Array]
    log_likelihood: Callable[[Params, ArrayLike, ArrayLike], jax.Array]
    data_dim: int
    latent_dims: tuple[int, int]


def hierarchical_vae(data_dim: int, latent_dims: tuple[int, int], hidden: Sequence[int] = (128,), *,
                     likelihood: str = "gaussian", activation: str = "relu", init_log_var: float = 0.0
                     ) -> HierarchicalVAE:
    """A two-level VAE (class docstring) with :func:`dl_theory.models.mlp.mlp` networks of ``hidden`` widths for
    :math:`q(z_1|x)` and :math:`p(x|z_1)`; the conditionals between :math:`z_1` and :math:`z_2` use the same widths.

    Raises:
      ValueError: if a dimension is not a positive integer or ``likelihood`` is unknown.
    """
    data_dim = checks.count("data_dim", data_dim)
    m1, m2 = (checks.count("latent_dims", m) for m in latent_dims)
    init_q1, q1 = conditional_gaussian(hidden, m1, activation=activation)
    init_q2, q2 = conditional_gaussian(hidden, m2, activation=activation)
    init_p1, p1 = conditional_gaussian(hidden, m1, activation=activation)
    init_dec, decode, log_lik = _decoder(tuple(hidden)[::-1], m1, data_dim, likelihood, activation, init_log_var)

    def init(key: jax.Array) -> Params:
        k = jax.random.split(key, 4)
        return {"q_z1": init_q1(k[0], data_dim), "q_z2": init_q2(k[1], m1), "p_z1": init_p1(k[2], m2),
                "decoder": init_dec(k[3])}

    return HierarchicalVAE(init, lambda p, x: q1(p["q_z1"], x), lambda p, z1: q2(p["q_z2"], z1),
                           lambda p, z2: p1(p["p_z1"], z2), lambda p, z1: decode(p["decoder"], z1),
                           lambda p, x, z1: log_lik(p["decoder"], x, z1), data_dim, (m1, m2))


def hierarchical_log_weights(model: HierarchicalVAE, params: Params, x_NxD: ArrayLike, key: jax.Array,
                             n_samples: int) -> jax.Array:
    r"""Per-sample :math:`\ln p(x|z_1) + \ln p(z_1|z_2) + \ln p(z_2) - \ln q(z_1|x) - \ln q(z_2|z_1)` with
    :math:`z_1 \sim q(z_1|x)`, :math:`z_2 \sim q(z_2|z_1)` (both reparameterized), shape ``(n_samples, N)``: every
    term is evaluated at the same sample and in the direction it was drawn (the module docstring's consistent ELBO).
    Constant in the sample, and equal to :math:`\ln p(x)`, exactly when :math:`q` is the posterior."""
    n_samples = checks.count("n_samples", n_samples)
    x_NxD = jnp.asarray(x_NxD)
    k1, k2 = jax.random.split(key)
    m1, v1 = model.q_z1(params, x_NxD)
    z1_SxNxM = reparameterize(k1, m1, v1, n_samples)
    m2, v2 = model.q_z2(params, z1_SxNxM)
    z2_SxNxM = m2 + jnp.exp(0.5 * v2) * jax.random.normal(k2, m2.shape, m2.dtype)
    pm1, pv1 = model.p_z1(params, z2_SxNxM)
    return (model.log_likelihood(params, x_NxD[None], z1_SxNxM) + diag_gaussian_log_prob(z1_SxNxM, pm1, pv1)
            + diag_gaussian_log_prob(z2_SxNxM, 0.0, 0.0) - diag_gaussian_log_prob(z1_SxNxM, m1, v1)
            - diag_gaussian_log_prob(z2_SxNxM, m2, v2))


def hierarchical_elbo(model: HierarchicalVAE, params: Params, x_NxD: ArrayLike, key: jax.Array,
                      n_samples: int = 1) -> jax.Array:
    """The two-level ELBO per example, shape ``(N,)``: the mean of :func:`hierarchical_log_weights`."""
    return jnp.mean(hierarchical_log_weights(model, params, x_NxD, key, n_samples), axis=0)


# --- exact linear-Gaussian references --------------------------------------------------------------------------


def linear_gaussian_elbo(model: LinearGaussian, x_D: ArrayLike, q_mean_M: ArrayLike, q_cov_MxM: ArrayLike
                         ) -> jax.Array:
    r"""The ELBO of :math:`q = \mathcal N(m, S)` for :math:`x` under the linear-Gaussian model
    :math:`z\sim\mathcal N(0,I)`, :math:`x|z \sim\mathcal N(Wz+\mu, \Psi)`, in closed form:

    .. math::
       \mathbb E_q\ln p(x|z) - \mathrm{KL}(q\|p(z)) = -\tfrac12\big[D\ln 2\pi + \ln\det\Psi + (x-\mu-Wm)^\top
       \Psi^{-1}(x-\mu-Wm) + \operatorname{tr}(W^\top\Psi^{-1}WS)\big] - \mathrm{KL}(\mathcal N(m,S)\|\mathcal N(0,I)).

    Computed from the likelihood side only (no posterior), so :math:`\ln p(x) - \mathrm{ELBO} = \mathrm{KL}(q\|p(z|x))`
    is a check, not an identity of the code."""
    x_D, q_mean_M, q_cov_MxM = jnp.asarray(x_D), jnp.asarray(q_mean_M), jnp.asarray(q_cov_MxM)
    w_DxM, psi_D = model.loading_DxM, model.noise_var_D
    resid_D = x_D - model.mean_D - w_DxM @ q_mean_M
    expected_ll = -0.5 * (x_D.shape[0] * jnp.log(2 * jnp.pi) + jnp.sum(jnp.log(psi_D)) + jnp.sum(resid_D**2 / psi_D)
                          + jnp.trace((w_DxM.T / psi_D[None]) @ w_DxM @ q_cov_MxM))
    m, dtype = q_mean_M.shape[0], q_mean_M.dtype
    return expected_ll - kl_gaussian(q_mean_M, q_cov_MxM, jnp.zeros(m, dtype), jnp.eye(m, dtype=dtype))


class TwoLevelLinearGaussian(NamedTuple):
    r""":math:`z_2 \sim \mathcal N(0, I_{M_2})`, :math:`z_1 | z_2 \sim` ``top`` (:math:`\mathcal N(a + Az_2,
    \operatorname{diag}\tau)`), :math:`x | z_1 \sim` ``bottom`` (:math:`\mathcal N(\mu + Wz_1, \operatorname{diag}
    \psi)`): both levels are :class:`~dl_theory.models.generative.linear_gaussian.LinearGaussian` models."""

    top: LinearGaussian
    bottom: LinearGaussian


def _stacked(model: TwoLevelLinearGaussian) -> tuple[LinearGaussian, jax.Array, jax.Array]:
    r"""With :math:`u = (z_2, \varepsilon) \sim \mathcal N(0, I)` and :math:`z_1 = a + [A, \operatorname{diag}
    \sqrt\tau]u`, :math:`x` is a one-level linear-Gaussian model in :math:`u`; returns it and the affine map
    ``(offset, T)`` from :math:`u` to :math:`(z_1, z_2)`."""
    a_M1, a_M1xM2, tau_M1 = model.top
    m1, m2 = a_M1xM2.shape
    to_z1 = jnp.concatenate([a_M1xM2, jnp.diag(jnp.sqrt(tau_M1))], axis=1)
    to_z2 = jnp.concatenate([jnp.eye(m2, dtype=a_M1.dtype), jnp.zeros((m2, m1), a_M1.dtype)], axis=1)
    w_DxM1 = model.bottom.loading_DxM
    flat = LinearGaussian(model.bottom.mean_D + w_DxM1 @ a_M1, w_DxM1 @ to_z1, model.bottom.noise_var_D)
    return flat, jnp.concatenate([a_M1, jnp.zeros(m2, a_M1.dtype)]), jnp.concatenate([to_z1, to_z2], axis=0)


def two_level_log_likelihood(model: TwoLevelLinearGaussian, x_NxD: ArrayLike) -> jax.Array:
    r"""Exact :math:`\ln p(x) = \ln\mathcal N(x;\ \mu + Wa,\ W(AA^\top + \operatorname{diag}\tau)W^\top +
    \operatorname{diag}\psi)` per row, shape ``(N,)``."""
    return log_likelihood(_stacked(model)[0], x_NxD)


def two_level_posterior(model: TwoLevelLinearGaussian, x_NxD: ArrayLike) -> tuple[jax.Array, jax.Array]:
    r"""The exact joint posterior :math:`p(z_1, z_2 | x)`: means ``(N, M_1 + M_2)`` (:math:`z_1` first) and the shared
    covariance ``(M_1 + M_2, M_1 + M_2)``, pushed forward from the posterior of :math:`u` (see ``_stacked``)."""
    flat, offset, t_MxU = _stacked(model)
    mean_NxU, cov_UxU = posterior(flat, x_NxD)
    return offset[None] + mean_NxU @ t_MxU.T, t_MxU @ cov_UxU @ t_MxU.T


def notes_two_level_gap(cov_MxM: ArrayLike, m1: int) -> jax.Array:
    r"""How far the notes' mixed-direction two-level "ELBO" :math:`\mathbb E_q[\ln p(x|z_1) + \ln\frac{p(z_1|z_2)}
    {q(z_1|z_2)} + \ln\frac{p(z_2)}{q(z_2|z_1)}]` lies below the ELBO for a Gaussian :math:`q(z_1, z_2)` with
    covariance ``cov_MxM`` (:math:`z_1` the first ``m1`` coordinates): the difference is
    :math:`\mathbb E_q[\ln q(z_2) - \ln q(z_2|z_1)] = -I_q(z_1; z_2) = \tfrac12[\ln\det\Sigma - \ln\det\Sigma_{11} -
    \ln\det\Sigma_{22}]` (Cover & Thomas 2006, eq. 8.56). Returns :math:`I_q(z_1; z_2) \ge 0`."""
    cov_MxM = jnp.asarray(cov_MxM)
    logdet = lambda c: jnp.linalg.slogdet(c)[1]  # noqa: E731
    return 0.5 * (logdet(cov_MxM[:m1, :m1]) + logdet(cov_MxM[m1:, m1:]) - logdet(cov_MxM))
