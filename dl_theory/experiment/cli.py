"""The ``dl-theory`` command: ``list``, ``run``, ``reproduce``, ``gallery`` and ``bench``.

Bad input (an unknown id or ``--set`` key, a value of the wrong type or outside its field's domain, an output folder
that cannot be written) gets a one-line error and exit status 2, before any work is done; a run whose claims fail exits
with status 1 and names them. ``reproduce --quick`` writes to the git-ignored ``runs/quick`` by default, so that it
never rewrites the committed full-preset gallery in ``paper_figures/``. ``run`` and ``reproduce`` keep JAX's persistent
compilation cache (``~/.cache/dl_theory/jax`` unless ``--compilation-cache DIR`` or ``$DL_THEORY_COMPILATION_CACHE``
says otherwise; ``off`` turns it off), so that a second run of the same experiments recompiles nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import importlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from dl_theory.experiment import registry
from dl_theory.experiment.claims import to_json_value
from dl_theory.experiment.config import ConfigError

EXIT_FAILED_CLAIMS = 1
EXIT_USAGE = 2


QUICK_OUT, FULL_OUT = Path("runs/quick"), Path("paper_figures")
CACHE_ENV, DEFAULT_CACHE = "DL_THEORY_COMPILATION_CACHE", Path("~/.cache/dl_theory/jax")


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dl-theory", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every experiment id with a one-line description")

    run = sub.add_parser("run", help="run one experiment, write <id>.png and <id>.json")
    run.add_argument("id")
    _common(run, default_out=".")
    run.add_argument("--seed", type=int, default=None, help="PRNG seed (default: the config's)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config field (repeatable); tuples are comma-separated")

    reproduce = sub.add_parser("reproduce", help="run all (or --only some) experiments and rebuild the gallery")
    reproduce.add_argument("--only", nargs="+", default=None, metavar="ID")
    _common(reproduce, default_out=None)

    gallery = sub.add_parser("gallery", help="rebuild <out>/README.md from the result files already there")
    gallery.add_argument("--out", type=Path, default=FULL_OUT, help=f"result folder (default: {FULL_OUT})")

    bench = sub.add_parser("bench", help="time dl_theory against its peers (experiments/benchmarks)")
    bench.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all of them)")
    bench.add_argument("--full", action="store_true", help="full sizes (default: quick sizes)")
    bench.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    bench.add_argument("--repeats", type=int, default=None, help="timed calls per measurement (default: each's)")
    bench.add_argument("--threads", choices=("auto", "default", "1"), default="auto",
                       help="threads of every worker: the libraries' defaults, one, or auto (one when the load "
                            "average exceeds the core count)")
    return parser


def _common(parser: argparse.ArgumentParser, default_out: str | None) -> None:
    parser.add_argument("--quick", action="store_true", help="quick preset (at most 30 s each on 2 cores)")
    where = default_out or f"{QUICK_OUT} with --quick, else the committed gallery {FULL_OUT}"
    parser.add_argument("--out", type=Path, default=None if default_out is None else Path(default_out),
                        help=f"output folder (default: {where})")
    parser.add_argument("--resume", action="store_true", help="resume long training runs from their checkpoints")
    parser.add_argument("--compilation-cache", default=None, metavar="DIR",
                        help=f"JAX's persistent compilation cache folder, or 'off' (default: ${CACHE_ENV}, "
                             f"else {DEFAULT_CACHE})")


def _writable(out: Path, what: str = "output folder") -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out):
            pass
    except OSError as error:
        raise UsageError(f"cannot write to {what} {str(out)!r}: {error.strerror or error}") from None
    return out


def compilation_cache(choice: str | None) -> Path | None:
    """Turns on JAX's persistent compilation cache in ``choice`` and returns the folder (None when off).

    ``choice`` is a folder, or ``off``; ``None`` means ``$DL_THEORY_COMPILATION_CACHE``, else
    ``~/.cache/dl_theory/jax``.
    Every compiled program is kept, so the second run of an experiment skips XLA compilation, which dominates many
    quick presets on a CPU.
    """
    choice = choice or os.environ.get(CACHE_ENV) or str(DEFAULT_CACHE)
    if choice.lower() in ("off", "0", "false", "no"):
        return None
    folder = _writable(Path(choice).expanduser(), "compilation cache folder")
    import jax

    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return folder


def _overrides(pairs: Sequence[str]) -> dict[str, str]:
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--set expects KEY=VALUE, got {pair!r}")
        parsed[key.strip()] = value.strip()
    return parsed


def _print_claims(record: dict) -> None:
    print(f"\n{record['experiment']} ({record['preset']}, {record['seconds']:.1f} s)")
    for c in record["claims"]:
        mark = "PASS" if c["passed"] else "FAIL"
        print(f"  [{mark}] {c['id']}: {c['statement']}\n         theory {_fmt(c['theory'])}, "
              f"measured {_fmt(c['measured'])}, tolerance {_fmt(c['tolerance'])}")


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _failed(record: dict) -> list[str]:
    return [f"{record['experiment']}:{c['id']}" for c in record["claims"] if not c["passed"]]


def _command(exp: registry.Experiment, cfg: object, quick: bool) -> str:
    """The ``dl-theory run`` line that reproduces ``cfg``: the preset, and every field where ``cfg`` differs from it."""
    preset = exp.config.quick() if quick else exp.config()
    parts = ["dl-theory", "run", exp.id] + (["--quick"] if quick else [])
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if value != getattr(preset, f.name):
            text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
            parts += ["--seed", text] if f.name == "seed" else ["--set", f"{f.name}={text}"]
    return " ".join(parts)


def _run_one(exp: registry.Experiment, cfg: object, out: Path, quick: bool, resume: bool) -> dict:
    """Runs one experiment with its training runs checkpointed under ``<out>/.checkpoints/<id>/<config hash>/``;
    the checkpoints are removed once the result files are written (they exist only for ``--resume``)."""
    from dl_theory.experiment import results  # JAX is imported only by the commands that run something
    from dl_theory.training import checkpointing

    config_json = json.dumps(to_json_value(dataclasses.asdict(cfg)), sort_keys=True)
    folder = out / ".checkpoints" / exp.id / hashlib.sha256(config_json.encode()).hexdigest()[:12]
    with checkpointing(folder, resume=resume):
        record = results.run_experiment(exp, cfg, out, preset="quick" if quick else "full",
                                        command=_command(exp, cfg, quick))
    shutil.rmtree(folder, ignore_errors=True)
    for parent in (folder.parent, folder.parent.parent):  # .checkpoints/<id> and .checkpoints, if now empty
        with contextlib.suppress(OSError):
            parent.rmdir()
    _print_claims(record)
    return record


def _cmd_list() -> int:
    entries = registry.catalog()
    width = max(map(len, entries), default=0)
    section = None
    for entry in entries.values():
        if entry.section != section:
            print(("\n" if section else "") + entry.section)
            section = entry.section
        print(f"  {entry.id:<{width}}  {entry.description}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    exp = registry.get(args.id)
    cfg = exp.make_config(quick=args.quick, seed=args.seed, overrides=_overrides(args.overrides))
    compilation_cache(args.compilation_cache)
    record = _run_one(exp, cfg, _writable(args.out), args.quick, args.resume)
    failed = _failed(record)
    if failed:
        print(f"failed claims: {', '.join(failed)}", file=sys.stderr)
        return EXIT_FAILED_CLAIMS
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    chosen = [registry.get(i) for i in args.only] if args.only else list(registry.experiments().values())
    out = _writable(args.out or (QUICK_OUT if args.quick else FULL_OUT))
    compilation_cache(args.compilation_cache)
    from dl_theory.training import progress

    failed: list[str] = []
    for exp in progress(chosen, desc="experiments"):
        cfg = exp.make_config(quick=args.quick)
        failed += _failed(_run_one(exp, cfg, out, args.quick, args.resume))
    print(f"\nwrote {_write_gallery(out)}")
    if failed:
        print(f"failed claims: {', '.join(failed)}", file=sys.stderr)
        return EXIT_FAILED_CLAIMS
    return 0


def _write_gallery(out: Path) -> Path:
    from dl_theory.experiment import results

    return results.write_gallery(out, {i: e.description for i, e in registry.catalog().items()})


def _cmd_gallery(args: argparse.Namespace) -> int:
    if not args.out.is_dir():
        raise UsageError(f"no result folder {str(args.out)!r}")
    print(f"wrote {_write_gallery(_writable(args.out))}")
    return 0


def _benchmark_names() -> list[str]:
    """Modules of ``experiments/benchmarks`` that define ``run`` (read with ``ast``: nothing is imported)."""
    import ast

    import experiments.benchmarks as benchmarks

    names = []
    for path in sorted(Path(benchmarks.__path__[0]).glob("[!_]*.py")):
        tree = ast.parse(path.read_text())
        if any(isinstance(node, ast.FunctionDef) and node.name == "run" for node in tree.body):
            names.append(path.stem)
    return names


def _cmd_bench(args: argparse.Namespace) -> int:
    """Runs the named benchmarks (all by default); a benchmark that fails is reported and the others still run
    (exit status 1); the README is rebuilt from every record."""
    names = _benchmark_names()
    if args.list:
        print("\n".join(names))
        return 0
    unknown = [n for n in args.names if n not in names]
    if unknown:
        raise UsageError(f"unknown benchmark {', '.join(map(repr, unknown))}; available: {', '.join(names)}")
    if args.repeats is not None and args.repeats < 1:
        raise UsageError(f"--repeats must be a positive integer, got {args.repeats}")
    from experiments.benchmarks import _harness

    failed = []
    for name in args.names or names:
        print(f"== bench {name} ({'full' if args.full else 'quick'} sizes)", flush=True)
        try:
            module = importlib.import_module(f"experiments.benchmarks.{name}")
            path = _harness.run_benchmark(name, module, quick=not args.full, repeats=args.repeats,
                                          threads=args.threads)
            print(f"wrote {path}")
        except KeyboardInterrupt:
            raise
        except Exception as error:  # noqa: BLE001 - one failed benchmark must not stop the others
            print(f"dl-theory: bench {name} failed: {type(error).__name__}: {error}", file=sys.stderr)
            failed.append(name)
        _harness.write_readme()
    print(f"wrote {_harness.README}")
    if failed:
        print(f"dl-theory: failed benchmarks: {', '.join(failed)}", file=sys.stderr)
        return EXIT_FAILED_CLAIMS
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {"list": lambda: _cmd_list(), "run": lambda: _cmd_run(args),
                "reproduce": lambda: _cmd_reproduce(args), "gallery": lambda: _cmd_gallery(args),
                "bench": lambda: _cmd_bench(args)}
    try:
        return commands[args.command]()
    except (UsageError, ConfigError, registry.UnknownExperimentError) as error:
        print(f"dl-theory: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("dl-theory: interrupted; finished result files are intact, checkpoints kept for --resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
