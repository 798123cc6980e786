r"""Dual activations of polynomials and rectified monomials (higher-order arc-cosine kernels).

Same convention as :mod:`dl_theory.stax.dual_activations`: ``dual(q12, q11, q22) -> (t, t_dot)`` with :math:`t
= \mathbb E[\phi(u)\phi(v)]` and :math:`\dot t = \partial t/\partial q_{12} = \mathbb E[\phi'(u)\phi'(v)]` for
a centred bivariate Gaussian :math:`(u, v)` with variances :math:`q_{11}, q_{22}` and covariance
:math:`q_{12}`.

Both maps are evaluated as polynomials in :math:`(q_{11}, q_{22}, q_{12})` (plus the angle for rectified monomials) with
exact integer/rational coefficients computed once per layer, so they need no division by the variances and stay finite
for zero-variance inputs.
"""

import math
from collections import defaultdict
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory.stax.dual_activations import DualFn, angle


def _hermite_coefficients(coef: Sequence[float]) -> list[np.ndarray]:
    r"""Coefficients of :math:`A_l(q) = \sum_i c_{l+2i} \frac{(l+2i)!}{2^i i!} q^i`, one array per ``l``."""
    degree = len(coef) - 1
    return [
        np.array([coef[l + 2 * i] * math.factorial(l + 2 * i) / (2**i * math.factorial(i))
                  for i in range((degree - l) // 2 + 1)])
        for l in range(degree + 1)
    ]


def polynomial(coef: Sequence[float]) -> DualFn:
    r"""Dual of :math:`\phi(x) = \sum_{k=0}^{n} c_k x^k` (``coef`` by increasing degree, as numpy.polynomial).

    Expanding :math:`x^k = \sum_i \frac{k!}{2^i i! (k-2i)!} \mathrm{He}_{k-2i}(x)` in probabilists' Hermite
    polynomials and using :math:`\mathbb E[\mathrm{He}_l(z_1)\mathrm{He}_m(z_2)] = \delta_{lm}\, l!\, \rho^l`
    for standard normals with correlation :math:`\rho` (Mehler) gives, with :math:`A_l(q) = \sum_i
    c_{l+2i}\frac{(l+2i)!}{2^i\, i!} q^i`,

    .. math::
        T = \sum_{l=0}^{n} \frac{A_l(q_{11})\, A_l(q_{22})}{l!}\, q_{12}^l, \qquad
        \dot T = \sum_{l=1}^{n} \frac{A_l(q_{11})\, A_l(q_{22})}{(l-1)!}\, q_{12}^{l-1}.

    (neural-tangents writes the same sum in :math:`\rho = q_{12}/\sqrt{q_{11}q_{22}}`; this form avoids the
    division.) A monomial :math:`x^n` is ``coef = [0] * n + [1]``, e.g. :math:`T = 2q_{12}^2 + q_{11}q_{22}`
    for :math:`n = 2`.

    Args:
      coef: polynomial coefficients :math:`c_0, \dots, c_n`.

    Returns:
      The dual map ``dual(q12, q11, q22) -> (t, t_dot)``.
    """
    a_coefs = _hermite_coefficients([float(c) for c in coef])

    def dual(q12: ArrayLike, q11: ArrayLike, q22: ArrayLike) -> tuple[jax.Array, jax.Array]:
        q12 = jnp.asarray(q12)
        t = jnp.zeros_like(q12)
        t_dot = jnp.zeros_like(q12)
        for l, a_coef in enumerate(a_coefs):
            weight = jnp.polyval(a_coef[::-1], q11) * jnp.polyval(a_coef[::-1], q22)
            t = t + weight * q12**l / math.factorial(l)
            if l > 0:
                t_dot = t_dot + weight * q12 ** (l - 1) / math.factorial(l - 1)
        return t, t_dot

    return dual


def _arc_cosine_terms(degree: int) -> dict[tuple[int, int, int], int]:
    r"""Integer coefficients of :math:`J_n(\theta) = \sum c\, (\pi-\theta)^a \cos^b\theta \sin^e\theta`.

    Cho & Saul (2009), eq. (4): :math:`J_n = (-1)^n \sin^{2n+1}\theta\,
    \big(\tfrac{1}{\sin\theta}\tfrac{\partial}{\partial\theta}\big)^n \tfrac{\pi-\theta}{\sin\theta}`. The
    operator :math:`D = \sin^{-1}\theta\,\partial_\theta` maps a monomial :math:`\psi^a c^b s^e` (:math:`\psi
    = \pi-\theta`, :math:`c = \cos\theta`, :math:`s = \sin\theta`) to :math:`-a\,\psi^{a-1} c^b s^{e-1} -
    b\,\psi^a c^{b-1} s^e + e\,\psi^a c^{b+1} s^{e-2}`, so :math:`J_n` is a finite sum of such monomials;
    every term has :math:`a\in\{0,1\}`, :math:`e\ge 0` and :math:`b + e = n`.
    """
    terms: dict[tuple[int, int, int], int] = {(1, 0, -1): 1}
    for _ in range(degree):
        new_terms: dict[tuple[int, int, int], int] = defaultdict(int)
        for (a, b, e), coeff in terms.items():
            if a:
                new_terms[(0, b, e - 1)] -= coeff
            if b:
                new_terms[(a, b - 1, e)] -= b * coeff
            if e:
                new_terms[(a, b + 1, e - 2)] += e * coeff
        terms = {key: value for key, value in new_terms.items() if value}
    return {(a, b, e + 2 * degree + 1): (-1) ** degree * coeff for (a, b, e), coeff in terms.items()}


def rectified_monomial(degree: int) -> DualFn:
    r"""Dual of :math:`\phi(x) = \mathbb 1[x \ge 0]\, x^n`: the arc-cosine kernel of degree :math:`n`.

    Cho & Saul (2009), *Kernel Methods for Deep Learning*: :math:`T = \frac{1}{2\pi}(q_{11}q_{22})^{n/2}
    J_n(\theta)`. Because every monomial of :math:`J_n` has total degree :math:`n` in :math:`(\cos\theta,
    \sin\theta)` (see :func:`_arc_cosine_terms`), this is

    .. math:: T_n = \frac{1}{2\pi}\sum c\,(\pi-\theta)^a\, q_{12}^b\, r^e,
        \qquad r = \sqrt{q_{11}q_{22} - q_{12}^2},

    e.g. :math:`T_1 = \frac{1}{2\pi}(r + (\pi-\theta)q_{12})` (ReLU). Price's theorem with :math:`\phi_n' =
    n\phi_{n-1}` gives :math:`\dot T_n = n^2 T_{n-1}`; for :math:`n = 0` (a step function) the derivative is a
    delta that autodiff never sees, so :math:`\dot T_0 = 0` as in neural-tangents.

    Args:
      degree: the power :math:`n \ge 0`.

    Returns:
      The dual map ``dual(q12, q11, q22) -> (t, t_dot)``.
    """

    def evaluate(
        terms: dict[tuple[int, int, int], int], psi: jax.Array, q12: jax.Array, r: jax.Array
    ) -> jax.Array:
        t = jnp.zeros_like(q12)
        for (a, b, e), coeff in terms.items():
            t = t + coeff * psi**a * q12**b * r**e
        return t / (2 * jnp.pi)

    terms = _arc_cosine_terms(degree)
    lower_terms = _arc_cosine_terms(degree - 1) if degree > 0 else {}

    def dual(q12: ArrayLike, q11: ArrayLike, q22: ArrayLike) -> tuple[jax.Array, jax.Array]:
        q12 = jnp.asarray(q12)
        theta, r = angle(q12, q11, q22)
        psi = jnp.pi - theta
        t_dot = degree**2 * evaluate(lower_terms, psi, q12, r) if degree > 0 else jnp.zeros_like(q12)
        return evaluate(terms, psi, q12, r), t_dot

    return dual
