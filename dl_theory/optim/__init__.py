"""Optimization: optax transformations that optax lacks, and gradient-descent convergence theory.

* :mod:`~dl_theory.optim.transforms` -- exact line searches and Newton's method as ``optax.GradientTransformation``;
  the notes' ``sign_sgd`` and ``muon`` from optax;
* :mod:`~dl_theory.optim.convergence` -- curvature constants, rates, step sizes and measured-vs-predicted checks.
"""

from dl_theory.optim import convergence, transforms
from dl_theory.optim.transforms import exact_line_search_quadratic, line_search_gd, muon, newton, sign_sgd

__all__ = ["convergence", "exact_line_search_quadratic", "line_search_gd", "muon", "newton", "sign_sgd", "transforms"]
