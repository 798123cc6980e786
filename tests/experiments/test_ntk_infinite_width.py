"""ntk-infinite-width on a shrunk config: the error pipeline against an independent NTK and arc-cosine kernel."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from dl_theory.experiment.config import ConfigError, domains, make_config
from experiments.kernels import ntk_infinite_width as exp


def _arccos_ntk(cfg, x):
    """Closed-form NTK of Dense-ReLU-Dense(1) (NTK parameterization), float64 numpy."""
    k1 = cfg.W_std**2 * x @ x.T / x.shape[1] + cfg.b_std**2
    norms = np.sqrt(np.diag(k1))
    cos = np.clip(k1 / np.outer(norms, norms), -1, 1)
    theta = np.arccos(cos)
    nngp = cfg.W_std**2 * np.outer(norms, norms) / (2 * np.pi) * (np.sin(theta) + (np.pi - theta) * cos)
    return nngp + cfg.b_std**2 + cfg.W_std**2 * k1 * (np.pi - theta) / (2 * np.pi)


def test_relative_errors_match_an_independent_jacobian_ntk():
    cfg = exp.Config(depth=1, n_seeds=2, n_inputs=4, input_dim=3)
    x = np.random.default_rng(0).normal(size=(cfg.n_inputs, cfg.input_dim)).astype(np.float32)
    key = jax.random.key(3)
    errors, ntk, exact = exp.relative_errors(cfg, jnp.asarray(x), key, 64, "relu")
    reference = _arccos_ntk(cfg, x.astype(np.float64))
    np.testing.assert_allclose(exact, reference, rtol=1e-4)
    init_fn, apply_fn, _ = exp.mlp(cfg, 64, "relu", 1)
    k_ntk = jax.random.split(jax.random.split(key, cfg.n_seeds)[0])[0]
    flat, unravel = ravel_pytree(init_fn(k_ntk, x.shape)[1])
    jac = jax.jacobian(lambda p: apply_fn(unravel(p), x)[:, 0])(flat)
    np.testing.assert_allclose(ntk, jac @ jac.T, rtol=2e-4, atol=1e-4)
    np.testing.assert_allclose(errors[0, 0], np.linalg.norm(jac @ jac.T - reference) / np.linalg.norm(reference),
                               rtol=1e-3)


def test_shrunk_run_errors_shrink_with_width():
    cfg = exp.Config(widths=(32, 128, 512), activations=("relu",), depth=1, n_inputs=4, n_seeds=8)
    result = exp.run(cfg)
    assert {c.id for c in result.claims} == {"relu-ntk-slope", "relu-nngp-slope"}
    assert all(result.metrics[f"relu_{name}_slope_stderr"] > 0 for name in ("ntk", "nngp"))
    for name in ("ntk", "nngp"):
        geo = result.metrics[f"relu_{name}_geomean_rel_error"]
        # 16x the width: theory divides the error by 4; a factor 2 leaves room for 8-seed noise.
        assert geo["512"] < geo["32"] / 2, (name, geo)
        assert result.metrics[f"relu_{name}_slope_dof"] == 3 * 7  # pooled over 3 widths of 8 inits


@pytest.mark.parametrize("key,value", [("widths", "128"), ("activations", "tanh"), ("n_seeds", "-3"), ("W_std", "0")])
def test_bad_config_values_are_rejected(key, value):
    with pytest.raises(ConfigError, match=key):
        make_config(exp.Config, quick=True, overrides={key: value})


def test_every_field_declares_a_domain():
    assert all(domains(exp.Config).values()), domains(exp.Config)
