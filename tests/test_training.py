"""Tests of the training loop: convergence to the closed form, the NaN guard, checkpoints and exact resume,
minibatching, and input validation."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dl_theory import losses, models
from dl_theory.training import NonFiniteLossError, checkpointing, minibatch, train, uses_convolution


def _least_squares(dtype=np.float32, n: int = 32, d: int = 4):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, d)).astype(dtype)
    y = (x @ rng.normal(size=d) + 0.3 * rng.normal(size=n) + 0.7).astype(dtype)
    return {"x": jnp.asarray(x), "y": jnp.asarray(y)}


def _ls_loss(params, batch):
    residual = batch["x"] @ params["w"] + params["b"] - batch["y"]
    return 0.5 * jnp.mean(residual**2)


def _ls_params(d: int = 4, dtype=jnp.float32):
    return {"w": jnp.zeros(d, dtype), "b": jnp.zeros((), dtype)}


def _design(data) -> np.ndarray:
    x = np.asarray(data["x"], np.float64)
    return np.concatenate([x, np.ones((len(x), 1))], axis=1)


def _lipschitz(data) -> float:
    a = _design(data)
    return float(np.linalg.eigvalsh(a.T @ a / len(a)).max())


def test_gradient_descent_reaches_least_squares_solution(x64):
    data = _least_squares(np.float64)
    a = _design(data)
    solution = np.linalg.lstsq(a, np.asarray(data["y"]), rcond=None)[0]
    params, history = train(_ls_loss, _ls_params(dtype=jnp.float64), optax.sgd(1.0 / _lipschitz(data)), data,
                            n_steps=400, log_every=64)
    np.testing.assert_allclose(np.append(params["w"], params["b"]), solution, rtol=0, atol=1e-10)
    loss = history["loss"]
    assert loss.shape == (400,)
    assert loss[0] == pytest.approx(0.5 * np.mean(np.asarray(data["y"]) ** 2), rel=1e-14)
    assert np.all(np.diff(loss) <= 1e-15)  # step size 1/L on a quadratic: monotone descent
    optimum = 0.5 * np.mean((a @ solution - np.asarray(data["y"])) ** 2)
    assert loss[-1] == pytest.approx(optimum, rel=1e-10)


@pytest.mark.parametrize("log_every", [1, 7])
def test_nan_guard_names_step_and_last_finite_loss(log_every):
    data = _least_squares()
    optimizer = optax.sgd(10.0 / _lipschitz(data))  # |1 - lr * lambda_max| = 9: the loss grows ~81x per step
    with pytest.raises(NonFiniteLossError) as info:
        train(_ls_loss, _ls_params(), optimizer, data, n_steps=500, log_every=log_every)
    error = info.value
    # Recompute: the first `error.step` steps are all finite, and the loss at `error.step` is not.
    params, history = train(_ls_loss, _ls_params(), optimizer, data, n_steps=error.step, log_every=log_every)
    assert len(history["loss"]) == error.step > 10
    assert np.all(np.isfinite(history["loss"]))
    assert not np.isfinite(_ls_loss(params, data))
    assert not np.isfinite(error.loss)
    message = str(error)
    assert f"at step {error.step} " in message
    assert f"last finite loss {history['loss'][-1]:.6g} at step {error.step - 1}" in message
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(error.state))


def test_nan_guard_with_no_finite_loss():
    data = _least_squares()
    with pytest.raises(NonFiniteLossError, match="at step 0 .*no finite loss was ever seen"):
        train(lambda p, b: _ls_loss(p, b) * jnp.nan, _ls_params(), optax.sgd(0.1), data, n_steps=5)


# --- checkpoints and resume --------------------------------------------------------------------------------------


N_STEPS, BATCH, LOG_EVERY = 16, 6, 4


def _mlp_problem():
    k_x, k_w1, k_w2 = jax.random.split(jax.random.key(1), 3)
    x = jax.random.normal(k_x, (20, 3))
    data = {"x": x, "y": jnp.sin(x[:, 0]) + x[:, 1] * x[:, 2]}
    params = {"w1": jax.random.normal(k_w1, (3, 5)) / jnp.sqrt(3.0), "w2": jax.random.normal(k_w2, (5,))}
    return params, data


def _mlp_loss(params, batch):
    return jnp.mean((jnp.tanh(batch["x"] @ params["w1"]) @ params["w2"] - batch["y"]) ** 2)


def _norm_callback(step, params):
    return {"w2_norm": jnp.linalg.norm(params["w2"])}


def _train_mlp(folder, n_steps=N_STEPS, **kwargs):
    params, data = _mlp_problem()
    return train(_mlp_loss, params, optax.adam(0.05), data, n_steps=n_steps, batch_size=BATCH,
                 key=jax.random.key(7), log_every=LOG_EVERY, checkpoint="mlp", checkpoint_dir=folder, **kwargs)


def _assert_same_run(a, b):
    (params_a, history_a), (params_b, history_b) = a, b
    for leaf_a, leaf_b in zip(jax.tree_util.tree_leaves(params_a), jax.tree_util.tree_leaves(params_b),
                              strict=True):
        np.testing.assert_array_equal(leaf_a, leaf_b)
    assert history_a.keys() == history_b.keys()
    for name in history_a:
        np.testing.assert_array_equal(history_a[name], history_b[name], err_msg=name)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    return _train_mlp(tmp_path_factory.mktemp("full"), callback=_norm_callback)


@pytest.mark.parametrize("n_first", [8, 10])
def test_resume_gives_the_uninterrupted_run(tmp_path, uninterrupted, n_first):
    first_params, _ = _train_mlp(tmp_path, n_steps=n_first, callback=_norm_callback)
    assert (tmp_path / "mlp.npz").exists()
    params, history = _train_mlp(tmp_path, resume=True, callback=_norm_callback)
    assert not np.array_equal(first_params["w2"], params["w2"])
    np.testing.assert_array_equal(uninterrupted[1]["log_step"], [0, 4, 8, 12, 16])
    if n_first % LOG_EVERY == 0:
        _assert_same_run((params, history), uninterrupted)
    else:  # the shorter first run also logged its last step, n_first: the rest is identical
        _assert_same_run((params, {"loss": history["loss"]}), (uninterrupted[0], {"loss": uninterrupted[1]["loss"]}))
        np.testing.assert_array_equal(history["log_step"], sorted([n_first, *uninterrupted[1]["log_step"]]))


def test_noise_key_draws_per_step_noise_that_resume_reproduces(tmp_path):
    """Dropout-style noise: ``loss(params, batch, key_t)`` with ``key_t = fold_in(noise_key, t)``."""
    params, data = _mlp_problem()
    seen = []

    def noisy_loss(p, batch, k):
        seen.append(k.shape)
        mask = jax.random.bernoulli(k, 0.5, p["w2"].shape)
        return _mlp_loss({**p, "w2": 2 * p["w2"] * mask}, batch)

    def run(n_steps, folder, resume=False):
        return train(noisy_loss, params, optax.sgd(0.05), data, n_steps=n_steps, batch_size=BATCH,
                     key=jax.random.key(7), noise_key=jax.random.key(8), log_every=LOG_EVERY, checkpoint="noisy",
                     checkpoint_dir=folder, resume=resume)

    full = run(N_STEPS, tmp_path / "full")
    assert seen and seen[0] == ()  # called with a (scalar) key
    run(8, tmp_path / "parts")
    _assert_same_run(run(N_STEPS, tmp_path / "parts", resume=True), full)
    # the noise matters and depends on the key: another noise key gives another run
    other = train(noisy_loss, params, optax.sgd(0.05), data, n_steps=N_STEPS, batch_size=BATCH,
                  key=jax.random.key(7), noise_key=jax.random.key(9), log_every=LOG_EVERY)
    assert not np.array_equal(other[1]["loss"], full[1]["loss"])


def test_keyboard_interrupt_in_callback_saves_a_checkpoint(tmp_path, uninterrupted):
    """Also the CLI's path: the folder and the resume flag come from the enclosing ``checkpointing``."""

    def interrupting(step, params):
        if step == 12:
            raise KeyboardInterrupt
        return _norm_callback(step, params)

    with pytest.raises(KeyboardInterrupt), checkpointing(tmp_path):
        _train_mlp(None, callback=interrupting)
    with np.load(tmp_path / "mlp.npz") as saved:
        assert int(saved["step"]) == 12
        assert saved["history_loss"].shape == (12,)
        np.testing.assert_array_equal(saved["history_log_step"], [0, 4, 8])
    with checkpointing(tmp_path, resume=True):
        resumed = _train_mlp(None, callback=_norm_callback)
    _assert_same_run(resumed, uninterrupted)


def test_mismatched_checkpoint_is_a_clear_error(tmp_path):
    _train_mlp(tmp_path, n_steps=4)
    params, data = _mlp_problem()
    for bad in ({"w1": params["w1"], "w2": jnp.zeros(6)}, {"w1": params["w1"]}):
        with pytest.raises(ValueError, match="checkpoint .*mlp.npz does not match these parameters"):
            train(_mlp_loss, bad, optax.adam(0.05), data, n_steps=8, batch_size=BATCH, key=jax.random.key(7),
                  checkpoint="mlp", checkpoint_dir=tmp_path, resume=True)


# --- minibatches and validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("n, batch_size", [(12, 4), (11, 3), (7, 7)])
def test_minibatch_covers_each_example_once_per_epoch(n, batch_size):
    data = {"i": jnp.arange(n), "x": jnp.arange(2 * n).reshape(n, 2)}
    per_epoch = n // batch_size
    key = jax.random.key(3)
    batches = jax.jit(jax.vmap(lambda step: minibatch(data, key, step, batch_size)))(jnp.arange(3 * per_epoch))
    np.testing.assert_array_equal(batches["x"], np.asarray(data["x"])[np.asarray(batches["i"])])  # same rows
    orders = np.asarray(batches["i"]).reshape(3, per_epoch * batch_size)  # one row per epoch
    for seen in orders:
        assert len(np.unique(seen)) == len(seen)
    if per_epoch * batch_size == n:
        assert all(np.array_equal(np.sort(o), np.arange(n)) for o in orders)
    assert not np.array_equal(orders[0], orders[1])  # a fresh permutation each epoch


@pytest.mark.parametrize("engine", ["scan", "dispatch"])
def test_engines_take_the_minibatches_of_minibatch(engine):
    """The loss 2^i summed over the batch's example ids names the batch: the engines, which draw an epoch's order once
    and carry it through a chunk, take exactly ``minibatch(data, key, step)`` at every step, across chunks that start
    and end mid-epoch."""
    n, batch_size, n_steps, key = 12, 4, 11, jax.random.key(5)
    data = {"i": jnp.arange(n)}
    batch_id = lambda batch: jnp.sum(2.0 ** batch["i"])  # noqa: E731
    loss = lambda p, batch: batch_id(batch) + 0.0 * jnp.sum(p)  # noqa: E731
    _, history = train(loss, jnp.zeros(2), optax.sgd(0.1), data, n_steps=n_steps, batch_size=batch_size, key=key,
                       log_every=4, engine=engine)
    expected = [float(batch_id(minibatch(data, key, jnp.asarray(t), batch_size))) for t in range(n_steps)]
    np.testing.assert_array_equal(history["loss"], expected)


def test_engines_agree_and_auto_dispatches_convolutions():
    """A small CNN trained by both engines: the same steps up to float32 rounding; ``"auto"`` picks ``"dispatch"`` for
    the convolution (jax-ml/jax#12868) and ``"scan"`` for a dense net."""
    x = jax.random.normal(jax.random.key(0), (24, 10, 1))
    y = jax.random.randint(jax.random.key(1), (24,), 0, 3)
    init_fn, apply_fn, _ = models.cnn((4,), 3, filter_shape=(3,), parameterization="standard")
    _, params = init_fn(jax.random.key(2), x.shape)
    loss_fn = losses.cross_entropy(apply_fn)
    runs = {engine: train(loss_fn, params, optax.adam(0.01), (x, y), n_steps=8, batch_size=8, key=jax.random.key(3),
                          log_every=4, engine=engine) for engine in ("scan", "dispatch")}
    np.testing.assert_allclose(runs["scan"][1]["loss"], runs["dispatch"][1]["loss"], rtol=1e-5)
    for a, b in zip(jax.tree.leaves(runs["scan"][0]), jax.tree.leaves(runs["dispatch"][0]), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert uses_convolution(loss_fn, params, (x, y))
    dense_init, dense_apply, _ = models.mlp((4,), 3)
    assert not uses_convolution(losses.cross_entropy(dense_apply), dense_init(jax.random.key(2), (-1, 10))[1],
                                (x[..., 0], y))


@pytest.mark.parametrize("data, kwargs, message", [
    ({"x": jnp.ones((5, 2))}, {"batch_size": 6}, r"batch_size must be in \[1, 5\], got 6"),
    ({"x": jnp.ones((5, 2))}, {"batch_size": 0}, r"batch_size must be an integer >= 1, got 0"),
    ({"x": jnp.ones((5, 2)), "y": jnp.ones(4)}, {}, r"data must be arrays sharing one leading .* axis, got leading "
                                                    r"sizes \[4, 5\]"),
    ({"x": jnp.ones((5, 2)), "y": jnp.ones(())}, {}, "sharing one leading"),
    ({}, {}, "at least one array"),
    ({"x": jnp.ones((5, 2))}, {"batch_size": 2, "key": None}, "key is required"),
    ({"x": jnp.ones((5, 2))}, {"n_steps": -1}, "n_steps must be an integer >= 0, got -1"),
    ({"x": jnp.ones((5, 2))}, {"engine": "while"}, "engine must be one of"),
    ({"x": jnp.ones((5, 2))}, {"log_every": 0}, "log_every must be an integer >= 1, got 0"),
])
def test_bad_input(data, kwargs, message):
    kwargs = {"n_steps": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        train(lambda p, b: jnp.sum(p), jnp.zeros(()), optax.sgd(0.1), data, **kwargs)


def test_unnamed_calls_are_checkpointed_by_position_and_finished_ones_are_not_retrained(tmp_path):
    params, data = _mlp_problem()
    calls = []

    def counting_callback(step, p):
        calls.append(step)
        return _norm_callback(step, p)

    def two_runs():
        return [train(_mlp_loss, params, optax.sgd(lr), data, n_steps=N_STEPS, log_every=LOG_EVERY,
                      callback=counting_callback, desc=f"lr {lr}") for lr in (0.05, 0.1)]

    with checkpointing(tmp_path):
        first = two_runs()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["000-lr_0_05.npz", "001-lr_0_1.npz"]
    calls.clear()
    with checkpointing(tmp_path, resume=True):
        again = two_runs()
    assert calls == []  # both runs had finished: their saved results come back without training
    for a, b in zip(first, again, strict=True):
        _assert_same_run(a, b)
