"""Boundary validation shared by the PAC-Bayes modules.

Values are checked only when they are concrete (outside ``jit``/``grad`` tracing); under tracing the checks
are
skipped so that the same functions can be used inside training objectives.
"""

import math
from typing import Any

import jax
import numpy as np


def concrete(x: Any) -> np.ndarray | None:
    """Returns ``x`` as a NumPy array, or ``None`` when ``x`` is a tracer (value unknown at trace time)."""
    try:
        return np.asarray(x)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def check_probability(name: str, value: Any, *, open_interval: bool = True) -> None:
    """Raises ``ValueError`` unless every entry of ``value`` lies in (0, 1) (or [0, 1] when not
    ``open_interval``)."""
    v = concrete(value)
    if v is None:
        return
    bad = ~((v > 0) & (v < 1)) if open_interval else ~((v >= 0) & (v <= 1))
    if np.any(bad):
        interval = "(0, 1)" if open_interval else "[0, 1]"
        raise ValueError(f"{name} must lie in {interval}; got {v[bad].ravel()[:5].tolist()}")


def check_open_interval(name: str, value: Any, lo: float, hi: float) -> None:
    """Raises ``ValueError`` unless every entry of ``value`` lies in the open interval (lo, hi)."""
    v = concrete(value)
    inside = None if v is None else (v > lo) & (v < hi)
    if inside is not None and not np.all(inside):
        raise ValueError(f"{name} must lie in ({lo}, {hi}); got {v[~inside].ravel()[:5].tolist()}")


def check_nonnegative(name: str, value: Any) -> None:
    """Raises ``ValueError`` if any entry of ``value`` is negative or NaN."""
    v = concrete(value)
    if v is not None and not np.all(v >= 0):
        raise ValueError(f"{name} must be >= 0; got {v[~(v >= 0)].ravel()[:5].tolist()}")


def check_positive(name: str, value: Any) -> None:
    """Raises ``ValueError`` if any entry of ``value`` is <= 0 or NaN (variances, scales)."""
    v = concrete(value)
    if v is not None and not np.all(v > 0):
        raise ValueError(f"{name} must be > 0 (a variance or scale); got {v[~(v > 0)].ravel()[:5].tolist()}")


def check_count(name: str, value: Any) -> int:
    """Returns ``value`` as a Python int after checking it is a positive integer (a sample size)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        if isinstance(value, float) and value.is_integer() and value > 0:
            return int(value)
        raise TypeError(f"{name} must be a positive int; got {value!r} of type {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive int; got {value}")
    return int(value)


def check_delta(name: str, value: Any) -> float:
    """Returns a confidence level ``value`` in (0, 1) as a float, raising ``ValueError`` otherwise."""
    if not isinstance(value, int | float | np.floating | np.integer) or not (0 < float(value) < 1):
        raise ValueError(f"{name} must be a float in (0, 1); got {value!r}")
    if math.isnan(float(value)):
        raise ValueError(f"{name} must be a float in (0, 1); got nan")
    return float(value)


def check_same_tree(name_a: str, a: Any, name_b: str, b: Any) -> None:
    """Raises ``ValueError`` unless pytrees ``a`` and ``b`` have the same structure and leaf shapes."""
    struct_a, struct_b = jax.tree.structure(a), jax.tree.structure(b)
    if struct_a != struct_b:
        raise ValueError(
            f"{name_a} and {name_b} must have the same tree structure; got {struct_a} and {struct_b}"
        )
    for path_leaf_a, leaf_b in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b), strict=True):
        path, leaf_a = path_leaf_a
        if np.shape(leaf_a) != np.shape(leaf_b):
            raise ValueError(
                f"{name_a} and {name_b} leaf {jax.tree_util.keystr(path)} must have the same shape; "
                f"got {np.shape(leaf_a)} and {np.shape(leaf_b)}"
            )
