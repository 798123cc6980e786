"""Benchmark: training throughput of a VAE and of a DDPM noise predictor, dl_theory vs plain PyTorch loops.

Both on MNIST-1D signals (Greydanus & Kobak 2020; 4000 examples of dimension 40), minibatches of 128 from a fresh
permutation every epoch, Adam (learning rate 1e-3), float32; the PyTorch networks mirror dl_theory's layer for layer:

* VAE (Kingma & Welling 2014): :func:`dl_theory.models.generative.vae.vae` with latent dimension 8, one hidden layer of
  128 ReLU units in the encoder (outputs mean and log-variance) and the decoder (Gaussian, one learned log-variance per
  coordinate); loss the negative ELBO with one reparameterized sample and the closed-form KL.
* DDPM (Ho et al. 2020): :func:`dl_theory.models.generative.diffusion.denoiser` (two hidden layers of 128 SiLU units on
  the signal concatenated with 32 sinusoidal time features), T = 100 steps of the linear schedule, the simple
  epsilon loss (:func:`~dl_theory.models.generative.diffusion.eps_loss`) with one random step per example.

dl_theory is timed two ways: as :func:`dl_theory.training.train` runs it (its engine
:func:`dl_theory.training.make_chunk`, one jitted ``lax.scan`` over the steps with fresh noise per step), the headline
number; and as the single jitted step the modules expose for benchmarks (``vae.train_step_fn``,
``diffusion.ddpm_train_step``) called from a Python loop over pre-drawn batches, the per-step dispatch cost included.
PyTorch runs the textbook loop. Each side runs in its own process; steps/s is the steps of a call over its median time
after a warm-up.
"""

from __future__ import annotations

from experiments.benchmarks import _harness as h

PEER = "torch"
BATCH, LR, LATENT, HIDDEN, T_STEPS, TIME_FEATURES = 128, 1e-3, 8, 128, 100, 32
STEPS = {"quick": 100, "full": 500}
MODELS = ("vae", "ddpm")


def _data_file(path: str) -> None:
    import numpy as np

    from dl_theory import data

    np.savez(path, x=data.mnist1d(n_train=4000, n_test=10).x_train)


def dl_theory_worker(model: str, steps: int, repeats: int, data: str) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    from dl_theory import training
    from dl_theory.models.generative import diffusion, vae

    with np.load(data) as f:
        x = jnp.asarray(f["x"])
    optimizer, key = optax.adam(LR), jax.random.key(0)
    if model == "vae":
        net = vae.vae(x.shape[1], LATENT, (HIDDEN,))
        params = net.init(key)
        loss_fn = vae.elbo_loss(net)
    else:
        init_fn, apply_fn = diffusion.denoiser((HIDDEN, HIDDEN), T_STEPS, time_features=TIME_FEATURES)
        _, params = init_fn(key, (-1, x.shape[1]))
        loss_fn = diffusion.eps_loss(apply_fn, diffusion.linear_schedule(T_STEPS))
    base = h.rss_mb()
    chunk = training.make_chunk(loss_fn, optimizer, BATCH, noise_key=jax.random.key(2))
    state = training.TrainState(params, optimizer.init(params))
    ids = jnp.arange(steps)
    scan = h.measure(lambda: chunk(state, x, jax.random.key(1), ids), repeats, jax.block_until_ready, base_mb=base)
    # the exposed single jitted step, called once per step from Python
    batches = x[: (len(x) // BATCH) * BATCH].reshape(-1, BATCH, x.shape[1])
    keys = jax.random.split(jax.random.key(3), steps)
    if model == "vae":
        step = vae.train_step_fn(net, optimizer, BATCH)

        def loop():
            p, o = params, optimizer.init(params)
            for i in range(steps):
                p, o, loss = step(p, o, batches[i % len(batches)], keys[i])
            return loss
    else:
        step = diffusion.ddpm_train_step(apply_fn, diffusion.linear_schedule(T_STEPS), optimizer, BATCH)

        def loop():
            s = training.TrainState(params, optimizer.init(params))
            for i in range(steps):
                s, loss = step(s, batches[i % len(batches)], keys[i])
            return loss

    stepwise = h.measure(loop, repeats, jax.block_until_ready)
    return {"scan": scan, "step": stepwise, "engine": "scan", "steps_per_s": steps / scan["median_s"],
            "other": "jitted step in a Python loop", "other_steps_per_s": steps / stepwise["median_s"],
            "peak_mb": scan["peak_mb"], "jax": jax.__version__}


def torch_worker(model: str, steps: int, repeats: int, data: str) -> dict:
    import math

    import numpy as np
    import torch

    torch.manual_seed(0)
    with np.load(data) as f:
        x = torch.from_numpy(f["x"].astype(np.float32))
    n, dim = x.shape
    if model == "vae":
        encoder = torch.nn.Sequential(torch.nn.Linear(dim, HIDDEN), torch.nn.ReLU(),
                                      torch.nn.Linear(HIDDEN, 2 * LATENT))
        decoder = torch.nn.Sequential(torch.nn.Linear(LATENT, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, dim))
        log_var = torch.nn.Parameter(torch.zeros(dim))
        parameters = [*encoder.parameters(), *decoder.parameters(), log_var]

        def loss_fn(xb):
            mean, lv = encoder(xb).chunk(2, dim=-1)
            z = mean + torch.exp(0.5 * lv) * torch.randn_like(mean)
            out = decoder(z)
            log_lik = -0.5 * (((xb - out) ** 2) * torch.exp(-log_var) + log_var + math.log(2 * math.pi)).sum(-1)
            kl = 0.5 * (torch.exp(lv) + mean**2 - 1.0 - lv).sum(-1)
            return -(log_lik - kl).mean()
    else:
        net = torch.nn.Sequential(torch.nn.Linear(dim + TIME_FEATURES, HIDDEN), torch.nn.SiLU(),
                                  torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.SiLU(), torch.nn.Linear(HIDDEN, dim))
        parameters = list(net.parameters())
        scale = 1000.0 / T_STEPS
        betas = torch.linspace(1e-4 * scale, min(0.02 * scale, 0.999), T_STEPS, dtype=torch.float64)
        alpha_bar = torch.cumprod(1 - betas, 0).float()
        half = TIME_FEATURES // 2
        freqs = torch.exp(-math.log(1e4) * torch.arange(half) / half)

        def loss_fn(xb):
            t = torch.randint(1, T_STEPS + 1, (xb.shape[0],))
            eps = torch.randn_like(xb)
            a = alpha_bar[t - 1][:, None]
            xt = a.sqrt() * xb + (1 - a).sqrt() * eps
            phase = (1000.0 * t.float() / T_STEPS)[:, None] * freqs[None]
            features = torch.cat([xt, torch.sin(phase), torch.cos(phase)], dim=1)
            return ((eps - net(features)) ** 2).mean()

    optimizer = torch.optim.Adam(parameters, lr=LR)
    per_epoch = n // BATCH
    base = h.rss_mb()

    def loop():
        perm = None
        for step in range(steps):
            if step % per_epoch == 0:
                perm = torch.randperm(n)
            loss = loss_fn(x[perm[(step % per_epoch) * BATCH:(step % per_epoch + 1) * BATCH]])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    timing = h.measure(loop, repeats, base_mb=base)
    return {"steps_per_s": steps / timing["median_s"], "torch": torch.__version__,
            "threads": torch.get_num_threads(), **timing}


def run(quick: bool, repeats: int | None = None) -> dict:
    import tempfile

    steps = STEPS["quick" if quick else "full"]
    repeats = repeats or (3 if quick else 5)
    missing = h.peer_available(PEER)
    label = h.PEERS[PEER][3]
    rows, details = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        data = f"{tmp}/data.npz"
        _data_file(data)
        for model in MODELS:
            d = h.run_worker("dl_theory", "generative", "dl_theory_worker", model=model, steps=steps,
                             repeats=repeats, data=data)
            p = None if missing else h.run_worker(PEER, "generative", "torch_worker", model=model, steps=steps,
                                                  repeats=repeats, data=data)
            details[model] = {"dl_theory": d, "torch": p}
            name = {"vae": f"train VAE 40-{HIDDEN}-{LATENT} (Gaussian)",
                    "ddpm": f"train DDPM denoiser 2x{HIDDEN} SiLU, T={T_STEPS}"}[model]
            size = f"MNIST-1D, batch {BATCH}, Adam, {steps} steps"
            rows.append(h.throughput_row(name, size, d, p, PEER, label, d["scan"]["first_s"]))
    notes = ["generative: speed-up of `training.train`'s scanned steps over PyTorch's loop; the exposed jitted single "
             "step (`vae.train_step_fn`, `diffusion.ddpm_train_step`) pays one Python dispatch per step."]
    return {"peer": label, "repeats": repeats, "steps": steps, "rows": rows, "details": details, "notes": notes}
