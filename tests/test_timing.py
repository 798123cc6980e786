"""Timing helper: one warm-up call each, then interleaved rounds; the best time is the minimum over rounds."""

import jax.numpy as jnp
import numpy as np
import pytest

from dl_theory.experiment.timing import best_times, wall_times


def test_every_call_warms_up_once_then_runs_once_per_round():
    order = []
    calls = [lambda i=i: order.append(i) or jnp.zeros(()) for i in range(3)]
    times = wall_times(calls, 4)
    assert times.shape == (4, 3) and np.all(times >= 0)
    assert order == [0, 1, 2] * 5  # the warm-up round, then 4 interleaved rounds


def test_best_time_is_the_minimum_over_rounds(monkeypatch):
    ticks = iter([0.0, 3.0, 10.0, 11.0, 20.0, 25.0, 30.0, 31.0])  # (start, stop) per timed call
    monkeypatch.setattr("dl_theory.experiment.timing.time.perf_counter", lambda: next(ticks))
    assert best_times([lambda: 0, lambda: 0], 2) == [3.0, 1.0]


def test_repeats_must_be_a_count():
    with pytest.raises(ValueError, match="repeats must be"):
        wall_times([lambda: 0], 0)
