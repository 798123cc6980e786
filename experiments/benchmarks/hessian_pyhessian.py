"""Benchmark: Hessian top eigenvalue, trace and spectral density with dl_theory vs PyHessian, same MLP and data.

PyHessian (Yao et al. 2020, ``pip install pyhessian``; PyTorch, CPU here) runs in its own environment (build it with
``scripts/pyhessian_env.sh``; override its interpreter with ``PYHESSIAN_PYTHON``), dl_theory in a subprocess of this
interpreter, both through :func:`experiments.benchmarks._harness.run_worker`, so the module top imports neither JAX
nor torch. PyHessian 0.1 predates torch 2, which removed ``torch.eig``; the worker restores it for PyHessian's
symmetric tridiagonal input via ``torch.linalg.eigh`` (nothing else of PyHessian is changed).

Matched accuracy: both libraries see the same weights and the same full batch (tanh MLP, MSE to one-hot digits) and get
the same budget of Hessian-vector products where their algorithms coincide -- Hutchinson with the same number of
Rademacher probes, SLQ with the same Lanczos depth and probe count. For the top eigenvalue PyHessian runs its power
iteration with its default stopping rule (relative change < 1e-3); dl_theory runs Lanczos twice: with ``lanczos_iters``
steps, and with the fewest steps whose error is no larger than PyHessian's (the time-to-accuracy comparison). Every
estimate's error against the exact spectrum (dense float64 Hessian, ``eigh``) is recorded next to its time. Times are
the median of ``reps`` calls after a warm-up; the first call (XLA compilation for dl_theory) is recorded separately;
PyHessian's graph setup (forward and ``create_graph`` backward, done once) is not included. Hutchinson probes run in
chunks of ``trace_chunk`` (``vmap`` inside a chunk), which on two CPU cores keeps the batched products' intermediates in
cache.
"""

import json
import tempfile
from pathlib import Path

import numpy as np

from experiments.benchmarks import _harness as h

PEER = "pyhessian"
SETTINGS = {
    "n_examples": 1000,
    "widths": [64, 32, 32, 10],
    "seed": 0,
    "reps": 7,
    "power_max_iter": 100,
    "power_tol": 1e-3,
    "lanczos_iters": 20,
    "trace_probes": 100,
    "trace_chunk": 10,
    "slq_iters": 80,
    "slq_probes": 4,
}


def pyhessian_worker(inp: str) -> dict:
    """Runs PyHessian on the weights and data in ``inp`` (npz); returns times and estimates."""
    import torch
    from pyhessian import hessian as pyh

    if int(torch.__version__.split(".")[0]) >= 2:
        # PyHessian 0.1's density() calls torch.eig (a stub that raises since torch 2.0) on its symmetric
        # tridiagonal matrix and reads the real parts (column 0) and the eigenvectors; torch.linalg.eigh
        # returns the same for that input.
        def eig(a, eigenvectors=False):
            vals, vecs = torch.linalg.eigh(a)
            return torch.stack([vals, torch.zeros_like(vals)], dim=1), vecs

        torch.eig = eig

    arrays = np.load(inp)
    cfg = json.loads(str(arrays["settings"]))
    torch.manual_seed(cfg["seed"])
    layers = []
    for i in range(len(cfg["widths"]) - 1):
        lin = torch.nn.Linear(cfg["widths"][i], cfg["widths"][i + 1])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(arrays[f"w{i}"].T.copy()))
            lin.bias.copy_(torch.from_numpy(arrays[f"b{i}"]))
        layers += [lin, torch.nn.Tanh()]
    model = torch.nn.Sequential(*layers[:-1])
    x, y = torch.from_numpy(arrays["x"]), torch.from_numpy(arrays["y"])
    criterion = lambda out, target: 0.5 * ((out - target) ** 2).sum(dim=1).mean()
    base = h.rss_mb()
    comp = pyh(model, criterion, data=(x, y), cuda=False)
    reps = cfg["reps"]
    setup = h.measure(lambda: pyh(model, criterion, data=(x, y), cuda=False), reps)
    top = h.measure(lambda: comp.eigenvalues(maxIter=cfg["power_max_iter"], tol=cfg["power_tol"]), reps, base_mb=base)
    trace = h.measure(lambda: comp.trace(maxIter=cfg["trace_probes"], tol=0.0), reps, base_mb=base)
    density = h.measure(lambda: comp.density(iter=cfg["slq_iters"], n_v=cfg["slq_probes"]), reps, base_mb=base)
    peak = max(t["peak_mb"] for t in (top, trace, density))
    top_value = comp.eigenvalues(maxIter=cfg["power_max_iter"], tol=cfg["power_tol"])[0][0]
    tr = comp.trace(maxIter=cfg["trace_probes"], tol=0.0)
    dens = comp.density(iter=cfg["slq_iters"], n_v=cfg["slq_probes"])
    return {
        "setup_s": setup["median_s"],
        "top_s": top["median_s"],
        "trace_s": trace["median_s"],
        "density_s": density["median_s"],
        "top_first_s": top["first_s"],
        "trace_first_s": trace["first_s"],
        "density_first_s": density["first_s"],
        "peak_mb": peak,
        "top": float(top_value),
        "trace": float(np.mean(tr)),
        "trace_probes_used": len(tr),
        "density_nodes": [list(map(float, e)) for e in dens[0]],
        "density_weights": [list(map(float, w)) for w in dens[1]],
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }


def _model():
    """The tanh MLP of the Hessian experiments (``dl_theory.models.dense_mlp``), which the PyTorch copy mirrors."""
    from dl_theory import models

    widths = SETTINGS["widths"]
    return models.dense_mlp(widths[1:-1], widths[-1])


def _loss_fn():
    from dl_theory import losses

    return losses.mse(_model().apply)


def _exact_eigenvalues(params, data) -> np.ndarray:
    """The exact spectrum: the dense float64 Hessian and ``eigh``."""
    import jax
    import jax.numpy as jnp

    from dl_theory.curvature import hessian

    with jax.enable_x64(True):
        p64, d64 = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), (params, data))
        return np.linalg.eigvalsh(np.asarray(hessian.hessian(_loss_fn(), p64, d64)))


def _load(inp: str):
    """Parameters (the ``dense_mlp`` list of layers), data and settings saved by :func:`run`."""
    import jax.numpy as jnp

    arrays = np.load(inp)
    cfg = json.loads(str(arrays["settings"]))
    n_layers = len(cfg["widths"]) - 1
    params = [{"w": jnp.asarray(arrays[f"w{i}"]), "b": jnp.asarray(arrays[f"b{i}"])} for i in range(n_layers)]
    return params, (jnp.asarray(arrays["x"]), jnp.asarray(arrays["y"])), cfg


def dl_theory_worker(inp: str, exact_top: float, top_error_to_match: float) -> dict:
    """Times dl_theory's top eigenvalue, trace and density on the weights and data in ``inp``."""
    import jax

    from dl_theory.curvature import hessian

    params, data, cfg = _load(inp)
    base = h.rss_mb()
    key = jax.random.key(cfg["seed"] + 1)

    def matvec(p):
        return hessian.hessian_matvec(_loss_fn(), p, data)

    def top(num_iters: int):
        return jax.jit(lambda p, k: hessian.top_eigenvalues(*matvec(p), 1, key=k, num_iters=num_iters)[0][0])

    trace = jax.jit(lambda p, k: hessian.trace(*matvec(p), key=k, num_probes=cfg["trace_probes"],
                                               chunk_size=cfg["trace_chunk"]).mean)
    dens = jax.jit(lambda p, k: hessian.spectral_density(
        *matvec(p), key=k, num_probes=cfg["slq_probes"], num_iters=cfg["slq_iters"])[2:])
    # the fewest Lanczos steps at least as accurate as PyHessian's power iteration
    matched = next((m for m in range(1, cfg["lanczos_iters"] + 1)
                    if abs(float(top(m)(params, key)) / exact_top - 1) <= top_error_to_match), cfg["lanczos_iters"])
    out = {"matched_lanczos_iters": matched, "jax": jax.__version__}
    fns = {"top": top(cfg["lanczos_iters"]), "top_matched": top(matched), "trace": trace, "density": dens}
    peaks = []
    for name, fn in fns.items():
        timing = h.measure(lambda fn=fn: fn(params, key), cfg["reps"], jax.block_until_ready, base_mb=base)
        out[f"{name}_first_s"], out[f"{name}_s"] = timing["first_s"], timing["median_s"]
        peaks.append(timing["peak_mb"])
    out["peak_mb"] = max(peaks)
    for name in ("top", "top_matched", "trace"):
        out[name] = float(fns[name](params, key))
    nodes, weights = fns["density"](params, key)
    out["density_nodes"], out["density_weights"] = np.asarray(nodes).tolist(), np.asarray(weights).tolist()
    return out


def run(quick: bool, repeats: int | None = None) -> dict:
    import jax

    from dl_theory import data as dl_data
    from dl_theory.stats import wasserstein1

    cfg = dict(SETTINGS, reps=repeats or (3 if quick else SETTINGS["reps"]))
    missing = h.peer_available(PEER)
    data = dl_data.digits_subset(cfg["n_examples"], cfg["seed"])
    _, params = _model().init(jax.random.key(cfg["seed"]), (-1, cfg["widths"][0]))
    lam = _exact_eigenvalues(params, data)
    exact = {"top": float(lam[-1]), "trace": float(lam.sum())}
    width = lam[-1] - lam[0]

    def errors_of(out: dict, names: tuple[str, ...]) -> dict:
        errs = {n: abs(out[n] / exact["top" if n.startswith("top") else n] - 1) for n in names}
        w1 = wasserstein1(np.ravel(out["density_nodes"]), np.ravel(out["density_weights"]), lam, None) / width
        return errs | {"density": w1}

    with tempfile.TemporaryDirectory() as tmp:
        inp = str(Path(tmp) / "in.npz")
        arrays = {"x": np.asarray(data[0]), "y": np.asarray(data[1]), "settings": json.dumps(cfg)}
        for i, layer in enumerate(params):
            arrays[f"w{i}"], arrays[f"b{i}"] = np.asarray(layer["w"]), np.asarray(layer["b"])
        np.savez(inp, **arrays)
        torch_out = None if missing else h.run_worker(PEER, "hessian_pyhessian", "pyhessian_worker", inp=inp)
        pyh_errors = None if missing else errors_of(torch_out, ("top", "trace"))
        # without the peer, match the relative error PyHessian's stopping rule (tol 1e-3) allows
        to_match = pyh_errors["top"] if pyh_errors else cfg["power_tol"]
        ours = h.run_worker("dl_theory", "hessian_pyhessian", "dl_theory_worker", inp=inp, exact_top=exact["top"],
                            top_error_to_match=to_match)
    errors = {"dl_theory": errors_of(ours, ("top", "top_matched", "trace")), "pyhessian": pyh_errors}
    dim = len(lam)
    label = h.PEERS[PEER][3]
    size = f"tanh MLP {cfg['widths']}, D={dim}, {cfg['n_examples']} digits"
    matched_iters = ours["matched_lanczos_iters"]
    spec = [
        (f"Hessian top eigenvalue (Lanczos {cfg['lanczos_iters']} vs power iteration)", "top", "top", ""),
        (f"Hessian top eigenvalue at matched accuracy (Lanczos {matched_iters})", "top_matched", "top", "≥ 3×"),
        (f"Hessian trace (Hutchinson, {cfg['trace_probes']} probes)", "trace", "trace", "≥ 3×"),
        (f"Hessian spectral density (SLQ {cfg['slq_iters']} steps x {cfg['slq_probes']} probes)", "density",
         "density", "≥ 3×"),
    ]
    rows, ratios = [], {}
    for workload, name, peer_name, target in spec:
        acc = f"{errors['dl_theory'][name]:.1e}"
        if missing:
            rows.append(h.row(workload, size, dl_theory=h.fmt_time(ours[f"{name}_s"]), peer=h.missing_cell(PEER),
                              accuracy=acc, target=target, dl_theory_s=ours[f"{name}_s"],
                              dl_theory_first_s=ours[f"{name}_first_s"]))
            continue
        ratios[name] = torch_out[f"{peer_name}_s"] / ours[f"{name}_s"]
        rows.append(h.row(workload, size, dl_theory=h.fmt_time(ours[f"{name}_s"]),
                          peer=f"{h.fmt_time(torch_out[f'{peer_name}_s'])} ({label})", speedup=ratios[name],
                          memory_ratio=h.mem_ratio(ours, torch_out),
                          accuracy=f"{acc}; PyHessian {errors['pyhessian'][peer_name]:.1e}", target=target,
                          met=h.at_least(ratios[name], 3.0) if target else None, dl_theory_s=ours[f"{name}_s"],
                          peer_s=torch_out[f"{peer_name}_s"], dl_theory_first_s=ours[f"{name}_first_s"]))
    notes = ["Hessian: accuracy is the relative error of the eigenvalue and trace against the exact (dense float64) "
             "spectrum, and W1(estimate, exact spectrum) / spectral width for the density; PyHessian's graph set-up "
             "(forward + create_graph backward, once) is excluded from its times; memory is each worker's whole "
             "workload (all four estimates)."]
    return {"peer": label, "settings": cfg, "dim": dim, "rows": rows, "notes": notes,
            "details": {"exact": exact, "matched_lanczos_iters": matched_iters, "errors": errors, "ratios": ratios,
                        "dl_theory": {k: v for k, v in ours.items() if not k.startswith("density_")},
                        "pyhessian": None if torch_out is None else
                        {k: v for k, v in torch_out.items() if not k.startswith("density_")}}}
