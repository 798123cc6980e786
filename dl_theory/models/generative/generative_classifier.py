r"""The two-class Gaussian generative classifier with a shared covariance, and its logistic-regression form.

With :math:`p(y=k) = \pi_k` and :math:`p(x|y=k) = \mathcal N(x; \mu_k, \Sigma)`, Bayes' rule gives

.. math::
   p(y=1|x) = \frac{\pi_1\mathcal N(x;\mu_1,\Sigma)}{\pi_0\mathcal N(x;\mu_0,\Sigma) + \pi_1\mathcal N(x;\mu_1,\Sigma)}
   = \sigma(w^\top x + b),\quad w = \Sigma^{-1}(\mu_1-\mu_0),\quad
   b = -\tfrac12\mu_1^\top\Sigma^{-1}\mu_1 + \tfrac12\mu_0^\top\Sigma^{-1}\mu_0 + \ln\frac{\pi_1}{\pi_0},

because the quadratic terms :math:`x^\top\Sigma^{-1}x` cancel (Bishop 2006, §4.2.1). The notes' case :math:`\Sigma =
I`, :math:`\pi_0 = \pi_1` gives :math:`w = \mu_1 - \mu_0`, :math:`b = \tfrac12(\|\mu_0\|^2 - \|\mu_1\|^2)`. Fitted by
maximum likelihood (class means, pooled covariance, class frequencies) this is linear discriminant analysis; on data
drawn from the model it and logistic regression estimate the same :math:`(w, b)`, LDA with a smaller asymptotic
variance (Efron 1975).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks


class GaussianClassifier(NamedTuple):
    """Class means ``(2, D)``, the shared covariance ``(D, D)`` and the class priors ``(2,)``."""

    means_2xD: jax.Array
    cov_DxD: jax.Array
    priors_2: jax.Array


def fit_gaussian_classifier(x_NxD: ArrayLike, y01_N: ArrayLike) -> GaussianClassifier:
    r"""Maximum likelihood: :math:`\hat\mu_k` the class means, :math:`\hat\Sigma = \frac1N\sum_n (x_n -
    \hat\mu_{y_n})(x_n - \hat\mu_{y_n})^\top` (pooled), :math:`\hat\pi_k` the class frequencies.

    Raises:
      ValueError: if ``y01_N`` is not 0/1 with both classes present, or the shapes do not match.
    """
    x_NxD, y01_N = jnp.asarray(x_NxD), jnp.asarray(y01_N)
    if x_NxD.ndim != 2 or y01_N.shape != x_NxD.shape[:1]:
        raise checks.fail("y01_N", f"of shape ({x_NxD.shape[0] if x_NxD.ndim else '?'},) with x_NxD 2-D",
                          f"shapes {x_NxD.shape} and {y01_N.shape}")
    labels = checks.concrete(y01_N)
    if labels is not None and (not np.isin(labels, (0, 1)).all() or len(np.unique(labels)) < 2):
        raise checks.fail("y01_N", "labels in {0, 1} with both classes present", labels)
    onehot_Nx2 = jax.nn.one_hot(y01_N, 2, dtype=x_NxD.dtype)
    counts_2 = jnp.sum(onehot_Nx2, axis=0)
    means_2xD = onehot_Nx2.T @ x_NxD / counts_2[:, None]
    centred_NxD = x_NxD - onehot_Nx2 @ means_2xD
    return GaussianClassifier(means_2xD, centred_NxD.T @ centred_NxD / x_NxD.shape[0], counts_2 / x_NxD.shape[0])


def class_posterior(clf: GaussianClassifier, x_NxD: ArrayLike) -> jax.Array:
    r""":math:`p(y=1|x_n)` by Bayes' rule on the two class densities (each
    :func:`jax.scipy.stats.multivariate_normal.logpdf`, normalized with log-sum-exp), shape ``(N,)``."""
    x_NxD = jnp.asarray(x_NxD)
    def log_joint_2(x_D):
        logpdf = jax.scipy.stats.multivariate_normal.logpdf
        return jnp.stack([logpdf(x_D, clf.means_2xD[k], clf.cov_DxD) for k in (0, 1)]) + jnp.log(clf.priors_2)

    joint_Nx2 = jax.vmap(log_joint_2)(x_NxD)
    return jnp.exp(joint_Nx2[:, 1] - jax.nn.logsumexp(joint_Nx2, axis=1))


def logistic_form(clf: GaussianClassifier) -> tuple[jax.Array, jax.Array]:
    r"""``(w, b)`` with :math:`p(y=1|x) = \sigma(w^\top x + b)` (module docstring)."""
    mu0_D, mu1_D = clf.means_2xD
    w_D = jnp.linalg.solve(clf.cov_DxD, mu1_D - mu0_D)
    b = -0.5 * (mu1_D + mu0_D) @ w_D + jnp.log(clf.priors_2[1] / clf.priors_2[0])
    return w_D, b
