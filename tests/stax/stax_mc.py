"""Monte-Carlo helpers for the stax tests: empirical NNGP/NTK per random draw, mean and standard error.

For networks with a single Gaussian source of randomness below each nonlinearity (one hidden layer, linear
layers around it) the expectation over random draws of the empirical kernels equals the analytic kernel at any
width, so the only error is sampling error, estimated from the draws themselves.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from dl_theory.kernels.axes import unzip_axes


def as_pairs(mat: jax.Array, is_reversed: bool = False, n_batch: int = 2) -> np.ndarray:
    """Full-layout covariance ``(N1, N2, X, X', Y, Y')`` -> ``(N1, N2, P, P)`` with ``P = X*Y`` (row-major).

    ``is_reversed``: the spatial pairs are stored in reverse order (neural-tangents' flag after an odd number
    of full-layout convolutions), ``(Y, Y', X, X')``.
    """
    mat = np.asarray(unzip_axes(jnp.asarray(mat), n_batch))
    s = (mat.ndim - n_batch) // 2
    if is_reversed:
        order = list(range(n_batch)) + [n_batch + i for i in reversed(range(s))]
        mat = np.transpose(mat, order + [n_batch + s + i for i in reversed(range(s))])
    p = int(np.prod(mat.shape[n_batch : n_batch + s]))
    return mat.reshape(mat.shape[:n_batch] + (p, p))


def _flat(f: jax.Array) -> jax.Array:
    """``(N, *spatial, C)`` -> ``(N, P, C)``."""
    return f.reshape((f.shape[0], -1, f.shape[-1]))


def mc_kernels(init_fn, apply_fn, x1, x2, key, n_samples, ntk=False, rng_apply=False):
    """Per-draw empirical kernels: returns ``{'nngp': (mean, se), 'ntk': (mean, se)}`` of shape ``(N1, N2, P, P)``.

    The per-draw NNGP is the channel average of ``f(x1) f(x2)``; the per-draw NTK is the channel average of the
    parameter-Jacobian inner product. When ``rng_apply`` is set (dropout) ``x2`` must be ``None`` and one
    forward pass with one random mask serves both arguments.
    """
    same = x2 is None
    x2 = x1 if same else x2

    def one(k):
        k_init, k_apply = jax.random.split(k)
        _, params = init_fn(k_init, x1.shape)
        theta, unravel = ravel_pytree(params)
        kw = {"rng": k_apply} if rng_apply else {}
        f = lambda th, x: _flat(apply_fn(unravel(th), x, **kw))
        f1, f2 = f(theta, x1), f(theta, x2)
        out = {"nngp": jnp.einsum("ipc,jqc->ijpq", f1, f2) / f1.shape[-1]}
        if ntk:
            j1 = jax.jacfwd(f)(theta, x1)
            j2 = j1 if same else jax.jacfwd(f)(theta, x2)
            out["ntk"] = jnp.einsum("ipcz,jqcz->ijpq", j1, j2) / f1.shape[-1]
        return out

    draws = jax.jit(jax.vmap(one))(jax.random.split(key, n_samples))
    return {n: (np.mean(v, 0), np.std(v, 0, ddof=1) / np.sqrt(n_samples)) for n, v in draws.items()}


def assert_within_se(analytic, mean, se, n_se: float = 5.0) -> None:
    """``|analytic - mean| <= n_se * se`` entrywise (plus 1e-9 of the scale for deterministic entries)."""
    analytic, mean, se = np.asarray(analytic), np.asarray(mean), np.asarray(se)
    assert analytic.shape == mean.shape, (analytic.shape, mean.shape)
    tol = n_se * se + 1e-9 * np.max(np.abs(analytic))
    z = np.abs(analytic - mean) / np.maximum(se, 1e-300)
    assert np.all(np.abs(analytic - mean) <= tol), f"max |z| = {np.max(z):.2f} standard errors"
