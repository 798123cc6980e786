"""Flows: every bijector's log-determinant against slogdet of the autodiff Jacobian, inverses, the sequential
passes of MAF/IAF, normalization of the flow density (quadrature), the spherical Jacobian r^2 cos(theta), the Gaussian
baseline against scipy, and event-shape errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from dl_theory.models.generative import flows as fl
from dl_theory.models.generative.made import made

D = 4


def _bijectors():
    masks = fl.coupling_masks(D, 2)
    return {
        "coupling": fl.affine_coupling(masks[0], (16,), out_scale=0.5),
        "maf": fl.maf(D, (16,), out_scale=0.5, order=np.array([2, 4, 1, 3])),
        "iaf": fl.iaf(D, (16,), out_scale=0.5),
        "permute": fl.permute([2, 0, 3, 1]),
        "chain": fl.chain(fl.affine_coupling(masks[1], (8,), out_scale=0.5), fl.permute([1, 0, 2, 3]),
                          fl.maf(D, (8,), out_scale=0.5), fl.iaf(D, (8,), out_scale=0.5)),
    }


def _f64(tree):
    return jax.tree.map(lambda a: a.astype(jnp.float64), tree)


@pytest.mark.parametrize("name", list(_bijectors()))
def test_log_det_is_slogdet_and_inverse_inverts(x64, key, name):
    bij = _bijectors()[name]
    params = _f64(bij.init(key))
    z = jax.random.normal(jax.random.fold_in(key, 1), (3, D), jnp.float64)

    @jax.jit
    def everything(z):
        x, log_det = bij.forward(params, z)
        back, inv_log_det = bij.inverse(params, x)
        jac = jax.vmap(jax.jacfwd(lambda u: bij.forward(params, u)[0]))(z)
        inv_jac = jax.vmap(jax.jacfwd(lambda u: bij.inverse(params, u)[0]))(x)
        return log_det, back, inv_log_det, jnp.linalg.slogdet(jac)[1], jnp.linalg.slogdet(inv_jac)[1]

    log_det, back, inv_log_det, slogdet, inv_slogdet = (np.asarray(a) for a in everything(z))
    np.testing.assert_allclose(log_det, slogdet, atol=1e-12)
    np.testing.assert_allclose(back, np.asarray(z), atol=1e-12)
    np.testing.assert_allclose(inv_log_det, -log_det, atol=1e-12)
    np.testing.assert_allclose(inv_log_det, inv_slogdet, atol=1e-12)


def test_sequential_passes_exact_after_d(x64, key):
    model = made(D, (16,), n_outputs=2, out_scale=0.5)
    params = _f64(model.init(key))
    z = jax.random.normal(jax.random.fold_in(key, 1), (5, D), jnp.float64)
    x, alpha = fl.maf_sample_passes(model, params, z, D)
    bij = fl.maf(D, (16,))
    back, log_det = bij.inverse(params, x)  # the one-pass density direction undoes D sequential passes
    np.testing.assert_allclose(np.asarray(back), np.asarray(z), atol=1e-12)
    np.testing.assert_allclose(np.asarray(log_det), -np.asarray(alpha).sum(axis=1), atol=1e-12)
    one, _ = fl.maf_sample_passes(model, params, z, 1)
    assert float(jnp.max(jnp.abs(one - x))) > 1e-6  # one pass is not enough
    np.testing.assert_allclose(np.asarray(fl.maf_sample_passes(model, params, z, 1, start=x)[0]), np.asarray(x),
                               atol=1e-12)  # the solution is a fixed point
    u, _ = fl.iaf_density_passes(model, params, x, D)
    np.testing.assert_allclose(np.asarray(fl.iaf(D, (16,)).forward(params, u)[0]), np.asarray(x), atol=1e-12)


def test_flow_density_integrates_to_one(key):
    flow = fl.chain(*[fl.affine_coupling(m, (8,), out_scale=0.3) for m in fl.coupling_masks(2, 2)],
                    fl.maf(2, (8,), out_scale=0.3))
    params = flow.init(key)
    grid = np.linspace(-9.0, 9.0, 361)
    points = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2)
    density = np.exp(np.asarray(jax.jit(lambda x: fl.log_prob(flow, params, x))(points)))
    assert abs(density.sum() * (grid[1] - grid[0]) ** 2 - 1.0) < 2e-3
    samples = fl.sample(flow, params, key, 5)
    assert samples.shape == (5, 2) and np.all(np.isfinite(np.asarray(samples)))


def test_spherical_jacobian_and_latitude_convention(x64):
    sph = fl.spherical()
    rtp = jnp.array([[2.0, 0.3, -1.0], [0.5, -1.2, 2.5], [1.5, 0.0, 0.0]])
    xyz, log_det = sph.forward((), rtp)
    np.testing.assert_allclose(np.asarray(log_det), np.log(rtp[:, 0] ** 2 * np.cos(rtp[:, 1])), rtol=1e-13)
    jac = jax.vmap(jax.jacfwd(lambda u: sph.forward((), u)[0]))(rtp)
    # with the latitude in the order (r, theta, phi) the map reverses orientation: det J = -r^2 cos(theta)
    np.testing.assert_allclose(np.asarray(jnp.linalg.det(jac)), -rtp[:, 0] ** 2 * np.cos(rtp[:, 1]), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(sph.inverse((), xyz)[0]), np.asarray(rtp), atol=1e-13)
    np.testing.assert_allclose(np.asarray(sph.forward((), jnp.array([2.0, np.pi / 2 - 1e-9, 0.3]))[0]),
                               [0.0, 0.0, 2.0], atol=1e-8)  # latitude pi/2 is the north pole
    np.testing.assert_allclose(np.asarray(xyz[2]), [1.5, 0.0, 0.0])


def test_gaussian_baseline_matches_scipy(key):
    x = np.asarray(jax.random.normal(key, (200, 2))) @ np.array([[1.0, 0.4], [0.0, 0.5]]) + 1.0
    reference = scipy.stats.multivariate_normal(x.mean(0), np.cov(x.T, bias=True)).logpdf(x[:5])
    np.testing.assert_allclose(np.asarray(fl.gaussian_fit_log_prob(x, x[:5])), reference, rtol=1e-5)


def test_wrong_event_shape_and_bad_arguments_raise(key):
    bij = fl.maf(3, (8,))
    params = bij.init(key)
    with pytest.raises(ValueError, match=r"z must be of shape \(\.\.\., 3\) for maf, got \(2, 4\)"):
        bij.forward(params, jnp.ones((2, 4)))
    with pytest.raises(ValueError, match=r"x must be of shape \(\.\.\., 3\) for chain"):
        fl.log_prob(fl.chain(bij, fl.permute([2, 1, 0])), (params, ()), jnp.ones(2))
    with pytest.raises(ValueError, match="mask_D"):
        fl.affine_coupling([1, 1, 1])
    with pytest.raises(ValueError, match="perm"):
        fl.permute([0, 0, 1])
    with pytest.raises(ValueError, match="bijectors must be of one event size"):
        fl.chain(fl.maf(3), fl.maf(2))
