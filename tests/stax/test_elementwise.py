"""Nonlinearity layers: analytic NNGP/NTK of Dense -> phi -> Dense against Monte Carlo over random inits, and
against each other (quadrature, user NNGP maps), plus layouts and error handling.

For one hidden layer the first-layer pre-activations are exactly Gaussian at any width, so the expected empirical
NNGP (output covariance over channels) and the expected empirical NTK (Jacobian inner products) equal the
infinite-width kernels exactly; Monte Carlo has no finite-width bias, only sampling error, which the tests
estimate from the samples themselves.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dl_theory.stax as stax
from dl_theory.stax import dual_activations as da

WIDTH, OUT, SAMPLES = 128, 32, 64

LAYERS = {
    "relu": lambda: stax.Relu(),
    "relu_stabilized": lambda: stax.Relu(do_stabilize=True),
    "leaky_relu": lambda: stax.LeakyRelu(0.2),
    "abs": lambda: stax.Abs(),
    "ab_relu": lambda: stax.ABRelu(-0.4, 1.3),
    "sign": lambda: stax.Sign(),
    "erf": lambda: stax.Erf(a=1.3, b=0.7, c=0.2),
    "sigmoid_like": lambda: stax.Sigmoid_like(),
    "gelu": lambda: stax.Gelu(),
    "sin": lambda: stax.Sin(a=1.2, b=0.8, c=0.3),
    "cos": lambda: stax.Cos(a=0.9, b=1.1, c=-0.2),
    "rbf": lambda: stax.Rbf(gamma=0.5),
    "exp": lambda: stax.Exp(a=0.8, b=0.6),
    "gaussian": lambda: stax.Gaussian(a=1.1, b=-0.7),
    "monomial3": lambda: stax.Monomial(3),
    "rectified_monomial0": lambda: stax.RectifiedMonomial(0),
    "rectified_monomial2": lambda: stax.RectifiedMonomial(2),
    "polynomial": lambda: stax.Polynomial([0.1, -0.5, 0.3, 0.2]),
    "hermite3": lambda: stax.Hermite(3),
    "numerical_tanh": lambda: stax.ElementwiseNumerical(jnp.tanh, deg=30),
}


def _jit(kernel_fn):
    """``kernel_fn`` under ``jax.jit``: one compilation instead of one per eager op (much faster on CPU)."""
    return jax.jit(kernel_fn, static_argnames=("get", "diagonal_batch", "diagonal_spatial"))


def _inputs(n1: int, n2: int, d: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Inputs with ||x||^2 / d = 1, so Dense(W_std=1, b_std=None) gives unit variances (Hermite's assumption)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n1 + n2, d))
    x *= np.sqrt(d) / np.linalg.norm(x, axis=1, keepdims=True)
    return x[:n1], x[n1:]


def _net(name: str):
    first = stax.Dense(WIDTH, W_std=1.0) if name.startswith("hermite") else stax.Dense(WIDTH, W_std=1.3, b_std=0.4)
    return stax.serial(first, LAYERS[name](), stax.Dense(OUT, W_std=1.1, b_std=0.2))


def _monte_carlo(init_fn, apply_fn, x1, x2, key):
    """Per-init estimates: NNGP averaged over the OUT output channels, NTK of output channel 0."""
    x = jnp.concatenate([x1, x2])

    def one(k):
        _, params = init_fn(k, x.shape)
        f = apply_fn(params, x)
        nngp = f[: len(x1)] @ f[len(x1):].T / OUT
        jac = jax.jacrev(lambda p: apply_fn(p, x)[:, 0])(params)
        flat = jnp.concatenate([j.reshape(len(x), -1) for j in jax.tree_util.tree_leaves(jac)], axis=1)
        return nngp, flat[: len(x1)] @ flat[len(x1):].T

    return jax.jit(jax.vmap(one))(jax.random.split(key, SAMPLES))


# Every dual map is checked to ~1e-8 against direct 2-D integration in test_dual_activations.py and against
# neural-tangents in the golden tests; Monte Carlo here checks the layer wiring end to end (NNGP and NTK through
# Dense -> phi -> Dense) for representatives: a homogeneous map (ABRelu, with do_stabilize), a zero NTK factor
# (Sign), an output shift (Erf's c), the unit-variance Hermite map, and quadrature with an autodiff derivative.
MONTE_CARLO = ["relu_stabilized", "sign", "erf", "hermite3", "numerical_tanh"]


@pytest.mark.parametrize("name", MONTE_CARLO)
def test_kernel_matches_monte_carlo(name, key, x64):
    x1, x2 = _inputs(3, 2)
    init_fn, apply_fn, kernel_fn = _net(name)
    exact = _jit(kernel_fn)(x1, x2, get=("nngp", "ntk"))
    samples = _monte_carlo(init_fn, apply_fn, jnp.asarray(x1), jnp.asarray(x2), key)
    for got, sample in zip(exact, samples, strict=True):
        mean, se = jnp.mean(sample, 0), jnp.std(sample, 0, ddof=1) / np.sqrt(SAMPLES)
        z = np.abs(np.asarray(got) - np.asarray(mean)) / np.asarray(se)
        assert np.all(z < 5.0), (name, np.asarray(got), np.asarray(mean), z)


SMOOTH = {
    "erf": jax.scipy.special.erf,
    "gelu": lambda x: jax.nn.gelu(x, approximate=False),
    "sin": jnp.sin,
    "exp": lambda x: 0.8 * jnp.exp(0.6 * x),
    "gaussian": lambda x: 1.1 * jnp.exp(-0.7 * x**2),
    "rbf": lambda x: jnp.sqrt(2.0) * jnp.sin(x + jnp.pi / 4),
    "polynomial": lambda x: 0.1 - 0.5 * x + 0.3 * x**2 + 0.2 * x**3,
}
CLOSED = {
    "erf": stax.Erf, "gelu": stax.Gelu, "sin": stax.Sin, "exp": lambda: stax.Exp(0.8, 0.6),
    "gaussian": lambda: stax.Gaussian(1.1, -0.7), "rbf": lambda: stax.Rbf(0.5),
    "polynomial": lambda: stax.Polynomial([0.1, -0.5, 0.3, 0.2]),
}


def _mlp(act):
    return stax.serial(stax.Dense(8, W_std=1.3, b_std=0.4), act, stax.Dense(1, W_std=1.1, b_std=0.2))


@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_numerical_matches_closed_form(name, x64):
    """Gauss-Hermite converges geometrically for smooth activations (erf: 4e-4, 6e-6, 3e-8, 2e-10 relative at
    deg 25, 40, 60, 80 here, with pre-activation variances ~2); deg=80 is converged to 1e-9."""
    x1, x2 = _inputs(3, 2)
    numerical = _jit(_mlp(stax.ElementwiseNumerical(SMOOTH[name], deg=80))[2])(x1, x2)
    closed = _jit(_mlp(CLOSED[name]())[2])(x1, x2)
    for field in ("nngp", "ntk", "cov1", "cov2"):
        np.testing.assert_allclose(getattr(numerical, field), getattr(closed, field), rtol=1e-9, err_msg=field)


def test_numerical_converges_for_relu(x64):
    """Kinks slow Gauss-Hermite down, but it still converges to the arc-cosine kernel as deg grows."""
    x1, x2 = _inputs(3, 2)
    nngp = lambda act: _jit(_mlp(act)[2])(x1, x2, get="nngp")
    exact = nngp(stax.Relu())
    errors = [np.max(np.abs(nngp(stax.ElementwiseNumerical(jax.nn.relu, deg=d)) - exact)) for d in (5, 20, 80)]
    # Observed: 8e-2, 1.2e-2, 1.8e-3 absolute (max |K| = 0.74): roughly deg^(-1.4), far from geometric.
    assert errors[0] > 4 * errors[1] > 16 * errors[2], errors


def test_elementwise_user_nngp_matches_closed_form(x64):
    """Williams' erf kernel and the arc-cosine ReLU kernel as user nngp_fn; NTK by autodiff of them."""

    def erf_nngp(cov12, var1, var2):
        return 2 / jnp.pi * jnp.arcsin(2 * cov12 / jnp.sqrt((1 + 2 * var1) * (1 + 2 * var2)))

    def relu_nngp(cov12, var1, var2):
        norm = jnp.sqrt(var1 * var2)
        cos = jnp.clip(cov12 / norm, -1.0, 1.0)
        return norm * (jnp.sqrt(1 - cos**2) + (jnp.pi - jnp.arccos(cos)) * cos) / (2 * jnp.pi)

    x1, x2 = _inputs(3, 2)
    for user, closed in ((stax.Elementwise(jax.scipy.special.erf, erf_nngp), stax.Erf()),
                         (stax.Elementwise(jax.nn.relu, relu_nngp), stax.Relu())):
        got, want = _jit(_mlp(user)[2])(x1, x2), _jit(_mlp(closed)[2])(x1, x2)
        for field in ("nngp", "ntk", "cov1", "cov2"):
            np.testing.assert_allclose(getattr(got, field), getattr(want, field), rtol=1e-10, err_msg=field)


def test_layouts_match_direct_evaluation(x64):
    """Spatial inputs (N, X, C) in every diagonal_batch/diagonal_spatial layout vs the ReLU dual map applied entry
    by entry to pre-activation covariances assembled by explicit loops."""
    rng = np.random.default_rng(2)
    x1, x2 = rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 3, 4))
    w_std, b_std = 1.3, 0.4
    kernel_fn = _jit(stax.serial(stax.Dense(7, W_std=w_std, b_std=b_std), stax.Relu())[2])
    pre = lambda a, b, s, t: w_std**2 * a[s] @ b[t] / a.shape[-1] + b_std**2
    checks, q = [], []  # (kernel array, index into it, row range in q, compare ntk?)
    for diagonal_batch, diagonal_spatial in itertools.product((True, False), repeat=2):
        k = kernel_fn(x1, x2, diagonal_batch=diagonal_batch, diagonal_spatial=diagonal_spatial)
        for field, xa, xb, same_batch_only in (("nngp", x1, x2, False), ("ntk", x1, x2, False),
                                               ("cov1", x1, x1, diagonal_batch), ("cov2", x2, x2, diagonal_batch)):
            index, start = [], len(q)
            for i, j, s, t in itertools.product(range(len(xa)), range(len(xb)), range(3), range(3)):
                if (same_batch_only and i != j) or (diagonal_spatial and s != t):
                    continue
                q.append((pre(xa[i], xb[j], s, t), pre(xa[i], xa[i], s, s), pre(xb[j], xb[j], t, t)))
                index.append(((i,) if same_batch_only else (i, j)) + ((s,) if diagonal_spatial else (s, t)))
            array = np.asarray(getattr(k, field))
            assert array.size == len(index), (field, diagonal_batch, diagonal_spatial)
            checks.append((field, array[tuple(np.array(index).T)], slice(start, len(q))))
    q12, q11, q22 = np.array(q).T
    t_val, t_dot = (np.asarray(v) for v in da.ab_relu(q12, q11, q22, a=0.0, b=1.0))
    for field, got, rows in checks:
        want = t_dot[rows] * q12[rows] if field == "ntk" else t_val[rows]  # input NTK after Dense = its NNGP
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=field)


def test_own_covariance_equals_cross_covariance_with_itself(x64):
    """With x2 = None, cov1[i] (full spatial layout) is nngp[i, i]: the same dual map at the same arguments.

    neural-tangents 0.6.5 breaks this in two places (see the golden-test notes): ``Sign`` sets every nonzero
    entry of ``cov1`` to 1 (right only on the diagonal), and ``RectifiedMonomial`` returns NaN where
    theta = 0 (the diagonal) from 0/0 in its autodiff-based formula. Here both are finite and consistent.
    Tolerance: theta = arccos(q12 / sqrt(q11 q22)) is ill-conditioned at theta = 0, where a rounding error
    delta ~ 1e-16 in q12 moves theta by sqrt(2 delta) ~ 1.4e-8; Sign and the step have dT/dtheta = -2/pi,
    -1/(2pi), so nngp[i, i] may sit ~1e-8 below the exact cov1[i] (observed 1.2e-8 for Sign).
    """
    x = np.random.default_rng(3).standard_normal((2, 3, 4))
    for name in ("sign", "rectified_monomial0", "rectified_monomial2", "abs"):
        k = _jit(stax.serial(stax.Dense(5, W_std=1.2, b_std=0.3), LAYERS[name]())[2])(x, None)
        nngp_diag = np.stack([np.asarray(k.nngp)[i, i] for i in range(len(x))])
        assert np.all(np.isfinite(k.nngp)) and np.all(np.isfinite(k.ntk)), name
        np.testing.assert_allclose(k.cov1, nngp_diag, rtol=5e-8, err_msg=name)


def test_float32_jit_and_finite_gradients(key):
    """float32 works under jit, and kernels are differentiable in the inputs where x1 == x2 (theta = 0)."""
    x = jax.random.normal(key, (3, 4))
    for name in ("relu", "sign", "rectified_monomial2"):
        _, _, kernel_fn = stax.serial(stax.Dense(4, b_std=0.1), LAYERS[name](), stax.Dense(1))
        ntk = _jit(kernel_fn)(x, None, get="ntk")
        assert ntk.dtype == jnp.float32 and np.all(np.isfinite(ntk)), name
        grad = jax.jit(jax.grad(lambda x, f=kernel_fn: jnp.sum(f(x, None, "ntk"))))(x)
        assert np.all(np.isfinite(grad)), name


def test_apply_fn_is_the_activation(key):
    x = jax.random.normal(key, (4, 3))
    cases = {
        stax.Relu(): jax.nn.relu(x), stax.Abs(): jnp.abs(x), stax.LeakyRelu(0.1): jnp.where(x > 0, x, 0.1 * x),
        stax.Erf(2.0, 0.5, 1.0): 2 * jax.scipy.special.erf(0.5 * x) + 1, stax.Cos(): jnp.cos(x),
        stax.Monomial(3): x**3, stax.RectifiedMonomial(2): jnp.maximum(x, 0) ** 2, stax.Sign(): jnp.sign(x),
        stax.Hermite(3): (x**3 - 3 * x) / np.sqrt(6.0), stax.Polynomial([1.0, 0.0, 2.0]): 1 + 2 * x**2,
        stax.Rbf(0.5): np.sqrt(2) * jnp.sin(x + np.pi / 4), stax.Gaussian(): jnp.exp(-(x**2)),
    }
    for (init_fn, apply_fn, _), want in cases.items():
        out_shape, params = init_fn(key, x.shape)
        assert out_shape == x.shape and params == ()
        np.testing.assert_allclose(apply_fn(params, x), want, rtol=1e-6, atol=1e-6)


def test_errors():
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="Gaussian"):
        stax.Relu()[2](x, None)
    with pytest.raises(ValueError, match="Gaussian"):
        stax.serial(stax.Dense(3), stax.Erf(), stax.Erf())[2](x, None)
    with pytest.raises(ValueError, match="neither"):
        stax.Elementwise()
    with pytest.raises(NotImplementedError, match="fn"):
        stax.Elementwise(nngp_fn=lambda c, v1, v2: c)[1]((), x)
    with pytest.raises(NotImplementedError, match="nngp_fn"):
        stax.serial(stax.Dense(3), stax.Elementwise(fn=jnp.tanh))[2](x, None)
    with pytest.raises(ValueError, match="degree"):
        stax.Monomial(-1)
    with pytest.raises(TypeError, match="degree"):
        stax.RectifiedMonomial(1.5)
    with pytest.raises(ValueError, match="deg"):
        stax.ElementwiseNumerical(jnp.tanh, deg=0)
    with pytest.raises(TypeError, match="nngp_fn"):
        stax.Elementwise(jnp.tanh, nngp_fn=1.0)
    with pytest.raises(TypeError, match="fn"):
        stax.ElementwiseNumerical(None, deg=5)
