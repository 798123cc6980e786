"""Training loop: a jitted optax step, with a history, a NaN guard and checkpoints.

``train`` runs ``n_steps`` optimizer steps in chunks of ``log_every`` steps, each chunk one compiled ``lax.scan`` (or,
for convolutional models on the CPU, one compiled step dispatched per step: :func:`make_chunk`). Between chunks (on the
host) it checks the loss for NaN/inf, calls an optional ``callback(step, params)`` (e.g. to track the empirical NTK),
advances the progress bar, and saves a checkpoint when one is due. Minibatches are a per-epoch random permutation drawn
from ``fold_in(key, epoch)``, so a run's trajectory depends only on its key and step — which is what makes
``resume=True`` give the same final parameters as an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.tree_util import Partial

from dl_theory import checks
from dl_theory.training.progress import bar
from dl_theory.tree import leading_size
from dl_theory.typing import LossFn, Params, PyTree

Callback = Callable[[int, Params], dict[str, Any] | None]


class TrainState(NamedTuple):
    params: Params
    opt_state: optax.OptState


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; carries the step and the state at the start of the failing chunk."""

    def __init__(self, step: int, loss: float, last_finite: tuple[int, float] | None, state: TrainState):
        where = (f"last finite loss {last_finite[1]:.6g} at step {last_finite[0]}" if last_finite
                 else "no finite loss was ever seen")
        super().__init__(f"loss became {loss} at step {step} ({where}); "
                         "lower the learning rate or check the data and initialization")
        self.step, self.loss, self.state = step, loss, state


class _Checkpoints:
    """The enclosing :func:`checkpointing` block: its folder, resume flag, and a count of ``train`` calls."""

    def __init__(self, directory: Path, resume: bool):
        self.directory, self.resume, self.calls = Path(directory), resume, 0

    def next_name(self, desc: str) -> str:
        self.calls += 1
        return f"{self.calls - 1:03d}-" + "".join(c if c.isalnum() else "_" for c in desc)


_CHECKPOINTS: contextvars.ContextVar[_Checkpoints | None] = contextvars.ContextVar("checkpoints", default=None)


@contextlib.contextmanager
def checkpointing(directory: Path, resume: bool = False) -> Iterator[None]:
    """Checkpoints every :func:`train` call in the block to ``directory`` (and, if ``resume``, resumes from there).

    A call with ``checkpoint=name`` uses ``directory/name.npz``; a call without a name uses its position in the
    block (``000-<desc>.npz``, ``001-<desc>.npz``, ...), which identifies it when the same deterministic code is
    run again. A resumed call that had finished returns its saved result without training. The CLI wraps each
    experiment in this, in a folder keyed by the experiment's config.
    """
    token = _CHECKPOINTS.set(_Checkpoints(directory, resume))
    try:
        yield
    finally:
        _CHECKPOINTS.reset(token)


def epoch_order(key: jax.Array, epoch: jax.Array, n: int) -> jax.Array:
    """The random order of the ``n`` examples in ``epoch``: a permutation drawn from ``fold_in(key, epoch)``."""
    return jax.random.permutation(jax.random.fold_in(key, epoch), n)


def batch_of(data: PyTree, order: jax.Array, step: jax.Array, batch_size: int) -> PyTree:
    """Slice ``step mod (N // batch_size)`` of ``order`` (the order of ``step``'s epoch), gathered from ``data``."""
    n = jax.tree_util.tree_leaves(data)[0].shape[0]
    idx = jax.lax.dynamic_slice_in_dim(order, (step % (n // batch_size)) * batch_size, batch_size)
    return jax.tree_util.tree_map(lambda a: a[idx], data)


def minibatch(data: PyTree, key: jax.Array, step: jax.Array, batch_size: int) -> PyTree:
    """The ``step``-th minibatch: slice ``step mod (N // batch_size)`` of the permutation of epoch
    ``step // (N // batch_size)`` (the last ``N mod batch_size`` examples of each permutation are skipped).

    This draws the epoch's permutation anew; the training engines draw it once per epoch and take the same batches.
    """
    n = jax.tree_util.tree_leaves(data)[0].shape[0]
    return batch_of(data, epoch_order(key, step // (n // batch_size), n), step, batch_size)


ENGINES = ("auto", "scan", "dispatch")


def make_chunk(loss_fn: LossFn, optimizer: optax.GradientTransformation, batch_size: int | None,
               noise_key: jax.Array | None = None, *, engine: str = "scan") -> Callable:
    """A ``chunk(state, data, key, steps) -> (state, losses)`` running one optimizer step for each of the consecutive
    step numbers ``steps``; full-batch when ``batch_size`` is None. With ``noise_key`` the loss is
    ``loss_fn(params, batch, fold_in(noise_key, step))``.

    Two engines take the same steps. ``"scan"`` compiles the whole chunk as one ``lax.scan`` (no Python between
    steps: the fastest for small and dense models). ``"dispatch"`` compiles one step and calls it from Python once per
    step (a few tens of microseconds each): XLA:CPU compiles a convolution's gradient inside a loop body to a slow
    generic loop instead of its fast kernel (jax-ml/jax#12868; 10-20x slower for a small 1-D CNN), so convolutional
    models train faster this way on the CPU. Both draw an epoch's permutation once (:func:`epoch_order`), not at every
    step.

    For ``"scan"``, a plain ``loss_fn`` gets its own compiled scan, freed with it. A :class:`jax.tree_util.Partial`
    ``Partial(fn, *arrays)`` shares one module-level compile across calls with the same ``fn``, optimizer object,
    ``batch_size`` and shapes, its bound arrays being traced arguments: build a loss that way, with one optimizer
    object, to reuse a compile across runs that differ only in those arrays (a prior, a target, a penalty weight).
    """
    if engine not in ("scan", "dispatch"):
        raise checks.fail("engine", "'scan' or 'dispatch'", engine)
    if engine == "dispatch":
        return _dispatch_chunk(loss_fn, optimizer, batch_size, noise_key)
    if isinstance(loss_fn, Partial):
        try:
            hash(optimizer)
        except TypeError:  # an optimizer that cannot key a cache gets its own compile
            return jax.jit(functools.partial(_chunk_impl, loss_fn, noise_key, optimizer=optimizer,
                                             batch_size=batch_size))
        return functools.partial(_chunk, loss_fn, noise_key, optimizer=optimizer, batch_size=batch_size)
    return jax.jit(functools.partial(_chunk_impl, loss_fn, noise_key, optimizer=optimizer, batch_size=batch_size))


def _step(loss_fn: LossFn, noise_key: jax.Array | None, optimizer: optax.GradientTransformation, state: TrainState,
          batch: PyTree, step: jax.Array) -> tuple[TrainState, jax.Array]:
    noise = () if noise_key is None else (jax.random.fold_in(noise_key, step),)
    loss, grads = jax.value_and_grad(loss_fn)(state.params, batch, *noise)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    return TrainState(optax.apply_updates(state.params, updates), opt_state), loss


def _chunk_impl(loss_fn: LossFn, noise_key: jax.Array | None, state: TrainState, data: PyTree, key: jax.Array,
                steps: jax.Array, *, optimizer: optax.GradientTransformation, batch_size: int | None):
    n = leading_size("data", data)
    per_epoch = 1 if batch_size is None else n // batch_size

    def one_step(carry: tuple[TrainState, jax.Array | None], step: jax.Array):
        state, order = carry
        if batch_size is not None:  # a new epoch's permutation only where one starts
            order = jax.lax.cond(step % per_epoch == 0, lambda: epoch_order(key, step // per_epoch, n), lambda: order)
        batch = data if batch_size is None else batch_of(data, order, step, batch_size)
        state, loss = _step(loss_fn, noise_key, optimizer, state, batch, step)
        return (state, order), loss

    order = None if batch_size is None else epoch_order(key, steps[0] // per_epoch, n)
    (state, _), losses = jax.lax.scan(one_step, (state, order), steps)
    return state, losses


_chunk = jax.jit(_chunk_impl, static_argnames=("optimizer", "batch_size"))


def _dispatch_chunk(loss_fn: LossFn, optimizer: optax.GradientTransformation, batch_size: int | None,
                    noise_key: jax.Array | None) -> Callable:
    @jax.jit
    def step_fn(state: TrainState, data: PyTree, order: jax.Array | None, step: jax.Array):
        batch = data if batch_size is None else batch_of(data, order, step, batch_size)
        return _step(loss_fn, noise_key, optimizer, state, batch, step)

    order_fn = jax.jit(epoch_order, static_argnums=2)

    def chunk(state: TrainState, data: PyTree, key: jax.Array, steps: jax.Array) -> tuple[TrainState, jax.Array]:
        n = leading_size("data", data)
        per_epoch = 1 if batch_size is None else n // batch_size
        order, losses = None, []
        for i, step in enumerate(np.asarray(steps).tolist()):
            if batch_size is not None and (i == 0 or step % per_epoch == 0):
                order = order_fn(key, step // per_epoch, n)
            state, loss = step_fn(state, data, order, jnp.asarray(step, steps.dtype))
            losses.append(loss)
        return state, jnp.stack(losses)

    return chunk


def uses_convolution(loss_fn: LossFn, params: Params, batch: PyTree, *noise: jax.Array) -> bool:
    """Whether the gradient of ``loss_fn`` at ``params`` on ``batch`` computes a convolution (from its jaxpr)."""
    return "conv_general_dilated" in str(jax.make_jaxpr(jax.grad(loss_fn))(params, batch, *noise))


def _save(path: Path, step: int, state: TrainState, history: dict[str, list]) -> None:
    from dl_theory.experiment.results import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    leaves = {f"leaf_{i}": np.asarray(x) for i, x in enumerate(jax.tree_util.tree_leaves(state))}
    logged = {f"history_{k}": np.asarray(v) for k, v in history.items()}
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, step=step, **leaves, **logged)


def _load(path: Path, like: TrainState) -> tuple[int, TrainState, dict[str, list]]:
    with np.load(path) as f:
        template, treedef = jax.tree_util.tree_flatten(like)
        leaves = [f[f"leaf_{i}"] for i in range(len(template))]
        if len([k for k in f.files if k.startswith("leaf_")]) != len(template) or any(
                np.shape(a) != np.shape(b) for a, b in zip(leaves, template, strict=True)):
            raise ValueError(f"checkpoint {path} does not match these parameters/optimizer; delete it to start over")
        history = {k.removeprefix("history_"): list(f[k]) for k in f.files if k.startswith("history_")}
        state = jax.tree_util.tree_unflatten(treedef, [jnp.asarray(x, dtype=t.dtype) for x, t in zip(
            leaves, template, strict=True)])
        return int(f["step"]), state, history


def train(loss_fn: LossFn, params: Params, optimizer: optax.GradientTransformation, data: PyTree, *,
          n_steps: int, batch_size: int | None = None, key: jax.Array | None = None,
          noise_key: jax.Array | None = None, log_every: int = 100,
          callback: Callback | None = None, checkpoint: str | None = None, checkpoint_every: int | None = None,
          checkpoint_dir: Path | None = None, resume: bool | None = None, engine: str = "auto",
          desc: str = "training") -> tuple[Params, dict[str, np.ndarray]]:
    """Minimizes ``loss_fn(params, batch)`` with ``optimizer`` for ``n_steps`` steps.

    Args:
      loss_fn: scalar loss of parameters and a batch (a pytree like ``data`` with fewer examples).
      params: initial parameters.
      optimizer: an optax gradient transformation.
      data: pytree of arrays sharing a leading example axis.
      n_steps: number of optimizer steps.
      batch_size: minibatch size; None for full-batch gradient descent.
      key: PRNG key for the minibatch order (required when ``batch_size`` is set).
      noise_key: for losses with fresh randomness every step (dropout, sampled networks): the loss is then
        called as ``loss_fn(params, batch, jax.random.fold_in(noise_key, step))``, a function of the step, so
        that a resumed run draws the same noise.
      log_every: steps per compiled chunk; the callback, NaN check and progress bar run between chunks.
      callback: ``callback(step, params) -> dict | None`` at step 0 and after every chunk; its values are stacked
        into the history under their names, with the steps in ``history['log_step']``.
      checkpoint: a name; with a checkpoint folder (``checkpoint_dir`` or the enclosing :func:`checkpointing`),
        the state is saved to ``<folder>/<name>.npz`` every ``checkpoint_every`` steps (default: every chunk),
        on interrupt, and at the end. Inside :func:`checkpointing` an unnamed call is named by its position.
      checkpoint_dir: folder for checkpoints (overrides the enclosing :func:`checkpointing`).
      resume: continue from an existing checkpoint (default: the enclosing :func:`checkpointing`'s flag).
      engine: ``"scan"`` or ``"dispatch"`` (see :func:`make_chunk`; the same steps either way), or ``"auto"``:
        ``"dispatch"`` for a loss with a convolution on the CPU, else ``"scan"``.
      desc: progress-bar label.

    Returns:
      ``(params, history)`` where ``history['loss']`` holds the loss before each step (length ``n_steps``).

    Raises:
      NonFiniteLossError: the loss became NaN/inf; the message names the step and the last finite loss.
    """
    checks.at_least(0)("n_steps", n_steps)
    checks.count("log_every", log_every)
    n = leading_size("data", data)
    if batch_size is not None:
        checks.in_interval(1, n, closed=True)("batch_size", checks.count("batch_size", batch_size))
    if batch_size is not None and key is None:
        raise ValueError("key is required for minibatch training (batch_size is set)")
    if engine not in ENGINES:
        raise checks.fail("engine", f"one of {ENGINES}", engine)
    key = jax.random.key(0) if key is None else key
    path, resume = _checkpoint_path(checkpoint, checkpoint_dir, resume, desc)
    every = checkpoint_every or log_every

    state = TrainState(params, optimizer.init(params))
    step, history = 0, {"loss": [], "log_step": []}
    if path is not None and resume and path.exists():
        step, state, history = _load(path, state)
        if step > n_steps:
            raise ValueError(f"checkpoint {path} is at step {step}, past n_steps={n_steps}; delete it to start over")
    if engine == "auto":
        batch = data if batch_size is None else jax.tree_util.tree_map(lambda a: a[:batch_size], data)
        noise = () if noise_key is None else (noise_key,)
        convolution = jax.default_backend() == "cpu" and uses_convolution(loss_fn, params, batch, *noise)
        engine = "dispatch" if convolution else "scan"
    chunk = make_chunk(loss_fn, optimizer, batch_size, noise_key, engine=engine)

    def log(at: int, params: Params) -> None:
        if callback is None or (history["log_step"] and history["log_step"][-1] == at):
            return
        values = callback(at, params) or {}  # before recording ``at``: an interrupted callback is re-run on resume
        history["log_step"].append(at)
        for name, value in values.items():
            history.setdefault(name, []).append(np.asarray(value))

    log(step, state.params)
    with bar(n_steps, desc) as progress_bar:
        progress_bar.update(step)
        try:
            while step < n_steps:
                length = min(log_every, n_steps - step, every - step % every)
                new_state, losses = chunk(state, data, key, jnp.arange(step, step + length))
                losses = np.asarray(losses)
                _guard(losses, step, history["loss"], state)
                state, step = new_state, step + length
                history["loss"].extend(losses.tolist())
                log(step, state.params)
                if path is not None and step % every == 0:
                    _save(path, step, state, history)
                progress_bar.update(length)
                progress_bar.set_postfix(loss=f"{losses[-1]:.4g}")
        except KeyboardInterrupt:
            if path is not None:
                _save(path, step, state, history)
            raise
    if path is not None:
        _save(path, step, state, history)
    return state.params, {k: np.asarray(v) for k, v in history.items()}


def _checkpoint_path(name: str | None, directory: Path | None, resume: bool | None,
                     desc: str) -> tuple[Path | None, bool]:
    context = _CHECKPOINTS.get()
    if directory is None and context is None:
        return None, bool(resume)
    if directory is None:
        name = context.next_name(desc) if name is None else name
        return context.directory / f"{name}.npz", context.resume if resume is None else resume
    return (None if name is None else Path(directory) / f"{name}.npz"), bool(resume)


def _guard(losses: np.ndarray, start: int, previous: list[float], state: TrainState) -> None:
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size == 0:
        return
    first = int(bad[0])
    finite = [(start + i, float(v)) for i, v in enumerate(losses[:first])]
    last = finite[-1] if finite else ((start - 1, previous[-1]) if previous else None)
    raise NonFiniteLossError(start + first, float(losses[first]), last, state)
