r"""Linear-Gaussian latent-variable models: factor analysis and probabilistic PCA.

The model is :math:`z \sim \mathcal N(0, I_M)`, :math:`x = \mu + Wz + \eta`, :math:`\eta \sim \mathcal N(0, \Psi)`
with :math:`\Psi` diagonal (factor analysis) or :math:`\sigma^2 I` (probabilistic PCA), so the marginal is
:math:`x \sim \mathcal N(\mu, WW^\top + \Psi)` and the posterior is

.. math::
   p(z|x) = \mathcal N\big(G W^\top\Psi^{-1}(x-\mu),\ G\big),\qquad G = (I + W^\top\Psi^{-1}W)^{-1},

which equals the notes' :math:`W^\top(WW^\top+\Psi)^{-1}(x-\mu)` and :math:`I - W^\top(WW^\top+\Psi)^{-1}W` by the
Woodbury identity. As :math:`\sigma^2 \to 0` (PPCA) the posterior mean tends to :math:`W^+(x-\mu)` with an error
:math:`O(\sigma^2)`. :math:`W` is identifiable only up to a rotation: :math:`WR` with :math:`RR^\top = I` gives the same
marginal. The maximum-likelihood :math:`\mu` is the sample mean; PPCA's ML :math:`(W, \sigma^2)` has the closed form
:math:`W = U_M(\Lambda_M - \sigma^2 I)^{1/2}R`, :math:`\sigma^2 = \frac{1}{D-M}\sum_{j>M}\lambda_j` from the
eigenpairs of the sample covariance (Tipping & Bishop 1999, eqs. 7-8); factor analysis has none and is fitted by EM
(Rubin & Thayer 1982; Ghahramani & Hinton 1996), which also fits PPCA (Tipping & Bishop 1999, §3.2).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from dl_theory import checks


class LinearGaussian(NamedTuple):
    """:math:`x = \\mu + Wz + \\eta`, :math:`z \\sim \\mathcal N(0, I_M)`, :math:`\\eta \\sim \\mathcal N(0,
    \\operatorname{diag}\\psi)` (PPCA: every entry of ``noise_var_D`` equal to :math:`\\sigma^2`)."""

    mean_D: jax.Array
    loading_DxM: jax.Array
    noise_var_D: jax.Array


def marginal_covariance(model: LinearGaussian) -> jax.Array:
    """:math:`WW^\\top + \\Psi`, the covariance of :math:`x`, shape ``(D, D)``."""
    w_DxM = model.loading_DxM
    return w_DxM @ w_DxM.T + jnp.diag(model.noise_var_D)


def log_likelihood(model: LinearGaussian, x_NxD: ArrayLike) -> jax.Array:
    r""":math:`\ln\mathcal N(x_n; \mu, WW^\top + \Psi)` per row, shape ``(N,)`` (through a Cholesky factor)."""
    x_NxD = jnp.asarray(x_NxD)
    chol_DxD = jnp.linalg.cholesky(marginal_covariance(model))
    white_DxN = jax.scipy.linalg.solve_triangular(chol_DxD, (x_NxD - model.mean_D[None]).T, lower=True)
    log_det = 2.0 * jnp.sum(jnp.log(jnp.diag(chol_DxD)))
    return -0.5 * (x_NxD.shape[1] * jnp.log(2 * jnp.pi) + log_det + jnp.sum(white_DxN**2, axis=0))


def posterior(model: LinearGaussian, x_NxD: ArrayLike) -> tuple[jax.Array, jax.Array]:
    r"""The posterior :math:`p(z|x_n)`: means ``(N, M)`` and the shared covariance :math:`G` ``(M, M)`` (module
    docstring)."""
    x_NxD = jnp.asarray(x_NxD)
    w_DxM, psi_D = model.loading_DxM, model.noise_var_D
    scaled_DxM = w_DxM / psi_D[:, None]
    g_MxM = jnp.linalg.inv(jnp.eye(w_DxM.shape[1], dtype=w_DxM.dtype) + w_DxM.T @ scaled_DxM)
    return (x_NxD - model.mean_D[None]) @ scaled_DxM @ g_MxM, g_MxM


def sample(key: jax.Array, model: LinearGaussian, n: int) -> tuple[jax.Array, jax.Array]:
    """``n`` draws ``(x_NxD, z_NxM)`` of the generative model."""
    n = checks.count("n", n)
    k_z, k_eta = jax.random.split(key)
    d, m = model.loading_DxM.shape
    z_NxM = jax.random.normal(k_z, (n, m), model.loading_DxM.dtype)
    eta_NxD = jnp.sqrt(model.noise_var_D)[None] * jax.random.normal(k_eta, (n, d), model.loading_DxM.dtype)
    return model.mean_D[None] + z_NxM @ model.loading_DxM.T + eta_NxD, z_NxM


def ppca(x_NxD: ArrayLike, latent_dim: int) -> LinearGaussian:
    r"""The maximum-likelihood PPCA model in closed form (Tipping & Bishop 1999): :math:`\mu` the sample mean,
    :math:`\sigma^2` the mean of the :math:`D - M` smallest eigenvalues of the sample covariance :math:`S` (divided by
    :math:`N`), :math:`W = U_M(\Lambda_M - \sigma^2 I)^{1/2}` (the rotation :math:`R = I`).

    Raises:
      ValueError: if ``latent_dim`` is not in ``[1, D)`` or there are fewer than two rows.
    """
    x_NxD, latent_dim = _data("x_NxD", x_NxD, latent_dim)
    mean_D, cov_DxD = _moments(x_NxD)
    eigval_D, eigvec_DxD = jnp.linalg.eigh(cov_DxD)
    eigval_D, eigvec_DxD = eigval_D[::-1], eigvec_DxD[:, ::-1]
    sigma2 = jnp.mean(eigval_D[latent_dim:])
    w_DxM = eigvec_DxD[:, :latent_dim] * jnp.sqrt(jnp.maximum(eigval_D[None, :latent_dim] - sigma2, 0.0))
    return LinearGaussian(mean_D, w_DxM, jnp.full(x_NxD.shape[1], sigma2))


def factor_analysis_em(key: jax.Array, x_NxD: ArrayLike, latent_dim: int, *, n_iter: int = 500,
                       isotropic: bool = False) -> LinearGaussian:
    r"""Maximum likelihood by EM from a random start (:math:`W_{ij} \sim \mathcal N(0, \bar s/M)`, :math:`\Psi =
    \operatorname{diag} S`), ``n_iter`` steps in one ``lax.scan`` on the sample covariance :math:`S`:

    .. math::
       \beta = G W^\top\Psi^{-1},\quad \mathbb E[zz^\top] = G + \beta S\beta^\top,\quad
       W' = S\beta^\top\,\mathbb E[zz^\top]^{-1},\quad \Psi' = \operatorname{diag}(S - W'\beta S),

    (Ghahramani & Hinton 1996); with ``isotropic`` the new :math:`\Psi'` is replaced by the mean of its diagonal,
    which is PPCA's EM (Tipping & Bishop 1999, eqs. 29-30). EM never decreases the likelihood.

    Raises:
      ValueError: if ``latent_dim`` is not in ``[1, D)``, there are fewer than two rows or ``n_iter`` < 1.
    """
    return factor_analysis_em_trace(key, x_NxD, latent_dim, n_iter=n_iter, isotropic=isotropic)[0]


def factor_analysis_em_trace(key: jax.Array, x_NxD: ArrayLike, latent_dim: int, *, n_iter: int = 500,
                             isotropic: bool = False) -> tuple[LinearGaussian, jax.Array]:
    r""":func:`factor_analysis_em` and the mean log-likelihood after every step, shape ``(n_iter,)``, from
    :math:`S`: :math:`-\tfrac12[D\ln 2\pi + \ln\det C + \operatorname{tr}(C^{-1}S)]`, :math:`C = WW^\top + \Psi`
    (the mean at its maximum-likelihood value, the sample mean)."""
    x_NxD, latent_dim = _data("x_NxD", x_NxD, latent_dim)
    n_iter = checks.count("n_iter", n_iter)
    mean_D, cov_DxD = _moments(x_NxD)
    scale = jnp.sqrt(jnp.mean(jnp.diag(cov_DxD)) / latent_dim)
    w_DxM = scale * jax.random.normal(key, (x_NxD.shape[1], latent_dim), x_NxD.dtype)
    psi_D = jnp.diag(cov_DxD)
    if isotropic:
        psi_D = jnp.full_like(psi_D, jnp.mean(psi_D))

    def step(carry, _):
        w_DxM, psi_D = _em_step(*carry, cov_DxD, isotropic)
        chol_DxD = jnp.linalg.cholesky(w_DxM @ w_DxM.T + jnp.diag(psi_D))
        trace_term = jnp.trace(jax.scipy.linalg.cho_solve((chol_DxD, True), cov_DxD))
        log_det = 2.0 * jnp.sum(jnp.log(jnp.diag(chol_DxD)))
        mean_ll = -0.5 * (cov_DxD.shape[0] * jnp.log(2 * jnp.pi) + log_det + trace_term)
        return (w_DxM, psi_D), mean_ll

    (w_DxM, psi_D), trace = jax.lax.scan(step, (w_DxM, psi_D), None, length=n_iter)
    return LinearGaussian(mean_D, w_DxM, psi_D), trace


def _em_step(w_DxM: jax.Array, psi_D: jax.Array, cov_DxD: jax.Array, isotropic: bool) -> tuple[jax.Array, jax.Array]:
    scaled_DxM = w_DxM / psi_D[:, None]
    g_MxM = jnp.linalg.inv(jnp.eye(w_DxM.shape[1], dtype=w_DxM.dtype) + w_DxM.T @ scaled_DxM)
    beta_MxD = g_MxM @ scaled_DxM.T
    s_beta_DxM = cov_DxD @ beta_MxD.T
    ezz_MxM = g_MxM + beta_MxD @ s_beta_DxM
    w_new_DxM = jnp.linalg.solve(ezz_MxM, s_beta_DxM.T).T
    psi_new_D = jnp.diag(cov_DxD) - jnp.sum(w_new_DxM * s_beta_DxM, axis=1)
    if isotropic:
        psi_new_D = jnp.full_like(psi_new_D, jnp.mean(psi_new_D))
    return w_new_DxM, psi_new_D


def _data(name: str, x_NxD: ArrayLike, latent_dim: int) -> tuple[jax.Array, int]:
    x_NxD = jnp.asarray(x_NxD)
    if x_NxD.ndim != 2 or x_NxD.shape[0] < 2:
        raise checks.fail(name, "a 2-D array (N, D) with N >= 2", f"shape {x_NxD.shape}")
    latent_dim = checks.count("latent_dim", latent_dim)
    if latent_dim >= x_NxD.shape[1]:
        raise checks.fail("latent_dim", f"smaller than the data dimension D = {x_NxD.shape[1]}", latent_dim)
    return x_NxD, latent_dim


def _moments(x_NxD: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Sample mean and the maximum-likelihood covariance (divided by N)."""
    mean_D = jnp.mean(x_NxD, axis=0)
    centred_NxD = x_NxD - mean_D[None]
    return mean_D, centred_NxD.T @ centred_NxD / x_NxD.shape[0]
