r"""KL divergence between diagonal Gaussians over parameter pytrees.

For :math:`Q = \mathcal N(\mu_q, \operatorname{diag}\sigma_q^2)` and
:math:`P = \mathcal N(\mu_p, \operatorname{diag}\sigma_p^2)` on :math:`\mathbb R^d`,

.. math::
   \mathrm{KL}(Q\|P) = \frac12 \sum_{i=1}^d \Big[\frac{\sigma_{q,i}^2}{\sigma_{p,i}^2}
      + \frac{(\mu_{q,i}-\mu_{p,i})^2}{\sigma_{p,i}^2} - 1 + \ln\frac{\sigma_{p,i}^2}{\sigma_{q,i}^2}\Big].

With an isotropic prior :math:`P = \mathcal N(\theta_0, \lambda I)` (:math:`\lambda` a *variance*) this is
:math:`\frac12\sum_i[\sigma_i^2/\lambda + (\theta_i-\theta_{0,i})^2/\lambda - 1 + \ln(\lambda/\sigma_i^2)]`. The course
notes write :math:`\sum_i[\ln(\lambda/\sigma_i) + (\sigma_i^2+\theta_i^2-1)/(2\lambda^2) - \tfrac12]`, which mixes up
variance and standard deviation and misplaces the :math:`-1`; it is not a KL divergence (it is not even zero at
:math:`Q = P`). See Dziugaite & Roy (2017), "Computing nonvacuous generalization bounds for deep (stochastic) neural
networks", eq. (5).
"""

from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.typing import PyTree


def kl_diag_gaussians(mean_q: PyTree, var_q: PyTree, mean_p: PyTree, var_p: PyTree | ArrayLike) -> jax.Array:
    r"""KL divergence between diagonal Gaussians over pytrees (formula in the module docstring).

    Args:
      mean_q: posterior mean pytree.
      var_q: posterior variances, same tree and shapes as ``mean_q``, all > 0.
      mean_p: prior mean pytree, same tree and shapes as ``mean_q``.
      var_p: prior variances: a pytree like ``mean_p`` or a single positive scalar :math:`\lambda`
        (isotropic prior).

    Returns:
      The KL divergence in nats (a scalar summed over all leaves).

    Raises:
      ValueError: mismatched trees or leaf shapes, or non-positive variances (checked when concrete).
    """
    checks.same_tree("mean_q", mean_q, "var_q", var_q)
    checks.same_tree("mean_q (posterior)", mean_q, "mean_p (prior)", mean_p)
    if _is_scalar(var_p):
        var_p = jax.tree.map(lambda _: var_p, mean_p)
    else:
        checks.same_tree("mean_p", mean_p, "var_p", var_p)
    for name, tree in (("var_q", var_q), ("var_p", var_p)):
        for leaf in jax.tree.leaves(tree):
            checks.positive(name, leaf)
    terms = jax.tree.map(_kl_terms, mean_q, var_q, mean_p, var_p)
    return 0.5 * sum(jnp.sum(t) for t in jax.tree.leaves(terms))


def _is_scalar(x: Any) -> bool:
    return jax.tree_util.treedef_is_leaf(jax.tree.structure(x)) and jnp.ndim(x) == 0


def _kl_terms(mu_q: ArrayLike, v_q: ArrayLike, mu_p: ArrayLike, v_p: ArrayLike) -> jax.Array:
    # r - 1 - ln r with ln r computed once; exactly 0 when v_q == v_p.
    log_ratio = jnp.log(v_q) - jnp.log(v_p)
    return jnp.expm1(log_ratio) - log_ratio + (jnp.asarray(mu_q) - mu_p) ** 2 / v_p
