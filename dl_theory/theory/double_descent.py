r"""Risk of minimum-norm least squares with isotropic Gaussian features (double descent).

Model: :math:`x \sim \mathcal N(0, I_p)`, :math:`y = x^\top\beta + \varepsilon`, :math:`\|\beta\|^2 = r^2`,
:math:`\varepsilon \sim \mathcal N(0, \sigma^2)`, :math:`n` training examples, estimator
:math:`\hat\beta = X^+ y` (least squares for :math:`p < n`, minimum-norm interpolation for :math:`p > n`). The excess
test risk is :math:`R = \mathbb E_x[(x^\top(\hat\beta - \beta))^2] = \|\hat\beta - \beta\|^2`.

Asymptotics :math:`n, p \to \infty`, :math:`p/n \to \gamma` (Hastie, Montanari, Rosset & Tibshirani, 2019/2022,
"Surprises in high-dimensional ridgeless least squares interpolation", Theorem 1):

.. math::
   R(\gamma) = \sigma^2\frac{\gamma}{1-\gamma} \ (\gamma < 1), \qquad
   R(\gamma) = r^2\Big(1 - \frac1\gamma\Big) + \frac{\sigma^2}{\gamma - 1} \ (\gamma > 1),

which diverges at the interpolation threshold :math:`\gamma = 1`. For finite :math:`n, p` the expectation is exact
(Wishart moments, :math:`\mathbb E[(X^\top X)^{-1}] = I/(n-p-1)`; the row space of :math:`X` is a uniformly random
:math:`n`-dimensional subspace):

.. math::
   \mathbb E R = \sigma^2 \frac{p}{n-p-1} \ (p < n-1), \qquad
   \mathbb E R = r^2\Big(1-\frac np\Big) + \sigma^2\frac{n}{p-n-1} \ (p > n+1),

and infinite for :math:`|p - n| \le 1`.
"""

import numpy as np
from numpy.typing import ArrayLike

from dl_theory import checks


def _check(r2: float, noise_var: float) -> None:
    checks.nonnegative("r2", r2)
    checks.nonnegative("noise_var", noise_var)


def asymptotic_min_norm_risk(gamma: ArrayLike, r2: float, noise_var: float) -> np.ndarray:
    """Hastie et al. (2019) limiting excess risk of min-norm least squares at aspect ratio ``gamma = p/n``."""
    _check(r2, noise_var)
    gamma = np.asarray(gamma, dtype=float)
    checks.positive("gamma", gamma)
    with np.errstate(divide="ignore"):
        under = noise_var * gamma / (1 - gamma)
        over = r2 * (1 - 1 / gamma) + noise_var / (gamma - 1)
    return np.where(gamma < 1, under, np.where(gamma > 1, over, np.inf))


def finite_min_norm_risk(n: int, p: ArrayLike, r2: float, noise_var: float) -> np.ndarray:
    """Exact expected excess risk for ``n`` samples and ``p`` isotropic Gaussian features (inf for |p-n| <= 1)."""
    _check(r2, noise_var)
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        under = noise_var * p / (n - p - 1)
        over = r2 * (1 - n / p) + noise_var * n / (p - n - 1)
    return np.where(p < n - 1, under, np.where(p > n + 1, over, np.inf))
