"""The small harness every benchmark in ``experiments/benchmarks`` shares: peers, workers, timing, records, README.

A benchmark module defines ``PEER`` (a key of :data:`PEERS`) and ``run(quick: bool, repeats: int | None) ->
dict``: the benchmark's record, whose ``rows`` (built with :func:`row`) are its lines of the table in
``experiments/benchmarks/README.md``. ``dl-theory bench`` (:func:`run_benchmark`) stamps the record with the machine,
the date, the load and the commit, writes it atomically to ``results/<name>.json`` (``<name>_quick.json`` in quick
mode) and rebuilds the README from every record there (:func:`write_readme`).

Each side of a comparison runs in its own subprocess (:func:`run_worker`): the peer in its own environment
(neural-tangents 0.6.5 needs jax 0.4.23; PyHessian and the PyTorch loops need torch), dl_theory in this interpreter, so
that both are timed and their memory measured the same way. A worker is any function of a benchmark module that returns
a JSON-serialisable dict; it runs as ``python -m experiments.benchmarks._harness --worker MODULE FUNCTION`` with its
keyword arguments in the environment, and prints one ``MARKER + json`` line. This module imports only the standard
library at its top so that it loads in every peer environment.

Timing (:func:`measure`): the first call is timed alone (compilation for jitted code, graph set-up for PyTorch), then
``repeats`` calls after a warm-up, through :func:`dl_theory.experiment.timing.wall_times` where dl_theory is importable
and the same loop written out where it is not (the peer environments); the median is the reported time. Memory
(:func:`peak_rss_mb`): the process's peak resident set (``VmHWM``) above its level just before the workload, so that
interpreter, library and input footprints are not counted; the peak is reset after the first call, so that the
compiler's transient memory (``peak_first_mb``) is reported apart from the computation's (``peak_mb``).
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT / "experiments" / "benchmarks"
RESULTS_DIR = BENCH_DIR / "results"
README = BENCH_DIR / "README.md"
MARKER = "@@BENCH_JSON@@"
ARGS_ENV = "DL_THEORY_BENCH_ARGS"
THREADS_ENV = "DL_THEORY_BENCH_THREADS"  # "1": every worker single-threaded; anything else: the libraries' defaults
SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                     "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}
SIDE_ENV = "DL_THEORY_BENCH_SIDE"

# peer key -> (environment variable naming its interpreter, default interpreter, script that builds it, label,
# the package whose installed folder shows that the environment is complete)
PEERS: dict[str, tuple[str, pathlib.Path, str, str, str]] = {
    "neural_tangents": ("LEGACY_NT_PYTHON", ROOT / ".legacy-nt" / "bin" / "python", "scripts/legacy_nt_env.sh",
                        "neural-tangents 0.6.5", "neural_tangents"),
    "pyhessian": ("PYHESSIAN_PYTHON", ROOT / ".pyhessian-venv" / "bin" / "python", "scripts/pyhessian_env.sh",
                  "PyHessian 0.1", "pyhessian"),
    "torch": ("TORCH_PYTHON", ROOT / ".pyhessian-venv" / "bin" / "python", "scripts/torch_env.sh", "PyTorch (CPU)",
              "torch"),
    "dl_theory": ("", pathlib.Path(sys.executable), "", "dl_theory", "dl_theory"),
}


class PeerMissing(Exception):
    """A peer's environment is not built; the message says which script builds it."""


def peer_python(peer: str) -> pathlib.Path:
    """The interpreter of ``peer``'s environment (``$<VAR>`` overrides the default path).

    Raises:
      PeerMissing: the interpreter does not exist (the message names the script that builds it).
    """
    if peer not in PEERS:
        raise ValueError(f"peer must be one of {sorted(PEERS)}, got {peer!r}")
    var, default, script, label, package = PEERS[peer]
    if peer == "dl_theory":
        return default
    python = pathlib.Path(os.environ.get(var) or default)
    # a venv whose build is unfinished has its interpreter but not yet the package
    installed = os.environ.get(var) or any(python.parent.parent.glob(f"lib/python*/site-packages/{package}"))
    if not python.exists() or not installed:
        raise PeerMissing(f"{label} environment not found ({python}): build it with `bash {script}`"
                          f" (or set {var}); timing the dl_theory side alone")
    return python


def missing_cell(peer: str) -> str:
    """The table cell of a peer whose environment is missing."""
    return f"not built: `bash {PEERS[peer][2]}`"


def peer_available(peer: str) -> str | None:
    """``None`` when ``peer``'s environment exists, else the message of :class:`PeerMissing` (printed once)."""
    try:
        peer_python(peer)
        return None
    except PeerMissing as missing:
        print(f"note: {missing}", flush=True)
        return str(missing)


# --- workers ---------------------------------------------------------------------------------------------------------


def parse_json_output(stdout: str) -> Any:
    """The payload of the last ``MARKER`` line of a worker's stdout.

    Raises:
      ValueError: no line carries the marker.
    """
    lines = [line for line in stdout.splitlines() if line.startswith(MARKER)]
    if not lines:
        raise ValueError(f"no {MARKER!r} line in the worker's output:\n{stdout[-2000:]}")
    return json.loads(lines[-1][len(MARKER):])


def run_worker(peer: str, module: str, function: str, *, timeout: float = 1800.0,
               env: dict[str, str] | None = None, **kwargs: Any) -> dict:
    """Runs ``experiments.benchmarks.<module>.<function>(**kwargs)`` in a fresh process of ``peer``'s interpreter.

    Args:
      peer: a key of :data:`PEERS` (``"dl_theory"``: this interpreter).
      module: benchmark module name (``"nt_kernels"``).
      function: name of the worker function in it.
      timeout: seconds before the worker is killed.
      env: extra environment variables (e.g. ``XLA_FLAGS``).
      **kwargs: JSON-serialisable keyword arguments of the worker.

    Returns:
      The worker's dict.

    Raises:
      PeerMissing: the peer's environment is not built.
      RuntimeError: the worker exited non-zero (its stderr tail is included).
    """
    python = peer_python(peer)
    child_env = {**os.environ, ARGS_ENV: json.dumps(kwargs), "TF_CPP_MIN_LOG_LEVEL": "3"}
    extra = dict(env or {})
    if os.environ.get(THREADS_ENV) == "1":
        for name, value in SINGLE_THREAD_ENV.items():
            extra[name] = f"{extra[name]} {value}" if name in extra else value
    child_env.update(extra)
    if peer != "dl_theory":  # a peer must not import this checkout's dl_theory by accident
        child_env.pop("PYTHONPATH", None)
        child_env[SIDE_ENV] = "peer"
    argv = [str(python), "-m", "experiments.benchmarks._harness", "--worker", module, function]
    proc = subprocess.run(argv, cwd=ROOT, env=child_env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{peer} worker {module}.{function} exited with {proc.returncode}:\n{proc.stderr[-3000:]}")
    return parse_json_output(proc.stdout)


def _worker_main(module: str, function: str) -> None:
    import importlib

    kwargs = json.loads(os.environ.get(ARGS_ENV, "{}"))
    result = getattr(importlib.import_module(f"experiments.benchmarks.{module}"), function)(**kwargs)
    sys.stdout.write(MARKER + json.dumps(result) + "\n")
    sys.stdout.flush()


# --- timing and memory -----------------------------------------------------------------------------------------------


def _status_kb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return float(line.split()[1])
    raise KeyError(field)


def rss_mb() -> float:
    """This process's resident set now (MiB)."""
    return _status_kb("VmRSS") / 1024


def peak_rss_mb(baseline_mb: float = 0.0) -> float:
    """This process's peak resident set (``VmHWM``, MiB) above ``baseline_mb`` (an earlier :func:`rss_mb`)."""
    return _status_kb("VmHWM") / 1024 - baseline_mb


def reset_peak() -> bool:
    """Resets this process's peak resident set (``VmHWM``) to its current one (Linux ``clear_refs``); ``False`` where
    that is not allowed (the peak then still counts what came before)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def measure(call: Callable[[], Any], repeats: int, sync: Callable[[Any], Any] | None = None,
            base_mb: float | None = None) -> dict:
    """First-call time, then the median of ``repeats`` timed calls after a warm-up; with ``base_mb`` also the peak
    memory of the first call (compilation included) and of the later calls, separately.

    Args:
      call: function of no argument.
      repeats: timed calls.
      sync: waits for ``call()``'s result (``jax.block_until_ready``; ``None``: the result is ready on return).
      base_mb: this process's :func:`rss_mb` before the workload was set up.

    Returns:
      ``{"first_s", "median_s", "min_s", "times_s"}`` and, with ``base_mb``, ``"peak_first_mb"`` (peak above
      ``base_mb`` up to the end of the first call) and ``"peak_mb"`` (peak above ``base_mb`` during the later calls:
      the memory the computation needs once compiled).
    """
    sync = sync or (lambda out: out)
    start = time.perf_counter()
    sync(call())
    first = time.perf_counter() - start
    memory = {}
    if base_mb is not None:
        memory["peak_first_mb"] = peak_rss_mb(base_mb)
        memory["peak_reset"] = reset_peak()
    if os.environ.get(SIDE_ENV) != "peer":  # dl_theory's protocol: a warm-up, then the timed rounds
        from dl_theory.experiment.timing import wall_times

        times = wall_times([call], repeats)[:, 0].tolist()
    else:  # a peer environment, where dl_theory does not import: the same loop
        sync(call())
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            sync(call())
            times.append(time.perf_counter() - start)
    if base_mb is not None:
        memory["peak_mb"] = peak_rss_mb(base_mb)
    return {"first_s": first, "median_s": statistics.median(times), "min_s": min(times), "times_s": times, **memory}


# --- records ---------------------------------------------------------------------------------------------------------


def mem_ratio(dl_theory: dict, peer: dict, key: str = "peak_mb") -> float | None:
    """``dl_theory[key] / peer[key]``; ``None`` when either is missing or the peer's is under 1 MiB (too small a
    peak to divide by)."""
    a, b = dl_theory.get(key), peer.get(key)
    return None if a is None or b is None or b < 1.0 else a / b


def row(workload: str, size: str, *, dl_theory: str, peer: str, speedup: float | None = None,
        memory_ratio: float | None = None, memory_first_ratio: float | None = None, accuracy: str = "",
        target: str = "", met: bool | None = None, **numbers: Any) -> dict:
    """One line of the README table.

    Args:
      workload: what is computed (``"MLP NNGP+NTK"``).
      size: its size (``"n=2000, depth 5"``).
      dl_theory: dl_theory's cell (``"1.00 s"``).
      peer: the peer's cell (``"1.14 s (neural-tangents 0.6.5)"``), or why there is none.
      speedup: peer time / dl_theory time (> 1: dl_theory is faster).
      memory_ratio: dl_theory peak memory / the peer's after the first call (< 1: dl_theory uses less).
      memory_first_ratio: the same for the first call (compilation for dl_theory), where it is measured.
      accuracy: error against a float64 reference, where it applies.
      target: the target this row is held to (``">= 1.5x"``).
      met: whether the target is met (``None``: no target or no peer).
      **numbers: raw values kept in the record (times in s, memory in MiB ...).
    """
    return {"workload": workload, "size": size, "dl_theory": dl_theory, "peer": peer, "speedup": speedup,
            "memory_ratio": memory_ratio, "memory_first_ratio": memory_first_ratio, "accuracy": accuracy,
            "target": target, "met": met, **numbers}


def throughput_row(workload: str, size: str, dl_theory: dict, peer: dict | None, peer_name: str, label: str,
                   compile_s: float) -> dict:
    """The README line of a training-throughput workload: steady-state steps/s of dl_theory's headline engine
    (``dl_theory['engine']``, with ``dl_theory['other']`` at ``other_steps_per_s`` beside it) against the peer's
    training loop; target >= 1x."""
    cell = (f"{dl_theory['steps_per_s']:.0f} steps/s ({dl_theory['engine']}; {dl_theory['other']}: "
            f"{dl_theory['other_steps_per_s']:.0f}; compile {compile_s:.1f} s)")
    if peer is None:
        return row(workload, size, dl_theory=cell, peer=missing_cell(peer_name), target="≥ 1×",
                   dl_theory_steps_per_s=dl_theory["steps_per_s"])
    speedup = dl_theory["steps_per_s"] / peer["steps_per_s"]
    return row(workload, size, dl_theory=cell, peer=f"{peer['steps_per_s']:.0f} steps/s ({label})", speedup=speedup,
               memory_ratio=mem_ratio(dl_theory, peer), target="≥ 1×", met=at_least(speedup, 1.0),
               dl_theory_steps_per_s=dl_theory["steps_per_s"],
               dl_theory_other_steps_per_s=dl_theory["other_steps_per_s"], peer_steps_per_s=peer["steps_per_s"])


def fmt_time(seconds: float | None) -> str:
    """``0.0123`` -> ``"12.3 ms"``."""
    if seconds is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale or unit == "µs":
            return f"{seconds / scale:.3g} {unit}"
    raise AssertionError


def at_least(ratio: float | None, target: float) -> bool | None:
    """Whether ``ratio >= target`` (``None`` when there is no ratio)."""
    return None if ratio is None else bool(ratio >= target)


def thread_settings() -> dict:
    """The thread-count environment variables this process runs with (a worker: what :func:`run_worker` set)."""
    return {name: os.environ.get(name, "") for name in SINGLE_THREAD_ENV}


def machine() -> dict:
    """CPU model, core count, load average, OS and Python of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "load_avg_1m": os.getloadavg()[0], "platform": platform.platform(),
            "python": platform.python_version()}


def _commit() -> str:
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True,
                             timeout=10, check=False)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def result_path(name: str, quick: bool, results_dir: pathlib.Path) -> pathlib.Path:
    """``<results_dir>/<name>.json`` (full sizes) or ``<results_dir>/<name>_quick.json``."""
    return results_dir / f"{name}{'_quick' if quick else ''}.json"


def write_json_atomic(path: pathlib.Path, obj: Any) -> pathlib.Path:
    """Writes ``obj`` as JSON to a temporary file beside ``path``, then renames it over ``path`` (``os.replace``), so
    that a reader never sees a half-written file and an interrupted run leaves the old one intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2, default=_json_default)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def load_records(results_dir: pathlib.Path | None = None) -> list[dict]:
    """Every benchmark record in ``results_dir`` (default :data:`RESULTS_DIR`): per benchmark its full-size record,
    else its quick one. Files without ``rows`` (other formats) are skipped."""
    results_dir = RESULTS_DIR if results_dir is None else results_dir
    records: dict[str, dict] = {}
    for path in sorted(results_dir.glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if not isinstance(record, dict) or "rows" not in record or "name" not in record:
            continue
        kept = records.get(record["name"])
        if kept is None or (kept.get("mode") == "quick" and record.get("mode") == "full"):
            records[record["name"]] = record
    return [records[name] for name in sorted(records)]


def _cell(value: Any, spec: str = ".2f", suffix: str = "") -> str:
    if value is None or value == "":
        return "—"
    return f"{value:{spec}}{suffix}" if isinstance(value, int | float) else str(value).replace("|", "\\|")


def readme_table(records: Iterable[dict]) -> str:
    """The Markdown table of every row of every record."""
    lines = ["| benchmark | workload | size | dl_theory | peer | speed-up (peer / dl_theory time) | memory "
             "(dl_theory / peer) | accuracy vs float64 | target | mode, machine, date |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for record in records:
        m = record.get("machine", {})
        threads = "1 thread" if record.get("threads") == "1" else "default threads"
        where = (f"{record.get('mode', '?')}, {m.get('cores', '?')} cores (load {m.get('load_avg_1m', 0):.1f}, "
                 f"{threads}), {record.get('date', '?')[:10]}")
        for r in record["rows"]:
            target = r.get("target") or ""
            if target and r.get("met") is not None:
                target += " ✓" if r["met"] else " ✗"
            memory = _cell(r.get("memory_ratio"), ".2f")
            if r.get("memory_first_ratio") is not None:
                memory += f" (first call {r['memory_first_ratio']:.2f})"
            cells = [record["name"], r["workload"], r["size"], r["dl_theory"], r["peer"],
                     _cell(r.get("speedup"), ".2f", "×"), memory,
                     _cell(r.get("accuracy")), _cell(target), where]
            lines.append("| " + " | ".join(_cell(c) if isinstance(c, str) else c for c in cells) + " |")
    return "\n".join(lines)


README_HEAD = """# Benchmarks

`dl-theory bench` runs every benchmark below at quick sizes, `dl-theory bench --full` at full sizes, `dl-theory bench
NAME` one of them (`dl-theory bench --list` lists them). Each benchmark times dl_theory and its peer in the same run,
each side in its own process (the peer in its own environment), as the median of repeated calls after a warm-up; the
first call (compilation) and the peak memory above the process's pre-workload level are recorded separately in
`results/<name>.json` (`results/<name>_quick.json` at quick sizes). Ratios from one run are what count: this machine is
shared, and a load above the core count slows both sides.

Speed-up is the peer's time over dl_theory's (above 1: dl_theory is faster); memory is dl_theory's peak over the peer's
(below 1: dl_theory needs less) during the timed calls, with the first call's (compilation for dl_theory) in parentheses
where both sides compile. Peer environments: `bash scripts/legacy_nt_env.sh` (neural-tangents 0.6.5),
`bash scripts/pyhessian_env.sh` (PyHessian), `bash scripts/torch_env.sh` (PyTorch CPU); without one, a benchmark says so
and times the dl_theory side alone. When the load average exceeds the core count, every worker of both sides runs on one
thread (`--threads auto`, the default; the table says so): on an oversubscribed machine the spinning threads of XLA's
and PyTorch's pools lose several times over to one thread, each by a different factor.

This file is rebuilt by `dl-theory bench` from the result files; per benchmark the full-size record is shown when there
is one, else the quick one.

"""


def readme_text(records: Sequence[dict]) -> str:
    """The whole README: :data:`README_HEAD`, the table, and each record's notes."""
    notes = [f"- **{r['name']}**: {note}" for r in records for note in r.get("notes", [])]
    loaded = [r["name"] for r in records
              if r.get("machine", {}).get("load_avg_1m", 0) > 2 * (r.get("machine", {}).get("cores") or 1)]
    if loaded:
        notes.insert(0, f"- **load**: {', '.join(loaded)} ran with a load average above twice the core count (other "
                        "jobs on the machine): each timed call then waits for a core at random, so times of a few "
                        "milliseconds, and their ratios, can be off by several times between runs; ratios of "
                        "workloads of 100 ms and more, and the same workload measured at full and quick sizes, are "
                        "the ones to trust. Rerun `dl-theory bench` on an idle machine for the table's real numbers.")
    return README_HEAD + readme_table(records) + "\n" + ("\n## Notes\n\n" + "\n".join(notes) + "\n" if notes else "")


def write_readme(results_dir: pathlib.Path | None = None, readme: pathlib.Path | None = None) -> pathlib.Path:
    """Rebuilds ``readme`` (default :data:`README`) from the records in ``results_dir`` (atomically)."""
    readme = README if readme is None else readme
    text = readme_text(load_records(results_dir))
    fd, tmp = tempfile.mkstemp(dir=readme.parent, prefix=f".{readme.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, readme)
    return readme


def choose_threads(threads: str) -> str:
    """``"1"`` or ``"default"``: ``threads`` itself, or for ``"auto"`` one thread when the machine's load average
    exceeds its core count. On an oversubscribed machine the spinning worker threads of both XLA's and PyTorch's
    thread pools lose several times over to a single thread, and not by the same factor, so both sides then run on one
    thread (a per-core comparison) rather than comparing two degraded thread pools."""
    if threads not in ("auto", "default", "1"):
        raise ValueError(f"threads must be one of 'auto', 'default', '1', got {threads!r}")
    if threads == "auto":
        return "1" if os.getloadavg()[0] > (os.cpu_count() or 1) else "default"
    return threads


def run_benchmark(name: str, module: Any, quick: bool, repeats: int | None = None,
                  results_dir: pathlib.Path | None = None, threads: str = "auto") -> pathlib.Path:
    """Runs ``module.run(quick, repeats)`` with every worker on ``threads`` (:func:`choose_threads`), stamps and
    writes its record, prints its rows; returns the record's path."""
    started = time.perf_counter()
    load = os.getloadavg()[0]
    threads = choose_threads(threads)
    previous = os.environ.get(THREADS_ENV)
    os.environ[THREADS_ENV] = threads
    try:
        record = module.run(quick=quick, repeats=repeats)
    finally:
        if previous is None:
            os.environ.pop(THREADS_ENV, None)
        else:
            os.environ[THREADS_ENV] = previous
    record = {"name": name, "mode": "quick" if quick else "full",
              "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"), "commit": _commit(),
              "machine": {**machine(), "load_avg_1m_at_start": load}, "threads": threads,
              "wall_s": time.perf_counter() - started,
              **record}
    path = write_json_atomic(result_path(name, quick, RESULTS_DIR if results_dir is None else results_dir), record)
    print(readme_table([record]))
    for note in record.get("notes", []):
        print(f"note: {note}")
    return path


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        _worker_main(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: python -m experiments.benchmarks._harness --worker MODULE FUNCTION")
