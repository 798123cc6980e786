"""Tests of the data module: generator contracts, bundled data sets, and the IDX/npz/CIFAR loaders on files written
here."""

import gzip
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dl_theory import data
from dl_theory.data import _datasets

# --- synthetic generators ------------------------------------------------------------------------------------

GENERATORS = {
    "gaussian": lambda k: data.gaussian(k, 50, 3),
    "random_labels": lambda k: data.random_labels(k, 50),
    "planted_margin": lambda k: data.planted_margin(k, 500, 2, 0.05),  # shapes shared with the tests below
    "teacher_student": lambda k: data.teacher_student(k, 50, 4, noise=0.1),
    "two_moons": lambda k: data.two_moons(k, 50),
    "rings": lambda k: data.rings(k, 50, n_rings=3),
}


@pytest.mark.parametrize("name", GENERATORS)
def test_generators_are_reproducible(name):
    make = GENERATORS[name]
    a, b, c = make(jax.random.key(0)), make(jax.random.key(0)), make(jax.random.key(1))
    leaves_a, leaves_b, leaves_c = (jax.tree_util.tree_leaves(t) for t in (a, b, c))
    for x, y in zip(leaves_a, leaves_b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not all(np.array_equal(x, z) for x, z in zip(leaves_a, leaves_c, strict=True))


def test_gaussian_and_random_labels(key):
    x = data.gaussian(key, 4000, 3)
    assert x.shape == (4000, 3) and x.dtype == jnp.float32
    se = 1 / np.sqrt(4000)
    np.testing.assert_allclose(x.mean(0), 0, atol=5 * se)
    np.testing.assert_allclose(x.var(0), 1, atol=5 * np.sqrt(2) * se)
    y = data.random_labels(key, 4000)
    assert y.shape == (4000,) and set(np.unique(y).tolist()) == {-1.0, 1.0}
    assert abs(float(y.mean())) < 5 * se


@pytest.mark.parametrize("d, margin, radius", [(2, 0.05, 1.0), (30, 0.5, 3.0)])
def test_planted_margin_guarantees(key, d, margin, radius):
    x, y, w_star = data.planted_margin(key, 500, d, margin, radius)
    assert x.shape == (500, d) and y.shape == (500,) and w_star.shape == (d,)
    assert float(jnp.linalg.norm(w_star)) == pytest.approx(1.0, abs=1e-6)
    projections = np.asarray(x @ w_star, np.float64)
    np.testing.assert_array_equal(np.asarray(y), np.sign(projections))
    assert set(np.unique(y).tolist()) == {-1.0, 1.0}
    assert np.min(np.asarray(y) * projections) >= margin * (1 - 1e-5)
    assert np.max(np.linalg.norm(np.asarray(x, np.float64), axis=1)) <= radius * (1 + 1e-5)
    # the margin and radius are not loose: some points come close to both
    assert np.min(np.asarray(y) * projections) < margin + 0.05 * (radius - margin)
    assert np.max(np.linalg.norm(np.asarray(x), axis=1)) > 0.8 * radius


def test_teacher_student(key):
    x, y, w_star = data.teacher_student(key, 50, 4)
    assert x.shape == (50, 4) and y.shape == (50,) and w_star.shape == (4,)
    np.testing.assert_allclose(y, x @ w_star, rtol=1e-6, atol=1e-6)
    x, y, w_star = data.teacher_student(key, 5000, 4, noise=0.3)
    residual = np.asarray(y - x @ w_star)
    assert residual.std() == pytest.approx(0.3, abs=5 * 0.3 / np.sqrt(2 * 5000))


def test_two_moons_and_rings_geometry(key):
    x, y = data.two_moons(key, 50, noise=0.0)
    assert x.shape == (50, 2) and set(np.unique(y).tolist()) == {0, 1}
    x, y = np.asarray(x), np.asarray(y)
    upper, lower = x[y == 0], x[y == 1]
    np.testing.assert_allclose(np.linalg.norm(upper, axis=1), 1.0, atol=1e-5)
    assert upper[:, 1].min() >= -1e-6
    np.testing.assert_allclose(np.linalg.norm(lower - [1.0, 0.5], axis=1), 1.0, atol=1e-5)
    assert lower[:, 1].max() <= 0.5 + 1e-6
    x, y = data.rings(key, 50, n_rings=3, noise=0.0)
    assert set(np.unique(y).tolist()) == {0, 1, 2}
    np.testing.assert_allclose(np.linalg.norm(np.asarray(x), axis=1), np.asarray(y) + 1.0, rtol=1e-5)


@pytest.mark.parametrize("call, error, message", [
    (lambda k: data.gaussian(k, 0, 3), ValueError, "n must be an integer >= 1, got 0"),
    (lambda k: data.gaussian(k, 3, 2.5), TypeError, "d must be an integer, got 2.5"),
    (lambda k: data.planted_margin(k, 10, 1, 0.1), ValueError, "d must be an integer >= 2, got 1"),
    (lambda k: data.planted_margin(k, 10, 3, 1.0), ValueError, r"margin must be in \(0.0, 1.0\), got 1.0"),
    (lambda k: data.planted_margin(k, 10, 3, 0.0), ValueError, r"margin must be in \(0.0, 1.0\), got 0.0"),
    (lambda k: data.rings(k, 10, n_rings=0), ValueError, "n_rings must be an integer >= 1, got 0"),
])
def test_generator_validation(key, call, error, message):
    with pytest.raises(error, match=message):
        call(key)


# --- bundled data --------------------------------------------------------------------------------------------


def test_digits():
    ds = data.digits()
    assert ds.x_train.shape == (1348, 64) and ds.x_test.shape == (449, 64)
    assert ds.y_train.shape == (1348,) and ds.y_test.shape == (449,)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    assert set(np.unique(ds.y_train).tolist()) == set(range(10))
    again, other = data.digits(), data.digits(seed=1)
    for a, b in zip(ds, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(ds.y_test, other.y_test)
    np.testing.assert_array_equal(np.bincount(np.concatenate([ds.y_train, ds.y_test])),
                                  np.bincount(np.concatenate([other.y_train, other.y_test])))
    with pytest.raises(ValueError, match="test_fraction"):
        data.digits(test_fraction=1.0)
    binary = data.binary(ds, (0, 2))
    np.testing.assert_array_equal(binary.y_train, np.isin(ds.y_train, [0, 2]))


def test_mnist1d():
    _datasets._mnist1d_arrays.cache_clear()
    state = np.random.get_state()  # noqa: NPY002 -- checking that the generator leaves the global state alone
    ds = data.mnist1d(n_train=95, n_test=50, seed=3)
    assert np.array_equal(np.random.get_state()[1], state[1])  # noqa: NPY002
    assert ds.x_train.shape == (95, 40) and ds.x_test.shape == (50, 40)
    assert ds.y_train.shape == (95,) and ds.y_test.shape == (50,)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    assert set(np.unique(np.concatenate([ds.y_train, ds.y_test])).tolist()) <= set(range(10))
    _datasets._mnist1d_arrays.cache_clear()
    again = data.mnist1d(n_train=95, n_test=50, seed=3)
    for a, b in zip(ds, again, strict=True):
        np.testing.assert_array_equal(a, b)
    # 150 examples were generated (a multiple of 10) and standardized together
    x_all, y_all = _datasets._mnist1d_arrays(150, 3)
    assert abs(x_all.mean()) < 1e-5 and x_all.std() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_array_equal(np.bincount(y_all), np.full(10, 15))
    assert not np.array_equal(data.mnist1d(n_train=95, n_test=50, seed=4).x_train, ds.x_train)


# --- IDX files -----------------------------------------------------------------------------------------------

IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B, np.dtype(">i4"): 0x0C,
             np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def _idx_bytes(array: np.ndarray) -> bytes:
    big = array.astype(array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype)
    header = bytes([0, 0, IDX_CODES[big.dtype], array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + big.tobytes()


def _write_idx(path, array: np.ndarray) -> None:
    raw = _idx_bytes(array)
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("array", [
    np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4) * 10,
    np.array([-128, -1, 0, 127], np.int8),
    np.array([[-30000, 2], [3, 30000]], np.int16),
    np.array([-(2**31), 2**31 - 1, 5], np.int32),
    np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
    np.array([np.pi, -np.e, 1e-300], np.float64),
], ids=["uint8", "int8", "int16", "int32", "float32", "float64"])
def test_read_idx_round_trip(tmp_path, array, suffix):
    path = tmp_path / f"a.idx{suffix}"
    _write_idx(path, array)
    back = data.read_idx(path)
    assert back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert back.dtype.kind == array.dtype.kind and back.dtype.itemsize == array.dtype.itemsize


@pytest.mark.parametrize("mutate, exception, message", [
    (lambda raw: b"\x01" + raw[1:], ValueError, "bad magic number"),
    (lambda raw: raw[:2] + b"\x07" + raw[3:], ValueError, "bad magic number"),
    (lambda raw: raw[:3], ValueError, "bad magic number"),
    (lambda raw: raw[:-1], ValueError, r"header says shape \(2, 3\) of uint8 but the file holds 5 data bytes"),
    (lambda raw: raw + b"\x00", ValueError, "holds 7 data bytes"),
    (lambda raw: raw[:9], ValueError, "truncated IDX header"),
])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_malformed(tmp_path, mutate, exception, message, suffix):
    path = tmp_path / f"bad{suffix}"
    raw = mutate(_idx_bytes(np.ones((2, 3), np.uint8)))
    path.write_bytes(gzip.compress(raw) if suffix else raw)
    with pytest.raises(exception, match=message):
        data.read_idx(path)


def test_read_idx_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="IDX file not found"):
        data.read_idx(tmp_path / "missing")
    with pytest.raises(FileNotFoundError):
        data.read_idx(tmp_path)  # a folder
    not_gzip = tmp_path / "plain.gz"
    not_gzip.write_bytes(_idx_bytes(np.ones(3, np.uint8)))
    with pytest.raises(ValueError, match="not a readable gzip file"):
        data.read_idx(not_gzip)
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(_idx_bytes(np.ones(300, np.uint8)))[:-10])
    with pytest.raises(ValueError, match="not a readable gzip file"):
        data.read_idx(cut)


# --- MNIST and CIFAR loaders ---------------------------------------------------------------------------------


def _mnist_arrays(rng):
    return (rng.integers(0, 256, (6, 28, 28), dtype=np.uint8), rng.integers(0, 10, 6, dtype=np.uint8),
            rng.integers(0, 256, (4, 28, 28), dtype=np.uint8), rng.integers(0, 10, 4, dtype=np.uint8))


def _check_scaled(ds, arrays) -> None:
    x_train, y_train, x_test, y_test = arrays
    np.testing.assert_allclose(ds.x_train, x_train / 255.0, rtol=1e-6)
    np.testing.assert_allclose(ds.x_test, x_test / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_train, y_train)
    np.testing.assert_array_equal(ds.y_test, y_test)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32


MNIST_NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
               "t10k-labels-idx1-ubyte"]


def test_load_mnist_from_idx_folder(tmp_path):
    arrays = _mnist_arrays(np.random.default_rng(0))
    for name, array, suffix in zip(MNIST_NAMES, arrays, ["", ".gz", ".gz", ""], strict=True):
        _write_idx(tmp_path / f"{name}{suffix}", array)
    _check_scaled(data.load_mnist(tmp_path), arrays)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match=r"has no t10k-labels-idx1-ubyte\[.gz\]"):
        data.load_mnist(tmp_path)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", arrays[3][:3])
    with pytest.raises(ValueError, match="images and labels differ in number"):
        data.load_mnist(tmp_path)


def test_load_mnist_from_npz(tmp_path):
    arrays = _mnist_arrays(np.random.default_rng(1))
    path = tmp_path / "mnist.npz"
    np.savez(path, **dict(zip(["x_train", "y_train", "x_test", "y_test"], arrays, strict=True)))
    _check_scaled(data.load_mnist(path), arrays)
    floats = tmp_path / "floats.npz"
    np.savez(floats, x_train=np.full((2, 3), 0.5), y_train=[1, 2], x_test=np.zeros((1, 3)), y_test=[0])
    assert data.load_mnist(floats).x_train.max() == 0.5  # already-scaled floats are kept
    partial = tmp_path / "partial.npz"
    np.savez(partial, x_train=arrays[0], y_train=arrays[1])
    with pytest.raises(ValueError, match=r"lacks arrays \['x_test', 'y_test'\]"):
        data.load_mnist(partial)
    with pytest.raises(FileNotFoundError, match="MNIST not found"):
        data.load_mnist(tmp_path / "missing.npz")


def _write_cifar(folder, rng, sizes=(2, 2, 2, 2, 2, 3)):
    folder.mkdir()
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    batches = {}
    for name, size in zip(names, sizes, strict=True):
        entry = {b"batch_label": name.encode(), b"data": rng.integers(0, 256, (size, 3072), dtype=np.uint8),
                 b"labels": rng.integers(0, 10, size).tolist()}
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f, protocol=2)
        batches[name] = entry
    return batches


def test_load_cifar10_from_python_batches(tmp_path):
    batches = _write_cifar(tmp_path / "cifar", np.random.default_rng(0))
    ds = data.load_cifar10(tmp_path / "cifar")
    assert ds.x_train.shape == (10, 32, 32, 3) and ds.x_test.shape == (3, 32, 32, 3)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    train_rows = np.concatenate([batches[f"data_batch_{i}"][b"data"] for i in range(1, 6)])
    # row layout: 1024 red, then 1024 green, then 1024 blue values, each row-major over 32 x 32
    i, h, w, c = 7, 5, 30, 2
    assert ds.x_train[i, h, w, c] == np.float32(train_rows[i, c * 1024 + h * 32 + w] / 255.0)
    np.testing.assert_allclose(ds.x_train, train_rows.reshape(10, 3, 32, 32).transpose(0, 2, 3, 1) / 255.0,
                               rtol=1e-6)
    np.testing.assert_array_equal(ds.y_train, sum((batches[f"data_batch_{i}"][b"labels"] for i in range(1, 6)), []))
    np.testing.assert_array_equal(ds.y_test, batches["test_batch"][b"labels"])


@pytest.mark.parametrize("content, message", [
    (b"this is not a pickle", "not a CIFAR-10 batch"),
    (pickle.dumps([1, 2, 3]), "not a CIFAR-10 batch"),
    (pickle.dumps({b"labels": [1]}), "not a CIFAR-10 batch"),
    (pickle.dumps({b"data": np.zeros((1, 100), np.uint8), b"labels": [1]}), "not a CIFAR-10 batch"),
    (b"", "not a CIFAR-10 batch"),
])
def test_load_cifar10_malformed(tmp_path, content, message):
    _write_cifar(tmp_path / "cifar", np.random.default_rng(0))
    (tmp_path / "cifar" / "data_batch_3").write_bytes(content)
    with pytest.raises(ValueError, match=f"data_batch_3 is {message}"):
        data.load_cifar10(tmp_path / "cifar")


def test_load_cifar10_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="CIFAR-10 not found"):
        data.load_cifar10(tmp_path / "nowhere")
    _write_cifar(tmp_path / "cifar", np.random.default_rng(0))
    (tmp_path / "cifar" / "test_batch").unlink()
    with pytest.raises(FileNotFoundError, match="has no test_batch"):
        data.load_cifar10(tmp_path / "cifar")


def test_load_cifar10_from_npz(tmp_path):
    rng = np.random.default_rng(2)
    arrays = (rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8), np.array([1, 2, 3]),
              rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8), np.array([4, 5]))
    path = tmp_path / "cifar.npz"
    np.savez(path, **dict(zip(["x_train", "y_train", "x_test", "y_test"], arrays, strict=True)))
    _check_scaled(data.load_cifar10(path), arrays)
    np.savez(path, x_train=arrays[0], y_train=arrays[1][:2], x_test=arrays[2], y_test=arrays[3])
    with pytest.raises(ValueError, match="images and labels differ in number"):
        data.load_cifar10(path)
