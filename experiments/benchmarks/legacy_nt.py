"""Run Python inside the pinned neural-tangents 0.6.5 environment and get JSON back.

neural-tangents 0.6.5 only imports on jax 0.4.23 (with tensorflow), so it cannot share a process with
``dl_theory``. Benchmarks that time both side by side run each side in its own subprocess: neural-tangents in
``.legacy-nt`` (built by ``scripts/legacy_nt_env.sh``), dl_theory in the current interpreter. The child prints one
line ``<MARKER>{json}`` on stdout; everything else it prints (tensorflow's start-up chatter) is ignored.

Example::

    from experiments.benchmarks.legacy_nt import run_snippet
    out = run_snippet("import neural_tangents as nt; emit({'version': nt.__version__})")
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[2]
LEGACY_VENV = ROOT / ".legacy-nt"
MARKER = "@@LEGACY_NT_JSON@@"

_PRELUDE = f"""
import json as _json, os as _os, sys as _sys
ARGS = _json.loads(_os.environ.get("LEGACY_NT_ARGS", "{{}}"))
def emit(obj):
    _sys.stdout.write({MARKER!r} + _json.dumps(obj) + "\\n")
    _sys.stdout.flush()
"""


def legacy_python() -> pathlib.Path:
    """Path of the legacy interpreter.

    Raises:
      FileNotFoundError: if the environment has not been built.
    """
    python = LEGACY_VENV / "bin" / "python"
    if not python.exists():
        raise FileNotFoundError(f"{python} not found: build it with `bash scripts/legacy_nt_env.sh`")
    return python


def parse_json_output(stdout: str) -> Any:
    """The payload of the last ``MARKER`` line of a child's stdout.

    Raises:
      ValueError: if no line carries the marker.
    """
    lines = [line for line in stdout.splitlines() if line.startswith(MARKER)]
    if not lines:
        raise ValueError(f"no {MARKER!r} line in the child's output:\n{stdout[-2000:]}")
    return json.loads(lines[-1][len(MARKER) :])


def run_json(
    python: str | os.PathLike,
    argv: Sequence[str],
    *,
    args: dict | None = None,
    timeout: float = 1800.0,
    env: dict[str, str] | None = None,
) -> Any:
    """Run ``python *argv`` in the repository root and return the JSON it emitted.

    Args:
      python: interpreter to run (``legacy_python()`` or ``sys.executable``).
      argv: arguments after the interpreter (``["-c", code]``, ``["-m", module, ...]``, a script path ...).
      args: JSON-serialisable dict handed to the child as ``ARGS`` (environment variable ``LEGACY_NT_ARGS``).
      timeout: seconds before the child is killed.
      env: extra environment variables.

    Returns:
      The decoded JSON payload.

    Raises:
      RuntimeError: if the child exits non-zero (its stderr tail is included).
    """
    child_env = {**os.environ, "LEGACY_NT_ARGS": json.dumps(args or {}), "TF_CPP_MIN_LOG_LEVEL": "3"}
    child_env.update(env or {})
    # The child must not import this repository's installed dl_theory by accident through PYTHONPATH.
    child_env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [str(python), *argv], cwd=ROOT, env=child_env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{python} {' '.join(argv[:2])} exited with {proc.returncode}:\n{proc.stderr[-4000:]}")
    return parse_json_output(proc.stdout)


def run_snippet(code: str, *, args: dict | None = None, legacy: bool = True, timeout: float = 1800.0) -> Any:
    """Run a Python snippet that calls ``emit(obj)``; ``ARGS`` holds ``args``.

    Args:
      code: Python source; ``ARGS`` (dict) and ``emit`` (prints the JSON line) are predefined.
      args: JSON-serialisable inputs for the snippet.
      legacy: run in ``.legacy-nt`` (``True``) or in the current interpreter (``False``).
      timeout: seconds before the child is killed.

    Returns:
      The object passed to the last ``emit`` call.
    """
    python = legacy_python() if legacy else sys.executable
    return run_json(python, ["-c", _PRELUDE + code], args=args, timeout=timeout)


def run_script(
    path: str | os.PathLike, argv: Sequence[str] = (), *, legacy: bool = True, timeout: float = 1800.0
) -> Any:
    """Run a script file (which prints ``MARKER + json`` itself, see ``parse_json_output``)."""
    python = legacy_python() if legacy else sys.executable
    return run_json(python, [str(path), *argv], timeout=timeout)
