"""Sequence models (§9): recurrent cells as pure functions, unrolled with ``lax.scan``.

* :mod:`~dl_theory.models.sequence.cells` -- simple RNN, LSTM, GRU and their deep stack as a :class:`Cell`;
* :mod:`~dl_theory.models.sequence.rnn` -- :func:`unroll`, :func:`bidirectional`, :func:`sequence_model`.
"""

from dl_theory.models.sequence.cells import Cell, gru, lstm, simple_rnn, stack
from dl_theory.models.sequence.rnn import bidirectional, sequence_model, unroll

__all__ = ["Cell", "bidirectional", "gru", "lstm", "sequence_model", "simple_rnn", "stack", "unroll"]
