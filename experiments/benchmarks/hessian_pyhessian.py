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
eigenvalue PyHessian runs its power iteration with its default stopping rule (relative change < 1e-3) and
dl_theory runs a fixed number of Lanczos steps; every estimate's error against the exact spectrum (dense
float64 Hessian, ``eigh``) is printed next to its time, so the speed-up is only claimed where dl_theory is
at least as accurate. Times are the median of several calls after one warm-up call (which, for dl_theory,
includes XLA compilation, printed too).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {
    "n_examples": 1000,
    "widths": [64, 32, 32, 10],
    "seed": 0,
    "reps": 3,
    "power_max_iter": 100,
    "power_tol": 1e-3,
    "lanczos_iters": 20,
    "trace_probes": 100,
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


def _wasserstein1(nodes_a, weights_a, nodes_b, weights_b) -> float:
    x = np.concatenate([nodes_a, nodes_b])
    w = np.concatenate([weights_a, -np.asarray(weights_b)])
    order = np.argsort(x)
    return float(np.sum(np.abs(np.cumsum(w[order])[:-1]) * np.diff(x[order])))


def _jax_side(cfg: dict, params, data) -> dict:
    import jax
    import jax.numpy as jnp

    from dl_theory import hessian
    from experiments import _hessian_mlp as mlp

    key = jax.random.key(cfg["seed"] + 1)
    matvec, dim = hessian.hessian_matvec(mlp.mse_loss, params, data)
    top = jax.jit(lambda k: hessian.top_eigenvalues(matvec, dim, 1, key=k, num_iters=cfg["lanczos_iters"])[0])
    trace = jax.jit(lambda k: hessian.trace(matvec, dim, key=k, num_probes=cfg["trace_probes"]).mean)
    dens = jax.jit(
        lambda k: hessian.spectral_density(
            matvec, dim, key=k, num_probes=cfg["slq_probes"], num_iters=cfg["slq_iters"]
        )[2:]
    )
    out = {"dim": dim}
    for name, fn in (("top", top), ("trace", trace), ("density", dens)):
        start = time.perf_counter()
        jax.block_until_ready(fn(key))
        out[f"{name}_first_s"] = time.perf_counter() - start
        out[f"{name}_s"], value = _median_time(lambda fn=fn: jax.block_until_ready(fn(key)), cfg["reps"])
        out[name] = value
    out["top"], out["trace"] = float(out["top"][0]), float(out["trace"])
    nodes, weights = out.pop("density")
    out["density_nodes"], out["density_weights"] = np.asarray(nodes), np.asarray(weights)
    with jax.enable_x64(True):
        p64 = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), params)
        d64 = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), data)
        mv64, _ = hessian.hessian_matvec(mlp.mse_loss, p64, d64)
        h_DxD = jax.jit(lambda: jax.lax.map(mv64, jnp.eye(dim), batch_size=256))()
        out["exact_eigenvalues"] = np.linalg.eigvalsh(np.asarray(h_DxD))
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

    from experiments import _hessian_mlp as mlp

    data = mlp.digits_subset(cfg["n_examples"], cfg["seed"])
    params = mlp.init(jax.random.key(cfg["seed"]), tuple(cfg["widths"]))
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
    ours = _jax_side(cfg, params, data)
    lam = ours.pop("exact_eigenvalues")
    exact = {"top": lam[-1], "trace": lam.sum()}
    width, uniform = lam[-1] - lam[0], np.full(len(lam), 1 / len(lam))

    def w1(nodes, weights) -> float:
        nodes, weights = np.ravel(nodes), np.ravel(weights)
        return _wasserstein1(nodes, weights / weights.sum(), lam, uniform) / width

    errors = {
        "dl_theory": {
            "top": abs(ours["top"] / exact["top"] - 1),
            "trace": abs(ours["trace"] / exact["trace"] - 1),
            "density": w1(ours["density_nodes"], ours["density_weights"]),
        },
        "pyhessian": {
            "top": abs(torch_out["top"] / exact["top"] - 1),
            "trace": abs(torch_out["trace"] / exact["trace"] - 1),
            "density": w1(torch_out["density_nodes"], torch_out["density_weights"]),
        },
    }
    print(
        f"tanh MLP {cfg['widths']} ({ours['dim']} parameters), {cfg['n_examples']} digits, MSE, CPU; "
        f"torch {torch_out['torch']} ({torch_out['threads']} threads), jax {jax.__version__}"
    )
    print(f"exact: lambda_max = {exact['top']:.6g}, trace = {exact['trace']:.6g}")
    header = f"{'quantity':<34}{'dl_theory s':>12}{'(1st call)':>11}{'PyHessian s':>13}{'ratio':>8}"
    print(header + f"{'err dl_theory':>15}{'err PyHessian':>15}")
    rows = [
        ("top eigenvalue (Lanczos vs power)", "top"),
        (f"trace ({cfg['trace_probes']} probes)", "trace"),
        (f"density (SLQ {cfg['slq_iters']} x {cfg['slq_probes']})", "density"),
    ]
    ratios = {}
    for label, name in rows:
        ratios[name] = torch_out[f"{name}_s"] / ours[f"{name}_s"]
        print(
            f"{label:<34}{ours[f'{name}_s']:>12.4f}{ours[f'{name}_first_s']:>11.2f}{torch_out[f'{name}_s']:>13.4f}"
            f"{ratios[name]:>7.1f}x{errors['dl_theory'][name]:>15.2e}{errors['pyhessian'][name]:>15.2e}"
        )
    print(
        "errors: relative for eigenvalue and trace; "
        "W1(estimated, exact spectrum) / spectral width for density"
    )
    print(
        f"PyHessian graph setup (forward + create_graph backward): {torch_out['setup_s']:.4f} s "
        "(not included)"
    )
    print(f"min speed-up {min(ratios.values()):.1f}x (target >= 3x)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--torch-worker":
        torch_worker(sys.argv[2], sys.argv[3])
    else:
        sys.exit(main())
