"""The experiment framework: claims, configs, the registry, result files, the gallery, plotting and the CLI.

* :mod:`~dl_theory.experiment.claims` -- :class:`Claim` (theory vs measured, with a tolerance) and :class:`Result`;
* :mod:`~dl_theory.experiment.config` -- presets, ``key=value`` overrides and field domains;
* :mod:`~dl_theory.experiment.registry` -- the experiments by id and course section;
* :mod:`~dl_theory.experiment.results` -- result files (atomic) and the gallery;
* :mod:`~dl_theory.experiment.plotting` -- figure helpers; :mod:`~dl_theory.experiment.timing` -- wall times of
  compiled calls (metrics); :mod:`~dl_theory.experiment.cli` -- ``dl-theory``.
"""

from dl_theory.experiment.claims import Claim, Result, to_json_value
from dl_theory.experiment.config import ConfigError, parse_value
from dl_theory.experiment.registry import Experiment, UnknownExperimentError

__all__ = ["Claim", "ConfigError", "Experiment", "Result", "UnknownExperimentError", "parse_value", "to_json_value"]
