"""Generalization: PAC-Bayes bounds and certificates, and Rademacher complexities.

* :mod:`~dl_theory.generalization.pac_bayes` -- kl inversion, bounds, Gaussian posteriors, training objectives,
  certificates;
* :mod:`~dl_theory.generalization.rademacher` -- Monte-Carlo Rademacher complexity of norm-bounded linear classes and
  its closed-form bounds.
"""

from dl_theory.generalization import pac_bayes, rademacher

__all__ = ["pac_bayes", "rademacher"]
