"""Benchmark: causal multi-head self-attention, forward and backward, dl_theory vs PyTorch's fused kernel.

The layer is :func:`dl_theory.models.attention.multihead.multihead_attention` (query, key and value projections, causal
scaled dot-product attention per head, output projection; Vaswani et al. 2017) with ``implementation="causal_blocks"``
(the formula over blocks of queries and only the keys they see), beside the default ``"formula"`` (the einsum formula
written out) and ``"jax"`` (``jax.nn.dot_product_attention``); the peer computes the
same function from the same weights with ``torch.nn.functional.scaled_dot_product_attention(is_causal=True)`` between
the same projections. Forward: the output for a batch of ``B`` sequences of ``n`` tokens of width ``d`` (4 heads).
Backward: the gradient of the output's sum with respect to the weights and the input (one forward and one backward
pass). Both float32, each side in its own process, the
median of repeated calls after a warm-up (the first call, compilation for dl_theory, recorded separately). Accuracy: the
forward output of the first sequence against a float64 NumPy evaluation of the formula.
"""

from __future__ import annotations

from experiments.benchmarks import _harness as h

PEER = "torch"
HEADS, BATCH = 4, 8
IMPLEMENTATIONS = ("causal_blocks", "formula", "jax")  # the first is the headline
SIZES = {"quick": ((128, 64), (512, 128)), "full": ((128, 64), (512, 128), (1024, 256))}


def _weights(n: int, d: int, seed: int = 0) -> dict:
    """Input and weights in dl_theory's layout: ``query/key/value`` kernels ``(d, h, d/h)``, ``out`` ``(h, d/h, d)``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    k = d // HEADS
    w = {"x": rng.standard_normal((BATCH, n, d))}
    for name in ("query", "key", "value"):
        w[f"{name}_kernel"] = rng.standard_normal((d, HEADS, k)) / np.sqrt(d)
        w[f"{name}_bias"] = 0.1 * rng.standard_normal((HEADS, k))
    w["out_kernel"] = rng.standard_normal((HEADS, k, d)) / np.sqrt(d)
    w["out_bias"] = 0.1 * rng.standard_normal(d)
    return {name: a.astype(np.float32) for name, a in w.items()}


def reference(w: dict):
    """Float64 NumPy output of the first sequence: the formula, with a causal mask."""
    import numpy as np

    w = {name: a.astype(np.float64) for name, a in w.items()}
    x = w["x"][0]
    q, k, v = (np.einsum("td,dhk->thk", x, w[f"{n}_kernel"]) + w[f"{n}_bias"] for n in ("query", "key", "value"))
    logits = np.einsum("thk,shk->hts", q, k) / np.sqrt(q.shape[-1])
    t = x.shape[0]
    logits = np.where(np.tril(np.ones((t, t), bool)), logits, -np.inf)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    heads = np.einsum("hts,shk->thk", p, v)
    return np.einsum("thk,hko->to", heads, w["out_kernel"]) + w["out_bias"]


def dl_theory_worker(n: int, d: int, repeats: int, implementation: str, out: str) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from dl_theory.models.attention.multihead import multihead_attention

    w = _weights(n, d)
    x = jnp.asarray(w["x"])
    params = {name: {"kernel": jnp.asarray(w[f"{name}_kernel"]), "bias": jnp.asarray(w[f"{name}_bias"])}
              for name in ("query", "key", "value", "out")}
    _, apply_fn = multihead_attention(HEADS, d, implementation=implementation)
    base = h.rss_mb()
    forward = jax.jit(lambda p, x: apply_fn(p, x, is_causal=True))
    backward = jax.jit(jax.grad(lambda p, x: apply_fn(p, x, is_causal=True).sum(), argnums=(0, 1)))
    fwd = h.measure(lambda: forward(params, x), repeats, jax.block_until_ready, base_mb=base)
    bwd = h.measure(lambda: backward(params, x), repeats, jax.block_until_ready, base_mb=base)
    np.save(out, np.asarray(forward(params, x))[0])
    return {"forward": fwd, "backward": bwd, "peak_mb": max(fwd["peak_mb"], bwd["peak_mb"]), "jax": jax.__version__}


def torch_worker(n: int, d: int, repeats: int, out: str) -> dict:
    import numpy as np
    import torch

    w = {name: torch.from_numpy(a) for name, a in _weights(n, d).items()}
    x = w.pop("x").requires_grad_(True)
    for a in w.values():
        a.requires_grad_(True)

    def apply():
        q, k, v = (torch.einsum("btd,dhk->bhtk", x, w[f"{name}_kernel"]) + w[f"{name}_bias"][None, :, None]
                   for name in ("query", "key", "value"))
        heads = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return torch.einsum("bhtk,hko->bto", heads, w["out_kernel"]) + w["out_bias"]

    def forward():
        with torch.no_grad():
            return apply()

    def backward():
        for a in (x, *w.values()):
            a.grad = None
        apply().sum().backward()
        return x.grad

    base = h.rss_mb()
    fwd = h.measure(forward, repeats, base_mb=base)
    bwd = h.measure(backward, repeats, base_mb=base)
    np.save(out, forward()[0].numpy())
    return {"forward": fwd, "backward": bwd, "peak_mb": max(fwd["peak_mb"], bwd["peak_mb"]), "torch": torch.__version__,
            "threads": torch.get_num_threads()}


def run(quick: bool, repeats: int | None = None) -> dict:
    import tempfile

    import numpy as np

    sizes = SIZES["quick" if quick else "full"]
    repeats = repeats or (3 if quick else 5)
    missing = h.peer_available(PEER)
    label = h.PEERS[PEER][3]
    rows, details = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for n, d in sizes:
            ref = reference(_weights(n, d))
            runs = {impl: h.run_worker("dl_theory", "causal_attention", "dl_theory_worker", n=n, d=d,
                                       repeats=repeats, implementation=impl, out=f"{tmp}/{impl}.npy")
                    for impl in IMPLEMENTATIONS}
            if not missing:
                runs["torch"] = h.run_worker(PEER, "causal_attention", "torch_worker", n=n, d=d, repeats=repeats,
                                             out=f"{tmp}/torch.npy")
            err = {k: float(np.max(np.abs(np.load(f"{tmp}/{k}.npy") - ref)) / np.max(np.abs(ref))) for k in runs}
            details[f"n{n}_d{d}"] = {"runs": runs, "rel_err_vs_float64": err}
            size = f"B={BATCH}, n={n}, d={d}, {HEADS} heads"
            for direction in ("forward", "backward"):
                dl, fm, jx = (runs[impl][direction] for impl in IMPLEMENTATIONS)
                dl_cell = (f"{h.fmt_time(dl['median_s'])} (causal blocks; formula {h.fmt_time(fm['median_s'])}, "
                           f"jax.nn {h.fmt_time(jx['median_s'])})")
                acc = f"{err['causal_blocks']:.1e}" + ("" if missing else f"; torch {err['torch']:.1e}")
                workload = f"causal MHA {direction}"
                if missing:
                    rows.append(h.row(workload, size, dl_theory=dl_cell, peer=h.missing_cell(PEER), accuracy=acc,
                                      dl_theory_s=dl["median_s"]))
                    continue
                p = runs["torch"][direction]
                speedup = p["median_s"] / dl["median_s"]
                rows.append(h.row(workload, size, dl_theory=dl_cell, peer=f"{h.fmt_time(p['median_s'])} (torch sdpa)",
                                  speedup=speedup, target="≥ 1×", met=h.at_least(speedup, 1.0),
                                  memory_ratio=h.mem_ratio(runs["causal_blocks"], runs["torch"]), accuracy=acc,
                                  dl_theory_s=dl["median_s"], dl_theory_formula_s=fm["median_s"],
                                  dl_theory_jax_impl_s=jx["median_s"],
                                  peer_s=p["median_s"]))
    notes = ["attention: speed-up of dl_theory's `causal_blocks` implementation (the formula per block of queries "
             "against the keys they see); the `formula` and `jax.nn` implementations' times are in parentheses; memory "
             "is each process's peak over forward and backward together; accuracy is the forward output against "
             "float64 NumPy. The backward stays behind PyTorch's fused flash-attention kernel: autodiff of the blocks "
             "materializes the (T, S) weights and their transposes, which the fused kernel never stores."]
    return {"peer": label, "repeats": repeats, "rows": rows, "details": details, "notes": notes}
