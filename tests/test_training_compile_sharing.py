"""training.train shares one compiled scan across runs whose Partial losses differ only in their bound arrays, with
the same results as a plain closure."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.tree_util import Partial

from dl_theory.training import train

_COMPILES = {"count": 0, "on": False}


def _count(event: str, duration: float, **kwargs) -> None:
    if _COMPILES["on"] and event == "/jax/core/compile/backend_compile_duration":
        _COMPILES["count"] += 1


jax.monitoring.register_event_duration_secs_listener(_count)


def _loss(target_D, w_D, batch):
    x, y = batch
    return jnp.mean((x @ w_D - y) ** 2) + jnp.sum((w_D - target_D) ** 2)


def test_partial_loss_compiles_once_and_matches_closure():
    x = jax.random.normal(jax.random.key(0), (64, 3))
    data = (x, x @ jnp.arange(3.0))
    opt = optax.sgd(0.05)
    kwargs = dict(n_steps=20, batch_size=16, key=jax.random.key(1), log_every=10)
    train(Partial(_loss, jnp.zeros(3)), jnp.zeros(3), opt, data, **kwargs)  # warm-up compile
    target = jnp.ones(3)
    _COMPILES.update(count=0, on=True)
    try:
        shared, history = train(Partial(_loss, target), jnp.zeros(3), opt, data, **kwargs)
    finally:
        _COMPILES["on"] = False
    assert _COMPILES["count"] == 0
    plain, plain_history = train(lambda w, b: _loss(target, w, b), jnp.zeros(3), opt, data, **kwargs)
    np.testing.assert_allclose(np.asarray(shared), np.asarray(plain), rtol=1e-5)
    np.testing.assert_allclose(history["loss"], plain_history["loss"], rtol=1e-5)
