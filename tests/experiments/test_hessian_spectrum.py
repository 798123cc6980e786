"""hessian-spectrum on a shrunk config: matrix-free spectra agree with the dense eigendecomposition."""

import numpy as np

from experiments.curvature import hessian_spectrum as hsp


def test_matrix_free_spectrum_matches_dense():
    cfg = hsp.Config(n_examples=64, widths=(64, 4, 10), train_steps=60, trace_probes=100, slq_probes=8,
                     slq_iters=30, lanczos_iters=60, batch_size=32)
    result = hsp.run(cfg)
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    np.testing.assert_allclose(result.metrics["top_eigenvalues_lanczos"], result.metrics["top_eigenvalues_exact"],
                               rtol=1e-4)


def test_wasserstein1_of_shifted_point_masses():
    assert np.isclose(hsp.wasserstein1(np.array([0.0]), np.array([1.0]), np.array([0.3]), np.array([1.0])), 0.3)
