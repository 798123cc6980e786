"""rademacher: Monte-Carlo sups vs exact enumeration over all sign vectors, bounds, and a shrunk run."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dl_theory.experiment.config import ConfigError, make_config
from dl_theory.generalization.rademacher import (
    l1_massart_bound,
    l2_lower_bound,
    l2_upper_bound,
    linear_sup_l1,
    linear_sup_l2,
    rademacher_signs,
)
from experiments.generalization import rademacher as exp


def test_exact_enumeration_lies_between_the_bounds(key):
    x = jax.random.normal(key, (10, 3))
    all_signs = jnp.array(list(itertools.product([-1.0, 1.0], repeat=10)))
    exact_l2 = float(linear_sup_l2(x, all_signs, 2.0).mean())
    # the dual-norm sup equals a brute-force maximum over many directions on the sphere
    w = jax.random.normal(jax.random.fold_in(key, 1), (20000, 3))
    w = 2.0 * w / jnp.linalg.norm(w, axis=1, keepdims=True)
    brute = jnp.max(all_signs[:64] @ x @ w.T / 10, axis=1)
    np.testing.assert_allclose(brute, linear_sup_l2(x, all_signs[:64], 2.0), rtol=2e-3)
    assert float(l2_lower_bound(x, 2.0)) <= exact_l2 <= float(l2_upper_bound(x, 2.0))
    assert float(linear_sup_l1(x, all_signs, 2.0).mean()) <= float(l1_massart_bound(x, 2.0))
    # Monte Carlo over random signs agrees with the enumeration
    mc = linear_sup_l2(x, rademacher_signs(key, 20000, 10), 2.0)
    assert abs(float(mc.mean()) - exact_l2) < 4 * float(mc.std()) / np.sqrt(20000)


def test_shrunk_run():
    cfg = exp.Config(ns=(20, 80, 320), draws=500, slope_draws=200, noise_n=60, width=256, noise_steps=400)
    result = exp.run(cfg)
    by_id = {c.id: c for c in result.claims}
    for name in ("l2-below-jensen-bound", "l2-above-khintchine-bound", "l1-below-massart",
                 "wide-net-fits-random-labels", "n-to-the-minus-half"):
        assert by_id[name].passed, by_id[name]
    assert -0.6 < result.metrics["slope"] < -0.4


def test_expected_complexity_closed_form_matches_a_direct_average():
    # E||g|| for g ~ N(0, I_d) by Monte Carlo vs sqrt(2) Gamma((d+1)/2) / Gamma(d/2)
    g = np.random.default_rng(0).standard_normal((200000, 5))
    norms = np.linalg.norm(g, axis=1)
    value = float(exp.expected_l2_complexity(np.array([1.0]), 5, 1.0)[0])
    assert abs(norms.mean() - value) < 4 * norms.std() / np.sqrt(len(norms))


@pytest.mark.parametrize("key, value", [("ns", "25,50"), ("ns", "25,25,50"), ("ns", "1,5,10"), ("draws", "1"),
                                        ("bound", "0"), ("d", "0"), ("noise_steps", "-3"), ("slope_draws", "5")])
def test_bad_config_values_are_rejected(key, value):
    with pytest.raises(ConfigError, match=key):
        make_config(exp.Config, quick=True, overrides={key: value})
