"""Benchmark: empirical NTK implementations of dl_theory vs neural-tangents 0.6.5 on the same models and inputs.

Models (built from the public ``stax`` API, identical in both libraries; ``vmap_axes=0``):

* ``fcn``: ``Dense(512)-Relu-Dense(512)-Relu-Dense(10)`` on ``N x 64`` inputs, full ``(N, N, 10, 10)`` kernel
  (``trace_axes=()``), where structured derivatives shine;
* ``cnn``: two ``3x3`` SAME ``Conv(32)`` + ``Relu``, ``Flatten``, ``Dense(10)`` on ``N x 8 x 8 x 3``,
  ``trace_axes=(-1,)``;
* ``resnet``: ``Dense(256)`` then two residual blocks ``FanOut(2) -> (Relu-Dense(256), Identity) -> FanInSum``
  and a ``Dense(10)`` readout, ``trace_axes=(-1,)``.

Each (library, implementation, model) runs in its own subprocess (neural-tangents in ``.legacy-nt``): the NTK function
is jitted, its first call (compilation) timed alone, then the median of repeated calls after a warm-up and the peak
memory above the pre-workload level are recorded. The first run saves its parameters and every other run loads them
(dl_theory's stax mirrors neural-tangents' leaf order), so every kernel is compared with the first run's
(neural-tangents' implementation 1 at full sizes; implementation 2 at quick sizes, which skip the slow
implementation 1). Both libraries run their implementations (1 Jacobian contraction, 2 NTK-vector products, 3
structured derivatives); dl_theory also AUTO (0, reporting its pick). The speed-up is neural-tangents' best over
dl_theory's best.
"""

from __future__ import annotations

import tempfile

from experiments.benchmarks import _harness as h

PEER = "neural_tangents"
SIZES = {"full": {"fcn": 64, "cnn": 32, "resnet": 64}, "quick": {"fcn": 16, "cnn": 8, "resnet": 16}}
IMPLEMENTATIONS = {"full": (1, 2, 3), "quick": (2, 3)}
TRACE_AXES = {"fcn": (), "cnn": (-1,), "resnet": (-1,)}


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


def ntk_worker(backend: str, implementation: int, model: str, n: int, repeats: int, params_path: str,
               out: str) -> dict:
    """Times one NTK implementation in this process, saves its kernel (and, for the first run, the params)."""
    import os

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
    base = h.rss_mb()
    ntk_fn = nt.empirical_ntk_fn(apply_fn, trace_axes=TRACE_AXES[model], vmap_axes=0, implementation=implementation)
    fn = jax.jit(lambda x, p: ntk_fn(x, None, p))
    timing = h.measure(lambda: fn(x, params), repeats, jax.block_until_ready, base_mb=base)
    np.save(out, np.asarray(fn(x, params)))
    picked = getattr(ntk_fn, "choices", None)
    return {"backend": backend, "implementation": implementation, "jax": jax.__version__,
            "auto_choice": [int(v) for v in picked.values()] if picked else None, **timing}


def run(quick: bool, repeats: int | None = None) -> dict:
    import numpy as np

    mode = "quick" if quick else "full"
    repeats = repeats or (3 if quick else 5)
    missing = h.peer_available(PEER)
    label = h.PEERS[PEER][3]
    impls = IMPLEMENTATIONS[mode]
    plan = ([] if missing else [("neural_tangents", i) for i in impls]) + [("dl_theory", i) for i in (*impls, 0)]
    rows, details = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for model, n in SIZES[mode].items():
            runs = []
            for backend, impl in plan:
                kwargs = dict(backend=backend, implementation=impl, model=model, n=n, repeats=repeats,
                              params_path=f"{tmp}/{model}_params.npz", out=f"{tmp}/{model}_{backend}_{impl}.npy")
                try:
                    runs.append(h.run_worker(backend, "empirical_ntk", "ntk_worker", **kwargs))
                except RuntimeError as err:  # an implementation that does not support a model: record, go on
                    runs.append({"backend": backend, "implementation": impl, "error": str(err)[-600:]})
            ok = [r for r in runs if "error" not in r]
            reference = np.load(f"{tmp}/{model}_{ok[0]['backend']}_{ok[0]['implementation']}.npy")
            for r in ok:
                k = np.load(f"{tmp}/{model}_{r['backend']}_{r['implementation']}.npy")
                r["max_rel_diff_vs_first"] = float(np.max(np.abs(k - reference)) / np.max(np.abs(reference)))
            best = {b: min((r for r in ok if r["backend"] == b), key=lambda r: r["median_s"])
                    for b in {r["backend"] for r in ok}}
            d = best["dl_theory"]
            details[model] = {"n": n, "trace_axes": TRACE_AXES[model], "runs": runs,
                              "reference": f"{ok[0]['backend']} implementation {ok[0]['implementation']}"}
            size = f"N={n}, trace_axes={TRACE_AXES[model]}"
            dl_cell = f"{h.fmt_time(d['median_s'])} (impl {d['implementation']})"
            diff = f"max rel. diff vs {details[model]['reference']}: {max(r['max_rel_diff_vs_first'] for r in ok):.1e}"
            if missing:
                rows.append(h.row(f"empirical NTK {model}", size, dl_theory=dl_cell, peer=h.missing_cell(PEER),
                                  accuracy=diff, target="≥ 1.2×", dl_theory_s=d["median_s"]))
                continue
            p = best["neural_tangents"]
            speedup, mem = p["median_s"] / d["median_s"], h.mem_ratio(d, p)
            rows.append(h.row(f"empirical NTK {model}", size, dl_theory=dl_cell,
                              peer=f"{h.fmt_time(p['median_s'])} (impl {p['implementation']}, {label})",
                              speedup=speedup, memory_ratio=mem,
                              memory_first_ratio=h.mem_ratio(d, p, "peak_first_mb"), accuracy=diff, target="≥ 1.2×",
                              met=h.at_least(speedup, 1.2), dl_theory_s=d["median_s"], peer_s=p["median_s"],
                              dl_theory_peak_mb=d["peak_mb"], peer_peak_mb=p["peak_mb"]))
    notes = ["empirical NTK: each library's fastest implementation against the other's; accuracy is the largest "
             "difference of any implementation's kernel from the reference run's (float32 both; the float64 "
             "comparison applies to the analytic kernels)."]
    return {"peer": label, "repeats": repeats, "rows": rows, "details": details, "notes": notes}
