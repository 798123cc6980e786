r"""Diagonal Gaussian distributions over parameter pytrees: the stochastic network of PAC-Bayes training.

A :class:`DiagGaussian` stores a mean pytree and an unconstrained pytree :math:`\rho` with standard deviation
:math:`\sigma = \operatorname{softplus}(\rho) = \ln(1 + e^{\rho}) > 0` (Blundell et al., 2015, "Weight uncertainty in
neural networks"). Sampling uses the reparameterization :math:`\tilde\theta = \mu + \sigma \odot \eta`,
:math:`\eta \sim \mathcal N(0, I)`, so gradients flow to :math:`\mu` and :math:`\rho`. The same type serves as a
prior: a *data-independent* prior centred at the random initialization (Dziugaite & Roy, 2017), or a *data-dependent*
prior centred at weights learned on a held-out split (Parrado-Hernández et al., 2012; Pérez-Ortiz et al., 2021); in the
latter case the bound's sample size counts only the examples not used for the prior.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.generalization.pac_bayes.gaussian_kl import kl_diag_gaussians
from dl_theory.typing import ApplyFn, Params, PyTree


class DiagGaussian(NamedTuple):
    r""":math:`\mathcal N(\text{mean}, \operatorname{diag}\operatorname{softplus}(\rho)^2)` over a parameter pytree."""

    mean: Params
    rho: Params


def softplus_inverse(sigma: ArrayLike) -> jax.Array:
    r""":math:`\rho = \ln(e^{\sigma} - 1)`, computed stably as :math:`\sigma + \ln(1 - e^{-\sigma})`."""
    checks.positive("sigma", sigma)
    sigma = jnp.asarray(sigma, jnp.result_type(sigma, float))
    return sigma + jnp.log(-jnp.expm1(-sigma))


def diag_gaussian(mean: Params, sigma: float | PyTree) -> DiagGaussian:
    """A :class:`DiagGaussian` with the given mean and standard deviation(s).

    Args:
      mean: parameter pytree (e.g. network weights at initialization or after ERM on a prior split).
      sigma: a positive scalar (isotropic) or a pytree of positive standard deviations shaped like ``mean``.
    """
    if jax.tree_util.treedef_is_leaf(jax.tree.structure(sigma)) and np.ndim(sigma) == 0:
        checks.positive("sigma", sigma)
        rho0 = softplus_inverse(sigma)
        rho = jax.tree.map(lambda m: jnp.full(jnp.shape(m), rho0, jnp.result_type(m)), mean)
    else:
        checks.same_tree("mean", mean, "sigma", sigma)
        rho = jax.tree.map(lambda m, s: softplus_inverse(s).astype(jnp.result_type(m)), mean, sigma)
    return DiagGaussian(mean=mean, rho=rho)


def stddev(dist: DiagGaussian) -> PyTree:
    r"""Standard deviations :math:`\operatorname{softplus}(\rho)` as a pytree."""
    return jax.tree.map(jax.nn.softplus, dist.rho)


def variance(dist: DiagGaussian) -> PyTree:
    r"""Variances :math:`\operatorname{softplus}(\rho)^2` as a pytree."""
    return jax.tree.map(lambda r: jax.nn.softplus(r) ** 2, dist.rho)


def sample_params(key: jax.Array, dist: DiagGaussian) -> Params:
    r"""One reparameterized draw :math:`\mu + \sigma\odot\eta` (differentiable in ``dist``).

    The noise :math:`\eta` of all leaves is one normal draw of the flattened tree: one random-number call compiles
    several times faster than one per leaf, which matters when thousands of networks are sampled under ``jit``.
    """
    mean_P, unravel = ravel_pytree(dist.mean)
    rho_P, _ = ravel_pytree(dist.rho)
    return unravel(mean_P + jax.nn.softplus(rho_P) * jax.random.normal(key, mean_P.shape, mean_P.dtype))


def kl_divergence(posterior: DiagGaussian, prior: DiagGaussian) -> jax.Array:
    r""":math:`\mathrm{KL}(Q\|P)` between two :class:`DiagGaussian` s (see :func:`kl_diag_gaussians`).

    Raises:
      ValueError: if the posterior and prior parameter trees (or leaf shapes) differ.
    """
    checks.same_tree("posterior.mean", posterior.mean, "prior.mean", prior.mean)
    return kl_diag_gaussians(posterior.mean, variance(posterior), prior.mean, variance(prior))


def stochastic_apply(apply_fn: ApplyFn) -> Callable[..., jax.Array]:
    """Wraps ``apply_fn(params, x, **kw)`` into ``f(key, dist, x, **kw)`` evaluating one sampled network."""

    def apply(key: jax.Array, dist: DiagGaussian, x: ArrayLike, **kwargs: Any) -> jax.Array:
        return apply_fn(sample_params(key, dist), x, **kwargs)

    return apply


def split_prior_certificate(key: jax.Array, n: int, prior_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Random disjoint index sets (prior split, certificate split) of sizes ``round(prior_fraction n)`` and the rest.

    The prior may be learned on the first split only; a bound using that prior must take ``n`` = size of the
    second.
    """
    if not 0 <= prior_fraction < 1:
        raise checks.fail("prior_fraction", "in [0, 1)", prior_fraction)
    perm = np.asarray(jax.random.permutation(key, n))
    n_prior = int(round(prior_fraction * n))
    return np.sort(perm[:n_prior]), np.sort(perm[n_prior:])
