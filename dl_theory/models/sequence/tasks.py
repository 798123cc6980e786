r"""Training a sequence model on a long-range-memory task and scoring it against the trivial predictor.

:func:`adding_error` trains any ``(init_fn, apply_fn)`` model ``x_BxTx2 -> y_Bx1`` with Adam on the adding problem
(:func:`dl_theory.data.sequences.adding_problem`) and returns its test mean squared error divided by that of the
best constant predictor (1/6): 1 for a model that remembers nothing, 0 for a perfect one (Hochreiter & Schmidhuber
1997; Arjovsky, Shah & Bengio 2016 use the same normalization).
"""

from typing import NamedTuple

import jax
import numpy as np
import optax

from dl_theory import checks, losses
from dl_theory.data.sequences import ADDING_TRIVIAL_MSE, adding_problem
from dl_theory.training import train
from dl_theory.typing import Model, Params


class TaskScore(NamedTuple):
    relative_mse: float
    """Test MSE / trivial MSE."""
    stderr: float
    """Its standard error over the test sequences."""
    params: Params
    """The trained parameters."""


def adding_error(model: Model, key: jax.Array, length: int, *, train_steps: int, learning_rate: float,
                 batch_size: int = 64, n_train: int = 2048, n_test: int = 1024,
                 desc: str = "adding problem") -> TaskScore:
    """Trains ``model`` on ``n_train`` adding-problem sequences of ``length`` (minibatch Adam, fresh test set)."""
    checks.count("train_steps", train_steps)
    checks.positive("learning_rate", learning_rate)
    k_train, k_test, k_init, k_batch = jax.random.split(key, 4)
    x, y = adding_problem(k_train, n_train, length)
    x_test, y_test = adding_problem(k_test, n_test, length)
    _, params = model.init(k_init, (-1, length, 2))
    params, _ = train(losses.mse(model.apply), params, optax.adam(learning_rate), (x, y), n_steps=train_steps,
                      batch_size=batch_size, key=k_batch, log_every=train_steps, desc=desc)
    sq = np.asarray((model.apply(params, x_test) - y_test)[:, 0] ** 2) / ADDING_TRIVIAL_MSE
    return TaskScore(float(sq.mean()), float(sq.std(ddof=1) / np.sqrt(sq.size)), params)
