"""Config domains: ``Annotated`` fields checked by :func:`dl_theory.experiment.config.make_config` before a run."""

from dataclasses import dataclass
from typing import Annotated

import pytest

from dl_theory import checks
from dl_theory.experiment import ConfigError
from dl_theory.experiment.config import domains, make_config, validate
from dl_theory.experiment.registry import experiments


@dataclass(frozen=True)
class Config:
    seed: int = 0
    n: Annotated[int, checks.count] = 5
    delta: Annotated[float, checks.probability] = 0.1
    sizes: Annotated[tuple[int, ...], checks.each(checks.at_least(2))] = (2, 4)
    label: str = "x"

    @classmethod
    def quick(cls) -> "Config":
        return cls(n=2)


def test_domains_are_read_from_the_annotations():
    found = domains(Config)
    assert found["seed"] == () and found["label"] == ()
    assert found["n"] == (checks.count,) and found["delta"] == (checks.probability,)
    assert len(found["sizes"]) == 1


def test_valid_configs_pass_unchanged():
    cfg = make_config(Config, quick=True, seed=3, overrides={"sizes": "2,3,9", "delta": "0.5"})
    assert cfg == Config(seed=3, n=2, delta=0.5, sizes=(2, 3, 9))


@pytest.mark.parametrize("overrides, message", [
    ({"n": "0"}, "n must be an integer >= 1, got 0"),
    ({"n": "-4"}, "n must be an integer >= 1, got -4"),
    ({"delta": "1"}, "delta must be in (0, 1), got 1.0"),
    ({"sizes": ""}, "sizes must be a non-empty sequence, got ()"),
    ({"sizes": "2,1"}, "sizes[1] must be an integer >= 2, got 1"),
])
def test_bad_values_name_the_key_the_expected_and_the_got(overrides, message):
    with pytest.raises(ConfigError) as error:
        make_config(Config, overrides=overrides)
    assert str(error.value) == message


def test_validate_rejects_a_bad_preset():
    with pytest.raises(ConfigError, match="n must be an integer >= 1, got 0"):
        validate(Config(n=0))


def test_every_experiment_preset_is_inside_its_domains():
    for experiment_id, experiment in experiments().items():
        for quick in (False, True):
            cfg = experiment.make_config(quick=quick)  # raises ConfigError if a preset breaks its own domain
            assert cfg is not None, experiment_id
