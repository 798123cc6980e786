"""Experiment configs: presets, ``key=value`` overrides parsed by field type, and field domains checked before a run.

A config is a frozen dataclass whose defaults are the full (published) preset and whose ``quick()`` classmethod gives
the quick preset. A field declares its domain with ``typing.Annotated`` and a check of :mod:`dl_theory.checks`::

    n_trials: Annotated[int, checks.count] = 200                # a positive integer
    ns: Annotated[tuple[int, ...], checks.each(checks.at_least(10))] = (100, 200)
    delta: Annotated[float, checks.probability] = 0.025

:func:`make_config` checks every declared domain before any work is done, so a bad value is a :class:`ConfigError`
that names the key, the expected and the got (``dl-theory run`` prints it in one line and exits 2).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any


class ConfigError(ValueError):
    """A bad config key or value."""


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


def domains(config_type: type) -> dict[str, tuple[Any, ...]]:
    """The checks each field of ``config_type`` declares through ``Annotated`` (empty tuple when none)."""
    hints = typing.get_type_hints(config_type, include_extras=True)
    return {f.name: tuple(getattr(hints[f.name], "__metadata__", ())) for f in dataclasses.fields(config_type)}


def validate(config: Any) -> Any:
    """Runs every declared domain check on ``config``; returns it unchanged.

    Raises:
      ConfigError: a value outside its field's domain, naming the key, the expected and the got.
    """
    for name, checks in domains(type(config)).items():
        value = getattr(config, name)
        for check in checks:
            try:
                check(name, value)
            except (TypeError, ValueError) as error:
                raise ConfigError(str(error)) from None
    return config


def make_config(config_type: type, *, quick: bool = False, seed: int | None = None,
                overrides: Mapping[str, str] | None = None, context: str = "") -> Any:
    """A validated config: the full or quick preset, then ``seed``, then ``key=value`` string overrides.

    Raises:
      ConfigError: an unknown key, a value that does not parse as the field's type, or a value outside its domain.
    """
    cfg = config_type.quick() if quick else config_type()
    changes: dict[str, Any] = {} if seed is None else {"seed": int(seed)}
    hints = typing.get_type_hints(config_type)
    valid = [f.name for f in dataclasses.fields(config_type)]
    for key, text in (overrides or {}).items():
        if key not in valid:
            where = f" for {context}" if context else ""
            raise ConfigError(f"unknown config key {key!r}{where}; valid keys: {', '.join(valid)}")
        changes[key] = parse_value(text, hints[key], key)
    return validate(dataclasses.replace(cfg, **changes))
