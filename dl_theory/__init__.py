"""dl_theory: deep-learning theory in pure JAX functions.

``import dl_theory as nt`` gives the public names of neural-tangents (``stax``, ``empirical_ntk_fn``,
``monte_carlo_kernel_fn``, ``predict``, ``batch``, ``linearize``, ``taylor_expand``) on modern JAX, plus the
analysis modules (``hessian``, ``convergence``, ``pac_bayes``) and the experiment framework.
"""

from dl_theory import convergence, hessian, optim, pac_bayes, predict, spectral, stax
from dl_theory.batching import batch
from dl_theory.empirical import (
    DEFAULT_NTK_IMPLEMENTATION,
    NtkImplementation,
    empirical_kernel_fn,
    empirical_nngp_fn,
    empirical_ntk_fn,
    empirical_ntk_vp_fn,
)
from dl_theory.linearization import linearize, taylor_expand
from dl_theory.monte_carlo import monte_carlo_kernel_fn

__all__: list[str] = [
    "DEFAULT_NTK_IMPLEMENTATION",
    "batch",
    "convergence",
    "hessian",
    "NtkImplementation",
    "empirical_kernel_fn",
    "empirical_nngp_fn",
    "empirical_ntk_fn",
    "empirical_ntk_vp_fn",
    "linearize",
    "monte_carlo_kernel_fn",
    "optim",
    "pac_bayes",
    "predict",
    "spectral",
    "stax",
    "taylor_expand",
]
