"""Closed forms used by the claims: counting functions, capacities and bounds.

:mod:`~dl_theory.theory.cover` (Cover's function counting theorem), :mod:`~dl_theory.theory.hopfield` (capacities),
:mod:`~dl_theory.theory.perceptron` (Novikoff), :mod:`~dl_theory.theory.double_descent` (the risk of min-norm least
squares), :mod:`~dl_theory.theory.regions` (Zaslavsky's region count, tent-map pieces, residual path counts,
Montúfar's bound).
"""
