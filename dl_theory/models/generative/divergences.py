r"""Divergences between distributions: Gaussian and discrete KL, Jensen–Shannon, Monte-Carlo KL, and the forward- and
reverse-KL fits of one Gaussian to a target.

Gaussian KL (Kullback & Leibler 1951; e.g. Bishop 2006, eq. 2.155 for the full case):

.. math::
   \mathrm{KL}(\mathcal N(\mu_0,\Sigma_0)\,\|\,\mathcal N(\mu_1,\Sigma_1)) = \tfrac12\big[\operatorname{tr}
   (\Sigma_1^{-1}\Sigma_0) + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0) - D + \ln\det\Sigma_1 - \ln\det\Sigma_0\big],

which in one dimension reads :math:`\tfrac12(\sigma_0^2/\sigma_1^2 + (\mu_1-\mu_0)^2/\sigma_1^2 - 1 +
\ln(\sigma_1^2/\sigma_0^2))`. The course notes invert the two ratios (:math:`\sigma_1^2/\sigma_0^2` and a
:math:`\sigma_0^2` denominator) while keeping the log term; :func:`kl_normal_notes` keeps that form so that an
experiment can show it is not the KL (it can be negative).

Forward KL :math:`\min_q \mathrm{KL}(p\|q)` over Gaussians :math:`q` is moment matching (mean-seeking: :math:`q` must
cover every region where :math:`p > 0`); reverse KL :math:`\min_q \mathrm{KL}(q\|p)` is mode-seeking (:math:`q` must
vanish where :math:`p` does), see Bishop (2006) §10.1.2 and Murphy (2012) §21.2.2. The 1-D Wasserstein-1 distance is
:func:`dl_theory.stats.wasserstein1`, re-exported here.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.generalization.pac_bayes.gaussian_kl import kl_diag_gaussians
from dl_theory.stats import mean_and_stderr, wasserstein1

__all__ = ["forward_kl_fit", "js_discrete", "kl_diag_gaussian", "kl_discrete", "kl_gaussian", "kl_normal_notes",
           "mixture_log_prob", "mixture_sample", "monte_carlo_kl", "reverse_kl", "reverse_kl_fit", "wasserstein1"]

_Z_MAX = 10.0  # reverse_kl integrates the standardized variable over [-10, 10]
_kl_diag_batched = jnp.vectorize(kl_diag_gaussians, signature="(d),(d),(d),(d)->()")


def kl_diag_gaussian(mean0_xD: ArrayLike, var0_xD: ArrayLike, mean1_xD: ArrayLike, var1_xD: ArrayLike) -> jax.Array:
    r""":math:`\mathrm{KL}(\mathcal N(\mu_0, \operatorname{diag}\sigma_0^2)\,\|\,\mathcal N(\mu_1,
    \operatorname{diag}\sigma_1^2)) = \tfrac12\sum_i[\sigma_{0,i}^2/\sigma_{1,i}^2 + (\mu_{1,i}-\mu_{0,i})^2/
    \sigma_{1,i}^2 - 1 + \ln(\sigma_{1,i}^2/\sigma_{0,i}^2)]`, summed over the last axis and broadcast over the
    others (one KL per example of a VAE encoder, say). The terms are those of
    :func:`dl_theory.generalization.pac_bayes.kl_diag_gaussians`.

    Raises:
      ValueError: if a variance is not > 0 (checked when concrete).
    """
    checks.positive("var0_xD", var0_xD)
    checks.positive("var1_xD", var1_xD)
    return _kl_diag_batched(mean0_xD, var0_xD, mean1_xD, var1_xD)


def kl_normal_notes(mean0: ArrayLike, var0: ArrayLike, mean1: ArrayLike, var1: ArrayLike) -> jax.Array:
    r"""The notes' inverted formula :math:`\tfrac12(\sigma_1^2/\sigma_0^2 + (\mu_0-\mu_1)^2/\sigma_0^2 - 1 +
    \ln(\sigma_1^2/\sigma_0^2))`, elementwise: *not* a KL divergence (negative for :math:`\sigma_1 < \sigma_0`,
    :math:`\mu_0 = \mu_1`); kept only to measure the slip. Use :func:`kl_diag_gaussian`."""
    mean0, var0, mean1, var1 = (jnp.asarray(a) for a in (mean0, var0, mean1, var1))
    return 0.5 * (var1 / var0 + (mean0 - mean1) ** 2 / var0 - 1.0 + jnp.log(var1 / var0))


def kl_gaussian(mean0_D: ArrayLike, cov0_DxD: ArrayLike, mean1_D: ArrayLike, cov1_DxD: ArrayLike) -> jax.Array:
    r""":math:`\mathrm{KL}(\mathcal N(\mu_0,\Sigma_0)\,\|\,\mathcal N(\mu_1,\Sigma_1))` for full covariances (formula in
    the module docstring), through Cholesky factors :math:`\Sigma_j = L_j L_j^\top`: the trace is
    :math:`\|L_1^{-1}L_0\|_F^2`, the Mahalanobis term :math:`\|L_1^{-1}(\mu_1-\mu_0)\|^2` and each log-determinant
    :math:`2\sum_i\ln (L_j)_{ii}`.

    Raises:
      ValueError: if the shapes are not ``(D,)`` and ``(D, D)``.
    """
    mean0_D, cov0_DxD, mean1_D, cov1_DxD = (jnp.asarray(a) for a in (mean0_D, cov0_DxD, mean1_D, cov1_DxD))
    d = mean0_D.shape[-1] if mean0_D.ndim == 1 else -1
    for name, value, shape in (("mean0_D", mean0_D, (d,)), ("mean1_D", mean1_D, (d,)),
                               ("cov0_DxD", cov0_DxD, (d, d)), ("cov1_DxD", cov1_DxD, (d, d))):
        if d < 1 or value.shape != shape:
            raise checks.fail(name, f"of shape {shape} (D = len(mean0_D))", f"shape {value.shape}")
    chol0, chol1 = jnp.linalg.cholesky(cov0_DxD), jnp.linalg.cholesky(cov1_DxD)
    solve = jax.scipy.linalg.solve_triangular
    trace = jnp.sum(solve(chol1, chol0, lower=True) ** 2)
    maha = jnp.sum(solve(chol1, mean1_D - mean0_D, lower=True) ** 2)
    logdet = 2.0 * (jnp.sum(jnp.log(jnp.diag(chol1))) - jnp.sum(jnp.log(jnp.diag(chol0))))
    return 0.5 * (trace + maha - d + logdet)


def kl_discrete(p_xK: ArrayLike, q_xK: ArrayLike) -> jax.Array:
    r""":math:`\mathrm{KL}(p\|q) = \sum_k p_k\ln(p_k/q_k)` over the last axis, with :math:`0\ln 0 = 0` and
    :math:`+\infty` where :math:`q_k = 0 < p_k` (Cover & Thomas 2006, eq. 2.26).

    Raises:
      ValueError: if ``p_xK`` or ``q_xK`` is not a probability vector along the last axis, or their shapes differ.
    """
    p_xK, q_xK = _distributions(p_xK, q_xK)
    return jnp.sum(jax.scipy.special.rel_entr(p_xK, q_xK), axis=-1)


def js_discrete(p_xK: ArrayLike, q_xK: ArrayLike) -> jax.Array:
    r"""Jensen–Shannon divergence :math:`\tfrac12\mathrm{KL}(p\|m) + \tfrac12\mathrm{KL}(q\|m)`,
    :math:`m = (p+q)/2`, over the last axis: symmetric, finite and in :math:`[0, \ln 2]` (Lin 1991).

    Raises:
      ValueError: as :func:`kl_discrete`.
    """
    p_xK, q_xK = _distributions(p_xK, q_xK)
    m_xK = 0.5 * (p_xK + q_xK)
    rel = jax.scipy.special.rel_entr
    return 0.5 * jnp.sum(rel(p_xK, m_xK) + rel(q_xK, m_xK), axis=-1)


def _distributions(p_xK: ArrayLike, q_xK: ArrayLike) -> tuple[jax.Array, jax.Array]:
    p_xK, q_xK = jnp.asarray(p_xK), jnp.asarray(q_xK)
    if p_xK.shape != q_xK.shape or p_xK.ndim == 0:
        raise checks.fail("q_xK", f"of the shape of p_xK {p_xK.shape}", f"shape {q_xK.shape}")
    for name, dist in (("p_xK", p_xK), ("q_xK", q_xK)):
        checks.nonnegative(name, dist)
        total = checks.concrete(jnp.sum(dist, axis=-1))
        if total is not None and not np.allclose(total, 1.0, atol=1e-5):
            raise checks.fail(f"sum({name}, axis=-1)", "1 (a probability vector)", total)
    return p_xK, q_xK


def monte_carlo_kl(key: jax.Array, sample_p: Callable[[jax.Array, int], jax.Array],
                   log_p: Callable[[jax.Array], jax.Array], log_q: Callable[[jax.Array], jax.Array],
                   n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Monte-Carlo :math:`\mathrm{KL}(p\|q) \approx \frac1N\sum_i[\ln p(x_i) - \ln q(x_i)]`, :math:`x_i \sim p`
    i.i.d. by ``sample_p(key, n_samples)``; ``log_p``/``log_q`` map the samples to log-densities of shape ``(N, ...)``
    (trailing axes: several pairs at once). Returns the estimates and their standard errors :math:`s/\sqrt N`
    (unbiased; central limit theorem), of the trailing shape."""
    n_samples = checks.at_least(2)("n_samples", n_samples)
    x = sample_p(key, n_samples)
    return mean_and_stderr(np.asarray(log_p(x) - log_q(x), np.float64))


def mixture_log_prob(x_N: ArrayLike, weights_K: ArrayLike, means_K: ArrayLike, vars_K: ArrayLike) -> jax.Array:
    r""":math:`\ln\sum_k \pi_k\,\mathcal N(x; \mu_k, \sigma_k^2)` of a 1-D Gaussian mixture, elementwise in ``x_N``
    (log-sum-exp)."""
    x_Nx1 = jnp.asarray(x_N)[..., None]
    weights_K, means_K, vars_K = (jnp.asarray(a).reshape((1,) * (x_Nx1.ndim - 1) + (-1,))
                                  for a in (weights_K, means_K, vars_K))
    log_comp = (jnp.log(weights_K) - 0.5 * jnp.log(2 * jnp.pi * vars_K)
                - 0.5 * (x_Nx1 - means_K) ** 2 / vars_K)
    return jax.nn.logsumexp(log_comp, axis=-1)


def mixture_sample(key: jax.Array, n: int, weights_K: ArrayLike, means_K: ArrayLike, vars_K: ArrayLike) -> jax.Array:
    """``n`` i.i.d. draws of the 1-D Gaussian mixture (component by ``jax.random.categorical``, then its normal)."""
    k_comp, k_noise = jax.random.split(key)
    means_K, vars_K = jnp.asarray(means_K), jnp.asarray(vars_K)
    comp = jax.random.categorical(k_comp, jnp.log(jnp.asarray(weights_K)), shape=(n,))
    return means_K[comp] + jnp.sqrt(vars_K[comp]) * jax.random.normal(k_noise, (n,), means_K.dtype)


def forward_kl_fit(weights_K: ArrayLike, means_K: ArrayLike, vars_K: ArrayLike) -> tuple[jax.Array, jax.Array]:
    r"""The Gaussian :math:`q^* = \arg\min_q \mathrm{KL}(p\|q)` for a 1-D mixture :math:`p`: moment matching,
    :math:`\mu^* = \sum_k\pi_k\mu_k` and :math:`\sigma^{*2} = \sum_k\pi_k(\sigma_k^2 + \mu_k^2) - \mu^{*2}`
    (setting the gradient of :math:`-\mathbb E_p\ln q` to zero; Bishop 2006, §10.7). Returns ``(mean, var)``.

    Raises:
      ValueError: if the weights are not a probability vector or a variance is not > 0.
    """
    _distributions(weights_K, weights_K)
    checks.positive("vars_K", vars_K)
    weights_K, means_K, vars_K = (jnp.asarray(a) for a in (weights_K, means_K, vars_K))
    mean = jnp.sum(weights_K * means_K)
    return mean, jnp.sum(weights_K * (vars_K + (means_K - mean) ** 2))


def reverse_kl(log_p: Callable[[jax.Array], jax.Array], mean: ArrayLike, var: ArrayLike, *,
               n_nodes: int = 2001) -> jax.Array:
    r""":math:`\mathrm{KL}(q\|p) = -H(q) - \mathbb E_q\ln p` for :math:`q = \mathcal N(\mu, \sigma^2)` in 1-D, with
    :math:`H(q) = \tfrac12\ln(2\pi e\sigma^2)` and the expectation by the trapezoid rule at the reparameterized nodes
    :math:`\mu + \sigma z_i`, :math:`z_i` ``n_nodes`` equispaced points of :math:`[-10, 10]` (the Gaussian mass
    outside is below :math:`10^{-22}`); differentiable in :math:`(\mu, \sigma^2)`. A fine uniform grid rather than
    Gauss–Hermite because the log-density of a mixture has a near-kink between separated modes, where Gauss–Hermite
    converges slowly and creates spurious stationary points. ``log_p`` maps an array elementwise."""
    n_nodes = checks.at_least(3)("n_nodes", n_nodes)
    mean, var = jnp.asarray(mean), jnp.asarray(var)
    z = jnp.linspace(-_Z_MAX, _Z_MAX, n_nodes, dtype=var.dtype)
    weights = jnp.exp(-0.5 * z**2) * (z[1] - z[0]) / jnp.sqrt(2 * jnp.pi)
    entropy = 0.5 * jnp.log(2 * jnp.pi * jnp.e * var)
    return -entropy - jnp.sum(weights * log_p(mean + jnp.sqrt(var) * z))


def reverse_kl_fit(log_p: Callable[[jax.Array], jax.Array], mean: ArrayLike, var: ArrayLike, *, n_steps: int = 2000,
                   learning_rate: float = 0.05, n_nodes: int = 2001) -> tuple[jax.Array, jax.Array]:
    r"""A local minimizer of :math:`\mathrm{KL}(q\|p)` over 1-D Gaussians :math:`q`: Adam on
    :math:`(\mu, \ln\sigma)` from ``(mean, var)``, the objective being :func:`reverse_kl` (a quadrature, so the
    gradient is deterministic). The objective is non-convex for a multimodal :math:`p`: the start decides which mode
    is found. Returns ``(mean, var)``.

    Raises:
      ValueError: if ``var``, ``n_steps`` or ``learning_rate`` is not > 0.
    """
    checks.positive("var", var)
    checks.positive("learning_rate", learning_rate)
    n_steps = checks.count("n_steps", n_steps)
    optimizer = optax.adam(learning_rate)
    mean = jnp.asarray(mean, jnp.result_type(float))
    params = (mean, 0.5 * jnp.log(jnp.asarray(var, mean.dtype)))

    def objective(p):
        return reverse_kl(log_p, p[0], jnp.exp(2 * p[1]), n_nodes=n_nodes)

    def step(carry, _):
        p, state = carry
        updates, state = optimizer.update(jax.grad(objective)(p), state, p)
        return (optax.apply_updates(p, updates), state), None

    (params, _), _ = jax.lax.scan(step, (params, optimizer.init(params)), None, length=n_steps)
    return params[0], jnp.exp(2 * params[1])
