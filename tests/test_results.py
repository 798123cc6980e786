"""Tests of result IO (schema, atomic writes, the gallery), claims and configs."""

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dl_theory.experiment import (  # noqa: E402
    Claim,
    ConfigError,
    Experiment,
    Result,
    parse_value,
    results,  # noqa: E402
    to_json_value,
)

EXP_ID = "io-test"
RECORD_KEYS = {"experiment", "preset", "command", "config", "claims", "metrics", "figures", "env", "seconds"}
CLAIM_KEYS = {"id", "statement", "theory", "measured", "tolerance", "passed"}
ENV_KEYS = {"jax", "backend", "devices", "git"}


@dataclass(frozen=True)
class Config:
    seed: int = 0
    n: int = 100
    lr: float = 0.1
    verbose: bool = False
    widths: tuple[int, ...] = (8, 16)
    rates: tuple[float, ...] = (0.5,)
    name: str = "base"
    limit: int | None = None

    @classmethod
    def quick(cls) -> "Config":
        return cls(n=10, widths=(2,))


@dataclass(frozen=True)
class DictConfig:
    seed: int = 0
    table: dict | None = None


def _experiment(metrics=None, plot=None) -> Experiment:
    def run(cfg: Config) -> Result:
        claims = [Claim.close("c1", "n is n", cfg.n, np.float32(cfg.n), atol=0.5),
                  Claim.at_least("c2", "lr >= 0", 0.0, jnp.float32(cfg.lr))]
        return Result(claims, {"n": np.int64(cfg.n), "curve": jnp.arange(3.0)} if metrics is None else metrics,
                      {"xs": np.arange(4)})

    def default_plot(result: Result):
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.plot(result.data["xs"])
        return fig

    return Experiment(id=EXP_ID, description="io test", config=Config, run=run, plot=plot or default_plot)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_record_schema(tmp_path):
    record = results.run_experiment(_experiment(), Config.quick(), tmp_path, preset="quick",
                                    command=f"dl-theory run {EXP_ID} --quick")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{EXP_ID}.json", f"{EXP_ID}.png"]
    on_disk = json.loads((tmp_path / f"{EXP_ID}.json").read_text())
    assert on_disk == record
    assert set(on_disk) == RECORD_KEYS
    assert on_disk["experiment"] == EXP_ID and on_disk["preset"] == "quick"
    assert on_disk["command"] == f"dl-theory run {EXP_ID} --quick"
    assert on_disk["config"] == {"seed": 0, "n": 10, "lr": 0.1, "verbose": False, "widths": [2], "rates": [0.5],
                                 "name": "base", "limit": None}
    assert on_disk["metrics"] == {"n": 10, "curve": [0.0, 1.0, 2.0]}
    assert on_disk["figures"] == [f"{EXP_ID}.png"]
    assert [set(c) for c in on_disk["claims"]] == [CLAIM_KEYS, CLAIM_KEYS]
    assert on_disk["claims"][0] == {"id": "c1", "statement": "n is n", "theory": 10.0, "measured": 10.0,
                                    "tolerance": 0.5, "passed": True}
    assert set(on_disk["env"]) == ENV_KEYS
    assert on_disk["env"]["jax"] == jax.__version__
    assert on_disk["env"]["backend"] == jax.default_backend()
    assert on_disk["env"]["devices"] == [str(d) for d in jax.devices()]
    git = on_disk["env"]["git"]
    assert git is None or re.fullmatch(r"[0-9a-f]{40}(-dirty)?", git)
    assert isinstance(on_disk["seconds"], float) and on_disk["seconds"] >= 0
    assert (tmp_path / f"{EXP_ID}.png").read_bytes().startswith(b"\x89PNG")


def _good_files(folder: Path) -> dict[str, bytes]:
    results.run_experiment(_experiment(), Config(), folder)
    return _snapshot(folder)


def _figure_that_fails(error: BaseException):
    def plot(result: Result):
        fig, ax = plt.subplots(figsize=(2, 2))

        def savefig(fname, **kwargs):
            Path(fname).write_bytes(b"\x89PNG half of a figure")
            raise error

        fig.savefig = savefig
        return fig

    return plot


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
@pytest.mark.parametrize("pre_existing", [False, True])
def test_failing_savefig_leaves_nothing_behind(tmp_path, error, pre_existing):
    before = _good_files(tmp_path) if pre_existing else {}
    with pytest.raises(type(error)):
        results.run_experiment(_experiment(plot=_figure_that_fails(error)), Config(n=5), tmp_path)
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("pre_existing", [False, True])
def test_unserializable_metric_writes_nothing(tmp_path, pre_existing):
    before = _good_files(tmp_path) if pre_existing else {}
    with pytest.raises(TypeError, match="cannot store a value of type object"):
        results.run_experiment(_experiment(metrics={"ok": 1.0, "bad": [object()]}), Config(n=5), tmp_path)
    assert _snapshot(tmp_path) == before


def test_failing_json_write_keeps_the_old_json(tmp_path, monkeypatch):
    before = _good_files(tmp_path)
    real_write_text = Path.write_text

    def half_write(self, text, *args, **kwargs):
        real_write_text(self, text[: len(text) // 2], *args, **kwargs)
        raise OSError("no space left on device")

    monkeypatch.setattr(Path, "write_text", half_write)
    with pytest.raises(OSError, match="no space left"):
        results.run_experiment(_experiment(), Config(n=5), tmp_path)
    monkeypatch.undo()
    after = _snapshot(tmp_path)
    assert set(after) == set(before)  # no temporary files
    assert after[f"{EXP_ID}.json"] == before[f"{EXP_ID}.json"]
    assert json.loads(after[f"{EXP_ID}.json"])["config"]["n"] == 100
    assert after[f"{EXP_ID}.png"].startswith(b"\x89PNG")  # the new figure is complete


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "x.txt"
    results.write_text(target, "first")
    with pytest.raises(RuntimeError), results.atomic_path(target) as tmp:
        tmp.write_text("sec")
        raise RuntimeError("interrupted")
    assert target.read_text() == "first"
    results.write_text(target, "second")
    assert target.read_text() == "second"
    assert os.listdir(tmp_path) == ["x.txt"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # like a plain write, not mkstemp's private 0600


def test_gallery_table(tmp_path):
    results.run_experiment(_experiment(), Config(), tmp_path)
    (tmp_path / "unrelated.json").write_text(json.dumps({"not": "a result"}))
    path = results.write_gallery(tmp_path, {EXP_ID: "The description."})
    text = path.read_text()
    assert path == tmp_path / "README.md"
    assert "1 experiments, 2/2 claims pass" in text
    assert f"| {EXP_ID} | c1 | n is n | 100 | 100 | 0.5 | yes |" in text
    assert f"| {EXP_ID} | c2 | lr >= 0 | 0 | 0.1 | 0 | yes |" in text
    assert "The description." in text and f"![{EXP_ID}]({EXP_ID}.png)" in text
    assert results._cell("a|b\nc") == "a\\|b c"


# --- claims --------------------------------------------------------------------------------------------------


def test_claim_close():
    claim = Claim.close("c", "s", 2.0, 2.75, rtol=0.25, atol=0.25)
    assert (claim.theory, claim.measured, claim.tolerance, claim.passed) == (2.0, 2.75, 0.75, True)
    assert not Claim.close("c", "s", 2.0, 2.875, rtol=0.25, atol=0.25).passed
    assert Claim.close("c", "s", -2.0, -1.25, rtol=0.25, atol=0.25).passed  # |theory| in the tolerance
    assert not Claim.close("c", "s", 1.0, 1.0 + 1e-12).passed  # zero tolerance means exact


def test_claim_bounds():
    assert Claim.at_most("c", "s", 1.0, 1.0).passed
    assert not Claim.at_most("c", "s", 1.0, 1.0 + 1e-9).passed
    slack = Claim.at_most("c", "s", 1.0, 1.25, slack=0.25)
    assert (slack.theory, slack.measured, slack.tolerance, slack.passed) == (1.0, 1.25, 0.25, True)
    assert Claim.at_least("c", "s", 1.0, 1.0).passed
    assert not Claim.at_least("c", "s", 1.0, 0.5, slack=0.25).passed
    assert Claim.at_least("c", "s", 1.0, 0.75, slack=0.25).passed


def test_claim_values_areto_json_value_python():
    claim = Claim("c", "s", np.float64(0.5), jnp.float32(0.25), np.float32(0.125), np.bool_(True))
    values = (claim.theory, claim.measured, claim.tolerance, claim.passed)
    assert values == (0.5, 0.25, 0.125, True)
    assert [type(v) for v in values] == [float, float, float, bool]
    assert type(Claim.close("c", "s", jnp.int32(3), np.int64(3)).theory) is float
    assert type(Claim("c", "s", np.int64(3), jnp.int32(4), "exact", True).measured) is int
    json.dumps(claim.as_dict(), allow_nan=False)


def testto_json_value_metrics():
    metrics = to_json_value({"a": jnp.ones((2, 2)), "b": (np.int32(1), jnp.bool_(False)), 3: np.float64(0.5),
                              "c": [jnp.float32(1.5), None, "text"]})
    assert metrics == {"a": [[1.0, 1.0], [1.0, 1.0]], "b": [1, False], "3": 0.5, "c": [1.5, None, "text"]}
    assert type(metrics["3"]) is float and type(metrics["b"][0]) is int and type(metrics["c"][0]) is float
    with pytest.raises(TypeError):
        to_json_value({"z": 1j})


def test_non_finite_values_are_stored_as_strings():
    claim = Claim.close("c", "s", 1.0, float("nan"), atol=10.0)
    assert claim.measured == "nan" and claim.passed is False
    assert Claim.at_most("c", "s", np.inf, 1.0).theory == "inf"
    metrics = to_json_value({"x": np.array([1.0, np.nan, -np.inf]), "y": jnp.float32(jnp.nan)})
    assert metrics == {"x": [1.0, "nan", "-inf"], "y": "nan"}
    text = json.dumps({"claim": claim.as_dict(), "metrics": metrics}, allow_nan=False)
    assert math.isnan(float(json.loads(text)["claim"]["measured"]))


def test_duplicate_claim_ids_rejected():
    a = Claim.at_most("same", "s", 1.0, 0.0)
    b = Claim.at_least("same", "t", 0.0, 1.0)
    with pytest.raises(ValueError, match=r"repeated: \['same'\]"):
        Result([a, Claim.at_most("other", "s", 1.0, 0.0), b])
    assert len(Result([a, Claim.at_most("other", "s", 1.0, 0.0)]).claims) == 2


# --- configs -------------------------------------------------------------------------------------------------


def test_make_config_presets_and_seed():
    exp = _experiment()
    assert exp.make_config() == Config()
    assert exp.make_config(quick=True) == Config.quick()
    assert exp.make_config(quick=True, seed=5) == Config(seed=5, n=10, widths=(2,))
    assert exp.make_config(seed=3, overrides={"seed": "4"}).seed == 4  # an explicit --set wins


def test_make_config_overrides():
    exp = _experiment()
    cfg = exp.make_config(quick=True, overrides={
        "n": "7", "lr": "1e-3", "verbose": "yes", "widths": "1, 2,3", "rates": "0.5,2", "name": "x=y",
        "limit": "12"})
    assert cfg == Config(n=7, lr=1e-3, verbose=True, widths=(1, 2, 3), rates=(0.5, 2.0), name="x=y", limit=12)
    assert type(cfg.n) is int and type(cfg.rates[1]) is float
    assert exp.make_config(overrides={"limit": "None"}).limit is None
    for text, value in [("true", True), ("False", False), ("1", True), ("0", False), ("no", False)]:
        assert exp.make_config(overrides={"verbose": text}).verbose is value


@pytest.mark.parametrize("overrides, message", [
    ({"m": "3"}, "unknown config key 'm' for io-test; valid keys: seed, n, lr, verbose, widths, rates, name, limit"),
    ({"n": "abc"}, "n='abc': expected int"),
    ({"n": "2.0"}, "n='2.0': expected int"),
    ({"lr": "fast"}, "lr='fast': expected float"),
    ({"verbose": "maybe"}, "verbose='maybe': expected bool"),
    ({"widths": "1,two"}, "widths='two': expected int"),
    ({"limit": "many"}, "limit='many': expected int"),
])
def test_make_config_errors(overrides, message):
    with pytest.raises(ConfigError) as info:
        _experiment().make_config(overrides=overrides)
    assert str(info.value) == message


def test_unsupported_field_type():
    exp = Experiment(id="d", description="", config=DictConfig, run=None, plot=None)
    with pytest.raises(ConfigError, match="cannot be set from the command line"):
        exp.make_config(overrides={"table": "a"})
    assert parse_value("none", dict | None, "table") is None
