r"""Risk certificates for a Gaussian stochastic network (Pérez-Ortiz et al., 2021, Sec. 4; Langford & Caruana, 2001).

The empirical risk :math:`\hat R_S(Q) = \mathbb E_{\theta\sim Q}\hat R_S(\theta)` is an expectation over networks, so it
is estimated from :math:`m` sampled networks, :math:`\hat R_{S,m} = \frac1m\sum_j \hat R_S(\theta_j)`. Each term lies in
[0, 1], so (Langford & Caruana, 2001, "(Not) bounding the true error", Theorem 2.5) with probability at least
:math:`1-\delta'` over the sampling,

.. math:: \hat R_S(Q) \le \mathrm{kl}^{-1}\big(\hat R_{S,m},\, \ln(2/\delta')/m\big) =: \bar R .

Plugging :math:`\bar R` into the Seeger/Maurer bound (monotone in its first argument) gives, with probability at least
:math:`1-\delta-\delta'`,

.. math:: R(Q) \le \mathrm{kl}^{-1}\big(\bar R,\, (\mathrm{KL}(Q\|P) + \ln(2\sqrt n/\delta))/n\big).
"""

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory import checks, losses
from dl_theory.generalization.pac_bayes.binary_kl import kl_inv_upper
from dl_theory.generalization.pac_bayes.bounds import confidence, maurer_complexity, pinsker_bound
from dl_theory.generalization.pac_bayes.posterior import DiagGaussian, kl_divergence, sample_params
from dl_theory.typing import ApplyFn


@dataclass(frozen=True)
class Certificate:
    r"""Every term of a PAC-Bayes risk certificate (holds with probability at least ``1 - delta - delta_prime``).

    Attributes:
      risk_bound: the certified upper bound on the true risk :math:`R(Q)`.
      delta: confidence of the PAC-Bayes bound.
      delta_prime: confidence of the Monte-Carlo sampling bound.
      n: examples in the certificate split.
      num_samples: networks sampled for the Monte-Carlo estimate.
      kl: :math:`\mathrm{KL}(Q\|P)` in nats.
      emp_risk_mc: Monte-Carlo estimate :math:`\hat R_{S,m}` of the posterior's empirical risk.
      emp_risk_upper: :math:`\bar R = \mathrm{kl}^{-1}(\hat R_{S,m}, \ln(2/\delta')/m)`.
      sampling_term: :math:`\ln(2/\delta')/m`.
      complexity: :math:`(\mathrm{KL} + \ln(2\sqrt n/\delta))/n`.
      pinsker_bound: the looser :math:`\bar R + \sqrt{\text{complexity}/2}` for comparison.
    """

    risk_bound: float
    delta: float
    delta_prime: float
    n: int
    num_samples: int
    kl: float
    emp_risk_mc: float
    emp_risk_upper: float
    sampling_term: float
    complexity: float
    pinsker_bound: float

    def as_dict(self) -> dict[str, float | int]:
        return dataclasses.asdict(self)


def sampling_bound(emp_risk_mc: ArrayLike, num_samples: int, delta_prime: float) -> jax.Array:
    r"""Upper bound :math:`\mathrm{kl}^{-1}(\hat R_{S,m}, \ln(2/\delta')/m)` on the posterior's empirical risk."""
    checks.unit_interval("emp_risk_mc", emp_risk_mc)
    m, delta_prime = checks.count("num_samples", num_samples), confidence("delta_prime", delta_prime)
    return kl_inv_upper(emp_risk_mc, math.log(2 / delta_prime) / m)


def certificate_from_terms(
    emp_risk_mc: float, num_samples: int, kl: float, n: int, delta: float = 0.025, delta_prime: float = 0.01
) -> Certificate:
    """Builds a :class:`Certificate` from a Monte-Carlo empirical risk, the sample counts and the KL.

    Raises:
      ValueError: ``delta``/``delta_prime`` outside (0, 1), ``emp_risk_mc`` outside [0, 1] or a negative
        ``kl``.
    """
    delta, delta_prime = confidence("delta", delta), confidence("delta_prime", delta_prime)
    n, m = checks.count("n", n), checks.count("num_samples", num_samples)
    checks.unit_interval("emp_risk_mc", emp_risk_mc)
    checks.nonnegative("kl", kl)
    emp_upper = float(sampling_bound(emp_risk_mc, m, delta_prime))
    complexity = float(maurer_complexity(kl, n, delta))
    return Certificate(
        risk_bound=float(kl_inv_upper(emp_upper, complexity)),
        delta=delta,
        delta_prime=delta_prime,
        n=n,
        num_samples=m,
        kl=float(kl),
        emp_risk_mc=float(emp_risk_mc),
        emp_risk_upper=emp_upper,
        sampling_term=math.log(2 / delta_prime) / m,
        complexity=complexity,
        pinsker_bound=float(pinsker_bound(emp_upper, kl, n, delta)),
    )


def sampled_risks(
    key: jax.Array,
    posterior: DiagGaussian,
    apply_fn: ApplyFn,
    x_NxD: ArrayLike,
    y_N: ArrayLike,
    num_samples: int,
    loss_fn: Callable[[jax.Array, jax.Array], jax.Array] = losses.zero_one,
    chunk_size: int = 16,
) -> jax.Array:
    r"""Empirical risks :math:`\hat R_S(\theta_j)` of ``num_samples`` networks drawn from ``posterior``, shape ``(m,)``.

    Networks are evaluated ``chunk_size`` at a time (``lax.map``) to bound memory.
    """
    m = checks.count("num_samples", num_samples)
    return _risks(jax.random.split(key, m), posterior, jnp.asarray(x_NxD), jnp.asarray(y_N), apply_fn, loss_fn,
                  chunk_size)


@functools.partial(jax.jit, static_argnames=("apply_fn", "loss_fn", "chunk_size"))
def _risks(keys: jax.Array, posterior: DiagGaussian, x_NxD: jax.Array, y_N: jax.Array, apply_fn: ApplyFn,
           loss_fn: Callable[[jax.Array, jax.Array], jax.Array], chunk_size: int) -> jax.Array:
    # module-level jit keyed on (apply_fn, loss_fn): repeated calls with the same model and shapes compile once
    def risk(k: jax.Array) -> jax.Array:
        return jnp.mean(loss_fn(apply_fn(sample_params(k, posterior), x_NxD), y_N))

    return jax.lax.map(risk, keys, batch_size=chunk_size)


def certify(
    key: jax.Array,
    posterior: DiagGaussian,
    prior: DiagGaussian,
    apply_fn: ApplyFn,
    x_NxD: ArrayLike,
    y_N: ArrayLike,
    *,
    num_samples: int,
    delta: float = 0.025,
    delta_prime: float = 0.01,
    loss_fn: Callable[[jax.Array, jax.Array], jax.Array] = losses.zero_one,
) -> Certificate:
    """Risk certificate of ``posterior`` on the certificate split ``(x_NxD, y_N)`` (see the module docstring).

    The prior must be independent of ``(x_NxD, y_N)``; ``n`` is ``len(y_N)``.
    """
    delta, delta_prime = confidence("delta", delta), confidence("delta_prime", delta_prime)
    risks = sampled_risks(key, posterior, apply_fn, x_NxD, y_N, num_samples, loss_fn)
    kl = float(kl_divergence(posterior, prior))
    return certificate_from_terms(float(jnp.mean(risks)), num_samples, kl, len(y_N), delta, delta_prime)
