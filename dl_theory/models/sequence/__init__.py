"""Sequence models (§9): recurrent cells as pure functions unrolled with ``lax.scan``, and the LRU.

* :mod:`~dl_theory.models.sequence.cells` -- simple RNN, LSTM, GRU and their deep stack as a :class:`Cell`;
* :mod:`~dl_theory.models.sequence.rnn` -- :func:`unroll`, :func:`bidirectional`, :func:`sequence_model`;
* :mod:`~dl_theory.models.sequence.bptt` -- BPTT as the explicit sum over time, the norms of dz_T/dz_t;
* :mod:`~dl_theory.models.sequence.linear_scan` -- the diagonal linear recurrence, sequential and parallel scans;
* :mod:`~dl_theory.models.sequence.lru` -- the Linear Recurrent Unit, its block and model;
* :mod:`~dl_theory.models.sequence.tasks` -- training a model on the adding problem;
* :mod:`~dl_theory.models.sequence.ctc` -- connectionist temporal classification: the collapse map, the loss by the
  forward recursion (``optax.ctc_loss``'s signature), greedy and prefix-beam decoding, label error rates;
* :mod:`~dl_theory.models.sequence.seq2seq` -- an encoder-decoder RNN with teacher forcing, free running and
  scheduled sampling.
"""

from dl_theory.models.sequence.bptt import explicit_bptt, state_jacobian_norms
from dl_theory.models.sequence.cells import Cell, gru, lstm, simple_rnn, stack
from dl_theory.models.sequence.ctc import (
    beam_search_decode,
    collapse,
    ctc_loss,
    edit_distance,
    greedy_decode,
    label_error_rate,
)
from dl_theory.models.sequence.linear_scan import (
    binary_operator,
    combine_depth,
    combine_work,
    parallel_scan,
    sequential_scan,
)
from dl_theory.models.sequence.lru import eigenvalues, lru, lru_block, lru_model, ring_init
from dl_theory.models.sequence.rnn import bidirectional, sequence_model, unroll
from dl_theory.models.sequence.seq2seq import Seq2Seq, seq2seq
from dl_theory.models.sequence.tasks import TaskScore, adding_error

__all__ = [
    "Cell", "Seq2Seq", "TaskScore", "adding_error", "beam_search_decode", "bidirectional", "binary_operator",
    "collapse", "combine_depth", "combine_work", "ctc_loss", "edit_distance", "eigenvalues", "explicit_bptt",
    "greedy_decode", "gru", "label_error_rate", "lru", "lru_block", "lru_model", "lstm", "parallel_scan", "ring_init",
    "seq2seq", "sequence_model", "sequential_scan", "simple_rnn", "stack", "state_jacobian_norms", "unroll",
]
