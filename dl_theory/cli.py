"""The ``dl-theory`` command: ``list``, ``run``, ``reproduce`` and ``bench``.

Bad input (an unknown id or ``--set`` key, a value of the wrong type, an output folder that cannot be written) gets a
one-line error and exit status 2; a run whose claims fail exits with status 1 and names them.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import importlib
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from dl_theory import experiment as registry_lib
from dl_theory import results
from dl_theory.experiment import _plain
from dl_theory.progress import progress
from dl_theory.training import checkpointing

EXIT_FAILED_CLAIMS = 1
EXIT_USAGE = 2


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
    _common(reproduce, default_out="paper_figures")

    bench = sub.add_parser("bench", help="run a benchmark from experiments/benchmarks")
    bench.add_argument("name", nargs="?", help="benchmark module name; omit to list them")
    return parser


def _common(parser: argparse.ArgumentParser, default_out: str) -> None:
    parser.add_argument("--quick", action="store_true", help="quick preset (about a minute each on 2 cores)")
    parser.add_argument("--out", type=Path, default=Path(default_out), help=f"output folder (default: {default_out})")
    parser.add_argument("--resume", action="store_true", help="resume long training runs from their checkpoints")


def _writable(out: Path) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out):
            pass
    except OSError as error:
        raise UsageError(f"cannot write to output folder {str(out)!r}: {error.strerror or error}") from None
    return out


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


def _run_one(exp: registry_lib.Experiment, cfg: object, out: Path, quick: bool, resume: bool) -> dict:
    """Runs one experiment with its training runs checkpointed under ``<out>/.checkpoints/<id>/<config hash>/``;
    the checkpoints are removed once the result files are written (they exist only for ``--resume``)."""
    config_json = json.dumps(_plain(dataclasses.asdict(cfg)), sort_keys=True)
    folder = out / ".checkpoints" / exp.id / hashlib.sha256(config_json.encode()).hexdigest()[:12]
    with checkpointing(folder, resume=resume):
        record = results.run_experiment(exp, cfg, out, preset="quick" if quick else "full")
    shutil.rmtree(folder, ignore_errors=True)
    for parent in (folder.parent, folder.parent.parent):  # .checkpoints/<id> and .checkpoints, if now empty
        with contextlib.suppress(OSError):
            parent.rmdir()
    _print_claims(record)
    return record


def _cmd_list() -> int:
    experiments = registry_lib.registry()
    width = max(map(len, experiments), default=0)
    for exp_id, exp in experiments.items():
        print(f"{exp_id:<{width}}  {exp.description}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    exp = registry_lib.get(args.id)
    cfg = exp.make_config(quick=args.quick, seed=args.seed, overrides=_overrides(args.overrides))
    record = _run_one(exp, cfg, _writable(args.out), args.quick, args.resume)
    failed = _failed(record)
    if failed:
        print(f"failed claims: {', '.join(failed)}", file=sys.stderr)
        return EXIT_FAILED_CLAIMS
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    experiments = registry_lib.registry()
    ids = args.only or list(experiments)
    chosen = [registry_lib.get(i) for i in ids]
    out = _writable(args.out)
    failed: list[str] = []
    for exp in progress(chosen, desc="experiments"):
        cfg = exp.make_config(quick=args.quick)
        failed += _failed(_run_one(exp, cfg, out, args.quick, args.resume))
    gallery = results.write_gallery(out, {i: e.description for i, e in experiments.items()})
    print(f"\nwrote {gallery}")
    if failed:
        print(f"failed claims: {', '.join(failed)}", file=sys.stderr)
        return EXIT_FAILED_CLAIMS
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    import experiments.benchmarks as benchmarks

    names = sorted(p.stem for p in Path(benchmarks.__path__[0]).glob("[!_]*.py"))
    if not args.name:
        print("\n".join(names))
        return 0
    if args.name not in names:
        raise UsageError(f"unknown benchmark {args.name!r}; available: {', '.join(names)}")
    module = importlib.import_module(f"experiments.benchmarks.{args.name}")
    return int(module.main() or 0)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {"list": lambda: _cmd_list(), "run": lambda: _cmd_run(args),
                "reproduce": lambda: _cmd_reproduce(args), "bench": lambda: _cmd_bench(args)}
    try:
        return commands[args.command]()
    except (UsageError, registry_lib.ConfigError, registry_lib.UnknownExperimentError) as error:
        print(f"dl-theory: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("dl-theory: interrupted; finished result files are intact, checkpoints kept for --resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
