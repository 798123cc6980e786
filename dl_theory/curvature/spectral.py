r"""Spectral estimates of a symmetric operator that is known only through a matrix-vector product.

Every routine here sees a ``matvec: (dim,) -> (dim,)`` on flat vectors and never the model (the design of
google/spectral-density, Ghorbani et al. 2019); :mod:`dl_theory.curvature.hessian` builds that matvec from a loss with
``jax.flatten_util.ravel_pytree`` at the boundary.

* :func:`power_iteration` -- the eigenvalue of largest magnitude.
* :func:`lanczos` -- the Lanczos tridiagonalisation :math:`Q^\top A Q = T` with full reorthogonalisation.
* :func:`top_eigenvalues` -- the top-:math:`k` Ritz pairs of :math:`T`.
* :func:`trace` -- Hutchinson's estimator :math:`\operatorname{tr} A \approx \frac1m\sum_j v_j^\top A v_j`
  with Rademacher probes (Hutchinson 1989) and its standard error.
* :func:`spectral_density` -- stochastic Lanczos quadrature (Ubaru, Chen & Saad 2017; Ghorbani, Krishnan
  & Xiao 2019) with Gaussian broadening.

Why not ``matfree.decomp.tridiag_sym`` for Lanczos: it divides by the residual norm without a guard, so
once the Krylov space becomes invariant -- which happens on every rank-deficient Hessian (dead ReLUs, more
parameters than data) -- it continues from a rounding-noise vector and returns spurious Ritz values (on
``diag(3, 2, 0, ..., 0)`` with 6 steps it returned -3.39 and 7.39). :func:`lanczos` restarts from a fresh
random vector orthogonal to the basis and sets the coupling :math:`\beta_j = 0`, which keeps :math:`T =
Q^\top A Q` exact and gives the new block zero quadrature weight. Hutchinson's estimator does use matfree
(``sampler_signs``, ``monte_carlo_trace``); the per-probe reduction is ours so that probes can be processed
in memory-bounded chunks and the standard error uses the unbiased (ddof = 1) variance.

Compilation: each routine runs as one jitted program with the matvec passed *as an argument*, a
:class:`jax.tree_util.Partial` whose function is static and whose bound arrays are traced. A second call with the
same matvec function, the same shapes and the same static settings reuses the compiled program instead of
re-tracing its ``lax`` loops: a plain callable counts as the same when it is the same object (keep ``matvec`` or
its ``jax.jit`` around), and a ``Partial(fn, params, data)`` whenever ``fn`` is the same function, whatever the
values of ``params`` and ``data`` (build matvecs that way to reuse one compile across points, batches or seeds).
"""

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.tree_util import Partial
from matfree import stochtrace

from dl_theory import checks
from dl_theory.typing import Matvec

__all__ = ["Matvec", "SpectralDensity", "TraceEstimate", "Tridiagonal", "check_matvec", "lanczos", "power_iteration",
           "spectral_density", "top_eigenvalues", "trace"]


def check_matvec(matvec: Matvec, dim: int, dtype: jnp.dtype = jnp.float32) -> None:
    """Raise unless ``matvec`` maps a ``(dim,)`` vector to a ``(dim,)`` vector (checked by abstract evaluation)."""
    if not callable(matvec):
        raise TypeError(f"matvec must be callable, got {type(matvec).__name__}")
    checks.count("dim", dim)
    try:
        out = jax.eval_shape(matvec, jax.ShapeDtypeStruct((dim,), dtype))
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"matvec must map shape ({dim},) to ({dim},), but it fails on a ({dim},) input: {err}"
        ) from err
    if not hasattr(out, "shape") or out.shape != (dim,):
        got = getattr(out, "shape", type(out).__name__)
        raise ValueError(f"matvec must map shape ({dim},) to ({dim},) (the flat parameter vector), got {got}")


def _operand(matvec: Matvec) -> Partial:
    """``matvec`` as a pytree argument for the jitted routines: a ``Partial`` stays as it is (bound arrays are
    traced leaves), any other callable becomes a leafless ``Partial`` (static, cached on its identity)."""
    return matvec if isinstance(matvec, Partial) else Partial(matvec)


def power_iteration(
    matvec: Matvec, dim: int, *, key: jax.Array, num_iters: int = 100, dtype: jnp.dtype = jnp.float32
) -> tuple[jax.Array, jax.Array]:
    r"""Power iteration :math:`v \leftarrow Av/\|Av\|` for the eigenvalue of largest magnitude.

    Converges at rate :math:`|\lambda_2/\lambda_1|^t`; :func:`top_eigenvalues` (Lanczos) is faster for the
    same number of matvecs. Returns the Rayleigh quotient :math:`v^\top A v` and the unit vector :math:`v`.
    """
    check_matvec(matvec, dim, dtype)
    checks.count("num_iters", num_iters)
    return _power_iteration(_operand(matvec), key, dim, num_iters, dtype)


@partial(jax.jit, static_argnums=(2, 3, 4))
def _power_iteration(matvec: Partial, key: jax.Array, dim: int, num_iters: int, dtype) -> tuple[jax.Array, jax.Array]:
    v = jax.random.normal(key, (dim,), dtype)
    v = v / jnp.linalg.norm(v)

    def step(_, v):
        w = matvec(v)
        return w / jnp.linalg.norm(w)

    v = lax.fori_loop(0, num_iters, step, v)
    return v @ matvec(v), v


class Tridiagonal(NamedTuple):
    """Lanczos output: ``T = diag(alpha) + offdiag(beta[:-1])`` and the orthonormal basis ``Q_MxD`` (rows)."""

    alpha: jax.Array
    beta: jax.Array
    basis: jax.Array

    def dense(self) -> jax.Array:
        off = self.beta[:-1]
        return jnp.diag(self.alpha) + jnp.diag(off, 1) + jnp.diag(off, -1)


def lanczos(matvec: Matvec, v0: jax.Array, num_iters: int, *, key: jax.Array) -> Tridiagonal:
    r"""Lanczos tridiagonalisation with full (twice classical Gram-Schmidt) reorthogonalisation.

    Builds an orthonormal basis :math:`Q = [q_1,\dots,q_m]` of the Krylov space of ``v0`` with
    :math:`Q^\top A Q = T` tridiagonal (Lanczos 1950; Golub & Van Loan, Alg. 10.1.1). Each new direction is
    orthogonalised against *all* previous ones, twice ("twice is enough", Parlett 1998), so Ritz values do not
    duplicate. On breakdown (:math:`\beta_j \le 100\,\epsilon\,\|T\|`) it continues from a random vector
    orthogonal to the basis with :math:`\beta_j = 0`. ``key`` draws those restart vectors.
    """
    return _lanczos_jit(_operand(matvec), v0, key, checks.count("num_iters", num_iters))


def _lanczos(matvec: Matvec, v0: jax.Array, num_iters: int, key: jax.Array) -> Tridiagonal:
    (dim,) = v0.shape
    eps = jnp.finfo(v0.dtype).eps
    basis = jnp.zeros((num_iters, dim), v0.dtype)
    alpha = jnp.zeros((num_iters,), v0.dtype)
    beta = jnp.zeros((num_iters,), v0.dtype)
    keys = jax.random.split(key, num_iters)

    def orthogonalize(basis, w):
        w = w - basis.T @ (basis @ w)
        return w - basis.T @ (basis @ w)

    def step(j, carry):
        basis, alpha, beta, q, scale = carry
        basis = basis.at[j].set(q)
        w = matvec(q)
        a = q @ w
        w = orthogonalize(basis, w)
        b = jnp.linalg.norm(w)
        scale = jnp.maximum(scale, jnp.abs(a) + b)
        broke = b <= 100 * eps * scale

        def restart():
            r = orthogonalize(basis, jax.random.normal(keys[j], (dim,), v0.dtype))
            return r / jnp.maximum(jnp.linalg.norm(r), jnp.finfo(v0.dtype).tiny)

        q_next = lax.cond(broke, restart, lambda: w / b)
        return basis, alpha.at[j].set(a), beta.at[j].set(jnp.where(broke, 0.0, b)), q_next, scale

    q0 = v0 / jnp.linalg.norm(v0)
    init = (basis, alpha, beta, q0, jnp.zeros((), v0.dtype))
    basis, alpha, beta, _, _ = lax.fori_loop(0, num_iters, step, init)
    return Tridiagonal(alpha, beta, basis)


_lanczos_jit = jax.jit(lambda matvec, v0, key, num_iters: _lanczos(matvec, v0, num_iters, key), static_argnums=3)


def top_eigenvalues(
    matvec: Matvec,
    dim: int,
    k: int = 1,
    *,
    key: jax.Array,
    num_iters: int | None = None,
    dtype: jnp.dtype = jnp.float32,
) -> tuple[jax.Array, jax.Array]:
    r"""The :math:`k` algebraically largest eigenpairs of a symmetric operator by Lanczos.

    Runs ``num_iters`` Lanczos steps (default :math:`\max(4k, k + 40)`, capped at ``dim``; with ``num_iters = dim``
    the result is exact up to rounding) and returns the top-:math:`k` Ritz values, descending, and the Ritz vectors
    :math:`Q^\top s_i` as rows of a ``(k, dim)`` array.

    Raises:
        ValueError: if ``k`` is not in ``[1, dim]``, ``num_iters < k`` or ``matvec`` does not map ``(dim,)`` to
            ``(dim,)``.
    """
    check_matvec(matvec, dim, dtype)
    checks.in_interval(1, dim, closed=True)("k", checks.integer("k", k))
    num_iters = min(checks.at_least(k)("num_iters", max(4 * k, k + 40) if num_iters is None else num_iters), dim)
    return _top_eigenvalues(_operand(matvec), key, dim, k, num_iters, dtype)


@partial(jax.jit, static_argnums=(2, 3, 4, 5))
def _top_eigenvalues(matvec: Partial, key: jax.Array, dim: int, k: int, num_iters: int,
                     dtype) -> tuple[jax.Array, jax.Array]:
    key_v0, key_lanczos = jax.random.split(key)
    tri = _lanczos(matvec, jax.random.normal(key_v0, (dim,), dtype), num_iters, key_lanczos)
    theta, s = jnp.linalg.eigh(tri.dense())
    order = jnp.argsort(-theta)[:k]
    return theta[order], s[:, order].T @ tri.basis


class TraceEstimate(NamedTuple):
    """Hutchinson estimate: ``mean``, its standard error ``stderr`` and the per-probe ``samples``."""

    mean: jax.Array
    stderr: jax.Array
    samples: jax.Array


def trace(
    matvec: Matvec,
    dim: int,
    *,
    key: jax.Array,
    num_probes: int = 100,
    chunk_size: int | None = None,
    dtype: jnp.dtype = jnp.float32,
) -> TraceEstimate:
    r"""Hutchinson's trace estimator with Rademacher probes.

    .. math:: \widehat{\operatorname{tr}} A = \frac1m \sum_{j=1}^m v_j^\top A v_j,\quad
              v_j \in \{\pm1\}^D,\quad \operatorname{se} = \sqrt{\widehat{\operatorname{Var}}/m}

    (Hutchinson 1989; Avron & Toledo 2011). The estimator is unbiased with variance
    :math:`2(\|A\|_F^2 - \sum_i A_{ii}^2)/m`. Probes are drawn by ``matfree.stochtrace.sampler_signs`` and
    evaluated all at once (``vmap``: one matrix-matrix product) or ``chunk_size`` at a time to bound memory.
    """
    check_matvec(matvec, dim, dtype)
    checks.at_least(2)("num_probes", num_probes)  # two probes at least for a standard error
    if chunk_size is not None:
        checks.count("chunk_size", chunk_size)
    return _trace(_operand(matvec), key, dim, num_probes, chunk_size, dtype)


@partial(jax.jit, static_argnums=(2, 3, 4, 5))
def _trace(matvec: Partial, key: jax.Array, dim: int, num_probes: int, chunk_size: int | None,
           dtype) -> TraceEstimate:
    probes = stochtrace.sampler_signs(jnp.zeros((dim,), dtype), num=num_probes)(key)
    integrand = stochtrace.monte_carlo_trace()
    samples = _map_probes(lambda v: integrand(matvec, v), probes, chunk_size)
    stderr = jnp.std(samples, ddof=1) / jnp.sqrt(num_probes)
    return TraceEstimate(jnp.mean(samples), stderr, samples)


def _map_probes(fn: Callable, probes: jax.Array | tuple, chunk_size: int | None) -> jax.Array | tuple:
    """``fn`` over the leading axis of ``probes``: batched at once (``vmap``), or ``chunk_size`` at a time."""
    if chunk_size is None:
        return jax.vmap(fn)(probes)
    return lax.map(fn, probes, batch_size=chunk_size)


class SpectralDensity(NamedTuple):
    r"""SLQ output: the broadened ``density`` on ``grid`` and the quadrature ``nodes``/``weights`` per probe.

    ``weights`` sum to one per probe; :math:`\frac1{n_v}\sum_{l,i} w_{li}\,\theta_{li}^p` estimates
    :math:`\frac1D \operatorname{tr} A^p` exactly in expectation for :math:`p \le 2m - 1`.
    """

    grid: jax.Array
    density: jax.Array
    nodes: jax.Array
    weights: jax.Array

    def moment(self, p: int) -> jax.Array:
        """The quadrature estimate of :math:`\\frac1D\\operatorname{tr}A^p`."""
        return jnp.mean(jnp.sum(self.weights * self.nodes**p, axis=-1))


def spectral_density(
    matvec: Matvec,
    dim: int,
    *,
    key: jax.Array,
    num_probes: int = 8,
    num_iters: int = 80,
    num_points: int = 512,
    sigma: float | None = None,
    chunk_size: int | None = None,
    dtype: jnp.dtype = jnp.float32,
) -> SpectralDensity:
    r"""Eigenvalue density by stochastic Lanczos quadrature with Gaussian broadening.

    For each unit Rademacher probe :math:`v_l`, ``num_iters`` Lanczos steps give :math:`T_l = S_l \Theta_l
    S_l^\top`; the Gauss quadrature nodes are :math:`\theta_{li}` and the weights :math:`w_{li} =
    (S_l)_{1i}^2`, so
    :math:`v_l^\top f(A) v_l \approx \sum_i w_{li} f(\theta_{li})`. The density is

    .. math:: \phi(t) = \frac1{n_v}\sum_{l=1}^{n_v}\sum_{i=1}^m w_{li}\,
              \frac{1}{\sigma\sqrt{2\pi}} e^{-(t-\theta_{li})^2/(2\sigma^2)}

    (Ubaru et al. 2017; Ghorbani et al. 2019), on ``num_points`` points covering the nodes with a
    :math:`5\sigma` margin. The default :math:`\sigma` is 1% of the node range. The broadening adds
    :math:`\sigma^2` to the second moment of :math:`\phi`; the quadrature moments
    (:meth:`SpectralDensity.moment`) have no such bias. The probes' Lanczos runs are batched (``vmap``, so each
    step is one matrix-matrix product) or run ``chunk_size`` at a time.
    """
    check_matvec(matvec, dim, dtype)
    checks.count("num_probes", num_probes)
    if sigma is not None:
        checks.positive("sigma", sigma)
    num_iters = min(checks.count("num_iters", num_iters), dim)
    if chunk_size is not None:
        checks.count("chunk_size", chunk_size)
    return _spectral_density(_operand(matvec), key, sigma, dim, num_probes, num_iters, num_points, chunk_size, dtype)


@partial(jax.jit, static_argnums=(3, 4, 5, 6, 7, 8))
def _spectral_density(matvec: Partial, key: jax.Array, sigma: float | None, dim: int, num_probes: int,
                      num_iters: int, num_points: int, chunk_size: int | None, dtype) -> SpectralDensity:
    key_probe, key_lanczos = jax.random.split(key)
    probes = stochtrace.sampler_signs(jnp.zeros((dim,), dtype), num=num_probes)(key_probe)
    lanczos_keys = jax.random.split(key_lanczos, num_probes)

    def quadrature(args):
        v, k = args
        tri = _lanczos(matvec, v, num_iters, k)
        theta, s = jnp.linalg.eigh(tri.dense())
        return theta, s[0] ** 2

    nodes, weights = _map_probes(quadrature, (probes, lanczos_keys), chunk_size)
    lo, hi = jnp.min(nodes), jnp.max(nodes)
    width = 0.01 * jnp.maximum(hi - lo, jnp.finfo(dtype).eps) if sigma is None else jnp.asarray(sigma, dtype)
    grid = jnp.linspace(lo - 5 * width, hi + 5 * width, num_points)
    z = (grid[:, None, None] - nodes[None]) / width
    kernel = jnp.exp(-0.5 * z**2) / (width * jnp.sqrt(2 * jnp.pi))
    density = jnp.mean(jnp.sum(weights[None] * kernel, axis=-1), axis=-1)
    return SpectralDensity(grid, density, nodes, weights)
