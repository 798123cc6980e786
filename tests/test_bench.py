"""The ``dl-theory bench`` harness: atomic result files, the README table, missing peers, the command line.

No real benchmark runs here: the command is driven with stand-in benchmark modules.
"""

import json
import sys
import types

import pytest

from dl_theory.experiment import cli
from experiments.benchmarks import _harness as h


def _record(name: str, mode: str = "quick", speedup: float | None = 2.0, met: bool | None = True) -> dict:
    row = h.row("MLP NNGP+NTK", "n=500", dl_theory="71.7 ms", peer="143 ms (neural-tangents 0.6.5)",
                speedup=speedup, memory_ratio=0.8, accuracy="NTK 2.0e-07", target="≥ 1.5×", met=met)
    return {"name": name, "mode": mode, "date": "2026-12-02T10:00:00+00:00",
            "machine": {"cores": 2, "load_avg_1m": 1.5}, "rows": [row], "notes": ["a note"]}


def test_write_json_atomic_replaces_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "r.json"
    h.write_json_atomic(path, {"a": 1})
    h.write_json_atomic(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_write_json_atomic_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "r.json"
    h.write_json_atomic(path, {"a": 1})
    with pytest.raises(TypeError):
        h.write_json_atomic(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_readme_table_has_one_line_per_row_with_ratios_and_targets():
    table = h.readme_table([_record("nt_kernels"), _record("training", speedup=None, met=None)])
    lines = table.splitlines()
    assert len(lines) == 4 and lines[0].startswith("| benchmark | workload | size | dl_theory | peer |")
    assert "| nt_kernels | MLP NNGP+NTK | n=500 | 71.7 ms | 143 ms (neural-tangents 0.6.5) | 2.00× | 0.80 |" in lines[2]
    assert "≥ 1.5× ✓" in lines[2] and "quick, 2 cores (load 1.5, default threads), 2026-12-02" in lines[2]
    assert "| — | 0.80 |" in lines[3] and "✓" not in lines[3]  # no peer: no ratio, target not judged


def test_readme_prefers_full_records_and_skips_foreign_files(tmp_path):
    h.write_json_atomic(tmp_path / "a_quick.json", _record("a", "quick", speedup=1.1))
    h.write_json_atomic(tmp_path / "a.json", _record("a", "full", speedup=3.0))
    h.write_json_atomic(tmp_path / "b_quick.json", _record("b", "quick"))
    h.write_json_atomic(tmp_path / "old.json", {"mode": "full", "workloads": {}})  # an older format
    records = h.load_records(tmp_path)
    assert [(r["name"], r["mode"]) for r in records] == [("a", "full"), ("b", "quick")]
    readme = h.write_readme(tmp_path, tmp_path / "README.md")
    text = readme.read_text()
    assert "3.00×" in text and "1.10×" not in text and "- **a**: a note" in text and "**load**" not in text
    loaded = _record("c")
    loaded["machine"]["load_avg_1m"] = 9.0
    assert "- **load**: c ran with a load average above twice the core count" in h.readme_text([loaded])


def test_missing_peer_names_the_script_that_builds_it(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("LEGACY_NT_PYTHON", str(tmp_path / "no-such-python"))
    with pytest.raises(h.PeerMissing, match=r"bash scripts/legacy_nt_env\.sh"):
        h.peer_python("neural_tangents")
    message = h.peer_available("neural_tangents")
    assert "scripts/legacy_nt_env.sh" in message and "dl_theory side alone" in message
    assert "note:" in capsys.readouterr().out
    assert h.missing_cell("torch") == "not built: `bash scripts/torch_env.sh`"
    with pytest.raises(ValueError, match="peer must be one of"):
        h.peer_python("jax")


def test_worker_round_trip_and_marker_parsing():
    out = h.run_worker("dl_theory", "_harness", "machine")
    assert out["cores"] >= 1 and "cpu" in out
    assert h.parse_json_output(f"chatter\n{h.MARKER}{{\"x\": 1}}\n") == {"x": 1}
    with pytest.raises(ValueError, match="no"):
        h.parse_json_output("no marker here")


@pytest.mark.parametrize("side", ["dl_theory", "peer"])
def test_measure_reports_first_call_and_median(monkeypatch, side):
    if side == "peer":
        monkeypatch.setenv(h.SIDE_ENV, "peer")
    else:
        monkeypatch.delenv(h.SIDE_ENV, raising=False)
    calls = []
    out = h.measure(lambda: calls.append(1), repeats=3)
    assert len(out["times_s"]) == 3 and out["min_s"] <= out["median_s"] and out["first_s"] >= 0
    assert len(calls) == 5  # first call, warm-up, 3 timed


def test_mem_ratio_and_choose_threads(monkeypatch):
    assert h.mem_ratio({"peak_mb": 50.0}, {"peak_mb": 100.0}) == 0.5
    assert h.mem_ratio({"peak_mb": 50.0}, {"peak_mb": 0.2}) is None  # too small a peak to divide by
    assert h.choose_threads("1") == "1" and h.choose_threads("default") == "default"
    monkeypatch.setattr(h.os, "getloadavg", lambda: (99.0, 0.0, 0.0))
    assert h.choose_threads("auto") == "1"
    with pytest.raises(ValueError, match="threads must be one of"):
        h.choose_threads("2")


def test_single_thread_runs_set_every_worker_to_one_thread(monkeypatch):
    monkeypatch.setenv(h.THREADS_ENV, "1")
    out = h.run_worker("dl_theory", "_harness", "thread_settings")
    assert out["OMP_NUM_THREADS"] == "1" and "intra_op_parallelism_threads=1" in out["XLA_FLAGS"]


def test_fmt_time():
    assert [h.fmt_time(t) for t in (2.5, 0.0123, 4e-6, None)] == ["2.5 s", "12.3 ms", "4 µs", "—"]


@pytest.fixture
def fake_benchmarks(monkeypatch, tmp_path):
    """Two stand-in benchmarks (``good`` and ``boom``), results and README in ``tmp_path``."""
    good = types.ModuleType("experiments.benchmarks.good")
    good.run = lambda quick, repeats: {"rows": [h.row("w", "s", dl_theory="1 s", peer="2 s", speedup=2.0)],
                                       "seen": [quick, repeats]}
    boom = types.ModuleType("experiments.benchmarks.boom")

    def fail(quick, repeats):
        raise RuntimeError("worker died")

    boom.run = fail
    monkeypatch.setitem(sys.modules, "experiments.benchmarks.good", good)
    monkeypatch.setitem(sys.modules, "experiments.benchmarks.boom", boom)
    monkeypatch.setattr(cli, "_benchmark_names", lambda: ["boom", "good"])
    monkeypatch.setattr(h, "RESULTS_DIR", tmp_path / "results")
    monkeypatch.setattr(h, "README", tmp_path / "README.md")
    return tmp_path


def test_bench_lists_the_real_benchmarks(capsys):
    assert cli.main(["bench", "--list"]) == 0
    names = capsys.readouterr().out.split()
    expected = {"nt_kernels", "empirical_ntk", "hessian_pyhessian", "training", "causal_attention", "scale",
                "generative"}
    assert expected <= set(names)
    assert "legacy_nt" not in names and "_harness" not in names


def test_bench_runs_one_benchmark_in_full_mode(fake_benchmarks):
    assert cli.main(["bench", "good", "--full", "--repeats", "2"]) == 0
    record = json.loads((fake_benchmarks / "results" / "good.json").read_text())
    assert record["mode"] == "full" and record["seen"] == [False, 2] and "machine" in record and "date" in record
    assert "| good | w | s | 1 s | 2 s | 2.00× |" in (fake_benchmarks / "README.md").read_text()


def test_bench_without_names_runs_all_and_a_failure_exits_1(fake_benchmarks, capsys):
    assert cli.main(["bench"]) == cli.EXIT_FAILED_CLAIMS
    err = capsys.readouterr().err
    assert "bench boom failed: RuntimeError: worker died" in err and "Traceback" not in err
    assert (fake_benchmarks / "results" / "good_quick.json").exists()  # the others still ran
    assert (fake_benchmarks / "README.md").exists()


@pytest.mark.parametrize("argv, message", [(["bench", "nope"], "unknown benchmark 'nope'"),
                                           (["bench", "good", "--repeats", "0"], "--repeats must be a positive")])
def test_bench_usage_errors_exit_2(fake_benchmarks, capsys, argv, message):
    assert cli.main(argv) == cli.EXIT_USAGE
    assert message in capsys.readouterr().err
