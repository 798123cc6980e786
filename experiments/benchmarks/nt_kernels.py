"""Benchmark: analytic NNGP + NTK with dl_theory.stax versus neural-tangents 0.6.5, side by side.

Two workloads, each run by both libraries in separate subprocesses (neural-tangents in ``.legacy-nt``, see
``experiments/benchmarks/legacy_nt.py``), so that timings and peak memory are measured the same way:

* ``mlp``: a depth-5 ReLU MLP (``Dense(512, W_std=sqrt 2, b_std=0.05)`` blocks, NTK parameterization) on
  ``2000 x 64`` inputs: ``kernel_fn(x, None, ("nngp", "ntk"))`` gives two ``2000 x 2000`` matrices.
* ``cnn``: three 3x3 SAME convolutions with ReLU, ``GlobalAvgPool`` and a ``Dense`` readout on ``32 x 8 x 8 x 3``
  images (full spatial covariances, ``(HW)^2`` per image pair).

Each worker jits ``kernel_fn``, compiles with one warm-up call, then reports the median of ``repeats`` timed calls
(``block_until_ready``), the compile time, the resident set size before the workload and the peak RSS
(``resource.getrusage``), and saves its kernels so that the driver checks the two libraries agree; a float64
neural-tangents run is the accuracy reference for both float32 results. Results are
printed as ratios (dl_theory / neural-tangents) and saved to ``experiments/benchmarks/results/nt_kernels.json``.

Run::

    python -m experiments.benchmarks.nt_kernels [--quick] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time

from experiments.benchmarks.legacy_nt import MARKER, ROOT, legacy_python, run_json

RESULTS = ROOT / "experiments" / "benchmarks" / "results" / "nt_kernels.json"
WORKLOADS = {
    "mlp": {
        "full": {"n": 2000, "d": 64, "depth": 5, "width": 512},
        "quick": {"n": 400, "d": 64, "depth": 5, "width": 512},
    },
    "cnn": {"full": {"n": 32, "hw": 8, "c": 3, "depth": 3}, "quick": {"n": 8, "hw": 8, "c": 3, "depth": 3}},
}
BACKENDS = ("dl_theory", "neural_tangents")


def _build(stax, workload: str, size: dict):
    """The benchmark network from neural-tangents' public stax API (identical for both libraries)."""
    if workload == "mlp":
        block = stax.serial(stax.Dense(size["width"], W_std=2**0.5, b_std=0.05), stax.Relu())
        return stax.serial(*[block] * size["depth"], stax.Dense(1, W_std=1.0, b_std=0.05))
    convs = [stax.serial(stax.Conv(64, (3, 3), padding="SAME", W_std=2**0.5, b_std=0.05), stax.Relu())]
    return stax.serial(*convs * size["depth"], stax.GlobalAvgPool(), stax.Dense(1))


def _input_shape(workload: str, size: dict) -> tuple[int, ...]:
    if workload == "mlp":
        return (size["n"], size["d"])
    return (size["n"], size["hw"], size["hw"], size["c"])


def worker(backend: str, workload: str, size: dict, repeats: int, out_path: str, x64: bool = False) -> dict:
    """Time ``kernel_fn`` of one library in this process; save its kernels to ``out_path``."""
    import resource
    import statistics

    import jax
    import numpy as np

    jax.config.update("jax_enable_x64", x64)

    if backend == "neural_tangents":
        from neural_tangents import stax
    else:
        from dl_theory import stax

    _, _, kernel_fn = _build(stax, workload, size)
    x = np.random.default_rng(0).standard_normal(_input_shape(workload, size))
    x = x.astype(np.float64 if x64 else np.float32)
    x = jax.device_put(x)

    def rss_bytes() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()

    rss_before = rss_bytes()
    fn = jax.jit(lambda x: tuple(kernel_fn(x, None, ("nngp", "ntk"))))
    start = time.perf_counter()
    nngp, ntk = jax.block_until_ready(fn(x))
    compile_s = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(x))
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    np.savez(out_path, nngp=np.asarray(nngp), ntk=np.asarray(ntk))
    return {
        "backend": backend,
        "jax_version": jax.__version__,
        "device": str(jax.devices()[0]),
        "median_s": statistics.median(times),
        "times_s": times,
        "first_call_s": compile_s,
        "rss_before_mb": rss_before / 2**20,
        "peak_rss_mb": peak / 2**20,
        "workload_peak_mb": (peak - rss_before) / 2**20,
    }


def _run_backend(backend: str, workload: str, size: dict, repeats: int, out_path: str, x64: bool = False) -> dict:
    python = legacy_python() if backend == "neural_tangents" else sys.executable
    argv = ["-m", "experiments.benchmarks.nt_kernels", "--worker", backend, "--workload", workload]
    argv += ["--size", json.dumps(size), "--repeats", str(repeats), "--out", out_path]
    return run_json(python, argv + (["--x64"] if x64 else []))


def _max_rel_diff(a, b) -> float:
    import numpy as np

    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="dl_theory.stax vs neural-tangents 0.6.5 analytic kernels")
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workloads", nargs="*", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--worker", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--workload", help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--x64", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        result = worker(args.worker, args.workload, json.loads(args.size), args.repeats, args.out, args.x64)
        print(MARKER + json.dumps(result), flush=True)
        return result

    import numpy as np

    mode = "quick" if args.quick else "full"
    report = {"mode": mode, "repeats": args.repeats, "machine": platform.platform(), "workloads": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for workload in args.workloads:
            size = WORKLOADS[workload][mode]
            runs = {b: _run_backend(b, workload, size, args.repeats, f"{tmp}/{workload}_{b}.npz") for b in BACKENDS}
            # float64 neural-tangents run (not timed against anything): the accuracy reference for both float32 runs.
            _run_backend("neural_tangents", workload, size, 1, f"{tmp}/{workload}_x64.npz", x64=True)
            kernels = {b: np.load(f"{tmp}/{workload}_{b}.npz") for b in (*BACKENDS, "x64")}
            accuracy = {
                f"{b}_vs_float64": {g: _max_rel_diff(kernels[b][g], kernels["x64"][g]) for g in ("nngp", "ntk")}
                for b in BACKENDS
            }
            accuracy["dl_theory_vs_neural_tangents"] = {
                g: _max_rel_diff(kernels["dl_theory"][g], kernels["neural_tangents"][g]) for g in ("nngp", "ntk")
            }
            ratios = {
                k: runs["dl_theory"][k] / runs["neural_tangents"][k]
                for k in ("median_s", "first_call_s", "workload_peak_mb")
            }
            report["workloads"][workload] = {
                "size": size,
                "runs": runs,
                "ratio_dl_theory_over_nt": ratios,
                "max_rel_diff": accuracy,
            }
            _print_row(workload, size, runs, ratios, accuracy)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    path = RESULTS.with_name(f"nt_kernels{'_quick' if args.quick else ''}.json")
    path.write_text(json.dumps(report, indent=2))
    print(f"saved {path.relative_to(ROOT)}")
    return report


def _print_row(workload: str, size: dict, runs: dict, ratios: dict, accuracy: dict) -> None:
    d, n = runs["dl_theory"], runs["neural_tangents"]
    print(
        f"{workload} {size}  (float32, {d['device']}; dl_theory jax {d['jax_version']}, "
        f"neural-tangents jax {n['jax_version']})"
    )
    print(f"  {'':22s}{'dl_theory':>12s}{'neural-tangents':>18s}{'ratio':>9s}")
    for key, label, unit in (
        ("median_s", "median time", "s"),
        ("first_call_s", "first call (compile)", "s"),
        ("workload_peak_mb", "workload peak RSS", "MB"),
    ):
        print(f"  {label:22s}{d[key]:11.3f}{unit:1s}{n[key]:17.3f}{unit:1s}{ratios[key]:9.2f}")
    for name, diff in accuracy.items():
        print(f"  max rel. diff {name:30s} nngp {diff['nngp']:.1e}, ntk {diff['ntk']:.1e}")


if __name__ == "__main__":
    main()
