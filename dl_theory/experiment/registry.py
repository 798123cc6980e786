"""The registry: experiments found by walking the ``experiments`` package, one subpackage per course section.

An experiment is one module ``experiments/<section>/<id_with_underscores>.py`` that defines
``EXPERIMENT = Experiment(...)``:

* ``Config``: a frozen dataclass; its defaults are the full (published) setting, ``Config.quick()`` the quick preset,
  field domains declared as in :mod:`dl_theory.experiment.config`;
* ``run(cfg) -> Result``: calls library functions and returns claims, JSON metrics and plot data;
* ``plot(result) -> Figure``.

Adding an experiment means adding one module; :func:`experiments` imports them all, :func:`catalog` lists them by
section without importing any (it reads each module's ``EXPERIMENT`` id and description from its source).
"""

from __future__ import annotations

import ast
import difflib
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from dl_theory.experiment.claims import Result
from dl_theory.experiment.config import make_config


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
        """A validated config from a preset, a seed and ``key=value`` overrides; see :func:`.config.make_config`."""
        return make_config(self.config, quick=quick, seed=seed, overrides=overrides, context=self.id)


class UnknownExperimentError(KeyError):
    """An experiment id that is not registered."""

    def __str__(self) -> str:
        return str(self.args[0])


class Entry(NamedTuple):
    """An experiment as :func:`catalog` finds it, without importing it."""

    id: str
    section: str
    module: str
    description: str


def _package():
    import experiments

    if getattr(experiments, "__file__", None) is None:  # else the registry would silently be empty
        raise RuntimeError(f"'experiments' was imported as a namespace package from {list(experiments.__path__)}: "
                           "a folder named experiments/ without __init__.py, earlier on sys.path, shadows the "
                           "project's experiments package")
    return experiments


def _literal_keywords(path: Path) -> dict[str, Any]:
    """The literal keyword arguments of ``EXPERIMENT = Experiment(...)`` in the module at ``path``."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if (isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["EXPERIMENT"]
                and isinstance(node.value, ast.Call)):
            return {k.arg: k.value.value for k in node.value.keywords if isinstance(k.value, ast.Constant)}
    return {}


def catalog() -> dict[str, Entry]:
    """Every experiment by id, in section order, read from the sources (nothing is imported but the sections)."""
    package = _package()
    found: dict[str, Entry] = {}
    for section, title in package.SECTIONS.items():
        folder = Path(package.__file__).parent / section
        for info in sorted(pkgutil.iter_modules([str(folder)]), key=lambda m: m.name):
            if info.ispkg or info.name.startswith("_"):
                continue
            keywords = _literal_keywords(folder / f"{info.name}.py")
            if "id" not in keywords:
                continue
            if keywords["id"].replace("-", "_") != info.name:
                raise RuntimeError(f"experiments/{section}/{info.name}.py registers id {keywords['id']!r}; "
                                   f"the module must be named {keywords['id'].replace('-', '_')}.py")
            found[keywords["id"]] = Entry(keywords["id"], title, f"experiments.{section}.{info.name}",
                                          keywords.get("description", ""))
    return found


def experiments() -> dict[str, Experiment]:
    """Every registered experiment by id, in section order (imports every experiment module)."""
    return {entry.id: importlib.import_module(entry.module).EXPERIMENT for entry in catalog().values()}


def get(experiment_id: str) -> Experiment:
    """Looks up an experiment, suggesting the closest id when it is unknown."""
    found = experiments()
    if experiment_id in found:
        return found[experiment_id]
    close = difflib.get_close_matches(experiment_id, found, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else "; `dl-theory list` shows them all"
    raise UnknownExperimentError(f"unknown experiment {experiment_id!r}{hint}")
