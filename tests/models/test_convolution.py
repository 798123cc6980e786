"""Convolution arithmetic against scipy/numpy/flax/lax references: correlate/convolve in every padding mode and
stride, Toeplitz matrices, FFT convolution, separable kernels, output-size and parameter-count formulas."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import scipy.signal
from jax import lax

from dl_theory.models.convolution import (
    PADDINGS,
    circular_convolve,
    conv_param_count,
    convolve,
    correlate,
    direct_madds,
    doubly_block_toeplitz,
    fft_convolve,
    output_size,
    rank_one_factors,
    separable_correlate,
    separable_madds,
    toeplitz_matrix,
)

CASES = [((11,), (1,)), ((11,), (4,)), ((11,), (5,)), ((6,), (6,)), ((7, 9), (3, 4)), ((6, 5), (2, 2))]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.mark.parametrize("mode", PADDINGS)
@pytest.mark.parametrize(("x_shape", "h_shape"), CASES)
def test_correlate_and_convolve_match_scipy(x64, rng, mode, x_shape, h_shape):
    x, h = rng.normal(size=x_shape), rng.normal(size=h_shape)
    np.testing.assert_allclose(correlate(x, h, padding=mode), scipy.signal.correlate(x, h, mode), atol=1e-12)
    np.testing.assert_allclose(convolve(x, h, padding=mode), scipy.signal.convolve(x, h, mode), atol=1e-12)
    np.testing.assert_allclose(fft_convolve(x, h, mode=mode), scipy.signal.fftconvolve(x, h, mode), atol=1e-12)


@pytest.mark.parametrize(("padding", "stride"), [(0, 2), (1, 1), (2, 3), (1, (2, 1))])
def test_integer_padding_and_stride_match_padded_subsampled_scipy(x64, rng, padding, stride):
    x, h = rng.normal(size=(9, 8)), rng.normal(size=(3, 2))
    strides = (stride, stride) if np.ndim(stride) == 0 else stride
    ref = scipy.signal.correlate(np.pad(x, padding), h, "valid")[::strides[0], ::strides[1]]
    out = correlate(x, h, padding=padding, stride=stride)
    np.testing.assert_allclose(out, ref, atol=1e-12)
    assert out.shape == tuple(output_size(n, k, padding, s) for n, k, s in zip(x.shape, h.shape, strides, strict=True))


def test_correlate_traces_under_jit(x64, rng):
    x, h = rng.normal(size=10), rng.normal(size=3)
    np.testing.assert_allclose(jax.jit(lambda x, h: correlate(x, h, padding="same"))(x, h),
                               scipy.signal.correlate(x, h, "same"), atol=1e-12)


@pytest.mark.parametrize("k", [1, 3, 4, 7])
def test_toeplitz_matrix_is_the_notes_index_and_scipy_convolution_matrix(x64, rng, k):
    d = 7
    h = rng.normal(size=k)
    w = np.asarray(toeplitz_matrix(h, d))
    for row in range(d - k + 1):  # (W_h)_{k,j} = h_{j-k+1}, 1-based, for k <= j <= k+K-1
        for col in range(d):
            assert w[row, col] == (h[col - row] if 0 <= col - row < k else 0.0)
    np.testing.assert_array_equal(w, scipy.linalg.toeplitz(np.r_[h[0], np.zeros(d - k)], np.r_[h, np.zeros(d - k)]))
    for mode in PADDINGS:
        np.testing.assert_array_equal(toeplitz_matrix(h, d, padding=mode, flip=True),
                                      scipy.linalg.convolution_matrix(h, d, mode))


@pytest.mark.parametrize("mode", [*PADDINGS, 1])
@pytest.mark.parametrize("flip", [False, True])
def test_doubly_block_toeplitz_matches_the_2d_correlation(x64, rng, mode, flip):
    x, h = rng.normal(size=(6, 7)), rng.normal(size=(3, 2))
    op = convolve if flip else correlate
    np.testing.assert_allclose(doubly_block_toeplitz(h, x.shape, padding=mode, flip=flip) @ x.ravel(),
                               np.ravel(op(x, h, padding=mode)), atol=1e-12)


def test_doubly_block_toeplitz_is_the_kronecker_sum_of_toeplitz_blocks(x64, rng):
    h = rng.normal(size=(3, 2))
    blocks = sum(np.kron(toeplitz_matrix(np.eye(3)[a], 6), toeplitz_matrix(h[a], 5)) for a in range(3))
    np.testing.assert_array_equal(doubly_block_toeplitz(h, (6, 5)), blocks)


@pytest.mark.parametrize("shape", [(12,), (5, 6)])
def test_circular_convolution_is_numpy_fft_product(x64, rng, shape):
    x, h = rng.normal(size=shape), rng.normal(size=tuple(min(3, n) for n in shape))
    ref = np.real(np.fft.ifftn(np.fft.fftn(x) * np.fft.fftn(h, s=shape, axes=tuple(range(len(shape))))))
    np.testing.assert_allclose(circular_convolve(x, h), ref, atol=1e-12)


def test_rank_one_factors_residual_is_second_singular_value(x64, rng):
    u, v = rng.normal(size=4), rng.normal(size=4)
    factors = rank_one_factors(np.outer(u, v))
    np.testing.assert_allclose(np.outer(factors.u, factors.v), np.outer(u, v), atol=1e-12)
    assert float(factors.residual) < 1e-12
    w = rng.normal(size=(4, 4))
    sigma = np.linalg.svd(w, compute_uv=False)
    np.testing.assert_allclose(rank_one_factors(w).residual, np.sqrt(np.sum(sigma[1:] ** 2)), rtol=1e-12)


@pytest.mark.parametrize("mode", PADDINGS)
def test_separable_correlate_matches_scipy_with_outer_kernel(x64, rng, mode):
    x, u, v = rng.normal(size=(8, 9)), rng.normal(size=3), rng.normal(size=3)
    np.testing.assert_allclose(separable_correlate(x, u, v, padding=mode),
                               scipy.signal.correlate(x, np.outer(u, v), mode), atol=1e-12)


def _brute_force_madds(d: int, q: int) -> tuple[int, int]:
    """Multiply-adds of the direct and the two-pass correlation, counted one loop iteration at a time."""
    out = d - q + 1
    direct = sum(1 for _ in range(out) for _ in range(out) for _ in range(q) for _ in range(q))
    rows = sum(1 for _ in range(d) for _ in range(out) for _ in range(q))
    cols = sum(1 for _ in range(out) for _ in range(out) for _ in range(q))
    return direct, rows + cols


@pytest.mark.parametrize(("d", "q"), [(5, 1), (6, 3), (7, 7), (9, 4)])
def test_madd_formulas_count_the_loops(d, q):
    assert (direct_madds(d, q), separable_madds(d, q)) == _brute_force_madds(d, q)


def test_output_size_matches_lax_shapes():
    for n, k, p, s in [(7, 3, 0, 1), (7, 3, 1, 2), (5, 5, 0, 3), (4, 6, 1, 1), (10, 4, 2, 3)]:
        shape = jax.eval_shape(lambda x, w, p=p, s=s: lax.conv_general_dilated(x, w, (s,), ((p, p),)),
                               jax.ShapeDtypeStruct((1, 1, n), jnp.float32),
                               jax.ShapeDtypeStruct((1, 1, k), jnp.float32)).shape
        assert shape[-1] == output_size(n, k, p, s)


@pytest.mark.parametrize(("kernel", "c_in", "c_out", "bias"), [((3,), 2, 5, True), ((3, 3), 3, 8, False),
                                                                ((2, 4), 1, 1, True)])
def test_param_count_matches_flax_conv(kernel, c_in, c_out, bias):
    variables = jax.eval_shape(nn.Conv(c_out, kernel, use_bias=bias).init, jax.random.key(0),
                               jnp.zeros((1, *(6,) * len(kernel), c_in)))
    assert sum(int(np.prod(v.shape)) for v in jax.tree.leaves(variables)) == conv_param_count(kernel, c_in, c_out,
                                                                                             bias)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: correlate(np.ones(3), np.ones(4)), "kernel must be"),
    (lambda: correlate(np.ones((3, 3)), np.ones((2, 4))), "kernel must be"),
    (lambda: convolve(np.ones(5), np.ones(2), stride=0), "stride must be"),
    (lambda: correlate(np.ones((5, 5)), np.ones((2, 2)), stride=(1, -1)), "stride must be"),
    (lambda: correlate(np.ones(5), np.ones(2), padding="circular"), "padding must be"),
    (lambda: correlate(np.ones(5), np.ones(2), padding=-1), "padding must be"),
    (lambda: output_size(3, 5), "kernel_size must be"),
    (lambda: output_size(8, 3, stride=0), "stride must be"),
    (lambda: toeplitz_matrix(np.ones(6), 5), "kernel must be"),
    (lambda: doubly_block_toeplitz(np.ones((2, 6)), (4, 5)), "kernel must be"),
    (lambda: fft_convolve(np.ones(3), np.ones(4), mode="valid"), "kernel must be"),
    (lambda: separable_correlate(np.ones((4, 4)), np.ones(2), np.ones(2), padding=1), "padding must be"),
])
def test_bad_input_raises_one_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
