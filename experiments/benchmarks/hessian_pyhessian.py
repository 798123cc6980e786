"""Benchmark: Hessian top eigenvalue, trace and spectral density with dl_theory vs PyHessian, same MLP and
data.

PyHessian (Yao et al. 2020, ``pip install pyhessian``; PyTorch, CPU here) runs in its own environment
(build it with ``scripts/pyhessian_env.sh``; override its interpreter with ``PYHESSIAN_PYTHON``). This file
is both the driver (``dl-theory bench hessian_pyhessian``) and the PyTorch worker (``python
hessian_pyhessian.py --torch-worker IN OUT``, started by the driver with that interpreter), so the module
top imports neither JAX nor torch. PyHessian 0.1 predates torch 2, which removed ``torch.eig``; the worker
restores it for PyHessian's symmetric tridiagonal input via ``torch.linalg.eigh`` (nothing else of
PyHessian is changed).

Matched accuracy: both libraries see the same weights and the same full batch (tanh MLP, MSE to one-hot
digits) and get the same budget of Hessian-vector products where their algorithms coincide -- Hutchinson
with the same number of Rademacher probes, SLQ with the same Lanczos depth and probe count. For the top
eigenvalue PyHessian runs its power iteration with its default stopping rule (relative change < 1e-3);
dl_theory runs Lanczos twice: with ``lanczos_iters`` steps, and with the fewest steps whose error is no larger
than PyHessian's (the time-to-accuracy comparison). Every estimate's error against the exact spectrum (dense
float64 Hessian, ``eigh``) is printed next to its time. Times are the median of ``reps`` calls after one
warm-up call (for dl_theory that call includes XLA compilation, printed too); PyHessian's graph setup
(forward and ``create_graph`` backward, done once) is timed separately and not included. Hutchinson probes
run in chunks of ``trace_chunk`` (``vmap`` inside a chunk): on two CPU cores, chunks of 10 keep the batched
products' intermediates in cache (measured for 100 probes: all at once 131 ms, chunks of 10 41 ms, one at a
time 63 ms).
"""

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "experiments" / "benchmarks" / "results" / "hessian_pyhessian.json"
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


def _median_time(fn, reps: int) -> tuple[float, object]:
    out, times = None, []
    for _ in range(reps):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), out


def torch_worker(inp: str, outp: str) -> None:
    """Runs PyHessian on the weights and data in ``inp`` (npz); writes times and estimates to ``outp``
    (json)."""
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
    comp = pyh(model, criterion, data=(x, y), cuda=False)
    reps = cfg["reps"]
    comp.eigenvalues(maxIter=cfg["power_max_iter"], tol=cfg["power_tol"])  # warm-up
    setup_t, _ = _median_time(lambda: pyh(model, criterion, data=(x, y), cuda=False), reps)
    top_t, top = _median_time(
        lambda: comp.eigenvalues(maxIter=cfg["power_max_iter"], tol=cfg["power_tol"]), reps
    )
    trace_t, tr = _median_time(lambda: comp.trace(maxIter=cfg["trace_probes"], tol=0.0), reps)
    dens_t, dens = _median_time(lambda: comp.density(iter=cfg["slq_iters"], n_v=cfg["slq_probes"]), reps)
    json.dump(
        {
            "setup_s": setup_t,
            "top_s": top_t,
            "trace_s": trace_t,
            "density_s": dens_t,
            "top": float(top[0][0]),
            "trace": float(np.mean(tr)),
            "trace_probes_used": len(tr),
            "density_nodes": [list(map(float, e)) for e in dens[0]],
            "density_weights": [list(map(float, w)) for w in dens[1]],
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },
        open(outp, "w"),
    )


def _timed(fn, cfg: dict) -> tuple[float, float, object]:
    """(first-call seconds, median seconds, value) of a jitted ``fn()``."""
    import jax

    start = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - start
    median, value = _median_time(lambda: jax.block_until_ready(fn()), cfg["reps"])
    return first, median, value


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


def _jax_side(cfg: dict, params, data, lam: np.ndarray, top_error_to_match: float) -> dict:
    import jax

    from dl_theory.curvature import hessian

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
                    if abs(float(top(m)(params, key)) / lam[-1] - 1) <= top_error_to_match), cfg["lanczos_iters"])
    out = {"matched_lanczos_iters": matched}
    fns = {"top": top(cfg["lanczos_iters"]), "top_matched": top(matched), "trace": trace, "density": dens}
    for name, fn in fns.items():
        out[f"{name}_first_s"], out[f"{name}_s"], out[name] = _timed(lambda fn=fn: fn(params, key), cfg)
    for name in ("top", "top_matched", "trace"):
        out[name] = float(out[name])
    nodes, weights = out.pop("density")
    out["density_nodes"], out["density_weights"] = np.asarray(nodes), np.asarray(weights)
    return out


def main() -> int:
    cfg = dict(SETTINGS)
    python = Path(os.environ.get("PYHESSIAN_PYTHON", ROOT / ".pyhessian-venv" / "bin" / "python"))
    if not python.exists():
        print(
            f"PyHessian environment not found at {python}; build it with scripts/pyhessian_env.sh",
            file=sys.stderr,
        )
        return 2
    import jax

    from dl_theory import data as dl_data

    data = dl_data.digits_subset(cfg["n_examples"], cfg["seed"])
    _, params = _model().init(jax.random.key(cfg["seed"]), (-1, cfg["widths"][0]))
    with tempfile.TemporaryDirectory() as tmp:
        arrays = {"x": np.asarray(data[0]), "y": np.asarray(data[1]), "settings": json.dumps(cfg)}
        for i, layer in enumerate(params):
            arrays[f"w{i}"], arrays[f"b{i}"] = np.asarray(layer["w"]), np.asarray(layer["b"])
        np.savez(Path(tmp) / "in.npz", **arrays)
        subprocess.run(
            [str(python), __file__, "--torch-worker", str(Path(tmp) / "in.npz"), str(Path(tmp) / "out.json")],
            check=True,
        )
        torch_out = json.load(open(Path(tmp) / "out.json"))
    lam = _exact_eigenvalues(params, data)
    exact = {"top": lam[-1], "trace": lam.sum()}
    width = lam[-1] - lam[0]

    def w1(nodes, weights) -> float:
        from dl_theory.stats import wasserstein1

        return wasserstein1(np.ravel(nodes), np.ravel(weights), lam, None) / width

    def errors_of(out: dict, names: tuple[str, ...]) -> dict:
        errs = {n: abs(out[n] / exact["top" if n.startswith("top") else n] - 1) for n in names}
        return errs | {"density": w1(out["density_nodes"], out["density_weights"])}

    pyh_errors = errors_of(torch_out, ("top", "trace"))
    ours = _jax_side(cfg, params, data, lam, pyh_errors["top"])
    errors = {"dl_theory": errors_of(ours, ("top", "top_matched", "trace")), "pyhessian": pyh_errors}
    dim = len(lam)
    print(
        f"tanh MLP {cfg['widths']} ({dim} parameters), {cfg['n_examples']} digits, MSE, CPU; "
        f"torch {torch_out['torch']} ({torch_out['threads']} threads), jax {jax.__version__}"
    )
    print(f"exact: lambda_max = {exact['top']:.6g}, trace = {exact['trace']:.6g}")
    header = f"{'quantity':<44}{'dl_theory s':>12}{'(1st call)':>11}{'PyHessian s':>13}{'ratio':>8}"
    print(header + f"{'err dl_theory':>15}{'err PyHessian':>15}")
    rows = [
        (f"top eigenvalue (Lanczos {cfg['lanczos_iters']} vs power)", "top", "top"),
        (f"top eigenvalue (Lanczos {ours['matched_lanczos_iters']}: matched accuracy)", "top_matched", "top"),
        (f"trace ({cfg['trace_probes']} probes)", "trace", "trace"),
        (f"density (SLQ {cfg['slq_iters']} x {cfg['slq_probes']})", "density", "density"),
    ]
    ratios = {}
    for label, name, peer in rows:
        ratios[name] = torch_out[f"{peer}_s"] / ours[f"{name}_s"]
        print(
            f"{label:<44}{ours[f'{name}_s']:>12.4f}{ours[f'{name}_first_s']:>11.2f}{torch_out[f'{peer}_s']:>13.4f}"
            f"{ratios[name]:>7.1f}x{errors['dl_theory'][name]:>15.2e}{errors['pyhessian'][peer]:>15.2e}"
        )
    print("errors: relative for eigenvalue and trace; W1(estimated, exact spectrum) / spectral width for density")
    print(f"PyHessian graph setup (forward + create_graph backward): {torch_out['setup_s']:.4f} s (not included)")
    matched = {"top": ratios["top_matched"], "trace": ratios["trace"], "density": ratios["density"]}
    print(f"speed-up at matched accuracy: min {min(matched.values()):.1f}x (target >= 3x)")
    report = {
        "settings": cfg,
        "machine": platform.platform(),
        "dim": dim,
        "versions": {"jax": jax.__version__, "torch": torch_out["torch"], "torch_threads": torch_out["threads"]},
        "exact": {"top": float(exact["top"]), "trace": float(exact["trace"])},
        "matched_lanczos_iters": ours["matched_lanczos_iters"],
        "estimates": {
            "dl_theory": {k: ours[k] for k in ("top", "top_matched", "trace")},
            "pyhessian": {"top": torch_out["top"], "trace": torch_out["trace"],
                          "trace_probes_used": torch_out["trace_probes_used"]},
        },
        "times_s": {
            "dl_theory": {k: ours[f"{k}_s"] for k in ("top", "top_matched", "trace", "density")},
            "dl_theory_first_call": {k: ours[f"{k}_first_s"] for k in ("top", "top_matched", "trace", "density")},
            "pyhessian": {k: torch_out[f"{k}_s"] for k in ("top", "trace", "density")},
            "pyhessian_setup": torch_out["setup_s"],
        },
        "ratio_pyhessian_over_dl_theory": ratios,
        "ratio_at_matched_accuracy": matched,
        "errors": errors,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=RESULTS.parent, suffix=".tmp", delete=False) as f:
        json.dump(report, f, indent=2)
    os.replace(f.name, RESULTS)
    print(f"saved {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--torch-worker":
        torch_worker(sys.argv[2], sys.argv[3])
    else:
        sys.exit(main())
