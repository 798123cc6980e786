"""Generative models (§7) as pure functions.

* :mod:`~dl_theory.models.generative.divergences` -- KL between Gaussians (diagonal, full) and discrete laws, JS,
  Monte-Carlo KL, W1, forward- and reverse-KL fits of one Gaussian;
* :mod:`~dl_theory.models.generative.linear_gaussian` -- factor analysis and probabilistic PCA (closed form, EM),
  the marginal, posterior and log-likelihood of a linear-Gaussian model;
* :mod:`~dl_theory.models.generative.generative_classifier` -- the shared-covariance Gaussian classifier and its
  logistic-regression form;
* :mod:`~dl_theory.models.generative.linear_autoencoder` -- the linear autoencoder's optimum set and its error.

``sample``, ``log_likelihood`` and ``posterior`` of the linear-Gaussian model are reached through their module.
"""

from dl_theory.models.generative import divergences, generative_classifier, linear_autoencoder, linear_gaussian
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

__all__ = [
    "GaussianClassifier", "LinearGaussian", "class_posterior", "divergences", "factor_analysis_em",
    "factor_analysis_em_trace", "fit_gaussian_classifier", "forward_kl_fit", "generative_classifier", "js_discrete",
    "kl_diag_gaussian", "kl_discrete", "kl_gaussian", "linear_autoencoder", "linear_gaussian", "logistic_form",
    "marginal_covariance", "mixture_log_prob", "mixture_sample", "monte_carlo_kl", "pca_autoencoder", "ppca",
    "reconstruction_error", "reverse_kl", "reverse_kl_fit", "wasserstein1",
]
