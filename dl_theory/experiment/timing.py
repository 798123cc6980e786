"""Wall-clock timing of compiled calls for the experiments that report costs (times are metrics, never claims).

Each call runs once to compile and warm up; then every round runs every call once, one after the other, so that a
change of machine load hits all of them alike. Timing noise only ever adds time, so the minimum over rounds is the
call least disturbed by other processes; the rounds themselves are kept for medians and spreads.
"""

import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from dl_theory import checks
from dl_theory.training.progress import progress


def wall_times(calls: Sequence[Callable[[], Any]], repeats: int, *, desc: str | None = None) -> np.ndarray:
    """Wall times (s) of every call in every round, shape ``(repeats, len(calls))``.

    Args:
      calls: functions of no argument (e.g. ``functools.partial(jitted_fn, x)``); their results are waited for with
        ``jax.block_until_ready``.
      repeats: number of rounds.
      desc: a progress-bar label for the rounds (none when ``None``).
    """
    checks.count("repeats", repeats)
    for call in calls:
        jax.block_until_ready(call())
    rounds = range(repeats) if desc is None else progress(range(repeats), desc=desc)
    times = np.empty((repeats, len(calls)))
    for r in rounds:
        for i, call in enumerate(calls):
            start = time.perf_counter()
            jax.block_until_ready(call())
            times[r, i] = time.perf_counter() - start
    return times


def best_times(calls: Sequence[Callable[[], Any]], repeats: int, *, desc: str | None = None) -> list[float]:
    """The minimum wall time (s) of each call over ``repeats`` interleaved rounds (see :func:`wall_times`)."""
    return wall_times(calls, repeats, desc=desc).min(axis=0).tolist()
