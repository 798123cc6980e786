"""Result files: atomic writes, the environment stamp, running one experiment, and the gallery README.

Layout of ``<out>/<id>.json`` (see DESIGN.md)::

    {"experiment", "preset", "command", "config",
     "claims": [{"id", "statement", "theory", "measured", "tolerance", "passed"}],
     "metrics", "figures", "env": {"jax", "backend", "devices", "git"}, "seconds"}

Every file is written to a temporary sibling and renamed into place, so an interrupted run leaves either the old file
or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax

from dl_theory.experiment.claims import to_json_value
from dl_theory.experiment.registry import Experiment

GALLERY = "README.md"


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yields a temporary path in ``path``'s folder; renames it onto ``path`` only if the block succeeds."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private (0600); give it a normal file's mode
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def save_figure(figure: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format=path.suffix.lstrip("."))
    finally:
        plt.close(figure)


def git_commit() -> str | None:
    """The commit of the source tree (with ``-dirty`` if it has changes), or None outside a git checkout."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if head.returncode:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + ("-dirty" if dirty else "")


def env_stamp() -> dict[str, Any]:
    return {"jax": jax.__version__, "backend": jax.default_backend(),
            "devices": [str(d) for d in jax.devices()], "git": git_commit()}


def run_experiment(experiment: Experiment, config: Any, out_dir: Path, preset: str = "full",
                   command: str | None = None) -> dict[str, Any]:
    """Runs ``experiment`` with ``config``; writes ``<id>.png`` and ``<id>.json`` into ``out_dir``.

    ``preset`` ('quick' or 'full') names the preset ``config`` was made from and ``command`` the command line that
    reproduces the result; both are stored with it.

    Returns:
      The record written to ``<id>.json``.
    """
    out_dir = Path(out_dir)
    start = time.perf_counter()
    result = experiment.run(config)
    png = f"{experiment.id}.png"
    record = {  # built (and so checked to be serializable) before any file is written
        "experiment": experiment.id,
        "preset": preset,
        "command": command,
        "config": to_json_value(dataclasses.asdict(config)),
        "claims": [claim.as_dict() for claim in result.claims],
        "metrics": to_json_value(result.metrics),
        "figures": [png],
        "env": env_stamp(),
    }
    save_figure(experiment.plot(result), out_dir / png)
    record["seconds"] = round(time.perf_counter() - start, 2)
    write_text(out_dir / f"{experiment.id}.json", json.dumps(record, indent=1) + "\n")
    return record


def load_records(out_dir: Path) -> list[dict[str, Any]]:
    """Every result file in ``out_dir``, sorted by experiment id."""
    records = []
    for path in sorted(Path(out_dir).glob("*.json")):
        record = json.loads(path.read_text())
        if isinstance(record, dict) and "experiment" in record and "claims" in record:
            records.append(record)
    return records


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def write_gallery(out_dir: Path, descriptions: dict[str, str]) -> Path:
    """Rebuilds ``<out_dir>/README.md``: one table of every claim, then the figures."""
    records = load_records(out_dir)
    claims = [(r["experiment"], c) for r in records for c in r["claims"]]
    passed = sum(c["passed"] for _, c in claims)
    lines = ["# dl_theory: reproduced figures and claims", "",
             f"{len(records)} experiments, {passed}/{len(claims)} claims pass. "
             "Regenerate with `dl-theory reproduce` (`--quick` for the quick presets).", "",
             "| experiment | claim | statement | theory | measured | tolerance | passed |",
             "|---|---|---|---|---|---|---|"]
    for experiment, c in claims:
        lines.append("| " + " | ".join([experiment, c["id"], _cell(c["statement"]), _cell(c["theory"]),
                                         _cell(c["measured"]), _cell(c["tolerance"]),
                                         "yes" if c["passed"] else "**NO**"]) + " |")
    lines.append("")
    for r in records:
        lines += [f"## {r['experiment']}", "", descriptions.get(r["experiment"], ""), "",
                  f"{r.get('preset', 'full')} preset, {r['seconds']:.1f} s on {r['env']['backend']}, "
                  f"jax {r['env']['jax']}, commit {r['env']['git']}."
                  + (f" Reproduce with `{r['command']}`." if r.get("command") else ""), ""]
        lines += [f"![{r['experiment']}]({png})" for png in r["figures"]] + [""]
    path = Path(out_dir) / GALLERY
    write_text(path, "\n".join(lines))
    return path

