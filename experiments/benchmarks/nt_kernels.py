"""Benchmark: analytic NNGP + NTK with ``dl_theory.stax`` versus neural-tangents 0.6.5, side by side.

Workloads, each built from the same public stax calls in both libraries, float32, ``kernel_fn(x, None, ("nngp",
"ntk"))`` jitted:

* ``mlp``: a depth-5 ReLU MLP (``Dense(512, W_std=sqrt 2, b_std=0.05)`` blocks, NTK parameterization) on ``n x 64``
  inputs, at several n: the time grows like n² (two n x n matrices, each entry an arc-cosine recursion); the exponent
  is fitted to the per-repeat times (``dl_theory.stats.loglog_slope`` and its bootstrap standard error
  ``loglog_slope_stderr``).
* ``cnn``: three 3x3 SAME convolutions with ReLU, ``GlobalAvgPool`` and a ``Dense`` readout on ``n x 8 x 8 x 3``
  images (full spatial covariances, ``(HW)^2`` per image pair).
* ``myrtle``: a Myrtle-style CNN (Shankar et al. 2020): conv-conv, 2x2 average pooling, conv, 2x2 average pooling,
  conv, global average pooling, readout, on the same images.
* the limit: the MLP's kernel written as one fused ``jnp`` function of the arc-cosine recursion (Cho & Saul 2009;
  Jacot et al. 2018), the speed a hand-written kernel reaches (timed in dl_theory's process).

Each library runs in its own subprocess (neural-tangents in ``.legacy-nt``, see ``scripts/legacy_nt_env.sh``), so
that both are timed (median after a warm-up; the first call, i.e. compilation, separately) and their peak memory above
the pre-workload level is measured the same way. A float64 neural-tangents run (dl_theory's own float64 run when the
legacy environment is missing) is the accuracy reference of both float32 results.
"""

from __future__ import annotations

import tempfile

from experiments.benchmarks import _harness as h

PEER = "neural_tangents"
SIZES = {
    "quick": {"mlp_ns": (250, 500, 1000), "mlp_compare": (500, 1000), "cnn_n": 8, "repeats": 3},
    "full": {"mlp_ns": (1000, 2000, 4000), "mlp_compare": (2000, 4000), "cnn_n": 32, "repeats": 5},
}
MLP = {"d": 64, "depth": 5, "width": 512, "w_std": 2**0.5, "b_std": 0.05}
IMAGE = {"hw": 8, "c": 3}


def build(stax, workload: str):
    """The benchmark network from the public stax API (the same calls in both libraries)."""
    if workload == "mlp":
        block = stax.serial(stax.Dense(MLP["width"], W_std=MLP["w_std"], b_std=MLP["b_std"]), stax.Relu())
        return stax.serial(*[block] * MLP["depth"], stax.Dense(1, W_std=1.0, b_std=MLP["b_std"]))

    def conv():
        return stax.serial(stax.Conv(64, (3, 3), padding="SAME", W_std=2**0.5, b_std=0.05), stax.Relu())

    if workload == "cnn":
        return stax.serial(conv(), conv(), conv(), stax.GlobalAvgPool(), stax.Dense(1))
    pool = stax.AvgPool((2, 2), (2, 2))
    return stax.serial(conv(), conv(), pool, conv(), pool, conv(), stax.GlobalAvgPool(), stax.Dense(1))


def _inputs(workload: str, n: int, x64: bool):
    import numpy as np

    shape = (n, MLP["d"]) if workload == "mlp" else (n, IMAGE["hw"], IMAGE["hw"], IMAGE["c"])
    return np.random.default_rng(0).standard_normal(shape).astype(np.float64 if x64 else np.float32)


def fused_mlp_kernels(x_NxD):
    """The MLP's NNGP and NTK as one ``jnp`` function: the arc-cosine recursion written out.

    With :math:`K^0 = \\sigma_w^2 x x^\\top / d + \\sigma_b^2 = \\Theta^0` and, per ReLU layer, :math:`c = K /
    \\sqrt{q q^\\top}`, :math:`\\theta = \\arccos c`, :math:`\\hat K = \\sqrt{q q^\\top} (\\sin\\theta + (\\pi -
    \\theta) c) / 2\\pi`, :math:`\\dot K = (\\pi - \\theta) / 2\\pi`, the next Dense layer gives :math:`K' =
    \\sigma_w^2 \\hat K + \\sigma_b^2` and :math:`\\Theta' = \\sigma_w^2 \\dot K \\Theta + K'`.
    """
    import jax.numpy as jnp

    def dense(k, theta, w_std):
        k = w_std**2 * k + MLP["b_std"] ** 2
        return k, (k if theta is None else w_std**2 * theta + k)

    k, theta = dense(x_NxD @ x_NxD.T / x_NxD.shape[1], None, MLP["w_std"])
    for layer in range(MLP["depth"]):
        q = jnp.diag(k)
        norm = jnp.sqrt(q[:, None] * q[None, :])
        c = jnp.clip(k / norm, -1.0, 1.0)
        angle = jnp.arccos(c)
        k_hat = norm * (jnp.sqrt(1 - c * c) + (jnp.pi - angle) * c) / (2 * jnp.pi)
        theta = theta * (jnp.pi - angle) / (2 * jnp.pi)
        k, theta = dense(k_hat, theta, MLP["w_std"] if layer < MLP["depth"] - 1 else 1.0)
    return k, theta


def kernel_worker(backend: str, workload: str, n: int, repeats: int, out: str, x64: bool = False) -> dict:
    """Times one library's ``kernel_fn`` (``backend``: ``dl_theory``, ``neural_tangents`` or ``fused``) in this
    process and saves its kernels to ``out`` (npz)."""
    import jax

    jax.config.update("jax_enable_x64", x64)
    import numpy as np

    x = jax.device_put(_inputs(workload, n, x64))
    if backend == "fused":
        fn = jax.jit(fused_mlp_kernels)
    else:
        if backend == "neural_tangents":
            from neural_tangents import stax
        else:
            from dl_theory import stax
        kernel_fn = build(stax, workload)[2]
        fn = jax.jit(lambda x: tuple(kernel_fn(x, None, ("nngp", "ntk"))))
    base = h.rss_mb()
    timing = h.measure(lambda: fn(x), repeats, jax.block_until_ready, base_mb=base)
    nngp, ntk = fn(x)
    np.savez(out, nngp=np.asarray(nngp), ntk=np.asarray(ntk))
    return {"backend": backend, "jax": jax.__version__, "device": str(jax.devices()[0]), **timing}


def _rel(a, b) -> float:
    import numpy as np

    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def run(quick: bool, repeats: int | None = None) -> dict:
    import numpy as np

    from dl_theory.stats import loglog_slope, loglog_slope_stderr

    sizes = SIZES["quick" if quick else "full"]
    repeats = repeats or sizes["repeats"]
    missing = h.peer_available(PEER)
    backends = ("dl_theory",) if missing else ("dl_theory", "neural_tangents")
    label = h.PEERS[PEER][3]
    rows, details, notes = [], {}, []
    work = [("mlp", n) for n in sizes["mlp_ns"]] + [("cnn", sizes["cnn_n"]), ("myrtle", sizes["cnn_n"])]
    with tempfile.TemporaryDirectory() as tmp:
        for workload, n in work:
            runs = {}
            for b in backends:
                runs[b] = h.run_worker(b if b != "dl_theory" else "dl_theory", "nt_kernels", "kernel_worker",
                                       backend=b, workload=workload, n=n, repeats=repeats, out=f"{tmp}/{b}.npz")
            if workload == "mlp":
                runs["fused"] = h.run_worker("dl_theory", "nt_kernels", "kernel_worker", backend="fused",
                                             workload=workload, n=n, repeats=repeats, out=f"{tmp}/fused.npz")
            ref_backend = "dl_theory" if missing else "neural_tangents"
            h.run_worker(ref_backend, "nt_kernels", "kernel_worker", backend=ref_backend, workload=workload, n=n,
                         repeats=1, out=f"{tmp}/x64.npz", x64=True)
            k = {b: np.load(f"{tmp}/{b}.npz") for b in (*runs, "x64")}
            err = {b: {g: _rel(k[b][g], k["x64"][g]) for g in ("nngp", "ntk")} for b in runs}
            details[f"{workload}_n{n}"] = {"runs": runs, "rel_err_vs_float64": err,
                                           "float64_reference": ref_backend}
            d = runs["dl_theory"]
            size = (f"n={n}, x {MLP['d']}, depth {MLP['depth']}" if workload == "mlp"
                    else f"n={n} images 8x8x3")
            name = {"mlp": "MLP NNGP+NTK", "cnn": "CNN (global pool) NNGP+NTK",
                    "myrtle": "Myrtle CNN (avg pool) NNGP+NTK"}[workload]
            compared = workload != "mlp" or n in sizes["mlp_compare"]
            if compared:
                acc = f"NTK {err['dl_theory']['ntk']:.1e}"
                if missing:
                    rows.append(h.row(name, size, dl_theory=h.fmt_time(d["median_s"]), peer=h.missing_cell(PEER),
                                      accuracy=acc + " (vs dl_theory float64)", target="≥ 1.5×, memory ≤ 1",
                                      dl_theory_s=d["median_s"], dl_theory_first_s=d["first_s"],
                                      dl_theory_peak_mb=d["peak_mb"]))
                else:
                    p = runs["neural_tangents"]
                    speedup, mem = p["median_s"] / d["median_s"], h.mem_ratio(d, p)
                    rows.append(h.row(name, size, dl_theory=h.fmt_time(d["median_s"]),
                                      peer=f"{h.fmt_time(p['median_s'])} ({label})", speedup=speedup,
                                      memory_ratio=mem, memory_first_ratio=h.mem_ratio(d, p, "peak_first_mb"),
                                      accuracy=f"{acc}; NT {err['neural_tangents']['ntk']:.1e}",
                                      target="≥ 1.5×, memory ≤ 1",
                                      met=bool(speedup >= 1.5 and mem is not None and mem <= 1.0),
                                      dl_theory_s=d["median_s"], peer_s=p["median_s"],
                                      dl_theory_first_s=d["first_s"], peer_first_s=p["first_s"],
                                      dl_theory_peak_mb=d["peak_mb"], peer_peak_mb=p["peak_mb"]))
            if workload == "mlp" and n == sizes["mlp_compare"][0]:
                f = runs["fused"]
                rows.append(h.row("MLP NNGP+NTK vs fused jnp recursion (the limit)", size,
                                  dl_theory=h.fmt_time(d["median_s"]), peer=f"{h.fmt_time(f['median_s'])} (fused jnp)",
                                  speedup=f["median_s"] / d["median_s"], memory_ratio=h.mem_ratio(d, f),
                                  accuracy=f"NTK {err['dl_theory']['ntk']:.1e}; fused {err['fused']['ntk']:.1e}",
                                  dl_theory_s=d["median_s"], peer_s=f["median_s"]))
    # time ~ n^a: slope of log median time against log n, bootstrap SE over the repeats
    ns = np.array(sizes["mlp_ns"], float)
    for b in ("dl_theory", *(() if missing else ("neural_tangents",))):
        times_RxB = np.array([details[f"mlp_n{n}"]["runs"][b]["times_s"] for n in sizes["mlp_ns"]]).T
        slope = loglog_slope(ns, np.median(times_RxB, axis=0))[0]
        se = loglog_slope_stderr(ns, times_RxB, reduce=np.median)
        details[f"mlp_time_exponent_{b}"] = {"slope": slope, "stderr": se, "ns": sizes["mlp_ns"]}
    e = details["mlp_time_exponent_dl_theory"]
    peer_cell = "—" if missing else (f"a = {details['mlp_time_exponent_neural_tangents']['slope']:.2f} ± "
                                     f"{details['mlp_time_exponent_neural_tangents']['stderr']:.2f} ({label})")
    rows.append(h.row("MLP kernel time ∝ nᵃ (fitted a)", "n = " + ", ".join(map(str, sizes["mlp_ns"])),
                      dl_theory=f"a = {e['slope']:.2f} ± {e['stderr']:.2f}", peer=peer_cell, target="a ≈ 2",
                      slope=e["slope"], stderr=e["stderr"]))
    notes.append("accuracy: max |K - K64| / max |K64| of the NTK against a float64 "
                 f"{'dl_theory' if missing else 'neural-tangents'} run; memory: peak RSS above the pre-workload "
                 "level of each side's process.")
    return {"peer": label, "repeats": repeats, "rows": rows, "details": details, "notes": notes}
