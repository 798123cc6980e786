"""Training: a jitted optax loop under ``lax.scan`` with minibatches, a NaN guard and checkpoints; progress bars."""

from dl_theory.training._loop import (
    NonFiniteLossError,
    TrainState,
    checkpointing,
    make_chunk,
    minibatch,
    train,
)
from dl_theory.training.progress import bar, progress

__all__ = ["NonFiniteLossError", "TrainState", "bar", "checkpointing", "make_chunk", "minibatch", "progress", "train"]
