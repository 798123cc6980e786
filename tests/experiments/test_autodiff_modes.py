"""autodiff-modes on a shrunk config: FLOP slopes, manual backprop and the softmax Jacobian."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dl_theory.experiment.config import ConfigError
from experiments.optimization import autodiff_modes as ad


def test_jacobian_cost_slopes_and_identities():
    result = ad.run(ad.Config(hidden=32, dims=(4, 32), batch=8, reps=2))
    deterministic = {"fwd-flops-vs-n", "rev-flops-vs-n", "rev-flops-vs-m", "fwd-flops-vs-m", "manual-backprop",
                     "softmax-jacobian"}
    failed = [(c.id, c.measured) for c in result.claims if c.id in deterministic and not c.passed]
    assert not failed, failed
    np.testing.assert_allclose(result.metrics["slopes"]["fwd_flops_vs_n"], 1.0, atol=0.05)


def test_manual_backprop_single_layer_closed_form(x64):
    w, b = jnp.array([[1.0, -2.0], [0.5, 3.0]]), jnp.array([0.1, -0.2])
    x, y = jnp.array([0.3, 0.7]), jnp.array([1.0, 0.0])
    ((gw, gb),) = ad.manual_backprop([(w, b)], x, y)
    residual = w @ x + b - y  # linear layer, L = ||Wx + b - y||^2 / 2
    np.testing.assert_allclose(gw, jnp.outer(residual, x), rtol=1e-14)
    np.testing.assert_allclose(gb, residual, rtol=1e-14)
    assert jax.tree_util.tree_structure(gw) == jax.tree_util.tree_structure(w)


@pytest.mark.parametrize("overrides", [{"dims": "4"}, {"dims": ""}, {"hidden": "0"}, {"reps": "-1"},
                                       {"batch": "0"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        ad.EXPERIMENT.make_config(quick=True, overrides=overrides)
