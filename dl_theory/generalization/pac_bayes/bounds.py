r"""PAC-Bayes bounds on the risk of a stochastic classifier and the relaxations used as training objectives.

Notation: :math:`\hat R` is the empirical risk of the posterior :math:`Q` on :math:`n` i.i.d. examples (loss in [0, 1]),
:math:`R` its true risk, :math:`\mathrm{KL} = \mathrm{KL}(Q\|P)` for a prior :math:`P` chosen before seeing those
examples, and :math:`\delta \in (0, 1)` the confidence. Every bound below holds with probability at least
:math:`1-\delta`, simultaneously for all :math:`Q`.

* Seeger / Maurer (kl) bound (Seeger, 2002; Maurer, 2004):
  :math:`\mathrm{kl}(\hat R\|R) \le B := (\mathrm{KL} + \ln(2\sqrt n/\delta))/n`, so
  :math:`R \le \mathrm{kl}^{-1}(\hat R, B)`.
* Pinsker / McAllester form: :math:`R \le \hat R + \sqrt{B/2}` (``fclassic`` in Pérez-Ortiz et al., 2021).
* The course notes' form :math:`\hat R + \sqrt{2B}` is the same statement with a deviation term twice as large:
  valid, but looser (:func:`notes_bound`).
* Quadratic relaxation from :math:`\mathrm{kl}(q\|p) \ge (p-q)^2/(2p)`:
  :math:`R \le (\sqrt{\hat R + B/2} + \sqrt{B/2})^2` (``fquad``, Pérez-Ortiz et al., 2021).
* λ-bound (Thiemann et al., 2017, "A strongly quasiconvex PAC-Bayesian bound"):
  :math:`R \le \hat R/(1-\lambda/2) + B/(\lambda(1-\lambda/2))` for all :math:`\lambda\in(0,2)` at once; its
  minimum over :math:`\lambda` equals ``fquad`` and is attained at :func:`flamb_optimal_lambda`.
* Catoni (2007, Theorem 1.2.6): for a fixed :math:`C > 0`,
  :math:`R \le (1 - \exp(-C\hat R - (\mathrm{KL} + \ln(1/\delta))/n))/(1 - e^{-C})`. By the variational form
  :math:`\mathrm{kl}(q\|p) = \sup_C[-Cq - \ln(1 - p + pe^{-C})]`, its infimum over :math:`C` is
  :math:`\mathrm{kl}^{-1}(\hat R, (\mathrm{KL} + \ln(1/\delta))/n)`.

The functions accept arrays (they broadcast) and are differentiable in ``emp_risk`` and ``kl`` (use :func:`fkl` for a
differentiable kl bound), so they double as training objectives.
"""

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.generalization.pac_bayes.binary_kl import kl_inv_upper, kl_inv_upper_diff


def confidence(name: str, value: float) -> float:
    """A confidence level ``value`` in (0, 1), returned as a float (:func:`dl_theory.checks.probability`)."""
    checks.probability(name, value)
    return float(value)


def _checked(emp_risk: ArrayLike, kl: ArrayLike, n: int, delta: float) -> tuple[int, float]:
    checks.unit_interval("emp_risk", emp_risk)
    checks.nonnegative("kl", kl)
    return checks.count("n", n), confidence("delta", delta)


def maurer_complexity(kl: ArrayLike, n: int, delta: float) -> jax.Array:
    r""":math:`B = (\mathrm{KL} + \ln(2\sqrt n/\delta))/n`, the right-hand side of the kl bound."""
    checks.nonnegative("kl", kl)
    n, delta = checks.count("n", n), confidence("delta", delta)
    return (jnp.asarray(kl, jnp.result_type(kl, float)) + jnp.log(2 * jnp.sqrt(n) / delta)) / n


def kl_bound(emp_risk: ArrayLike, kl: ArrayLike, n: int, delta: float) -> jax.Array:
    r"""Seeger/Maurer bound :math:`R \le \mathrm{kl}^{-1}(\hat R, (\mathrm{KL} + \ln(2\sqrt n/\delta))/n)`."""
    n, delta = _checked(emp_risk, kl, n, delta)
    return kl_inv_upper(emp_risk, maurer_complexity(kl, n, delta))


def fkl(emp_risk: ArrayLike, kl: ArrayLike, n: int, delta: float) -> jax.Array:
    """:func:`kl_bound` with implicit-function gradients (a training objective)."""
    n, delta = _checked(emp_risk, kl, n, delta)
    return kl_inv_upper_diff(emp_risk, maurer_complexity(kl, n, delta))


def pinsker_bound(emp_risk: ArrayLike, kl: ArrayLike, n: int, delta: float) -> jax.Array:
    r"""McAllester/Pinsker form :math:`\hat R + \sqrt{(\mathrm{KL} + \ln(2\sqrt n/\delta))/(2n)}` (``fclassic``)."""
    n, delta = _checked(emp_risk, kl, n, delta)
    return emp_risk + jnp.sqrt(maurer_complexity(kl, n, delta) / 2)


fclassic = pinsker_bound


def notes_bound(emp_risk: ArrayLike, kl: ArrayLike, n: int, delta: float) -> jax.Array:
    r"""The course notes' form :math:`\hat R + \sqrt{2(\mathrm{KL} + \ln(2\sqrt n/\delta))/n}`: twice the
    Pinsker term."""
    n, delta = _checked(emp_risk, kl, n, delta)
    return emp_risk + jnp.sqrt(2 * maurer_complexity(kl, n, delta))


def fquad(emp_risk: ArrayLike, kl: ArrayLike, n: int, delta: float) -> jax.Array:
    r"""Quadratic bound :math:`(\sqrt{\hat R + B/2} + \sqrt{B/2})^2` (Pérez-Ortiz et al., 2021, eq. 9)."""
    n, delta = _checked(emp_risk, kl, n, delta)
    half_b = maurer_complexity(kl, n, delta) / 2
    return (jnp.sqrt(emp_risk + half_b) + jnp.sqrt(half_b)) ** 2


def flamb(emp_risk: ArrayLike, kl: ArrayLike, n: int, delta: float, lam: ArrayLike) -> jax.Array:
    r"""λ-bound :math:`\hat R/(1-\lambda/2) + B/(\lambda(1-\lambda/2))`, valid for every ``lam`` in (0, 2)."""
    n, delta = _checked(emp_risk, kl, n, delta)
    checks.in_interval(0.0, 2.0)("lam", lam)
    shrink = 1 - lam / 2
    return emp_risk / shrink + maurer_complexity(kl, n, delta) / (lam * shrink)


def flamb_optimal_lambda(emp_risk: ArrayLike, kl: ArrayLike, n: int, delta: float) -> jax.Array:
    r"""The minimizer :math:`\lambda^* = 2/(\sqrt{2n\hat R/(\mathrm{KL} + \ln(2\sqrt n/\delta)) + 1} + 1)` of
    :func:`flamb`."""
    n, delta = _checked(emp_risk, kl, n, delta)
    return 2 / (jnp.sqrt(2 * emp_risk / maurer_complexity(kl, n, delta) + 1) + 1)


def catoni_bound(emp_risk: ArrayLike, kl: ArrayLike, n: int, delta: float, c: ArrayLike) -> jax.Array:
    r"""Catoni's bound :math:`(1 - \exp(-C\hat R - (\mathrm{KL} + \ln(1/\delta))/n))/(1 - e^{-C})` for fixed ``c`` > 0.

    ``c`` must be fixed before seeing the data; to pick the best of a grid of ``k`` values, pass ``delta / k``.
    """
    n, delta = _checked(emp_risk, kl, n, delta)
    checks.nonnegative("c", c)
    rhs = (jnp.asarray(kl, jnp.result_type(kl, float)) + jnp.log(1 / delta)) / n
    return -jnp.expm1(-c * emp_risk - rhs) / -jnp.expm1(-jnp.asarray(c, rhs.dtype))


def bound_objective(
    name: str, emp_risk: ArrayLike, kl: ArrayLike, n: int, delta: float, lam: ArrayLike | None = None
) -> jax.Array:
    """Training objective by name: ``"fquad"``, ``"flamb"`` (``lam`` or the optimal λ, held fixed for the gradient),
    ``"fclassic"`` or ``"fkl"``."""
    if name == "flamb":
        if lam is None:
            lam = jax.lax.stop_gradient(flamb_optimal_lambda(emp_risk, kl, n, delta))
        return flamb(emp_risk, kl, n, delta, lam)
    objectives = {"fquad": fquad, "fclassic": fclassic, "fkl": fkl}
    if name not in objectives:
        raise ValueError(f"objective must be one of {sorted([*objectives, 'flamb'])}; got {name!r}")
    return objectives[name](emp_risk, kl, n, delta)
