r"""Closed-form dual activations: Gaussian expectations of products of activations.

For an activation :math:`\phi` and a centred bivariate Gaussian

.. math::
    (u, v) \sim \mathcal N\Big(0, \begin{pmatrix} q_{11} & q_{12} \\ q_{12} & q_{22}\end{pmatrix}\Big),

the *dual activation* is :math:`T(q_{12}; q_{11}, q_{22}) = \mathbb E[\phi(u)\phi(v)]` and its derivative
:math:`\dot T = \partial T / \partial q_{12} = \mathbb E[\phi'(u)\phi'(v)]` (Price's theorem). An infinitely wide layer
maps the NNGP kernel through :math:`T` and the NTK through :math:`\Theta \mapsto \dot T \cdot \Theta` (Lee et al. 2018,
*Deep Neural Networks as Gaussian Processes*; Jacot et al. 2018; Novak et al. 2020, *Neural Tangents*).

Every function here has the signature ``dual(q12, q11, q22) -> (t, t_dot)`` on arrays that broadcast against each other,
so the same function serves the cross-covariance (``nngp``: ``q11``/``q22`` are the variances of the two inputs) and a
covariance's own entries (``cov1``: both variances from the first batch; on the diagonal ``q12 = q11 = q22``). Angles
use :math:`\theta = \arccos(q_{12}/\sqrt{q_{11}q_{22}})`, computed as ``arctan2(sqrt(q11 q22 - q12^2), q12)`` with
:math:`\theta = \pi/2` where both are zero (a zero-variance input), and square roots have a zero derivative at zero, so
the maps stay finite (and differentiable) at degenerate points.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

DualFn = Callable[[ArrayLike, ArrayLike, ArrayLike], tuple[jax.Array, jax.Array]]
"""``dual(q12, q11, q22) -> (E[phi(u) phi(v)], E[phi'(u) phi'(v)])``."""


@jax.custom_jvp
def safe_sqrt(x: ArrayLike) -> jax.Array:
    r""":math:`\sqrt{\max(x, 0)}`, with derivative zero (not inf/NaN) where :math:`x \le 0`."""
    return jnp.sqrt(jnp.maximum(x, 0.0))


@safe_sqrt.defjvp
def _safe_sqrt_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    y = safe_sqrt(x)
    positive = x > 0
    return y, jnp.where(positive, x_dot / (2 * jnp.where(positive, y, 1.0)), 0.0)


def angle(q12: ArrayLike, q11: ArrayLike, q22: ArrayLike) -> tuple[jax.Array, jax.Array]:
    r"""Angle :math:`\theta\in[0,\pi]` between the two inputs and :math:`r = \sqrt{q_{11}q_{22} - q_{12}^2}`.

    Returns ``(theta, r)`` with :math:`\theta = \operatorname{arctan2}(r, q_{12})`, and :math:`\theta = \pi/2`
    where ``r == q12 == 0`` (one input has zero variance, so the pair is uncorrelated).

    The determinant is evaluated as :math:`q_{11}q_{22} - q_{12}^2 = l\,(h - a) + a\,(l - a)` with
    :math:`a = |q_{12}|`, :math:`l = \min(q_{11}, q_{22})`, :math:`h = \max(q_{11}, q_{22})`. Both differences are
    exact near :math:`|\rho| = 1` (Sterbenz), so the determinant keeps its relative accuracy where the textbook
    :math:`q_{11}q_{22} - q_{12}^2` cancels catastrophically, and it is exactly ``0`` when ``|q12| == q11 ==
    q22`` however the compiler contracts the products into FMAs. A self-correlation (same point, same
    position: see :func:`~dl_theory.stax.kernel.dual_inputs`) therefore has :math:`\theta = 0` exactly, where
    an error of one ulp would give :math:`\theta \approx \sqrt{2\epsilon}`. Rounding can make the determinant
    slightly negative (:math:`|\rho| > 1`); it is clipped to ``0``.
    """
    q12 = jnp.asarray(q12)
    a, lo, hi = jnp.abs(q12), jnp.minimum(q11, q22), jnp.maximum(q11, q22)
    r = safe_sqrt(lo * (hi - a) + a * (lo - a))
    degenerate = (r == 0) & (q12 == 0)
    theta = jnp.arctan2(r, jnp.where(degenerate, 1.0, q12))
    return jnp.where(degenerate, jnp.pi / 2, theta), r


def ab_relu(
    q12: ArrayLike, q11: ArrayLike, q22: ArrayLike, *, a: float, b: float
) -> tuple[jax.Array, jax.Array]:
    r"""Dual of :math:`\phi(x) = a\min(x, 0) + b\max(x, 0)` (ReLU: ``a=0, b=1``; |x|: ``a=-1, b=1``).

    Writing :math:`\phi(x) = b\,\mathrm{relu}(x) - a\,\mathrm{relu}(-x)` and using the degree-1 arc-cosine
    kernel :math:`\mathbb E[\mathrm{relu}(u)\mathrm{relu}(v)] = \frac{1}{2\pi}(r + (\pi-\theta) q_{12})` (Cho
    & Saul 2009) for each of the four products gives

    .. math::
        T = \frac{(a-b)^2}{2\pi} r + \Big(\frac{a^2+b^2}{2} - \frac{(a-b)^2}{2\pi}\theta\Big) q_{12},
        \qquad \dot T = \frac{a^2+b^2}{2} - \frac{(a-b)^2}{2\pi}\theta.

    See also Tsuchida et al. 2018, *Invariance of Weight Distributions in Rectified MLPs* (leaky ReLU).
    """
    theta, r = angle(q12, q11, q22)
    slope = (a - b) ** 2 / (2 * jnp.pi)
    t_dot = (a**2 + b**2) / 2 - slope * theta
    return slope * r + t_dot * q12, t_dot


def sign(q12: ArrayLike, q11: ArrayLike, q22: ArrayLike) -> tuple[jax.Array, jax.Array]:
    r"""Dual of :math:`\operatorname{sign}(x)`: :math:`T = 1 - 2\theta/\pi` (degree-0 arc-cosine kernel).

    The true derivative :math:`\mathbb E[2\delta(u)\,2\delta(v)]` is a distribution-valued term that gradient
    descent on the finite network never sees (autodiff of ``sign`` is zero), so, like neural-tangents, the NTK
    factor is :math:`\dot T = 0`. At zero variance :math:`T = 0` (``sign(0) = 0``).
    """
    theta, _ = angle(q12, q11, q22)
    t = 1 - 2 * theta / jnp.pi
    return t, jnp.zeros_like(t)


def erf(
    q12: ArrayLike, q11: ArrayLike, q22: ArrayLike, *, a: float = 1.0, b: float = 1.0, c: float = 0.0
) -> tuple[jax.Array, jax.Array]:
    r"""Dual of :math:`\phi(x) = a\,\mathrm{erf}(bx) + c` (Williams 1997, *Computing with infinite networks*).

    With :math:`p_{ij} = b^2 q_{ij}` and :math:`D = (1 + 2p_{11})(1 + 2p_{22}) - 4p_{12}^2 > 0`,

    .. math::
        T = \frac{2a^2}{\pi}\arcsin\frac{2p_{12}}{\sqrt{(1+2p_{11})(1+2p_{22})}} + c^2,
        \qquad \dot T = \frac{4 a^2 b^2}{\pi\sqrt{D}},

    the arcsine evaluated as :math:`\operatorname{arctan2}(2p_{12}, \sqrt D)`.
    """
    p12, p11, p22 = (b**2 * jnp.asarray(q) for q in (q12, q11, q22))
    root = safe_sqrt((1 + 2 * p11) * (1 + 2 * p22) - 4 * p12**2)
    t = 2 / jnp.pi * jnp.arctan2(2 * p12, root)
    return a**2 * t + c**2, a**2 * b**2 * 4 / (jnp.pi * root)


def gelu(q12: ArrayLike, q11: ArrayLike, q22: ArrayLike) -> tuple[jax.Array, jax.Array]:
    r"""Dual of :math:`\mathrm{GELU}(x) = x\,\Phi(x)` (Tsuchida et al. 2020, arXiv:2002.08517).

    With :math:`P = q_{11}q_{22}`, :math:`P_1 = (1+q_{11})(1+q_{22})`, :math:`\Delta = \sqrt{P_1 - q_{12}^2}`
    and :math:`\alpha = \operatorname{arctan2}(q_{12}, \Delta)`,

    .. math::
        T = \frac{q_{12}}{4} + \frac{1}{2\pi}\Big(\frac{q_{12}^2 + P\Delta^2}{P_1\Delta} + q_{12}\alpha\Big),
        \qquad \dot T = \frac14 + \frac{\alpha}{2\pi}
            + \frac{q_{12}}{2\pi\Delta}\Big(1 + \frac{1}{\Delta^2} + \frac{1 - P}{P_1}\Big).

    At :math:`q_{12} = 0` this is :math:`(\mathbb E\,u\Phi(u))(\mathbb E\,v\Phi(v)) = P / (2\pi\sqrt{P_1})`
    (Stein's lemma), and :math:`\dot T` is the exact derivative of :math:`T`.
    """
    q12 = jnp.asarray(q12)
    prod, prod_1 = q11 * q22, (1 + q11) * (1 + q22)
    delta_sq = prod_1 - q12**2
    delta = safe_sqrt(delta_sq)
    alpha = jnp.arctan2(q12, delta)
    t = q12 / 4 + ((q12**2 + prod * delta_sq) / (prod_1 * delta) + q12 * alpha) / (2 * jnp.pi)
    correction = q12 / (2 * jnp.pi * delta) * (1 + 1 / delta_sq + (1 - prod) / prod_1)
    t_dot = 0.25 + alpha / (2 * jnp.pi) + correction
    return t, t_dot


def sin(
    q12: ArrayLike, q11: ArrayLike, q22: ArrayLike, *, a: float = 1.0, b: float = 1.0, c: float = 0.0
) -> tuple[jax.Array, jax.Array]:
    r"""Dual of :math:`\phi(x) = a\sin(bx + c)` (``cos`` is ``c + pi/2``).

    From :math:`2\sin\alpha\sin\beta = \cos(\alpha-\beta) - \cos(\alpha+\beta)` and the Gaussian
    characteristic function :math:`\mathbb E\cos(\lambda^\top w) = e^{-\lambda^\top\Sigma\lambda/2}`,

    .. math::
        T = \frac{a^2}{2}\big(s_- - \cos(2c)\, s_+\big), \quad
        \dot T = \frac{a^2 b^2}{2}\big(s_- + \cos(2c)\, s_+\big), \quad
        s_\pm = e^{-b^2 (q_{11} + q_{22} \pm 2q_{12})/2}.
    """
    q12 = jnp.asarray(q12)
    half_sum = (q11 + q22) / 2
    s_minus = jnp.exp(b**2 * (q12 - half_sum))
    s_plus = jnp.exp(-(b**2) * (q12 + half_sum)) * jnp.cos(2 * c)
    return a**2 / 2 * (s_minus - s_plus), a**2 * b**2 / 2 * (s_minus + s_plus)


def rbf(q12: ArrayLike, q11: ArrayLike, q22: ArrayLike, *, gamma: float = 1.0) -> tuple[jax.Array, jax.Array]:
    r"""Dual of :math:`\phi(x) = \sqrt2\sin(\sqrt{2\gamma}\,x + \pi/4)`: the squared-exponential kernel.

    ``sin`` with :math:`a = \sqrt2, b = \sqrt{2\gamma}, c = \pi/4` (so :math:`\cos 2c = 0`):

    .. math:: T = e^{-\gamma(q_{11} + q_{22} - 2q_{12})}, \qquad \dot T = 2\gamma T,

    i.e. :math:`\exp(-\gamma\|x - x'\|^2/d)` after a ``Dense`` layer on inputs of dimension :math:`d`.
    """
    t = jnp.exp(gamma * (2 * jnp.asarray(q12) - q11 - q22))
    return t, 2 * gamma * t


def exp(
    q12: ArrayLike, q11: ArrayLike, q22: ArrayLike, *, a: float = 1.0, b: float = 1.0
) -> tuple[jax.Array, jax.Array]:
    r"""Dual of :math:`\phi(x) = a e^{bx}` (log-normal moments).

    .. math:: T = a^2 e^{b^2 (q_{11} + q_{22} + 2 q_{12})/2}, \qquad \dot T = b^2 T.
    """
    t = a**2 * jnp.exp(b**2 * ((q11 + q22) / 2 + jnp.asarray(q12)))
    return t, b**2 * t


def gaussian(
    q12: ArrayLike, q11: ArrayLike, q22: ArrayLike, *, a: float = 1.0, b: float = -1.0
) -> tuple[jax.Array, jax.Array]:
    r"""Dual of :math:`\phi(x) = a e^{b x^2}` (finite for :math:`1 - 2b q > 0`, always for :math:`b < 0`).

    :math:`\mathbb E\, e^{b(u^2 + v^2)} = \det(I - 2b\Sigma)^{-1/2}`, so with :math:`D = (1 - 2bq_{11})(1 -
    2bq_{22}) - 4b^2 q_{12}^2`,

    .. math:: T = a^2 D^{-1/2}, \qquad \dot T = 4 a^2 b^2 q_{12} D^{-3/2}.
    """
    q12 = jnp.asarray(q12)
    root = safe_sqrt((1 - 2 * b * q11) * (1 - 2 * b * q22) - 4 * b**2 * q12**2)
    return a**2 / root, a**2 * 4 * b**2 * q12 / root**3


def hermite(q12: ArrayLike, q11: ArrayLike, q22: ArrayLike, *, degree: int) -> tuple[jax.Array, jax.Array]:
    r"""Dual of the normalised probabilists' Hermite polynomial :math:`h_n = He_n / \sqrt{n!}`.

    Mehler's formula gives :math:`\mathbb E[h_n(u) h_n(v)] = q_{12}^n` **for unit variances** (:math:`q_{11} =
    q_{22} = 1`), which this map assumes, as neural-tangents does (``q11``/``q22`` are ignored):

    .. math:: T = q_{12}^n, \qquad \dot T = n\, q_{12}^{n-1}\ (0 \text{ for } n = 0).
    """
    del q11, q22
    q12 = jnp.asarray(q12)
    t_dot = jnp.zeros_like(q12) if degree == 0 else degree * q12 ** (degree - 1)
    return q12**degree, t_dot
