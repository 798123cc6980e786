"""PAC-Bayes: KL terms, kl inversion, bounds, bound-minimizing training and risk certificates.

See the submodules: :mod:`.binary_kl` (kl and its inverse), :mod:`.gaussian_kl` (KL between diagonal Gaussians),
:mod:`.bounds` (Seeger/Maurer, Pinsker, Catoni, training objectives), :mod:`.posterior` (Gaussian posterior over a
parameter pytree), :mod:`.objective` (training) and :mod:`.certificate` (Monte-Carlo risk certificates).
"""

from dl_theory.generalization.pac_bayes.binary_kl import binary_kl, kl_inv_upper, kl_inv_upper_diff
from dl_theory.generalization.pac_bayes.bounds import (
    bound_objective,
    catoni_bound,
    fclassic,
    fkl,
    flamb,
    flamb_optimal_lambda,
    fquad,
    kl_bound,
    maurer_complexity,
    notes_bound,
    pinsker_bound,
)
from dl_theory.generalization.pac_bayes.certificate import (
    Certificate,
    certificate_from_terms,
    certify,
    sampled_risks,
    sampling_bound,
)
from dl_theory.generalization.pac_bayes.gaussian_kl import kl_diag_gaussians
from dl_theory.generalization.pac_bayes.objective import fit_posterior, make_objective
from dl_theory.generalization.pac_bayes.posterior import (
    DiagGaussian,
    diag_gaussian,
    kl_divergence,
    sample_params,
    softplus_inverse,
    split_prior_certificate,
    stddev,
    stochastic_apply,
    variance,
)

__all__ = [
    "Certificate",
    "DiagGaussian",
    "binary_kl",
    "bound_objective",
    "catoni_bound",
    "certificate_from_terms",
    "certify",
    "diag_gaussian",
    "fclassic",
    "fit_posterior",
    "fkl",
    "flamb",
    "flamb_optimal_lambda",
    "fquad",
    "kl_bound",
    "kl_diag_gaussians",
    "kl_divergence",
    "kl_inv_upper",
    "kl_inv_upper_diff",
    "make_objective",
    "maurer_complexity",
    "notes_bound",
    "pinsker_bound",
    "sample_params",
    "sampled_risks",
    "sampling_bound",
    "softplus_inverse",
    "split_prior_certificate",
    "stddev",
    "stochastic_apply",
    "variance",
]
