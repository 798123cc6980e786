"""Generative models (§7) as pure functions.

* :mod:`~dl_theory.models.generative.divergences` -- KL between Gaussians (diagonal, full) and discrete laws, JS,
  Monte-Carlo KL, W1, forward- and reverse-KL fits of one Gaussian;
* :mod:`~dl_theory.models.generative.linear_gaussian` -- factor analysis and probabilistic PCA (closed form, EM),
  the marginal, posterior and log-likelihood of a linear-Gaussian model;
* :mod:`~dl_theory.models.generative.generative_classifier` -- the shared-covariance Gaussian classifier and its
  logistic-regression form;
* :mod:`~dl_theory.models.generative.linear_autoencoder` -- the linear autoencoder's optimum set and its error;
* :mod:`~dl_theory.models.generative.vae` -- the VAE: reparameterization, ELBO with the closed-form KL, the IWAE
  bound, a two-level hierarchical VAE, exact linear-Gaussian references;
* :mod:`~dl_theory.models.generative.made` -- MADE: masks, exact Bernoulli likelihood, ancestral sampling;
* :mod:`~dl_theory.models.generative.flows` -- bijectors (affine coupling, MAF, IAF, permutations, chains, the
  spherical map), ``log_prob`` and ``sample`` of a flow;
* :mod:`~dl_theory.models.generative.gan` -- the GAN value and losses, the optimal discriminator, WGAN-GP, parallel
  lines, a ring of Gaussians and mode coverage;
* :mod:`~dl_theory.models.generative.diffusion` -- DDPM: schedules, the forward process and its posterior, the
  ε-prediction loss, ancestral sampling, a time-conditioned denoiser with classifier-free guidance.

Names that several models share (``sample``, ``log_prob``, ``posterior``, ``fit``, the builder ``vae.vae``) are reached
through their module.
"""

from dl_theory.models.generative import (
    diffusion,
    divergences,
    flows,
    gan,
    generative_classifier,
    linear_autoencoder,
    linear_gaussian,
    made,
    vae,
)
from dl_theory.models.generative.diffusion import (
    Schedule,
    cosine_schedule,
    ddpm_sample,
    ddpm_train_step,
    denoiser,
    eps_loss,
    linear_schedule,
    q_sample,
)
from dl_theory.models.generative.divergences import (
    forward_kl_fit,
    js_discrete,
    kl_diag_gaussian,
    kl_discrete,
    kl_gaussian,
    mixture_log_prob,
    mixture_sample,
    monte_carlo_kl,
    reverse_kl,
    reverse_kl_fit,
    wasserstein1,
)
from dl_theory.models.generative.flows import Bijector, affine_coupling, chain, iaf, maf
from dl_theory.models.generative.gan import (
    discriminator_loss,
    gan_value,
    generator_loss,
    gradient_penalty,
    mode_coverage,
    optimal_discriminator,
    optimal_value,
    train_gan,
    wgan_gp_critic_loss,
)
from dl_theory.models.generative.generative_classifier import (
    GaussianClassifier,
    class_posterior,
    fit_gaussian_classifier,
    logistic_form,
)
from dl_theory.models.generative.linear_autoencoder import pca_autoencoder, reconstruction_error
from dl_theory.models.generative.linear_gaussian import (
    LinearGaussian,
    factor_analysis_em,
    factor_analysis_em_trace,
    marginal_covariance,
    ppca,
)
from dl_theory.models.generative.made import MADE, bernoulli_log_prob, bernoulli_sample
from dl_theory.models.generative.vae import (
    VAE,
    HierarchicalVAE,
    TwoLevelLinearGaussian,
    elbo,
    hierarchical_elbo,
    hierarchical_vae,
    iwae_bound,
    reparameterize,
    train_step_fn,
)

__all__ = [
    "Bijector", "GaussianClassifier", "HierarchicalVAE", "LinearGaussian", "MADE", "Schedule",
    "TwoLevelLinearGaussian", "VAE", "affine_coupling", "bernoulli_log_prob", "bernoulli_sample", "chain",
    "class_posterior", "cosine_schedule", "ddpm_sample", "ddpm_train_step", "denoiser", "diffusion",
    "discriminator_loss", "divergences", "elbo", "eps_loss", "factor_analysis_em", "factor_analysis_em_trace",
    "fit_gaussian_classifier", "flows", "forward_kl_fit", "gan", "gan_value", "generative_classifier",
    "generator_loss", "gradient_penalty", "hierarchical_elbo", "hierarchical_vae", "iaf", "iwae_bound",
    "js_discrete", "kl_diag_gaussian", "kl_discrete", "kl_gaussian", "linear_autoencoder", "linear_gaussian",
    "linear_schedule", "logistic_form", "made", "maf", "marginal_covariance", "mixture_log_prob", "mixture_sample",
    "mode_coverage", "monte_carlo_kl", "optimal_discriminator", "optimal_value", "pca_autoencoder", "ppca",
    "q_sample", "reconstruction_error", "reparameterize", "reverse_kl", "reverse_kl_fit", "train_gan",
    "train_step_fn", "vae", "wasserstein1", "wgan_gp_critic_loss",
]
