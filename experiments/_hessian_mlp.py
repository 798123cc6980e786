"""The small tanh MLP and real-data subset shared by the Hessian experiments and the PyHessian benchmark.

A plain pure-function MLP (``init``/``apply``) in the standard parameterization, so that the PyTorch copy in
``experiments/benchmarks/hessian_pyhessian.py`` computes exactly the same function from the same weights.
"""

import jax
import jax.numpy as jnp
import numpy as np

from dl_theory import data


def init(key: jax.Array, sizes: tuple[int, ...]) -> list[dict[str, jax.Array]]:
    """LeCun-normal weights ``W ~ N(0, 1/fan_in)`` and zero biases for layer widths ``sizes``."""
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        {"w": jax.random.normal(k, (m, n)) / np.sqrt(m), "b": jnp.zeros((n,))}
        for k, m, n in zip(keys, sizes[:-1], sizes[1:], strict=True)
    ]


def apply(params: list[dict[str, jax.Array]], x_NxD: jax.Array) -> jax.Array:
    """tanh hidden layers, linear output."""
    h = x_NxD
    for layer in params[:-1]:
        h = jnp.tanh(h @ layer["w"] + layer["b"][None, :])
    return h @ params[-1]["w"] + params[-1]["b"][None, :]


def mse_loss(params, batch) -> jax.Array:
    """Half the mean squared error to one-hot targets, summed over outputs (Cohen et al. 2021 use MSE)."""
    x, y = batch
    return 0.5 * jnp.mean(jnp.sum((apply(params, x) - y) ** 2, axis=-1))


def xent_loss(params, batch) -> jax.Array:
    """Mean softmax cross-entropy to one-hot targets."""
    x, y = batch
    return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(apply(params, x)), axis=-1))


def digits_subset(n: int, seed: int = 0) -> tuple[jax.Array, jax.Array]:
    """``n`` training images of scikit-learn's digits (64 pixels in [0, 1], centred) with one-hot labels."""
    ds = data.digits(seed=seed)
    x = ds.x_train[:n] - ds.x_train[:n].mean(axis=0, keepdims=True)
    return jnp.asarray(x), jax.nn.one_hot(jnp.asarray(ds.y_train[:n]), 10)
