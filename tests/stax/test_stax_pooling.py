"""Weight-free linear layers (pooling, Flatten, Aggregate): the kernel of the layer applied to the inputs must
equal the input kernel of the transformed inputs, exactly (both are the same bilinear form)."""

import numpy as np
import pytest

from dl_theory import stax

_, _, IDENTITY = stax.Identity()


def _check_exact(layer, x1, x2, apply_kw=None, kernel_kw=None):
    _, apply_fn, kernel_fn = layer
    k = kernel_fn(x1, x2, **(kernel_kw or {}))
    y1 = apply_fn((), x1, **(apply_kw or {}).get("1", {}))
    y2 = apply_fn((), x2, **(apply_kw or {}).get("2", {}))
    ref = IDENTITY(y1, y2)
    for name in ("nngp", "cov1", "cov2"):
        np.testing.assert_allclose(getattr(k, name), getattr(ref, name), rtol=1e-11, atol=1e-13)


X1 = np.random.default_rng(0).standard_normal((3, 5, 4, 2))
X2 = np.random.default_rng(1).standard_normal((2, 5, 4, 2))


@pytest.mark.parametrize(
    "layer",
    [
        lambda: stax.AvgPool((2, 2)),
        lambda: stax.AvgPool((3, 2), (2, 1), "SAME"),
        lambda: stax.AvgPool((3, 2), (2, 2), "SAME", normalize_edges=True),
        lambda: stax.AvgPool((2, 3), padding="CIRCULAR"),
        lambda: stax.SumPool((2, 2), (1, 2), "SAME"),
        lambda: stax.SumPool((3, 3), padding="CIRCULAR"),
        lambda: stax.GlobalAvgPool(),
        lambda: stax.GlobalSumPool(),
        lambda: stax.Flatten(),
    ],
    ids=["avg", "avg_same_stride", "avg_same_norm", "avg_circ", "sum_same", "sum_circ", "gap", "gsp", "flatten"],
)
def test_pooling_is_exact_on_inputs(layer, x64):
    _check_exact(layer(), X1, X2)


def test_flatten_diagonal_layout(x64):
    full = stax.Flatten()[2](X1, X2)
    diag = stax.Flatten()[2](X1, X2, diagonal_spatial=True)
    np.testing.assert_allclose(full.nngp, diag.nngp, rtol=1e-12)


def test_aggregate_dense_and_sparse_exact(x64):
    rng = np.random.default_rng(2)
    x1, x2 = rng.standard_normal((3, 6, 2)), rng.standard_normal((2, 6, 2))
    a1, a2 = (rng.random((3, 6, 6)) < 0.4).astype(float), (rng.random((2, 6, 6)) < 0.4).astype(float)
    kw = {"1": {"pattern": a1}, "2": {"pattern": a2}}
    layer = stax.Aggregate()
    _check_exact(layer, x1, x2, kw, {"pattern": (a1, a2)})
    pad = lambda e: np.pad(e, ((0, 40 - len(e)), (0, 0)), constant_values=-1)  # -1: padding edges
    edges = lambda a: np.stack([pad(np.argwhere(m)) for m in a])
    sparse = stax.Aggregate(implementation="SPARSE")[2](x1, x2, "nngp", pattern=(edges(a1), edges(a2)))
    np.testing.assert_allclose(sparse, layer[2](x1, x2, "nngp", pattern=(a1, a2)), rtol=1e-12)


def test_pooling_needs_off_diagonal_covariances():
    _, _, kernel_fn = stax.serial(stax.Conv(2, (2, 2)), stax.Relu(), stax.GlobalAvgPool())
    with pytest.raises(ValueError, match="diagonal_spatial"):
        kernel_fn(X1, None, diagonal_spatial=True)
    with pytest.raises(ValueError, match="rank 4"):
        stax.AvgPool((2, 2))[2](np.ones((2, 5, 3)), None)
