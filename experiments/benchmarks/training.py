"""Benchmark: training throughput (optimizer steps per second) of ``dl_theory.training`` vs a plain PyTorch loop.

The same two networks on MNIST-1D (Greydanus & Kobak 2020; 4000 length-40 signals, 10 classes), minibatches of 128
drawn from a fresh permutation every epoch, softmax cross-entropy, Adam (learning rate 1e-3), float32, standard
parameterization on both sides:

* ``mlp``: ``Dense(256)-ReLU-Dense(256)-ReLU-Dense(10)`` (``dl_theory.models.mlp``);
* ``cnn``: two 1-D convolutions of 32 channels, width 5, SAME padding, ReLU, global average pooling, ``Dense(10)``
  (``dl_theory.models.cnn``); in PyTorch ``Conv1d`` on the signals laid out ``N x 1 x 40``.

dl_theory runs the engine that :func:`dl_theory.training.train` picks, through :func:`dl_theory.training.make_chunk`
(``train`` calls it once per ``log_every`` steps), so a timed call is ``steps`` optimizer steps with the minibatch
gather inside; its first call (tracing and XLA compilation) is recorded separately. The MLP runs the ``"scan"`` engine
(one jitted ``lax.scan`` over the steps); the CNN runs ``"dispatch"`` (its step compiled alone, called once per step
from Python), because XLA:CPU compiles a convolution's gradient inside a loop body to a slow generic loop
(jax-ml/jax#12868). The other engine's steps/s is recorded beside it. PyTorch runs the textbook loop (index a
minibatch, forward, loss, ``zero_grad``, ``backward``, ``step``) with its default threads (see
:func:`experiments.benchmarks._harness.choose_threads` for loaded machines). Each side runs in its own process; steps/s
is ``steps`` over the median time of a call.
"""

from __future__ import annotations

from experiments.benchmarks import _harness as h

PEER = "torch"
BATCH, LR, N_TRAIN, WIDTH, CHANNELS, FILTER = 128, 1e-3, 4000, 256, 32, 5
STEPS = {"quick": 100, "full": 200}
MODELS = ("mlp", "cnn")


def _data():
    from dl_theory import data

    d = data.mnist1d(n_train=N_TRAIN, n_test=10)
    return d.x_train, d.y_train


def dl_theory_worker(model: str, steps: int, repeats: int) -> dict:
    """Steps/s of ``training.make_chunk`` (the jitted scan of ``training.train``) on MNIST-1D."""
    import functools

    import jax
    import jax.numpy as jnp
    import optax

    from dl_theory import losses, models, training

    x, y = _data()
    if model == "mlp":
        init_fn, apply_fn, _ = models.mlp((WIDTH, WIDTH), 10, parameterization="standard")
        shape = (-1, x.shape[1])
    else:
        x = x[..., None]  # N x 40 x 1 (NWC)
        init_fn, apply_fn, _ = models.cnn((CHANNELS, CHANNELS), 10, filter_shape=(FILTER,),
                                          parameterization="standard")
        shape = (-1, *x.shape[1:])
    data = (jnp.asarray(x), jnp.asarray(y))
    _, params = init_fn(jax.random.key(0), shape)
    loss_fn, optimizer, key = losses.cross_entropy(apply_fn), optax.adam(LR), jax.random.key(1)
    engine = "dispatch" if training.uses_convolution(loss_fn, params, (data[0][:BATCH], data[1][:BATCH])) else "scan"
    state = training.TrainState(params, optimizer.init(params))
    step_ids = jnp.arange(steps)
    other = "dispatch" if engine == "scan" else "scan"
    timings, chunks = {}, {}
    for name in (engine, other):  # the engine train picks, first
        base = h.rss_mb()
        chunks[name] = training.make_chunk(loss_fn, optimizer, BATCH, engine=name)
        timings[name] = h.measure(functools.partial(chunks[name], state, data, key, step_ids), repeats,
                                  jax.block_until_ready, base_mb=base)
    losses_S = chunks[engine](state, data, key, step_ids)[1]
    return {"engine": engine, "steps_per_s": steps / timings[engine]["median_s"], "other": other,
            "other_steps_per_s": steps / timings[other]["median_s"], "engines": timings,
            "loss_first": float(losses_S[0]), "loss_last": float(losses_S[-1]), "jax": jax.__version__,
            **timings[engine]}


def torch_worker(model: str, steps: int, repeats: int, data: str) -> dict:
    """Steps/s of a plain PyTorch training loop on the same data (``data``: an npz of ``x`` and ``y``)."""
    import numpy as np
    import torch

    torch.manual_seed(0)
    with np.load(data) as f:
        xt, yt = torch.from_numpy(f["x"].astype(np.float32)), torch.from_numpy(f["y"].astype(np.int64))
    if model == "mlp":
        net = torch.nn.Sequential(torch.nn.Linear(xt.shape[1], WIDTH), torch.nn.ReLU(), torch.nn.Linear(WIDTH, WIDTH),
                                  torch.nn.ReLU(), torch.nn.Linear(WIDTH, 10))
    else:
        xt = xt[:, None, :]  # N x 1 x 40 (NCW)

        class GlobalAvgPool(torch.nn.Module):
            def forward(self, z):
                return z.mean(dim=-1)

        net = torch.nn.Sequential(torch.nn.Conv1d(1, CHANNELS, FILTER, padding="same"), torch.nn.ReLU(),
                                  torch.nn.Conv1d(CHANNELS, CHANNELS, FILTER, padding="same"), torch.nn.ReLU(),
                                  GlobalAvgPool(), torch.nn.Linear(CHANNELS, 10))
    optimizer = torch.optim.Adam(net.parameters(), lr=LR)
    n, per_epoch = len(xt), len(xt) // BATCH
    base = h.rss_mb()
    losses = []

    def loop():
        perm = None
        for step in range(steps):
            if step % per_epoch == 0:
                perm = torch.randperm(n)
            idx = perm[(step % per_epoch) * BATCH:(step % per_epoch + 1) * BATCH]
            loss = torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item()) if step in (0, steps - 1) else None

    timing = h.measure(loop, repeats, base_mb=base)
    return {"steps_per_s": steps / timing["median_s"], "loss_first": losses[0],
            "loss_last": losses[-1], "torch": torch.__version__,
            "threads": torch.get_num_threads(), **timing}


def run(quick: bool, repeats: int | None = None) -> dict:
    import tempfile

    import numpy as np

    steps = STEPS["quick" if quick else "full"]
    repeats = repeats or 3
    missing = h.peer_available(PEER)
    label = h.PEERS[PEER][3]
    rows, details = [], {}
    tmp = tempfile.TemporaryDirectory()
    if not missing:
        np.savez(f"{tmp.name}/data.npz", **dict(zip(("x", "y"), _data(), strict=True)))
    for model in MODELS:
        d = h.run_worker("dl_theory", "training", "dl_theory_worker", model=model, steps=steps, repeats=repeats)
        p = None if missing else h.run_worker(PEER, "training", "torch_worker", model=model, steps=steps,
                                              repeats=repeats, data=f"{tmp.name}/data.npz")
        details[model] = {"dl_theory": d, "torch": p}
        name = {"mlp": f"train MLP 40-{WIDTH}-{WIDTH}-10", "cnn": f"train CNN conv{FILTER}x{CHANNELS} x2 + GAP"}[model]
        size = f"MNIST-1D, batch {BATCH}, Adam, {steps} steps"
        rows.append(h.throughput_row(name, size, d, p, PEER, label, d["first_s"]))
    tmp.cleanup()
    notes = ["training: steady-state steps/s (speed-up = dl_theory steps/s over PyTorch's) of the engine "
             "`training.train` picks (`scan` for the MLP, `dispatch` for the CNN: XLA:CPU runs a convolution's "
             "gradient inside a loop body ~10-20x slower, jax-ml/jax#12868); its compile time is in the dl_theory "
             "cell."]
    return {"peer": label, "repeats": repeats, "steps": steps, "rows": rows, "details": details, "notes": notes}
