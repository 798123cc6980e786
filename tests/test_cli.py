"""Tests of the ``dl-theory`` command line.

Two fake experiments are registered by monkeypatching :func:`dl_theory.experiment.registry.experiments` and
:func:`~dl_theory.experiment.registry.catalog` (which ``list``, ``run`` and ``reproduce`` go through), and
``dl_theory.experiment.cli.main`` is called in-process. One test runs the installed console script in a subprocess,
against the real registry.
"""

import json
import os
import shutil
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import matplotlib

matplotlib.use("Agg")
import jax  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from dl_theory import checks  # noqa: E402
from dl_theory.experiment import Claim, Experiment, Result, cli, registry  # noqa: E402

FAKE_ID = "fake-experiment"
OTHER_ID = "other-experiment"


@dataclass(frozen=True)
class FakeConfig:
    seed: int = 0
    n_trials: Annotated[int, checks.at_least(3)] = 10
    scale: Annotated[float, checks.positive] = 1.5
    fail: bool = False
    widths: Annotated[tuple[int, ...], checks.each(checks.count)] = (1, 2)

    @classmethod
    def quick(cls) -> "FakeConfig":
        return cls(n_trials=3)


@dataclass(frozen=True)
class FailingConfig(FakeConfig):
    @classmethod
    def quick(cls) -> "FailingConfig":
        return cls(fail=True)


def _run(cfg: FakeConfig) -> Result:
    claims = [
        Claim.close("sum-of-widths", "sum(widths) equals itself", sum(cfg.widths), float(sum(cfg.widths)), atol=0.0),
        Claim.at_most("passes-unless-fail", "0 <= 1 unless fail is set", 1.0, 2.0 if cfg.fail else 0.0),
    ]
    return Result(claims, {"n_trials": cfg.n_trials, "seed": cfg.seed}, {"xs": [0, 1, 2]})


def _plot(result: Result):
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot(result.data["xs"])
    return fig


FAKE = Experiment(id=FAKE_ID, description="A fake experiment for the CLI tests.", config=FakeConfig, run=_run,
                  plot=_plot)
OTHER = Experiment(id=OTHER_ID, description="Another fake experiment.", config=FakeConfig, run=_run, plot=_plot)


@pytest.fixture
def fake_registry(monkeypatch):
    monkeypatch.setenv("DL_THEORY_PROGRESS", "0")
    fake = {FAKE_ID: FAKE, OTHER_ID: OTHER}
    monkeypatch.setattr(registry, "experiments", lambda: fake)
    monkeypatch.setattr(registry, "catalog", lambda: {
        i: registry.Entry(i, "§0 Fakes", f"tests.{i}", e.description) for i, e in fake.items()})


def _usage_error(capsys, argv: list[str]) -> str:
    """Runs the CLI, asserts exit status 2 with a one-line error and no traceback; returns the error line."""
    code = cli.main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("dl-theory: error: ")
    assert "Traceback" not in captured.err + captured.out
    return lines[0]


def test_list_prints_every_registered_id(fake_registry, capsys):
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "§0 Fakes"
    assert [line.split()[0] for line in lines[1:]] == [FAKE_ID, OTHER_ID]
    assert "A fake experiment for the CLI tests." in lines[1]


def test_unknown_id_suggests_the_closest(fake_registry, capsys, tmp_path):
    line = _usage_error(capsys, ["run", "fake-experimnt", "--out", str(tmp_path)])
    assert f"did you mean '{FAKE_ID}'" in line
    line = _usage_error(capsys, ["run", "zzzz", "--out", str(tmp_path)])
    assert "unknown experiment 'zzzz'" in line and "dl-theory list" in line
    line = _usage_error(capsys, ["reproduce", "--only", "other-experimen", "--out", str(tmp_path)])
    assert f"did you mean '{OTHER_ID}'" in line
    assert list(tmp_path.iterdir()) == []


def test_registry_refuses_a_shadowed_experiments_package(monkeypatch, tmp_path):
    """A folder experiments/ without __init__.py earlier on sys.path (e.g. tests/experiments under pytest) makes
    ``import experiments`` a namespace package; the registry must say so instead of being silently empty."""
    shadow = types.ModuleType("experiments")
    shadow.__path__ = [str(tmp_path)]
    monkeypatch.setitem(sys.modules, "experiments", shadow)
    with pytest.raises(RuntimeError, match="namespace package"):
        registry.catalog()


def test_unknown_set_key_lists_valid_keys(fake_registry, capsys, tmp_path):
    line = _usage_error(capsys, ["run", FAKE_ID, "--out", str(tmp_path), "--set", "n_trails=3"])
    assert "'n_trails'" in line
    for key in ("seed", "n_trials", "scale", "fail", "widths"):
        assert key in line.split("valid keys:")[1]


@pytest.mark.parametrize("pair, expected", [
    ("n_trials=abc", "expected int"),
    ("n_trials=1.5", "expected int"),
    ("scale=fast", "expected float"),
    ("fail=maybe", "expected bool"),
    ("widths=1,x,3", "expected int"),
])
def test_wrong_value_type(fake_registry, capsys, tmp_path, pair, expected):
    line = _usage_error(capsys, ["run", FAKE_ID, "--out", str(tmp_path), "--set", pair])
    assert pair.split("=")[0] in line and expected in line


@pytest.mark.parametrize("pair, expected", [
    ("n_trials=-3", "n_trials must be an integer >= 3, got -3"),
    ("n_trials=2", "n_trials must be an integer >= 3, got 2"),
    ("scale=0", "scale must be > 0, got 0.0"),
    ("scale=nan", "scale must be > 0, got nan"),
    ("widths=", "widths must be a non-empty sequence, got ()"),
    ("widths=4,0", "widths[1] must be an integer >= 1, got 0"),
])
def test_value_outside_its_domain(fake_registry, capsys, tmp_path, pair, expected):
    """Config domains are checked before any work: one line naming the key, the expected and the got; no files."""
    line = _usage_error(capsys, ["run", FAKE_ID, "--out", str(tmp_path / "out"), "--set", pair])
    assert line == f"dl-theory: error: {expected}"
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("pair", ["n_trials", "=3"])
def test_set_without_key_value(fake_registry, capsys, tmp_path, pair):
    line = _usage_error(capsys, ["run", FAKE_ID, "--out", str(tmp_path), "--set", pair])
    assert "KEY=VALUE" in line and repr(pair) in line


def test_output_folder_under_a_regular_file(fake_registry, capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    line = _usage_error(capsys, ["run", FAKE_ID, "--out", str(blocker / "out")])
    assert "cannot write to output folder" in line and str(blocker / "out") in line
    line = _usage_error(capsys, ["reproduce", "--only", FAKE_ID, "--out", str(blocker)])
    assert "cannot write to output folder" in line
    assert blocker.read_text() == "not a folder"


def test_compilation_cache_folder_and_off(monkeypatch, tmp_path):
    updates = {}
    monkeypatch.setattr(jax.config, "update", lambda name, value: updates.__setitem__(name, value))
    monkeypatch.setenv(cli.CACHE_ENV, str(tmp_path / "from-env"))
    assert cli.compilation_cache("off") is None and updates == {}
    assert cli.compilation_cache(None) == tmp_path / "from-env"
    assert cli.compilation_cache(str(tmp_path / "flag")) == tmp_path / "flag"
    assert updates == {"jax_compilation_cache_dir": str(tmp_path / "flag"),
                       "jax_persistent_cache_min_compile_time_secs": 0.0}
    monkeypatch.delenv(cli.CACHE_ENV)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cli.compilation_cache(None) == tmp_path / ".cache" / "dl_theory" / "jax"


def test_unwritable_compilation_cache_is_a_usage_error(fake_registry, capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    line = _usage_error(capsys, ["run", FAKE_ID, "--out", str(tmp_path), "--compilation-cache", str(blocker)])
    assert "cannot write to compilation cache folder" in line and str(blocker) in line


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores permission bits")
def test_output_folder_without_write_permission(fake_registry, capsys, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        line = _usage_error(capsys, ["run", FAKE_ID, "--out", str(locked)])
        assert "cannot write to output folder" in line
    finally:
        locked.chmod(0o700)


def test_run_writes_png_and_json(fake_registry, capsys, tmp_path):
    out = tmp_path / "new" / "folder"
    code = cli.main(["run", FAKE_ID, "--quick", "--seed", "7", "--out", str(out),
                     "--set", "widths=3,4,5", "--set", "scale=0.25"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert sorted(p.name for p in out.iterdir()) == [f"{FAKE_ID}.json", f"{FAKE_ID}.png"]
    assert (out / f"{FAKE_ID}.png").read_bytes().startswith(b"\x89PNG")
    record = json.loads((out / f"{FAKE_ID}.json").read_text())
    assert record["experiment"] == FAKE_ID and record["preset"] == "quick"
    assert record["command"] == f"dl-theory run {FAKE_ID} --quick --seed 7 --set scale=0.25 --set widths=3,4,5"
    assert record["config"] == {"seed": 7, "n_trials": 3, "scale": 0.25, "fail": False, "widths": [3, 4, 5]}
    assert record["metrics"] == {"n_trials": 3, "seed": 7}
    assert [c["id"] for c in record["claims"]] == ["sum-of-widths", "passes-unless-fail"]
    assert all(c["passed"] for c in record["claims"])
    assert record["claims"][0]["theory"] == 12.0
    assert "[PASS] sum-of-widths" in captured.out and "FAIL" not in captured.out


def test_run_exits_1_naming_the_failed_claim(fake_registry, capsys, tmp_path):
    code = cli.main(["run", FAKE_ID, "--out", str(tmp_path), "--set", "fail=true"])
    captured = capsys.readouterr()
    assert code == 1
    assert f"failed claims: {FAKE_ID}:passes-unless-fail" in captured.err
    assert "sum-of-widths" not in captured.err
    assert "[FAIL] passes-unless-fail" in captured.out
    record = json.loads((tmp_path / f"{FAKE_ID}.json").read_text())
    assert [c["passed"] for c in record["claims"]] == [True, False]


def test_reproduce_writes_the_gallery(fake_registry, capsys, tmp_path):
    code = cli.main(["reproduce", "--quick", "--only", FAKE_ID, OTHER_ID, "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["README.md", f"{FAKE_ID}.json", f"{FAKE_ID}.png", f"{OTHER_ID}.json", f"{OTHER_ID}.png"]
    readme = (tmp_path / "README.md").read_text()
    assert "2 experiments, 4/4 claims pass" in readme
    header = "| experiment | claim | statement | theory | measured | tolerance | passed |"
    assert header in readme
    rows = [line for line in readme.splitlines() if line.startswith(f"| {FAKE_ID} |")
            or line.startswith(f"| {OTHER_ID} |")]
    assert len(rows) == 4
    assert f"| {FAKE_ID} | passes-unless-fail | 0 <= 1 unless fail is set | 1 | 0 | 0 | yes |" in rows
    assert f"![{FAKE_ID}]({FAKE_ID}.png)" in readme and f"![{OTHER_ID}]({OTHER_ID}.png)" in readme
    assert "quick preset" in readme


def test_gallery_rebuilds_the_readme_without_running(fake_registry, capsys, tmp_path):
    assert cli.main(["run", FAKE_ID, "--out", str(tmp_path)]) == 0
    assert cli.main(["gallery", "--out", str(tmp_path)]) == 0
    readme = (tmp_path / "README.md").read_text()
    assert "1 experiments, 2/2 claims pass" in readme and f"Reproduce with `dl-theory run {FAKE_ID}`." in readme
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", f"{FAKE_ID}.json", f"{FAKE_ID}.png"]
    capsys.readouterr()
    _usage_error(capsys, ["gallery", "--out", str(tmp_path / "missing")])


def test_reproduce_quick_writes_to_runs_quick_by_default(fake_registry, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["reproduce", "--quick", "--only", FAKE_ID]) == 0
    assert (tmp_path / "runs" / "quick" / f"{FAKE_ID}.json").is_file()
    assert not (tmp_path / "paper_figures").exists()


def test_list_imports_neither_jax_nor_the_experiments():
    """``dl-theory list`` reads the experiments' sources: it stays fast because nothing heavy is imported."""
    code = ("import sys; from dl_theory.experiment import cli; cli.main(['list']); "
            "heavy = [m for m in sys.modules if m == 'jax' or m.startswith('experiments.')]; "
            "sys.exit(f'imported: {heavy}' if heavy else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "§1 Connectionism" in done.stdout


def test_reproduce_reports_failed_claims(fake_registry, capsys, tmp_path, monkeypatch):
    failing = Experiment(id=FAKE_ID, description="fails", config=FailingConfig, run=_run, plot=_plot)
    monkeypatch.setattr(registry, "experiments", lambda: {FAKE_ID: failing})
    code = cli.main(["reproduce", "--quick", "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 1
    assert f"failed claims: {FAKE_ID}:passes-unless-fail" in captured.err
    assert "**NO**" in (tmp_path / "README.md").read_text()


def _console_script() -> str:
    script = Path(sys.executable).parent / "dl-theory"
    return str(script) if script.exists() else shutil.which("dl-theory")


def test_console_script(tmp_path):
    script = _console_script()
    assert script, "the dl-theory console script is not installed"
    env = {**os.environ, "DL_THEORY_PROGRESS": "0", "JAX_PLATFORMS": "cpu"}
    listed = subprocess.run([script, "list"], capture_output=True, text=True, env=env, timeout=120)
    assert listed.returncode == 0, listed.stderr
    lines = [line for line in listed.stdout.splitlines() if line.startswith("  ")]  # sections are not indented
    ids = [line.split()[0] for line in lines]
    section1 = {"perceptron-novikoff", "perceptron-max-margin", "cover-capacity", "hopfield-capacity"}
    assert section1 <= set(ids) and len(set(ids)) == len(ids)
    assert "§1 Connectionism" in listed.stdout.splitlines()
    folder = Path(__file__).resolve().parents[1] / "experiments"
    assert all(len(list(folder.glob(f"*/{i.replace('-', '_')}.py"))) == 1 for i in ids)  # one module per listed id
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)  # every id has a description
    unknown = subprocess.run([script, "run", "perceptron-novikof", "--out", str(tmp_path)], capture_output=True,
                             text=True, env=env, timeout=120)
    assert unknown.returncode == 2
    assert "Traceback" not in unknown.stderr
    assert unknown.stderr.strip().splitlines() == [
        "dl-theory: error: unknown experiment 'perceptron-novikof'; did you mean 'perceptron-novikoff'?"]


@dataclass(frozen=True)
class TrainingConfig:
    seed: int = 0

    @classmethod
    def quick(cls) -> "TrainingConfig":
        return cls()


_INTERRUPT_AT_STEP_20 = [False]  # a Ctrl-C that arrives once, at step 20


def _training_run(cfg: TrainingConfig) -> Result:
    import jax.numpy as jnp
    import optax

    from dl_theory.training import train

    def ctrl_c(step, params):
        if step == 20 and _INTERRUPT_AT_STEP_20[0]:
            _INTERRUPT_AT_STEP_20[0] = False
            raise KeyboardInterrupt

    x = jnp.linspace(-1.0, 1.0, 8)
    w, _ = train(lambda w, b: jnp.mean((w * b[0] - b[1]) ** 2), jnp.zeros(()), optax.sgd(0.1), (x, 3 * x),
                 n_steps=40, log_every=5, callback=ctrl_c, desc="fit")
    return Result([Claim.close("slope", "fitted slope", 3.0, float(w), atol=0.5)], {"w": float(w)}, {"xs": [0]})


def test_interrupted_run_resumes_from_its_checkpoint(monkeypatch, tmp_path):
    experiment = Experiment(id="training-experiment", description="trains", config=TrainingConfig,
                            run=_training_run, plot=_plot)
    monkeypatch.setattr(registry, "experiments", lambda: {experiment.id: experiment})
    reference, out = tmp_path / "reference", tmp_path / "interrupted"
    assert cli.main(["run", experiment.id, "--out", str(reference)]) == 0
    _INTERRUPT_AT_STEP_20[0] = True
    assert cli.main(["run", experiment.id, "--out", str(out)]) == 130
    assert not (out / "training-experiment.json").exists()
    (checkpoint,) = (out / ".checkpoints").rglob("*.npz")
    assert checkpoint.name == "000-fit.npz"
    assert cli.main(["run", experiment.id, "--out", str(out), "--resume"]) == 0
    resumed = json.loads((out / "training-experiment.json").read_text())["metrics"]["w"]
    assert resumed == json.loads((reference / "training-experiment.json").read_text())["metrics"]["w"]
    assert not (out / ".checkpoints").exists(), "checkpoints are removed once the results are written"
