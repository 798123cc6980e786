"""The executable tutorial ``examples/your_model.py`` on tiny sizes, for its flax NNX network and the linen variant.

The assertions are relations that hold exactly (up to float32 rounding) whatever the sizes: the tracked NTK starts
where it was measured and is a Gram matrix, Lanczos and quadrature nodes interlace the dense Hessian's spectrum
(Cauchy), the quadrature weights of every probe sum to one, and every term of a PAC-Bayes certificate bounds the one
before it.
"""

import importlib.util
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from dl_theory.curvature import hessian

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "your_model.py"


def _load_example():
    """``examples/your_model.py`` as a module (registered first: its dataclass looks itself up in sys.modules)."""
    if "your_model" not in sys.modules:
        spec = importlib.util.spec_from_file_location("your_model", EXAMPLE)
        module = importlib.util.module_from_spec(spec)
        sys.modules["your_model"] = module
        spec.loader.exec_module(module)
    return sys.modules["your_model"]


@pytest.fixture(scope="module", params=["nnx", "linen"])
def run(request):
    return _load_example().main(quick=True, flavour=request.param)


def test_everything_measured_is_finite(run):
    for name in ("loss", "ntk_change", "ntk_alignment", "target_alignment", "hessian_top", "slq_nodes"):
        assert np.all(np.isfinite(run[name])), name
    for name in ("hessian_trace", "hessian_trace_stderr", "L", "mu", "stochastic_test_error"):
        assert np.isfinite(run[name]), name
    assert run["num_params"] == ravel_pytree(run["params"])[0].size


def test_ntk_tracking_and_training(run):
    assert run["log_step"][0] == 0 and run["ntk_change"][0] <= 1e-6
    np.testing.assert_allclose(run["ntk_alignment"][0], 1.0, rtol=1e-5)
    eig = run["ntk_eigenvalues_init"]
    assert eig[0] >= -1e-5 * eig[-1]  # a Gram matrix J J^T is positive semi-definite
    assert run["loss"][-1] < run["loss"][0]


def test_hessian_estimates_interlace_the_dense_spectrum(run):
    h = jax.jit(lambda p: hessian.hessian(run["loss_fn"], p, run["train_data"]))(run["params"])
    lam = np.linalg.eigvalsh(np.asarray(h, np.float64))
    tol = 1e-4 * np.max(np.abs(lam))  # float32 products accumulated over D ~ 1e3 parameters
    ritz = np.concatenate([run["hessian_top"], [run["L"], run["mu"]], np.ravel(run["slq_nodes"])])
    assert np.all(ritz <= lam[-1] + tol) and np.all(ritz >= lam[0] - tol)
    assert np.all(np.diff(run["hessian_top"]) <= 0) and run["mu"] <= run["L"]
    np.testing.assert_allclose(np.sum(run["slq_weights"], axis=-1), 1.0, rtol=1e-5)
    assert abs(run["density_integral"] - 1.0) <= 1e-4
    np.testing.assert_allclose(run["step_stable"], 2 / run["L"], rtol=1e-6)


def test_certificate_terms_are_ordered(run):
    cert = run["certificate"]
    assert cert["kl"] >= 0 and cert["n"] == len(run["train_data"][1])
    assert 0 <= cert["emp_risk_mc"] <= cert["emp_risk_upper"] <= cert["risk_bound"] <= 1
    assert cert["risk_bound"] <= cert["pinsker_bound"]  # Pinsker's inequality: kl inversion is never looser


def test_an_unknown_flavour_names_the_argument():
    with pytest.raises(ValueError, match="flavour must be 'nnx' or 'linen', got 'torch'"):
        _load_example().build("torch", 4, 0)
