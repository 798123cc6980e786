"""Benchmark: how dl_theory's costs scale, with devices and with size.

* ``nt.batch`` over host devices: the depth-5 ReLU MLP's NNGP + NTK (the ``nt_kernels`` MLP) on ``n x 64`` inputs,
  computed in ``b x b`` tiles by :func:`dl_theory.kernels.batching.batch`, once on 1 device and once on 4 host devices
  (``XLA_FLAGS=--xla_force_host_platform_device_count=4``, set before JAX starts, hence a subprocess per count). Time
  and peak memory of each process are recorded; host "devices" share one address space, so per-device memory is the
  tile working set (``b^2`` entries per kernel and device), and the process peak is what is measured. The two kernels
  must agree to float round-off.
* Hessian-vector product cost against the parameter count D: :func:`dl_theory.curvature.hessian.hessian_matvec` of
  the tanh MLP ``64 -> w -> w -> 10`` (MSE, 1000 digits) for growing w; Pearlmutter's trick costs a few gradients,
  O(N D), so the time grows like D^a with a = 1; a is fitted to the per-repeat times (``dl_theory.stats.loglog_slope``,
  bootstrap standard error ``loglog_slope_stderr``).

(The analytic kernel's n² growth is fitted in ``nt_kernels``.) There is no external peer: the "peer" column holds the
baseline (1 device; the expected exponent).
"""

from __future__ import annotations

from experiments.benchmarks import _harness as h

PEER = "dl_theory"
SIZES = {
    "quick": {"n": 1000, "tile": 125, "widths": (64, 128, 256, 512), "repeats": 3},
    "full": {"n": 4000, "tile": 250, "widths": (64, 128, 256, 512, 1024), "repeats": 5},
}


def batch_worker(n: int, tile: int, devices: int, repeats: int, out: str) -> dict:
    """Times ``batch(kernel_fn, tile, device_count=devices)`` on the MLP kernel in this process."""
    import jax
    import numpy as np

    from dl_theory import stax
    from dl_theory.kernels.batching import batch
    from experiments.benchmarks.nt_kernels import MLP, build

    kernel_fn = build(stax, "mlp")[2]
    x = jax.device_put(np.random.default_rng(0).standard_normal((n, MLP["d"])).astype(np.float32))
    base = h.rss_mb()
    batched = batch(kernel_fn, tile, device_count=devices)
    timing = h.measure(lambda: tuple(batched(x, None, ("nngp", "ntk"))), repeats, jax.block_until_ready,
                       base_mb=base)
    np.save(out, np.asarray(batched(x, None, "ntk")))
    return {"devices": len(jax.devices()), "tile_mb_per_device": 2 * tile * tile * 4 / 2**20,
            **timing}


def matvec_worker(widths: list, repeats: int) -> dict:
    """Times the Hessian matvec for each hidden width; returns D and the per-repeat times."""
    import jax

    from dl_theory import data as dl_data
    from dl_theory import losses, models
    from dl_theory.curvature import hessian

    data = dl_data.digits_subset(1000, 0)
    dims, times = [], []
    for w in widths:
        model = models.dense_mlp((w, w), 10)
        _, params = model.init(jax.random.key(0), (-1, 64))
        matvec, dim = hessian.hessian_matvec(losses.mse(model.apply), params, data)
        fn = jax.jit(matvec)
        v = jax.random.normal(jax.random.key(1), (dim,))
        dims.append(dim)
        times.append(h.measure(lambda fn=fn, v=v: fn(v), repeats, jax.block_until_ready)["times_s"])
    return {"dims": dims, "times_s": times}


def run(quick: bool, repeats: int | None = None) -> dict:
    import tempfile

    import numpy as np

    from dl_theory.stats import loglog_slope, loglog_slope_stderr

    size = SIZES["quick" if quick else "full"]
    repeats = repeats or size["repeats"]
    rows, details = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for count in (1, 4):
            runs[count] = h.run_worker("dl_theory", "scale", "batch_worker", n=size["n"], tile=size["tile"],
                                       devices=count, repeats=repeats, out=f"{tmp}/{count}.npy",
                                       env={"XLA_FLAGS": f"--xla_force_host_platform_device_count={count}"})
        k1, k4 = np.load(f"{tmp}/1.npy"), np.load(f"{tmp}/4.npy")
        diff = float(np.max(np.abs(k4 - k1)) / np.max(np.abs(k1)))
    details["batch"] = {"runs": runs, "max_rel_diff_4_vs_1": diff}
    one, four = runs[1], runs[4]
    rows.append(h.row("nt.batch MLP NNGP+NTK, 4 host devices vs 1", f"n={size['n']}, tiles {size['tile']}²",
                      dl_theory=f"{h.fmt_time(four['median_s'])} on 4 ({four['peak_mb']:.0f} MB peak, "
                                f"{four['tile_mb_per_device']:.2f} MB tiles/device)",
                      peer=f"{h.fmt_time(one['median_s'])} on 1 ({one['peak_mb']:.0f} MB peak)",
                      speedup=one["median_s"] / four["median_s"], memory_ratio=h.mem_ratio(four, one),
                      accuracy=f"4 vs 1 device: {diff:.1e}", one_device_s=one["median_s"],
                      four_devices_s=four["median_s"]))
    mv = h.run_worker("dl_theory", "scale", "matvec_worker", widths=list(size["widths"]), repeats=repeats)
    dims, times_RxB = np.array(mv["dims"], float), np.array(mv["times_s"]).T
    slope = loglog_slope(dims, np.median(times_RxB, axis=0))[0]
    se = loglog_slope_stderr(dims, times_RxB, reduce=np.median)
    details["matvec"] = {**mv, "slope": slope, "stderr": se, "widths": size["widths"]}
    rows.append(h.row("Hessian matvec time ∝ Dᵃ (fitted a)",
                      f"D = {int(dims[0])} … {int(dims[-1])} (tanh MLP 64-w-w-10, N=1000)",
                      dl_theory=f"a = {slope:.2f} ± {se:.2f}", peer="a = 1 (O(N D))", target="a ≈ 1",
                      slope=slope, stderr=se,
                      times=", ".join(f"D={int(d)}: {h.fmt_time(t)}" for d, t in zip(dims, np.median(times_RxB, 0),
                                                                                     strict=True))))
    notes = [f"scale: on this machine's {h.machine()['cores']} cores, 4 host devices share the same cores as 1 device "
             "(XLA's CPU backend already runs one device's ops on several threads unless the run is single-threaded), "
             "so the 4-device speed-up measures tile parallelism and sharding overhead, not more hardware."]
    return {"peer": "dl_theory (1 device / expected exponent)", "repeats": repeats, "rows": rows, "details": details,
            "notes": notes}
