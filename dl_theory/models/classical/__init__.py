"""Classical models of the course's §1 and §2: the perceptron, maximum-margin classifiers, Hopfield networks and
linear models (least squares, ridge, logistic regression)."""

from dl_theory.models.classical import hopfield, linear, max_margin, perceptron

__all__ = ["hopfield", "linear", "max_margin", "perceptron"]
