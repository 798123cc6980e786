r"""Generative adversarial networks: the minimax value, the optimal discriminator, non-saturating and Wasserstein
(gradient-penalty) objectives, the parallel-lines example, a ring of Gaussians, and a jitted two-player training loop.

A GAN (Goodfellow et al. 2014) plays :math:`\min_G \max_D V(D, G)` with

.. math::
   V(D, G) = \mathbb E_{x\sim p}[\ln D(x)] + \mathbb E_{z\sim p_z}[\ln(1 - D(G(z)))].

For a fixed generator with density :math:`q`, :math:`V` is maximized pointwise by :math:`D^*(x) = p(x)/(p(x) + q(x))`
(maximize :math:`p\ln D + q\ln(1-D)` in :math:`D`), and :math:`V(D^*, G) = 2\,\mathrm{JS}(p\|q) - \ln 4`
(Goodfellow et al. 2014, Prop. 1 and Thm. 1). The generator's minimax loss :math:`\mathbb E\ln(1 - D(G(z)))` has
gradient :math:`-D\,\nabla\ell` in the discriminator's logit :math:`\ell`: it vanishes when the discriminator wins
(:math:`D(G(z)) \to 0`); the non-saturating loss :math:`-\mathbb E\ln D(G(z))` has gradient :math:`-(1-D)\nabla\ell`
and does not (Goodfellow et al. 2014, §3; Arjovsky & Bottou 2017, §2.2).

For distributions with disjoint supports JS is :math:`\ln 2` whatever the distance between them, so its gradient is
zero; the Wasserstein-1 distance :math:`W_1(p, q) = \sup_{\|f\|_L\le 1}\mathbb E_p f - \mathbb E_q f`
(Kantorovich–Rubinstein) is not. Arjovsky et al. (2017, Example 1) take :math:`P_0 = (0, U[0,1])` and
:math:`P_\theta = (\theta, U[0,1])` in the plane: :math:`\mathrm{JS} = \ln 2` for :math:`\theta \ne 0` and
:math:`W_1 = |\theta|`. WGAN-GP (Gulrajani et al. 2017) trains a critic :math:`f` on

.. math::
   L_f = \mathbb E_{q} f - \mathbb E_{p} f + \lambda\,\mathbb E_{\hat x}(\|\nabla_{\hat x} f(\hat x)\|_2 - 1)^2,
   \qquad \hat x = \epsilon x + (1-\epsilon)\tilde x,\ \epsilon \sim U[0,1],

with :math:`\lambda = 10`, ``n_critic = 5`` critic steps per generator step and Adam(1e-4, β₁ = 0, β₂ = 0.9)
(their Algorithm 1); then :math:`\mathbb E_p f - \mathbb E_q f` estimates :math:`W_1`.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.models.generative.divergences import js_discrete

__all__ = ["GANRun", "GP_WEIGHT", "N_CRITIC", "OBJECTIVES", "ModeCoverage", "critic_gap", "discriminator_loss",
           "fit_discriminator", "gan_value", "generator_loss", "gp_critic_gap_1d", "gradient_penalty", "mode_coverage",
           "optimal_discriminator", "optimal_value", "parallel_lines_js", "parallel_lines_sample",
           "parallel_lines_w1", "ring_centers", "ring_of_gaussians", "train_gan", "value_quadrature",
           "wgan_gp_critic_loss", "wgan_gp_optimizer"]

GP_WEIGHT = 10.0  # lambda of Gulrajani et al. (2017)
N_CRITIC = 5  # critic steps per generator step (Gulrajani et al. 2017, Algorithm 1)
OBJECTIVES = ("minimax", "non_saturating", "wgan_gp")
Sampler = Callable[[jax.Array, int], jax.Array]


def gan_value(real_logits_N: ArrayLike, fake_logits_M: ArrayLike) -> jax.Array:
    r"""Sample estimate of :math:`V(D, G) = \mathbb E_p\ln D(x) + \mathbb E_q\ln(1 - D(\tilde x))` from the
    discriminator's logits :math:`\ell` (:math:`D = \sigma(\ell)`, so :math:`\ln D = \ln\sigma(\ell)` and
    :math:`\ln(1-D) = \ln\sigma(-\ell)`, computed stably)."""
    real_logits_N, fake_logits_M = jnp.asarray(real_logits_N), jnp.asarray(fake_logits_M)
    return jnp.mean(jax.nn.log_sigmoid(real_logits_N)) + jnp.mean(jax.nn.log_sigmoid(-fake_logits_M))


def discriminator_loss(real_logits_N: ArrayLike, fake_logits_M: ArrayLike) -> jax.Array:
    r""":math:`-V(D, G)`: the binary cross-entropy of labelling real samples 1 and generated ones 0 (equal priors)."""
    return -gan_value(real_logits_N, fake_logits_M)


def generator_loss(fake_logits_M: ArrayLike, kind: str = "non_saturating") -> jax.Array:
    r"""The generator's loss on the discriminator's logits at generated samples.

    ``"minimax"``: :math:`\mathbb E\ln(1 - D(G(z)))` (the term of :math:`V`; saturates as :math:`D(G(z)) \to 0`);
    ``"non_saturating"``: :math:`-\mathbb E\ln D(G(z))` (Goodfellow et al. 2014, §3). Both are minimized.

    Raises:
      ValueError: if ``kind`` is not one of the two.
    """
    checks.one_of("minimax", "non_saturating")("kind", kind)
    fake_logits_M = jnp.asarray(fake_logits_M)
    if kind == "minimax":
        return jnp.mean(jax.nn.log_sigmoid(-fake_logits_M))
    return -jnp.mean(jax.nn.log_sigmoid(fake_logits_M))


def optimal_discriminator(p_x: ArrayLike, q_x: ArrayLike) -> jax.Array:
    r""":math:`D^*(x) = p(x)/(p(x) + q(x))` from the two densities (or masses) at the same points, elementwise
    (1/2 where both vanish).

    Raises:
      ValueError: if a density is negative (checked when concrete).
    """
    checks.nonnegative("p_x", p_x)
    checks.nonnegative("q_x", q_x)
    p_x, q_x = jnp.asarray(p_x), jnp.asarray(q_x)
    total = p_x + q_x
    return jnp.where(total > 0, p_x / jnp.where(total > 0, total, 1.0), 0.5)


def value_quadrature(logit_N: ArrayLike, p_N: ArrayLike, q_N: ArrayLike, weights_N: ArrayLike) -> jax.Array:
    r""":math:`V(D) = \int p\ln D + q\ln(1-D)\,dx \approx \sum_i w_i[p_i\ln D_i + q_i\ln(1-D_i)]` for known
    densities at quadrature nodes with weights :math:`w_i`, the discriminator given by its logits
    :math:`\ell_i` (:math:`D = \sigma(\ell)`; :math:`\ln D = \ln\sigma(\ell)` stays finite where :math:`D` rounds
    to 0 or 1). :math:`D^*` has logit :math:`\ln p - \ln q`.

    Raises:
      ValueError: if a density is negative (checked when concrete).
    """
    checks.nonnegative("p_N", p_N)
    checks.nonnegative("q_N", q_N)
    logit_N, p_N, q_N, weights_N = (jnp.asarray(a) for a in (logit_N, p_N, q_N, weights_N))
    return jnp.sum(weights_N * (p_N * jax.nn.log_sigmoid(logit_N) + q_N * jax.nn.log_sigmoid(-logit_N)))


def optimal_value(p_K: ArrayLike, q_K: ArrayLike) -> jax.Array:
    r""":math:`V(D^*, G) = 2\,\mathrm{JS}(p\|q) - \ln 4` for discrete distributions (or quadrature masses) along the
    last axis, with JS from :func:`dl_theory.models.generative.divergences.js_discrete`. It lies in
    :math:`[-\ln 4, 0]`: :math:`-\ln 4` iff :math:`p = q`, :math:`0` iff the supports are disjoint."""
    return 2.0 * js_discrete(p_K, q_K) - jnp.log(4.0)


def critic_gap(real_scores_N: ArrayLike, fake_scores_M: ArrayLike) -> jax.Array:
    r""":math:`\mathbb E_p f - \mathbb E_q f`: for a 1-Lipschitz critic a lower bound on :math:`W_1(p, q)`, equal to it
    at the supremum (Kantorovich–Rubinstein duality)."""
    return jnp.mean(jnp.asarray(real_scores_N)) - jnp.mean(jnp.asarray(fake_scores_M))


def gradient_penalty(critic: Callable[[jax.Array], jax.Array], real_NxD: ArrayLike, fake_NxD: ArrayLike,
                     key: jax.Array) -> jax.Array:
    r""":math:`\mathbb E_{\hat x}(\|\nabla_{\hat x} f(\hat x)\|_2 - 1)^2` at :math:`\hat x_i = \epsilon_i x_i +
    (1-\epsilon_i)\tilde x_i`, :math:`\epsilon_i \sim U[0,1]` (Gulrajani et al. 2017, eq. 3). ``critic`` maps
    ``(N, D)`` to ``(N,)`` or ``(N, 1)`` with each output depending on its own row only (an MLP), so the input
    gradient of the summed outputs holds every per-sample gradient."""
    real_NxD, fake_NxD = jnp.asarray(real_NxD), jnp.asarray(fake_NxD)
    if real_NxD.shape != fake_NxD.shape or real_NxD.ndim != 2:
        raise checks.fail("fake_NxD", f"of the shape of real_NxD {real_NxD.shape} (N, D)", fake_NxD.shape)
    eps_Nx1 = jax.random.uniform(key, (real_NxD.shape[0], 1), real_NxD.dtype)
    x_hat = eps_Nx1 * real_NxD + (1.0 - eps_Nx1) * fake_NxD
    grad_NxD = jax.grad(lambda x: jnp.sum(critic(x)))(x_hat)
    norm_N = jnp.sqrt(jnp.sum(grad_NxD**2, axis=-1) + 1e-12)
    return jnp.mean((norm_N - 1.0) ** 2)


def wgan_gp_critic_loss(critic: Callable[[jax.Array], jax.Array], real_NxD: ArrayLike, fake_NxD: ArrayLike,
                        key: jax.Array, gp_weight: float = GP_WEIGHT) -> jax.Array:
    r"""The WGAN-GP critic loss :math:`\mathbb E_q f - \mathbb E_p f + \lambda\,\mathrm{GP}` (minimized), with the
    penalty of :func:`gradient_penalty`."""
    checks.nonnegative("gp_weight", gp_weight)
    gap = critic_gap(critic(real_NxD), critic(fake_NxD))
    return -gap + gp_weight * gradient_penalty(critic, real_NxD, fake_NxD, key)


def gp_critic_gap_1d(cdf_gap_N: ArrayLike, interp_density_N: ArrayLike, weights_N: ArrayLike,
                     gp_weight: float = GP_WEIGHT) -> jax.Array:
    r"""The gap :math:`\mathbb E_p f - \mathbb E_q f` of the *optimal* gradient-penalty critic in one dimension: a
    WGAN-GP estimate of :math:`W_1` is biased upwards by the penalty.

    In 1-D, :math:`\mathbb E_p f - \mathbb E_q f = \int f'(x)\,c(x)\,dx` with :math:`c = F_q - F_p` (integration by
    parts) and the penalty is :math:`\lambda\int r(x)(|f'(x)| - 1)^2dx`, :math:`r` the density of the interpolates
    :math:`\hat x`. Maximizing pointwise gives :math:`f' = \operatorname{sign}(c)(1 + |c|/(2\lambda r))`, hence

    .. math::
       \mathbb E_p f^* - \mathbb E_q f^* = \int |c| + \frac{c^2}{2\lambda r}\,dx
       = W_1(p, q) + \frac{1}{2\lambda}\int\frac{(F_q - F_p)^2}{r}\,dx \ \ge W_1(p, q),

    with :math:`W_1 = \int|F_p - F_q|` (Vallender 1974). For two parallel segments at distance :math:`\theta`
    (Arjovsky et al. 2017) the same argument along the segment direction gives :math:`|\theta| + \theta^2/(2\lambda)`.
    Arguments are quadrature nodes' values of :math:`c`, :math:`r > 0` and the weights.

    Raises:
      ValueError: if a density is not > 0 or ``gp_weight`` is not > 0 (checked when concrete).
    """
    checks.positive("interp_density_N", interp_density_N)
    checks.positive("gp_weight", gp_weight)
    c_N, r_N, w_N = (jnp.asarray(a) for a in (cdf_gap_N, interp_density_N, weights_N))
    return jnp.sum(w_N * (jnp.abs(c_N) + c_N**2 / (2.0 * gp_weight * r_N)))


def wgan_gp_optimizer(learning_rate: float = 1e-4, b1: float = 0.0, b2: float = 0.9) -> optax.GradientTransformation:
    """Adam with the WGAN-GP defaults of Gulrajani et al. (2017): learning rate 1e-4, β₁ = 0, β₂ = 0.9."""
    checks.positive("learning_rate", learning_rate)
    return optax.adam(learning_rate, b1=b1, b2=b2)


# --- examples -------------------------------------------------------------------------------------------------------

def parallel_lines_sample(key: jax.Array, theta: ArrayLike, n: int, spread: ArrayLike = 0.0) -> jax.Array:
    r"""``n`` draws of :math:`P_\theta = (\theta, U[0,1])` in the plane, shape ``(n, 2)`` (Arjovsky et al. 2017,
    Example 1). With ``spread`` :math:`s > 0` the first coordinate is :math:`\mathcal N(\theta, s^2)` instead: the
    lines blur into overlapping bands, and every divergence between two such laws is that of their first coordinates
    (the second is the same uniform and independent), e.g. :math:`D^*(x, y) = D^*(x)`."""
    n = checks.count("n", n)
    checks.nonnegative("spread", spread)
    k_x, k_u = jax.random.split(key)
    u_N = jax.random.uniform(k_u, (n,))
    x_N = jnp.asarray(theta, u_N.dtype) + jnp.asarray(spread, u_N.dtype) * jax.random.normal(k_x, (n,), u_N.dtype)
    return jnp.stack([x_N, u_N], axis=1)


def parallel_lines_js(theta: ArrayLike) -> jax.Array:
    r""":math:`\mathrm{JS}(P_0\|P_\theta)`: :math:`\ln 2` for :math:`\theta \ne 0` (disjoint supports), 0 at 0."""
    theta = jnp.asarray(theta, jnp.result_type(float))
    return jnp.where(theta == 0, 0.0, jnp.log(2.0)).astype(theta.dtype)


def parallel_lines_w1(theta: ArrayLike) -> jax.Array:
    r""":math:`W_1(P_0, P_\theta) = |\theta|`: move every point horizontally (any coupling moves each point at least
    :math:`|\theta|`)."""
    return jnp.abs(jnp.asarray(theta, jnp.result_type(float)))


def ring_centers(n_modes: int = 8, radius: float = 2.0) -> jax.Array:
    """The ``(n_modes, 2)`` centers :math:`r(\\cos 2\\pi k/K, \\sin 2\\pi k/K)` of a ring of Gaussians."""
    n_modes = checks.count("n_modes", n_modes)
    checks.positive("radius", radius)
    angle = 2 * jnp.pi * jnp.arange(n_modes) / n_modes
    return radius * jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=1)


def ring_of_gaussians(key: jax.Array, n: int, n_modes: int = 8, radius: float = 2.0, std: float = 0.02) -> jax.Array:
    """``n`` draws of the equal mixture of ``N(center_k, std² I)`` over :func:`ring_centers`, shape ``(n, 2)``: the
    mode-collapse test distribution of Metz et al. (2017)."""
    checks.positive("std", std)
    centers = ring_centers(n_modes, radius)
    k_mode, k_noise = jax.random.split(key)
    mode = jax.random.randint(k_mode, (checks.count("n", n),), 0, n_modes)
    return centers[mode] + std * jax.random.normal(k_noise, (n, 2), centers.dtype)


class ModeCoverage(NamedTuple):
    """Per-mode counts of high-quality samples, the high-quality fraction and the number of modes covered."""

    counts_K: np.ndarray
    high_quality: float
    modes_covered: int


def mode_coverage(samples_NxD: ArrayLike, centers_KxD: ArrayLike, std: float, *, n_std: float = 3.0,
                  min_share: float = 0.25) -> ModeCoverage:
    """Mode coverage of generated samples (the metric of Metz et al. 2017 and Srivastava et al. 2017).

    A sample is *high quality* for mode ``k`` if it lies within ``n_std * std`` of center ``k``; a mode is *covered*
    if it receives at least ``min_share`` of its expected share ``N/K`` of the samples.

    Raises:
      ValueError: if the shapes disagree or ``std``, ``n_std``, ``min_share`` is out of range.
    """
    samples_NxD, centers_KxD = np.asarray(samples_NxD, float), np.asarray(centers_KxD, float)
    if samples_NxD.ndim != 2 or centers_KxD.ndim != 2 or samples_NxD.shape[1] != centers_KxD.shape[1]:
        raise checks.fail("samples_NxD", f"(N, D) with D = centers_KxD.shape[1] of {centers_KxD.shape}",
                          samples_NxD.shape)
    checks.positive("std", std)
    checks.positive("n_std", n_std)
    checks.in_interval(0.0, 1.0, closed=True)("min_share", min_share)
    dist_NxK = np.linalg.norm(samples_NxD[:, None, :] - centers_KxD[None], axis=-1)
    near = dist_NxK.min(axis=1) <= n_std * std
    counts_K = np.bincount(dist_NxK.argmin(axis=1)[near], minlength=len(centers_KxD))
    n, k = samples_NxD.shape[0], centers_KxD.shape[0]
    return ModeCoverage(counts_K, float(near.mean()), int(np.sum(counts_K >= min_share * n / k)))


# --- training -------------------------------------------------------------------------------------------------------

class GANRun(NamedTuple):
    """Final parameters and per-step losses of :func:`train_gan` (the discriminator's is its last critic step's)."""

    gen_params: object
    disc_params: object
    disc_loss_T: jax.Array
    gen_loss_T: jax.Array


def _scores(apply_fn: Callable, params, x: jax.Array) -> jax.Array:
    return apply_fn(params, x)[:, 0]


def _disc_loss_fn(apply_fn: Callable, objective: str, gp_weight: float) -> Callable:
    """``loss(params, real, fake, key)`` of the discriminator (``"minimax"``/``"non_saturating"``: cross-entropy)."""
    if objective == "wgan_gp":
        return lambda p, real, fake, key: wgan_gp_critic_loss(lambda x: _scores(apply_fn, p, x), real, fake, key,
                                                              gp_weight)
    return lambda p, real, fake, key: discriminator_loss(_scores(apply_fn, p, real), _scores(apply_fn, p, fake))


def _check_common(objective: str, n_steps: int, batch_size: int, gp_weight: float) -> None:
    checks.one_of(*OBJECTIVES)("objective", objective)
    checks.count("n_steps", n_steps)
    checks.count("batch_size", batch_size)
    checks.nonnegative("gp_weight", gp_weight)


def _default_optimizer(objective: str) -> optax.GradientTransformation:
    # WGAN-GP: Gulrajani et al. (2017); GAN: Adam(2e-4, beta1 = 0.5) of Radford et al. (2016).
    return wgan_gp_optimizer() if objective == "wgan_gp" else optax.adam(2e-4, b1=0.5)


def fit_discriminator(key: jax.Array, discriminator: tuple, sample_real: Sampler, sample_fake: Sampler, *,
                      data_dim: int, objective: str = "minimax", n_steps: int, batch_size: int,
                      optimizer: optax.GradientTransformation | None = None,
                      gp_weight: float = GP_WEIGHT) -> tuple[object, jax.Array]:
    """Trains a discriminator (or, with ``objective="wgan_gp"``, a WGAN-GP critic) against two fixed samplers.

    Each of the ``n_steps`` steps draws ``batch_size`` fresh samples ``sample_real(key, n)`` and ``sample_fake(key,
    n)`` (shape ``(n, data_dim)``) and takes one optimizer step on :func:`discriminator_loss` or
    :func:`wgan_gp_critic_loss`; the loop is one ``lax.scan``, so the whole call can be jitted and vmapped over keys.

    Args:
      key: PRNG key (initialization and every draw).
      discriminator: ``(init_fn, apply_fn, ...)`` with one output (a :func:`dl_theory.models.mlp` triple); its output
        is the logit :math:`\\ell` (:math:`D = \\sigma(\\ell)`) or the critic value.
      optimizer: default Adam(2e-4, β₁ = 0.5) for the GAN objectives, :func:`wgan_gp_optimizer` for WGAN-GP.

    Returns:
      ``(params, losses_T)``.
    """
    _check_common(objective, n_steps, batch_size, gp_weight)
    init_fn, apply_fn = discriminator[0], discriminator[1]
    optimizer = _default_optimizer(objective) if optimizer is None else optimizer
    loss_fn = _disc_loss_fn(apply_fn, objective, gp_weight)
    k_init, k_train = jax.random.split(key)
    params = init_fn(k_init, (-1, checks.count("data_dim", data_dim)))[1]

    def step(carry, k):
        params, opt_state = carry
        k_real, k_fake, k_gp = jax.random.split(k, 3)
        loss, grads = jax.value_and_grad(loss_fn)(params, sample_real(k_real, batch_size),
                                                  sample_fake(k_fake, batch_size), k_gp)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    (params, _), losses = jax.lax.scan(step, (params, optimizer.init(params)), jax.random.split(k_train, n_steps))
    return params, losses


def train_gan(key: jax.Array, generator: tuple, discriminator: tuple, sample_real: Sampler, *, latent_dim: int,
              data_dim: int, objective: str = "non_saturating", n_steps: int, batch_size: int,
              n_critic: int | None = None, gen_optimizer: optax.GradientTransformation | None = None,
              disc_optimizer: optax.GradientTransformation | None = None, gp_weight: float = GP_WEIGHT) -> GANRun:
    r"""Alternating GAN training (Goodfellow et al. 2014, Algorithm 1; Gulrajani et al. 2017, Algorithm 1).

    Each of the ``n_steps`` generator steps first takes ``n_critic`` discriminator steps on fresh real samples and
    generated samples :math:`G(z)`, :math:`z \sim \mathcal N(0, I_{\text{latent\_dim}})`, then one generator step on
    :func:`generator_loss` (``"minimax"``, ``"non_saturating"``) or :math:`-\mathbb E f(G(z))` (``"wgan_gp"``, critic
    trained on :func:`wgan_gp_critic_loss`). Both loops are ``lax.scan``: the call is pure, so it can be jitted and
    vmapped over keys (independent runs compiled once).

    Args:
      key: PRNG key (initializations and every draw).
      generator: ``(init_fn, apply_fn, ...)`` from ``latent_dim`` to ``data_dim`` (a :func:`dl_theory.models.mlp`).
      discriminator: ``(init_fn, apply_fn, ...)`` from ``data_dim`` to one logit / critic value.
      sample_real: ``sample_real(key, n) -> (n, data_dim)``.
      n_critic: discriminator steps per generator step; default :data:`N_CRITIC` for WGAN-GP, 1 otherwise.
      gen_optimizer, disc_optimizer: default :func:`wgan_gp_optimizer` for WGAN-GP, Adam(2e-4, β₁ = 0.5) otherwise.

    Returns:
      a :class:`GANRun`.
    """
    _check_common(objective, n_steps, batch_size, gp_weight)
    n_critic = checks.count("n_critic", (N_CRITIC if objective == "wgan_gp" else 1) if n_critic is None else n_critic)
    gen_init, gen_apply = generator[0], generator[1]
    disc_init, disc_apply = discriminator[0], discriminator[1]
    gen_opt = _default_optimizer(objective) if gen_optimizer is None else gen_optimizer
    disc_opt = _default_optimizer(objective) if disc_optimizer is None else disc_optimizer
    disc_loss_fn = _disc_loss_fn(disc_apply, objective, gp_weight)
    latent_dim = checks.count("latent_dim", latent_dim)

    def fake(gen_params, k):
        return gen_apply(gen_params, jax.random.normal(k, (batch_size, latent_dim)))

    def gen_loss_fn(gen_params, disc_params, k):
        scores = _scores(disc_apply, disc_params, fake(gen_params, k))
        return -jnp.mean(scores) if objective == "wgan_gp" else generator_loss(scores, objective)

    def disc_step(gen_params, carry, k):
        params, opt_state = carry
        k_real, k_fake, k_gp = jax.random.split(k, 3)
        loss, grads = jax.value_and_grad(disc_loss_fn)(params, sample_real(k_real, batch_size),
                                                       fake(gen_params, k_fake), k_gp)
        updates, opt_state = disc_opt.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    def step(carry, k):
        gen_params, gen_state, disc_carry = carry
        k_disc, k_gen = jax.random.split(k)
        disc_carry, disc_losses = jax.lax.scan(lambda c, kk: disc_step(gen_params, c, kk), disc_carry,
                                               jax.random.split(k_disc, n_critic))
        gen_loss, grads = jax.value_and_grad(gen_loss_fn)(gen_params, disc_carry[0], k_gen)
        updates, gen_state = gen_opt.update(grads, gen_state, gen_params)
        return (optax.apply_updates(gen_params, updates), gen_state, disc_carry), (disc_losses[-1], gen_loss)

    k_gen_init, k_disc_init, k_train = jax.random.split(key, 3)
    gen_params = gen_init(k_gen_init, (-1, latent_dim))[1]
    disc_params = disc_init(k_disc_init, (-1, checks.count("data_dim", data_dim)))[1]
    carry = (gen_params, gen_opt.init(gen_params), (disc_params, disc_opt.init(disc_params)))
    (gen_params, _, (disc_params, _)), (disc_losses, gen_losses) = jax.lax.scan(
        step, carry, jax.random.split(k_train, n_steps))
    return GANRun(gen_params, disc_params, disc_losses, gen_losses)
