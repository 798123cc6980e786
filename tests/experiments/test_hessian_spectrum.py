"""hessian-spectrum on a shrunk config: matrix-free spectra agree with the dense eigendecomposition."""

import numpy as np
import pytest

from dl_theory.experiment.config import ConfigError, make_config
from experiments.curvature import hessian_spectrum as hsp


def test_matrix_free_spectrum_matches_dense():
    cfg = hsp.Config(n_examples=64, widths=(64, 4, 10), train_steps=60, trace_probes=100, slq_probes=32,
                     slq_iters=20, lanczos_iters=60, batch_size=32)
    result = hsp.run(cfg)
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    np.testing.assert_allclose(result.metrics["top_eigenvalues_lanczos"], result.metrics["top_eigenvalues_exact"],
                               rtol=1e-4)


def test_hutchinson_stderr_is_the_rademacher_formula():
    # A = [[1, 2], [2, 3]]: v^T A v = 4 + 4 v1 v2 with v1 v2 = +-1, so Var = 16 = 2 (||A||_F^2 - sum A_ii^2).
    assert hsp.hutchinson_stderr(np.array([[1.0, 2.0], [2.0, 3.0]]), 4) == pytest.approx(np.sqrt(16 / 4))


@pytest.mark.parametrize("key, value, message", [
    ("trace_probes", "10", "trace_probes must be an integer >= 30, got 10"),
    ("slq_probes", "0", "slq_probes must be an integer >= 30, got 0"),
    ("widths", "64,10", "widths must be a sequence of >= 3 entries"),
    ("learning_rate", "-0.5", "learning_rate must be > 0, got -0.5"),
    ("k", "0", "k must be an integer >= 1, got 0"),
])
def test_bad_config_values_raise(key, value, message):
    with pytest.raises(ConfigError, match=message):
        make_config(hsp.Config, quick=True, overrides={key: value})
