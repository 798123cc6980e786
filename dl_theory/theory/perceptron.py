r"""Novikoff's perceptron convergence theorem (Novikoff, 1962).

If a unit :math:`w^*` separates the data with margin :math:`\gamma` and :math:`R = \max\|x\|`, the perceptron started
at :math:`w_0 = 0` satisfies after :math:`t` updates

.. math::  w_t \cdot w^* \ge t\gamma, \qquad \|w_t\|^2 \le t R^2,

so :math:`1 \ge \cos\angle(w_t, w^*) \ge \sqrt{t}\,\gamma / R` and :math:`t \le R^2/\gamma^2`.
(The notes write :math:`\|w_t\| \le R\sqrt{\gamma}` and :math:`t \le R^2/\gamma`; both are typos.)
"""

from dl_theory import checks


def novikoff_bound(radius: float, margin: float) -> float:
    """:math:`R^2/\\gamma^2`, the maximum number of perceptron updates."""
    checks.positive("radius", radius)
    checks.positive("margin", margin)
    return (radius / margin) ** 2
