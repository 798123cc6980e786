"""Claims: what theory predicts, what was measured, the tolerance, and whether they agree; and what ``run`` returns."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Number = float | int | bool | str | None


def to_json_value(value: Any) -> Any:
    """Converts numpy/jax scalars and arrays (recursively) to JSON-serializable Python values."""
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    if isinstance(value, (str, bool, int, type(None))):
        return value
    if isinstance(value, float):  # includes np.float64, which is a float subclass: store a plain float
        return float(value) if math.isfinite(value) else str(value)
    array = np.asarray(value)
    if array.dtype == bool:
        return array.tolist()
    if array.dtype.kind in "iu":
        return array.tolist()
    if array.dtype.kind == "f":
        return to_json_value(array.tolist()) if array.ndim else to_json_value(float(array))
    raise TypeError(f"cannot store a value of type {type(value).__name__} in a result file")


@dataclass(frozen=True)
class Claim:
    """One theory-vs-measurement check.

    Attributes:
      id: short identifier, unique within the experiment.
      statement: what is claimed, in words, including the relation (e.g. "updates <= R^2/gamma^2 on every trial").
      theory: the value theory predicts (a number, or a short string for qualitative claims).
      measured: the value measured.
      tolerance: the allowed deviation (absolute), or a description of the acceptance rule.
      passed: whether the measurement agrees with theory within the tolerance.
    """

    id: str
    statement: str
    theory: Number
    measured: Number
    tolerance: Number
    passed: bool

    def __post_init__(self):
        for name in ("theory", "measured", "tolerance"):
            object.__setattr__(self, name, to_json_value(getattr(self, name)))
        object.__setattr__(self, "passed", bool(self.passed))

    @classmethod
    def close(cls, id: str, statement: str, theory: float, measured: float, *, rtol: float = 0.0,
              atol: float = 0.0) -> Claim:
        """``|measured - theory| <= atol + rtol * |theory|``."""
        theory, measured = float(theory), float(measured)
        tolerance = atol + rtol * abs(theory)
        return cls(id, statement, theory, measured, tolerance, abs(measured - theory) <= tolerance)

    @classmethod
    def at_most(cls, id: str, statement: str, bound: float, measured: float, *, slack: float = 0.0) -> Claim:
        """``measured <= bound + slack`` (theory is the bound)."""
        bound, measured = float(bound), float(measured)
        return cls(id, statement, bound, measured, slack, measured <= bound + slack)

    @classmethod
    def at_least(cls, id: str, statement: str, bound: float, measured: float, *, slack: float = 0.0) -> Claim:
        """``measured >= bound - slack`` (theory is the bound)."""
        bound, measured = float(bound), float(measured)
        return cls(id, statement, bound, measured, slack, measured >= bound - slack)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Result:
    """What ``run`` returns.

    Attributes:
      claims: the theory-vs-measurement checks.
      metrics: JSON-serializable numbers worth keeping (fitted slopes, errors, timings, ...).
      data: arrays the plot needs; not written to the result file.
    """

    claims: list[Claim]
    metrics: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        ids = [c.id for c in self.claims]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"claim ids must be unique within an experiment; repeated: {duplicates}")
