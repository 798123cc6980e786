"""Benchmark: empirical NTK implementations of dl_theory vs neural-tangents 0.6.5 on the same models and inputs.

Models (built from neural-tangents' public ``stax`` API, identical in both libraries; ``vmap_axes=0``):

* ``fcn``: ``Dense(512)-Relu-Dense(512)-Relu-Dense(10)`` on ``N x 64`` inputs, full ``(N, N, 10, 10)`` kernel
  (``trace_axes=()``), where structured derivatives shine;
* ``cnn``: two ``3x3`` SAME ``Conv(32)`` + ``Relu``, ``Flatten``, ``Dense(10)`` on ``N x 8 x 8 x 3``,
  ``trace_axes=(-1,)``;
* ``resnet``: ``Dense(256)`` then two residual blocks ``FanOut(2) -> (Relu-Dense(256), Identity) -> FanInSum``
  and a ``Dense(10)`` readout, ``trace_axes=(-1,)``.

Each (library, implementation, model) runs in its own subprocess (neural-tangents in ``.legacy-nt``, see
``legacy_nt.py``): the NTK function is jitted, compiled by one warm-up call, then the median of ``repeats`` timed
calls and the process's peak RSS above its pre-workload level are recorded. neural-tangents' implementation 1
run saves its parameters; every other run loads them (dl_theory's stax mirrors neural-tangents' leaf order), so all
kernels are compared with neural-tangents' implementation 1. Both libraries run 1, 2 and 3; dl_theory also AUTO
(0, reporting its pick). Ratios are dl_theory's best over neural-tangents' best. Results go to
``experiments/benchmarks/results/empirical_ntk[_quick].json``.

Run::

    python -m experiments.benchmarks.empirical_ntk [--quick] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time

from experiments.benchmarks.legacy_nt import MARKER, ROOT, legacy_python, run_json

RESULTS = ROOT / "experiments" / "benchmarks" / "results" / "empirical_ntk.json"
SIZES = {"full": {"fcn": 64, "cnn": 32, "resnet": 64}, "quick": {"fcn": 16, "cnn": 8, "resnet": 16}}
TRACE_AXES = {"fcn": (), "cnn": (-1,), "resnet": (-1,)}
RUNS = (("neural_tangents", 1), ("neural_tangents", 2), ("neural_tangents", 3), ("dl_theory", 1),
        ("dl_theory", 2), ("dl_theory", 3), ("dl_theory", 0))


def build(stax, model: str):
    """``(init_fn, apply_fn, input_shape_tail)`` from the public stax API."""
    if model == "fcn":
        net = stax.serial(stax.Dense(512), stax.Relu(), stax.Dense(512), stax.Relu(), stax.Dense(10))
        return (*net[:2], (64,))
    if model == "cnn":
        conv = stax.serial(stax.Conv(32, (3, 3), padding="SAME"), stax.Relu())
        net = stax.serial(conv, conv, stax.Flatten(), stax.Dense(10))
        return (*net[:2], (8, 8, 3))
    block = stax.serial(stax.FanOut(2), stax.parallel(stax.serial(stax.Relu(), stax.Dense(256)), stax.Identity()),
                        stax.FanInSum())
    net = stax.serial(stax.Dense(256), block, block, stax.Dense(10))
    return (*net[:2], (32,))


def worker(backend: str, implementation: int, model: str, n: int, repeats: int, params_path: str,
           out_path: str) -> dict:
    """Time one NTK implementation in this process and save its kernel (and, for the reference, the params)."""
    import os
    import resource
    import statistics

    import jax
    import numpy as np

    if backend == "neural_tangents":
        import neural_tangents as nt
        from neural_tangents import stax
    else:
        import dl_theory as nt
        from dl_theory import stax

    init_fn, apply_fn, tail = build(stax, model)
    x = jax.device_put(np.random.default_rng(0).standard_normal((n, *tail)).astype(np.float32))
    _, params = init_fn(jax.random.PRNGKey(1), x.shape)
    leaves, treedef = jax.tree_util.tree_flatten(params)
    if os.path.exists(params_path):
        with np.load(params_path) as f:
            leaves = [f[f"p{i}"] for i in range(len(leaves))]
        params = jax.tree_util.tree_unflatten(treedef, [jax.device_put(a) for a in leaves])
    else:
        np.savez(params_path, **{f"p{i}": np.asarray(a) for i, a in enumerate(leaves)})

    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()

    rss_before = rss()
    ntk_fn = nt.empirical_ntk_fn(apply_fn, trace_axes=TRACE_AXES[model], vmap_axes=0, implementation=implementation)
    fn = jax.jit(lambda x, p: ntk_fn(x, None, p))
    start = time.perf_counter()
    ntk = jax.block_until_ready(fn(x, params))
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(x, params))
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    np.save(out_path, np.asarray(ntk))
    picked = getattr(ntk_fn, "choices", None)
    return {"backend": backend, "implementation": implementation, "jax_version": jax.__version__,
            "device": str(jax.devices()[0]), "median_s": statistics.median(times), "first_call_s": first,
            "workload_peak_mb": (peak - rss_before) / 2**20,
            "auto_choice": [int(v) for v in picked.values()] if picked else None}


def _run(backend: str, implementation: int, model: str, n: int, repeats: int, tmp: str) -> dict:
    python = legacy_python() if backend == "neural_tangents" else sys.executable
    argv = ["-m", "experiments.benchmarks.empirical_ntk", "--worker", backend, "--implementation",
            str(implementation), "--model", model, "--n", str(n), "--repeats", str(repeats),
            "--params", f"{tmp}/{model}_params.npz", "--out", f"{tmp}/{model}_{backend}_{implementation}.npy"]
    try:
        return run_json(python, argv)
    except RuntimeError as err:  # e.g. an implementation that does not support a model: record, keep going
        return {"backend": backend, "implementation": implementation, "error": str(err)[-600:]}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="empirical NTK: dl_theory vs neural-tangents 0.6.5")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", nargs="*", default=list(TRACE_AXES), choices=list(TRACE_AXES))
    parser.add_argument("--worker", choices=("dl_theory", "neural_tangents"), help=argparse.SUPPRESS)
    parser.add_argument("--implementation", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--params", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        result = worker(args.worker, args.implementation, args.model, args.n, args.repeats, args.params, args.out)
        print(MARKER + json.dumps(result), flush=True)
        return result

    import numpy as np

    mode = "quick" if args.quick else "full"
    report = {"mode": mode, "repeats": args.repeats, "machine": platform.platform(), "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            n = SIZES[mode][model]
            runs = [_run(b, i, model, n, args.repeats, tmp) for b, i in RUNS]
            reference = np.load(f"{tmp}/{model}_neural_tangents_1.npy")
            for r in runs:
                if "error" not in r:
                    k = np.load(f"{tmp}/{model}_{r['backend']}_{r['implementation']}.npy")
                    r["max_rel_diff_vs_nt1"] = float(np.max(np.abs(k - reference)) / np.max(np.abs(reference)))
            best = {b: min((r for r in runs if r["backend"] == b and "error" not in r), key=lambda r: r["median_s"])
                    for b in ("dl_theory", "neural_tangents")}
            summary = {"n": n, "trace_axes": TRACE_AXES[model], "runs": runs,
                       "best": {b: {"implementation": r["implementation"], "median_s": r["median_s"]}
                                for b, r in best.items()},
                       "time_ratio_best": best["dl_theory"]["median_s"] / best["neural_tangents"]["median_s"]}
            report["models"][model] = summary
            _print(model, summary)
    path = RESULTS.with_name(f"empirical_ntk{'_quick' if args.quick else ''}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    print(f"saved {path.relative_to(ROOT)}")
    return report


def _print(model: str, summary: dict) -> None:
    print(f"{model} (N={summary['n']}, trace_axes={summary['trace_axes']}, float32)")
    print(f"  {'library':16s}{'impl':>5s}{'median s':>11s}{'first s':>10s}{'peak MB':>10s}{'rel diff':>11s}")
    for r in summary["runs"]:
        if "error" in r:
            print(f"  {r['backend']:16s}{r['implementation']:5d}  failed: {r['error'].splitlines()[-1][:60]}")
            continue
        pick = f" (auto->{r['auto_choice']})" if r.get("auto_choice") else ""
        print(f"  {r['backend']:16s}{r['implementation']:5d}{r['median_s']:11.4f}{r['first_call_s']:10.2f}"
              f"{r['workload_peak_mb']:10.1f}{r['max_rel_diff_vs_nt1']:11.1e}{pick}")
    print(f"  best dl_theory / best neural-tangents time ratio: {summary['time_ratio_best']:.2f}")


if __name__ == "__main__":
    main()
