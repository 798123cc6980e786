"""Data sets that work offline: seeded synthetic generators, bundled real data, and loaders for files on disk.

Synthetic generators take a JAX PRNG key and return ``jax.Array``s; real data sets are returned as float32 NumPy arrays
in a :class:`Dataset`. Nothing here downloads: MNIST/CIFAR are read from files the user already has.
"""

from __future__ import annotations

import functools
import gzip
import pickle
import zlib
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from dl_theory import checks


class Dataset(NamedTuple):
    """Train/test split; ``x`` has the example axis first, ``y`` holds integer class labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


# --- synthetic -------------------------------------------------------------------------------------------------


def gaussian(key: jax.Array, n: int, d: int) -> jax.Array:
    """``n`` i.i.d. standard Gaussian points in :math:`\\mathbb{R}^d`, shape ``(n, d)``."""
    checks.count("n", n)
    checks.count("d", d)
    return jax.random.normal(key, (n, d))


def random_labels(key: jax.Array, n: int) -> jax.Array:
    """``n`` i.i.d. uniform labels in ``{-1, +1}``."""
    return jnp.where(jax.random.bernoulli(key, 0.5, (n,)), 1.0, -1.0)


def planted_margin(key: jax.Array, n: int, d: int, margin: float,
                   radius: float = 1.0) -> tuple[jax.Array, jax.Array, jax.Array]:
    r"""Linearly separable data through the origin with geometric margin at least ``margin``.

    A unit teacher :math:`w^*` is drawn uniformly on the sphere. Each point's component along :math:`w^*` is
    :math:`\pm` uniform on :math:`[\gamma, R]`; its orthogonal part is uniform in the :math:`(d-1)`-ball of radius
    :math:`\sqrt{R^2 - t^2}`; its label is :math:`y = \mathrm{sign}(w^*\cdot x)`. Hence
    :math:`\gamma[w^*](S) \ge` ``margin`` and :math:`\max\|x\| \le` ``radius``: the setting of Novikoff's theorem.

    Returns:
      ``(x_NxD, y_N, w_star_D)``.
    """
    checks.count("n", n)
    checks.at_least(2)("d", d)
    checks.positive("radius", radius)
    checks.in_interval(0.0, radius)("margin", margin)
    k_w, k_t, k_sign, k_dir, k_r = jax.random.split(key, 5)
    w_star = jax.random.normal(k_w, (d,))
    w_star = w_star / jnp.linalg.norm(w_star)
    sign = jnp.where(jax.random.bernoulli(k_sign, 0.5, (n,)), 1.0, -1.0)
    t_N = sign * (margin + (radius - margin) * jax.random.uniform(k_t, (n,)))
    ortho_NxD = jax.random.normal(k_dir, (n, d))
    ortho_NxD = ortho_NxD - (ortho_NxD @ w_star)[:, None] * w_star[None, :]
    ortho_NxD = ortho_NxD / jnp.linalg.norm(ortho_NxD, axis=1, keepdims=True)
    r_N = jnp.sqrt(radius**2 - t_N**2) * jax.random.uniform(k_r, (n,)) ** (1.0 / (d - 1))
    x_NxD = t_N[:, None] * w_star[None, :] + r_N[:, None] * ortho_NxD
    return x_NxD, sign, w_star


def teacher_student(key: jax.Array, n: int, d: int, noise: float = 0.0) -> tuple[jax.Array, jax.Array, jax.Array]:
    r"""Linear teacher: :math:`x \sim \mathcal N(0, I_d)`, :math:`y = w^{*\top} x + \varepsilon`,
    :math:`w^* \sim \mathcal N(0, I_d/d)`, :math:`\varepsilon \sim \mathcal N(0, \sigma^2)`.

    Returns:
      ``(x_NxD, y_N, w_star_D)``.
    """
    checks.count("n", n)
    checks.count("d", d)
    k_x, k_w, k_e = jax.random.split(key, 3)
    x = jax.random.normal(k_x, (n, d))
    w_star = jax.random.normal(k_w, (d,)) / jnp.sqrt(d)
    return x, x @ w_star + noise * jax.random.normal(k_e, (n,)), w_star


def two_moons(key: jax.Array, n: int, noise: float = 0.1) -> tuple[jax.Array, jax.Array]:
    """Two interleaved half circles in the plane; labels in ``{0, 1}``."""
    checks.count("n", n)
    k_t, k_y, k_e = jax.random.split(key, 3)
    y = jax.random.bernoulli(k_y, 0.5, (n,)).astype(jnp.int32)
    t = jnp.pi * jax.random.uniform(k_t, (n,))
    upper = jnp.stack([jnp.cos(t), jnp.sin(t)], axis=1)
    lower = jnp.stack([1.0 - jnp.cos(t), 0.5 - jnp.sin(t)], axis=1)
    x = jnp.where(y[:, None] == 0, upper, lower)
    return x + noise * jax.random.normal(k_e, (n, 2)), y


def rings(key: jax.Array, n: int, n_rings: int = 2, noise: float = 0.05) -> tuple[jax.Array, jax.Array]:
    """Concentric circles of radii ``1, 2, ..., n_rings``; label = ring index."""
    checks.count("n", n)
    checks.count("n_rings", n_rings)
    k_t, k_y, k_e = jax.random.split(key, 3)
    y = jax.random.randint(k_y, (n,), 0, n_rings)
    t = 2 * jnp.pi * jax.random.uniform(k_t, (n,))
    radius = (y + 1).astype(t.dtype)
    x = radius[:, None] * jnp.stack([jnp.cos(t), jnp.sin(t)], axis=1)
    return x + noise * jax.random.normal(k_e, (n, 2)), y


# --- bundled real data -----------------------------------------------------------------------------------------


def _split(x: np.ndarray, y: np.ndarray, n_test: int, seed: int) -> Dataset:
    perm = np.random.default_rng(seed).permutation(len(y))
    x, y = x[perm].astype(np.float32), y[perm].astype(np.int32)
    return Dataset(x[n_test:], y[n_test:], x[:n_test], y[:n_test])


def digits(test_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """scikit-learn's bundled 8x8 digits (1,797 images, 10 classes), pixels scaled to [0, 1], flattened to 64."""
    from sklearn.datasets import load_digits

    checks.probability("test_fraction", test_fraction)
    bunch = load_digits()
    return _split(bunch.data / 16.0, bunch.target, int(round(test_fraction * len(bunch.target))), seed)


@functools.lru_cache(maxsize=4)
def _mnist1d_arrays(num_samples: int, seed: int) -> tuple[np.ndarray, ...]:
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples, args.seed, args.train_split = num_samples, seed, 1.0
    state = np.random.get_state()  # noqa: NPY002 -- make_dataset reseeds numpy's global generator; leave it as we found it
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(state)  # noqa: NPY002
    return data["x"], data["y"]


def digits_subset(n: int, seed: int = 0) -> tuple[jax.Array, jax.Array]:
    """The first ``n`` training images of :func:`digits` (64 pixels in [0, 1], centred) with one-hot labels."""
    checks.count("n", n)
    ds = digits(seed=seed)
    x = ds.x_train[:n] - ds.x_train[:n].mean(axis=0, keepdims=True)
    return jnp.asarray(x), jax.nn.one_hot(jnp.asarray(ds.y_train[:n]), 10)


def mnist1d(n_train: int = 4000, n_test: int = 1000, seed: int = 42) -> Dataset:
    """MNIST-1D (Greydanus & Kobak, 2020): 10 classes of length-40 signals, generated locally (no download).

    ``seed=42`` reproduces the reference generator settings; the data are standardized (zero mean, unit std).
    """
    checks.count("n_train", n_train)
    checks.count("n_test", n_test)
    total = n_train + n_test
    total += (-total) % 10  # the generator makes the same number of examples per class
    x, y = _mnist1d_arrays(total, seed)
    return Dataset(x[:n_train].astype(np.float32), y[:n_train].astype(np.int32),
                   x[n_train:n_train + n_test].astype(np.float32), y[n_train:n_train + n_test].astype(np.int32))


def binary(data: Dataset, positive: tuple[int, ...]) -> Dataset:
    """Relabels a multi-class data set to ``{0, 1}``: 1 for classes in ``positive``."""
    pos = np.asarray(positive)
    return data._replace(y_train=np.isin(data.y_train, pos).astype(np.int32),
                         y_test=np.isin(data.y_test, pos).astype(np.int32))


# --- files the user has ----------------------------------------------------------------------------------------


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_idx(path: str | Path) -> np.ndarray:
    """Reads an IDX file (the MNIST format; optionally gzipped) into an array.

    Raises:
      FileNotFoundError: no such file.
      ValueError: the file is not valid IDX (bad magic number or size).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    try:
        with _open(path) as f:
            raw = f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise ValueError(f"{path} is not a readable gzip file: {error}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in dtypes:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path}: truncated IDX header ({ndim} dimensions need {4 + 4 * ndim} bytes)")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(dtypes[raw[2]])
    body = raw[4 + 4 * ndim:]
    if len(body) != int(np.prod(shape)) * dtype.itemsize:
        raise ValueError(f"{path}: header says shape {shape} of {dtype} but the file holds {len(body)} data bytes")
    return np.frombuffer(body, dtype).reshape(shape)


def _from_npz(path: Path) -> Dataset:
    with np.load(path) as f:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(f.files)
        if missing:
            raise ValueError(f"{path} lacks arrays {sorted(missing)} (needs x_train, y_train, x_test, y_test)")
        return Dataset(*(f[k] for k in ("x_train", "y_train", "x_test", "y_test")))


def load_mnist(path: str | Path) -> Dataset:
    """MNIST (or Fashion-MNIST) from disk: a folder with the four IDX files (``train-images-idx3-ubyte[.gz]``,
    ``train-labels-idx1-ubyte[.gz]``, ``t10k-...``), or an ``.npz`` with ``x_train, y_train, x_test, y_test``.
    Pixels are scaled to [0, 1]."""
    path = Path(path)
    if path.suffix == ".npz" and path.is_file():
        data = _from_npz(path)
    elif path.is_dir():
        def find(stem: str) -> Path:
            for name in (stem, stem + ".gz"):
                if (path / name).is_file():
                    return path / name
            raise FileNotFoundError(f"{path} has no {stem}[.gz]")

        data = Dataset(read_idx(find("train-images-idx3-ubyte")), read_idx(find("train-labels-idx1-ubyte")),
                       read_idx(find("t10k-images-idx3-ubyte")), read_idx(find("t10k-labels-idx1-ubyte")))
    else:
        raise FileNotFoundError(f"MNIST not found at {path}: pass a folder of IDX files or an .npz file")
    return _scaled(data)


def load_cifar10(path: str | Path) -> Dataset:
    """CIFAR-10 from disk: the python-version folder (``data_batch_1..5``, ``test_batch``) or an ``.npz`` with
    ``x_train, y_train, x_test, y_test``. Images are NHWC in [0, 1]."""
    path = Path(path)
    if path.suffix == ".npz" and path.is_file():
        return _scaled(_from_npz(path))
    if not path.is_dir():
        raise FileNotFoundError(f"CIFAR-10 not found at {path}: pass the cifar-10-batches-py folder or an .npz")

    def batch(name: str) -> tuple[np.ndarray, np.ndarray]:
        file = path / name
        if not file.is_file():
            raise FileNotFoundError(f"{path} has no {name}")
        try:
            with open(file, "rb") as f:
                entry = pickle.load(f, encoding="bytes")
            images = np.asarray(entry[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            return images, np.asarray(entry[b"labels"])
        except (pickle.UnpicklingError, KeyError, TypeError, ValueError, EOFError) as error:
            raise ValueError(f"{file} is not a CIFAR-10 batch: {error}") from None

    train = [batch(f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = batch("test_batch")
    return _scaled(Dataset(np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]),
                           x_test, y_test))


def _scaled(data: Dataset) -> Dataset:
    def scale(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        return (x / 255.0).astype(np.float32) if x.dtype == np.uint8 else x.astype(np.float32)

    if len(data.x_train) != len(data.y_train) or len(data.x_test) != len(data.y_test):
        raise ValueError("images and labels differ in number")
    return Dataset(scale(data.x_train), np.asarray(data.y_train, np.int32), scale(data.x_test),
                   np.asarray(data.y_test, np.int32))
