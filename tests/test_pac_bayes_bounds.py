"""PAC-Bayes bounds: orderings, monotonicity, λ/Catoni optima, coverage by simulation, and input validation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dl_theory.generalization.pac_bayes import (
    binary_kl,
    bound_objective,
    catoni_bound,
    certificate_from_terms,
    fkl,
    flamb,
    flamb_optimal_lambda,
    fquad,
    kl_bound,
    kl_inv_upper,
    maurer_complexity,
    notes_bound,
    pinsker_bound,
    sampling_bound,
)

BOUNDS = {
    "kl": kl_bound,
    "pinsker": pinsker_bound,
    "notes": notes_bound,
    "fquad": fquad,
    "catoni_C2": lambda r, k, n, d: catoni_bound(r, k, n, d, 2.0),
}


@settings(max_examples=40, deadline=None)
@given(
    st.floats(0.0, 1.0),
    st.floats(0.0, 500.0),
    st.floats(0.0, 500.0),
    st.integers(10, 10**6),
    st.integers(10, 10**6),
    st.floats(1e-4, 0.5),
)
def test_bounds_monotone_in_kl_and_n(risk, kl1, kl2, n1, n2, delta):
    (kl1, kl2), (n1, n2) = sorted([kl1, kl2]), sorted([n1, n2])
    with jax.enable_x64(True):
        for name, bound in BOUNDS.items():
            assert bound(risk, kl1, n1, delta) <= bound(risk, kl2, n1, delta), name
            assert bound(risk, kl1, n2, delta) <= bound(risk, kl1, n1, delta), name


@settings(max_examples=40, deadline=None)
@given(st.floats(0.0, 1.0), st.floats(0.0, 300.0), st.integers(10, 10**5), st.floats(1e-4, 0.5))
def test_relaxations_upper_bound_the_kl_bound(risk, kl, n, delta):
    with jax.enable_x64(True):
        exact = float(kl_bound(risk, kl, n, delta))
        slack = 1e-12
        assert exact <= float(fquad(risk, kl, n, delta)) + slack
        assert exact <= float(pinsker_bound(risk, kl, n, delta)) + slack
        assert float(pinsker_bound(risk, kl, n, delta)) <= float(notes_bound(risk, kl, n, delta))
        assert exact >= risk
        for lam in (0.05, 0.5, 1.0, 1.9):
            assert exact <= float(flamb(risk, kl, n, delta, lam)) + slack


def test_flamb_minimum_over_lambda_is_fquad(x64):
    risk, kl, n, delta = jnp.array([0.02, 0.1, 0.4]), jnp.array([5.0, 300.0, 40.0]), 2000, 0.025
    lam_star = flamb_optimal_lambda(risk, kl, n, delta)
    np.testing.assert_allclose(flamb(risk, kl, n, delta, lam_star), fquad(risk, kl, n, delta), rtol=1e-12)
    grid = jnp.linspace(1e-3, 2 - 1e-3, 20001)
    values = jax.vmap(lambda lam: flamb(risk, kl, n, delta, lam))(grid)
    np.testing.assert_allclose(values.min(0), fquad(risk, kl, n, delta), rtol=1e-7)
    np.testing.assert_allclose(grid[values.argmin(0)], lam_star, atol=2e-4)
    assert bound_objective("flamb", risk, kl, n, delta).shape == risk.shape


def test_catoni_infimum_over_c_is_kl_inverse(x64):
    """inf_C Catoni(C) = kl^{-1}(r, (KL + ln(1/δ))/n) (variational form of kl); every C is above it."""
    risk, kl, n, delta = 0.08, 25.0, 1000, 0.05
    target = float(kl_inv_upper(risk, (kl + np.log(1 / delta)) / n))
    values = catoni_bound(risk, kl, n, delta, jnp.linspace(0.01, 10.0, 100001))
    assert float(values.min()) >= target - 1e-12
    assert float(values.min()) - target < 1e-8


def test_kl_bound_covers_the_true_risk_in_simulation():
    """With KL = 0 (posterior = prior, a single classifier) the kl bound must hold with probability >= 1 - δ."""
    rng = np.random.default_rng(0)
    n, delta, true_risk, trials = 200, 0.1, 0.15, 20000
    emp = rng.binomial(n, true_risk, trials) / n
    with jax.enable_x64(True):
        bounds = np.asarray(kl_bound(emp, 0.0, n, delta))
    failure = np.mean(bounds < true_risk)
    assert failure <= delta, failure
    # Langford-Caruana sampling bound: m Bernoulli draws, confidence δ'
    m, delta_prime = 300, 0.05
    mc = rng.binomial(m, true_risk, trials) / m
    with jax.enable_x64(True):
        upper = np.asarray(sampling_bound(mc, m, delta_prime))
    assert np.mean(upper < true_risk) <= delta_prime


def test_certificate_terms_are_consistent(x64):
    cert = certificate_from_terms(0.1, 1000, 50.0, 10000, delta=0.025, delta_prime=0.01)
    assert cert.emp_risk_mc <= cert.emp_risk_upper <= cert.risk_bound <= cert.pinsker_bound
    np.testing.assert_allclose(binary_kl(cert.emp_risk_mc, cert.emp_risk_upper), np.log(2 / 0.01) / 1000, rtol=1e-10)
    np.testing.assert_allclose(cert.complexity, (50 + np.log(2 * np.sqrt(10000) / 0.025)) / 10000, rtol=1e-14)
    np.testing.assert_allclose(binary_kl(cert.emp_risk_upper, cert.risk_bound), cert.complexity, rtol=1e-10)
    assert set(cert.as_dict()) >= {"delta", "delta_prime", "kl", "n", "num_samples", "risk_bound"}


def test_differentiable_kl_objective(x64):
    value, grads = jax.value_and_grad(fkl, argnums=(0, 1))(0.1, 20.0, 5000, 0.025)
    assert value == kl_bound(0.1, 20.0, 5000, 0.025)
    h = 1e-6
    fd_kl = (kl_bound(0.1, 20.0 + h, 5000, 0.025) - kl_bound(0.1, 20.0 - h, 5000, 0.025)) / (2 * h)
    np.testing.assert_allclose(grads[1], fd_kl, rtol=1e-6)
    assert grads[0] > 0


@pytest.mark.parametrize("delta", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_bad_delta_raises(delta):
    with pytest.raises(ValueError, match=r"delta must be in \(0, 1\)"):
        kl_bound(0.1, 1.0, 100, delta)
    with pytest.raises(ValueError, match=r"delta_prime must be in \(0, 1\)"):
        certificate_from_terms(0.1, 100, 1.0, 100, 0.05, delta)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match=r"emp_risk must be in \[0, 1\]"):
        fquad(1.3, 1.0, 100, 0.05)
    with pytest.raises(ValueError, match=r"emp_risk_mc must be in \[0, 1\]"):
        certificate_from_terms(-0.1, 100, 1.0, 100)
    with pytest.raises(ValueError, match="kl must be >= 0"):
        pinsker_bound(0.1, -1.0, 100, 0.05)
    with pytest.raises(TypeError, match="n must be an integer"):
        maurer_complexity(1.0, 10.5, 0.05)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        maurer_complexity(1.0, 0, 0.05)
    with pytest.raises(ValueError, match=r"lam must be in \(0.0, 2.0\)"):
        flamb(0.1, 1.0, 100, 0.05, 2.0)
    with pytest.raises(ValueError, match="objective must be one of"):
        bound_objective("fbogus", 0.1, 1.0, 100, 0.05)
