"""Experiments: the registry, configs with quick/full presets, claims, and result files.

An experiment is one module in the ``experiments`` package that defines ``EXPERIMENT = Experiment(...)``:

* ``Config``: a frozen dataclass; its defaults are the full (published) setting, ``Config.quick()`` the quick preset;
* ``run(cfg) -> Result``: calls library functions and returns claims, JSON metrics and plot data;
* ``plot(result) -> Figure``.

Adding an experiment means adding one module; :func:`registry` finds it. A claim compares what theory predicts with
what was measured, with an explicit tolerance; ``dl-theory run`` fails when a claim does.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import math
import pkgutil
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Number = float | int | bool | str | None


def _plain(value: Any) -> Any:
    """Converts numpy/jax scalars and arrays (recursively) to JSON-serializable Python values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
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
        return _plain(array.tolist()) if array.ndim else _plain(float(array))
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
            object.__setattr__(self, name, _plain(getattr(self, name)))
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


@dataclass(frozen=True)
class Experiment:
    """A registered experiment; see the module docstring."""

    id: str
    description: str
    config: type
    run: Callable[[Any], Result]
    plot: Callable[[Result], Any]

    def make_config(self, *, quick: bool = False, seed: int | None = None,
                    overrides: Mapping[str, str] | None = None) -> Any:
        """Builds a config from a preset, a seed and ``key=value`` string overrides (parsed by field type).

        Raises:
          ConfigError: an unknown key or a value that does not parse as the field's type.
        """
        cfg = self.config.quick() if quick else self.config()
        changes: dict[str, Any] = {} if seed is None else {"seed": int(seed)}
        hints = typing.get_type_hints(self.config)
        valid = [f.name for f in dataclasses.fields(self.config)]
        for key, text in (overrides or {}).items():
            if key not in valid:
                raise ConfigError(f"unknown config key {key!r} for {self.id}; valid keys: {', '.join(valid)}")
            changes[key] = parse_value(text, hints[key], key)
        return dataclasses.replace(cfg, **changes)


class ConfigError(ValueError):
    """A bad ``--set`` key or value."""


class UnknownExperimentError(KeyError):
    """An experiment id that is not registered."""

    def __str__(self) -> str:
        return str(self.args[0])


def parse_value(text: str, annotation: Any, key: str) -> Any:
    """Parses a command-line string as ``annotation`` (bool, int, float, str, or a tuple of those).

    Tuples are comma-separated: ``widths=64,128,256``.
    """
    origin = typing.get_origin(annotation)
    if origin is tuple:
        (item, *rest) = typing.get_args(annotation)
        return tuple(parse_value(part.strip(), item, key) for part in text.split(",") if part.strip())
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if text.lower() == "none" and len(options) < len(typing.get_args(annotation)):
            return None
        annotation = options[0]
    try:
        if annotation is bool:
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return lowered in ("true", "1", "yes")
        if annotation in (int, float, str):
            return annotation(text)
    except ValueError:
        raise ConfigError(f"{key}={text!r}: expected {annotation.__name__}") from None
    raise ConfigError(f"{key}: fields of type {annotation} cannot be set from the command line")


def registry() -> dict[str, Experiment]:
    """Every experiment in the ``experiments`` package, by id (modules named after their id)."""
    import experiments

    if getattr(experiments, "__file__", None) is None:  # else the registry would silently be empty
        raise RuntimeError(f"'experiments' was imported as a namespace package from {list(experiments.__path__)}: "
                           "a folder named experiments/ without __init__.py, earlier on sys.path, shadows the "
                           "project's experiments package")
    found: dict[str, Experiment] = {}
    for info in sorted(pkgutil.iter_modules(experiments.__path__), key=lambda m: m.name):
        if info.ispkg or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"experiments.{info.name}")
        experiment = getattr(module, "EXPERIMENT", None)
        if experiment is None:
            continue
        if experiment.id.replace("-", "_") != info.name:
            raise RuntimeError(f"experiments/{info.name}.py registers id {experiment.id!r}; "
                               f"the module must be named {experiment.id.replace('-', '_')}.py")
        found[experiment.id] = experiment
    return found


def get(experiment_id: str) -> Experiment:
    """Looks up an experiment, suggesting the closest id when it is unknown."""
    experiments = registry()
    if experiment_id in experiments:
        return experiments[experiment_id]
    close = difflib.get_close_matches(experiment_id, experiments, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else "; `dl-theory list` shows them all"
    raise UnknownExperimentError(f"unknown experiment {experiment_id!r}{hint}")
