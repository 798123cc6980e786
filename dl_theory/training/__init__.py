"""Training: a jitted optax loop under ``lax.scan`` with minibatches, a NaN guard and checkpoints; progress bars;
ensembles of independent networks trained by one compiled loop."""

from dl_theory.training._loop import (
    NonFiniteLossError,
    TrainState,
    batch_of,
    checkpointing,
    epoch_order,
    make_chunk,
    minibatch,
    train,
    uses_convolution,
)
from dl_theory.training.ensemble import ensemble, linearized_ensemble, stacked_init
from dl_theory.training.progress import bar, progress

__all__ = ["NonFiniteLossError", "TrainState", "bar", "batch_of", "checkpointing", "ensemble", "epoch_order",
           "linearized_ensemble", "make_chunk", "minibatch", "progress", "stacked_init", "train", "uses_convolution"]
