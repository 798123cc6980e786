"""Kernel distances against hand-computed values and the linear-CKA feature formula."""

import numpy as np
import pytest

from dl_theory.kernels.metrics import (
    center_kernel,
    centered_kernel_alignment,
    kernel_alignment,
    relative_frobenius_change,
)


def _gram(rng, n=6, d=3):
    x = rng.standard_normal((n, d))
    return x, x @ x.T


def test_relative_change_and_alignment_by_hand(x64):
    eye = np.eye(3)
    assert float(relative_frobenius_change(2 * eye, eye)) == pytest.approx(1.0)
    k0 = np.array([[2.0, 1.0], [1.0, 2.0]])
    kt = np.array([[2.0, 1.0], [1.0, 5.0]])
    assert float(relative_frobenius_change(kt, k0)) == pytest.approx(3 / np.sqrt(10))
    assert float(kernel_alignment(k0, 7 * k0)) == pytest.approx(1.0)
    assert float(kernel_alignment(k0, -k0)) == pytest.approx(-1.0)
    assert float(kernel_alignment(np.diag([1.0, 0.0]), np.diag([0.0, 1.0]))) == pytest.approx(0.0)
    assert float(kernel_alignment(k0, kt)) == pytest.approx(16 / (np.sqrt(10) * np.sqrt(31)))


def test_centering_matches_projection(x64):
    rng = np.random.default_rng(0)
    _, k = _gram(rng)
    h = np.eye(6) - np.ones((6, 6)) / 6
    np.testing.assert_allclose(center_kernel(k), h @ k @ h, atol=1e-12)


def test_centered_alignment_is_linear_cka(x64):
    """For linear kernels, CKA = ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F) with centered features."""
    rng = np.random.default_rng(1)
    x, kx = _gram(rng)
    y = np.tanh(x @ rng.standard_normal((3, 4))) + 0.3 * rng.standard_normal((6, 4))
    xc, yc = x - x.mean(0), y - y.mean(0)
    want = np.linalg.norm(yc.T @ xc) ** 2 / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc))
    assert float(centered_kernel_alignment(kx, y @ y.T)) == pytest.approx(want, rel=1e-10)
    # invariant to adding a constant to every entry (a shared bias feature), unlike the uncentered alignment
    shifted = kx + 5.0
    assert float(centered_kernel_alignment(shifted, y @ y.T)) == pytest.approx(want, rel=1e-10)
    assert abs(float(kernel_alignment(shifted, y @ y.T)) - float(kernel_alignment(kx, y @ y.T))) > 1e-3


def test_errors():
    with pytest.raises(ValueError, match="same shape"):
        kernel_alignment(np.eye(2), np.eye(3))
    with pytest.raises(ValueError, match="square"):
        center_kernel(np.ones((2, 3)))
