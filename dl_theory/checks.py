"""Validation at the public boundary: one set of checks, one message format.

Every check raises ``ValueError`` (``TypeError`` for a value of the wrong kind) with the message
``"<name> must be <expected>, got <got>"``, so that an error names the argument, what was expected and what was
given. Array checks look at concrete values only: under ``jit``, ``grad`` or ``vmap`` tracing the value is unknown and
the check is skipped, so the same function validates eagerly and stays traceable.

Each check has the signature ``check(name, value)``; :func:`at_least`, :func:`in_interval` and :func:`each` build
checks with parameters. Experiment configs name these checks as their fields' domains (``Annotated[int, count]``),
see :mod:`dl_theory.experiment.config`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

Check = Callable[[str, Any], Any]
"""``check(name, value)``: raises ``ValueError``/``TypeError`` when ``value`` is outside the domain."""


def fail(name: str, expected: str, got: Any) -> ValueError:
    """The one error message: ``"<name> must be <expected>, got <got>"`` (``got`` shown with ``repr`` when short)."""
    return ValueError(f"{name} must be {expected}, got {_show(got)}")


def _show(value: Any) -> str:
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return repr(value.item())
    if isinstance(value, np.ndarray):
        return str(value.ravel()[:5].tolist()) + (" ..." if value.size > 5 else "")
    return repr(value)


def concrete(x: Any) -> np.ndarray | None:
    """``x`` as a NumPy array, or ``None`` when it is a tracer (its value is unknown at trace time)."""
    try:
        return np.asarray(x)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def _every(name: str, value: Any, ok: Callable[[np.ndarray], np.ndarray], expected: str) -> None:
    v = concrete(value)
    if v is None:
        return
    good = ok(v)
    if not np.all(good):
        raise fail(name, expected, v if v.ndim == 0 else v[~good])


def positive(name: str, value: Any) -> None:
    """Every entry of ``value`` is > 0 (a NaN fails)."""
    _every(name, value, lambda v: v > 0, "> 0")


def nonnegative(name: str, value: Any) -> None:
    """Every entry of ``value`` is >= 0 (a NaN fails)."""
    _every(name, value, lambda v: v >= 0, ">= 0")


def finite(name: str, value: Any) -> None:
    """Every entry of ``value`` is finite."""
    _every(name, value, np.isfinite, "finite")


def probability(name: str, value: Any) -> None:
    """Every entry of ``value`` lies in the open interval (0, 1) (a confidence level, a dropout rate...)."""
    _every(name, value, lambda v: (v > 0) & (v < 1), "in (0, 1)")


def unit_interval(name: str, value: Any) -> None:
    """Every entry of ``value`` lies in the closed interval [0, 1] (a risk, a fraction)."""
    _every(name, value, lambda v: (v >= 0) & (v <= 1), "in [0, 1]")


def in_interval(lo: float, hi: float, *, closed: bool = False) -> Check:
    """A check that every entry lies in (lo, hi), or in [lo, hi] when ``closed``."""
    if closed:
        return lambda name, value: _every(name, value, lambda v: (v >= lo) & (v <= hi), f"in [{lo}, {hi}]")
    return lambda name, value: _every(name, value, lambda v: (v > lo) & (v < hi), f"in ({lo}, {hi})")


def integer(name: str, value: Any) -> int:
    """``value`` as a Python int; a bool, a non-integral float or a non-number is a ``TypeError``."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}")


def at_least(minimum: int) -> Check:
    """A check that ``value`` is an integer >= ``minimum`` (a size below which a run means nothing)."""

    def check(name: str, value: Any) -> int:
        n = integer(name, value)
        if n < minimum:
            raise fail(name, f"an integer >= {minimum}", value)
        return n

    return check


def count(name: str, value: Any) -> int:
    """``value`` is a positive integer (a sample size, a number of steps); returned as an int."""
    return at_least(1)(name, value)


def scalar(name: str, value: Any) -> float:
    """``value`` is a real, non-NaN number; returned as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(float(value)):
        raise fail(name, "a real number", value)
    return float(value)


def each(check: Check, *, min_length: int = 1) -> Check:
    """A check that ``value`` is a sequence of at least ``min_length`` (default 1: non-empty; 0: may be empty)
    entries ``name[i]`` that all pass ``check`` (e.g. ``min_length=3`` for the sizes of a slope fit)."""
    expected = {0: "a sequence", 1: "a non-empty sequence"}.get(min_length, f"a sequence of >= {min_length} entries")

    def check_each(name: str, value: Any) -> None:
        if isinstance(value, str) or not hasattr(value, "__len__") or len(value) < min_length:
            raise fail(name, expected, value)
        for i, item in enumerate(value):
            check(f"{name}[{i}]", item)

    return check_each


def one_of(*options: Any) -> Check:
    """A check that ``value`` is one of ``options`` (a name from a fixed list: an objective, a task)."""

    def check(name: str, value: Any) -> None:
        if value not in options:
            raise fail(name, f"one of {options}", value)

    return check


def same_tree(name_a: str, a: Any, name_b: str, b: Any) -> None:
    """Pytrees ``a`` and ``b`` have the same structure and leaf shapes."""
    struct_a, struct_b = jax.tree.structure(a), jax.tree.structure(b)
    if struct_a != struct_b:
        raise ValueError(f"{name_a} and {name_b} must be pytrees of the same structure, got {struct_a} and {struct_b}")
    for (path, leaf_a), leaf_b in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b), strict=True):
        if np.shape(leaf_a) != np.shape(leaf_b):
            raise ValueError(f"{name_a} and {name_b} leaf {jax.tree_util.keystr(path)} must be of the same shape, "
                             f"got {np.shape(leaf_a)} and {np.shape(leaf_b)}")
