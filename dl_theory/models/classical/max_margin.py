r"""Linear separability and the maximum-margin (hard-margin SVM) classifier, through the origin.

* Separability is an exact linear-programming feasibility question: :math:`\exists w: y_i\, w\cdot x_i \ge 1`
  (scale-free, so equivalent to strict separation). Solved with HiGHS (scipy.optimize.linprog).
* The maximum-margin direction solves :math:`\min \tfrac12\|w\|^2` s.t. :math:`y_i\, w\cdot x_i \ge 1`; its geometric
  margin is :math:`1/\|w\|` (Vapnik, 1998). Solved as a QP with SLSQP; the KKT residuals are returned.
"""

from typing import NamedTuple

import numpy as np
from jax.typing import ArrayLike
from scipy import optimize


def _check(x_NxD: ArrayLike, y_N: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x_NxD, np.float64), np.asarray(y_N, np.float64)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"need x of shape (s, d) and y of shape (s,); got {x.shape} and {y.shape}")
    if not np.all(np.abs(y) == 1):
        raise ValueError("labels y must be -1 or +1")
    return x, y


def is_separable(x_NxD: ArrayLike, y_N: ArrayLike) -> bool:
    """Whether some homogeneous hyperplane separates the labelled points (exact LP feasibility).

    HiGHS' default solver can stop on a nearly infeasible instance with an unknown model status; the same LP is then
    solved by its interior-point and dual-simplex solvers before giving up.
    """
    x, y = _check(x_NxD, y_N)
    messages = []
    for method in ("highs", "highs-ipm", "highs-ds"):
        result = optimize.linprog(np.zeros(x.shape[1]), A_ub=-(y[:, None] * x), b_ub=-np.ones(len(y)),
                                  bounds=(None, None), method=method)
        if result.status in (0, 2):  # feasible, infeasible
            return result.status == 0
        messages.append(f"{method}: {result.message}")
    raise RuntimeError("LP solver failed: " + "; ".join(messages))


class MaxMargin(NamedTuple):
    """``w`` (unit norm), the geometric ``margin`` 1/||w_qp||, and the largest KKT constraint violation."""

    w: np.ndarray
    margin: float
    violation: float


def max_margin(x_NxD: ArrayLike, y_N: ArrayLike) -> MaxMargin:
    """The hard-margin SVM direction through the origin.

    Raises:
      ValueError: the data are not linearly separable.
    """
    x, y = _check(x_NxD, y_N)
    if not is_separable(x, y):
        raise ValueError("the data are not linearly separable: no maximum-margin classifier exists")
    a = y[:, None] * x
    start = optimize.linprog(np.zeros(x.shape[1]), A_ub=-a, b_ub=-np.ones(len(y)), bounds=(None, None),
                             method="highs").x
    result = optimize.minimize(lambda w: 0.5 * w @ w, start, jac=lambda w: w, method="SLSQP",
                               constraints=[{"type": "ineq", "fun": lambda w: a @ w - 1, "jac": lambda w: a}],
                               options={"ftol": 1e-14, "maxiter": 1000})
    w = result.x
    violation = float(max(0.0, np.max(1 - a @ w)))
    norm = float(np.linalg.norm(w))
    return MaxMargin(w / norm, 1.0 / norm, violation)
