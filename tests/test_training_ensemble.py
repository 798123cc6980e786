"""Ensembles trained as one: each member follows exactly the trajectory it would follow alone."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dl_theory import losses, models
from dl_theory.training import ensemble, linearized_ensemble, stacked_init, train


def _setup(n_members: int = 3):
    init_fn, apply_fn, _ = models.mlp((16,), out_dim=2)
    keys = jax.random.split(jax.random.key(1), n_members)
    x = jax.random.normal(jax.random.key(2), (12, 5))
    y = jax.random.normal(jax.random.key(3), (12, n_members, 2))
    return init_fn, apply_fn, keys, x, y


def test_stacked_init_draws_each_member_from_its_key():
    init_fn, _, keys, x, _ = _setup()
    params_S = stacked_init(init_fn, keys, x.shape)
    for s, k in enumerate(keys):
        one = init_fn(k, x.shape)[1]
        jax.tree.map(lambda a, b, s=s: np.testing.assert_array_equal(a[s], b), params_S, one)


def test_one_train_call_runs_independent_gradient_descents(x64):
    init_fn, apply_fn, keys, x, y = _setup()
    x, y = x.astype(jnp.float64), y.astype(jnp.float64)
    params_S = jax.tree.map(lambda a: a.astype(jnp.float64), stacked_init(init_fn, keys, x.shape))
    trained_S, _ = train(losses.mse(ensemble(apply_fn)), params_S, optax.sgd(0.5), (x, y), n_steps=20,
                         log_every=20)
    for s in range(len(keys)):
        alone = jax.tree.map(lambda a, s=s: a[s], params_S)
        trained, _ = train(losses.mse(apply_fn), alone, optax.sgd(0.5), (x, y[:, s]), n_steps=20,
                           log_every=20)
        jax.tree.map(lambda a, b, s=s: np.testing.assert_allclose(a[s], b, rtol=1e-10, atol=1e-12), trained_S, trained)


def test_linearized_ensemble_is_each_member_linearized():
    init_fn, apply_fn, keys, x, _ = _setup()
    params0_S = stacked_init(init_fn, keys, x.shape)
    moved_S = jax.tree.map(lambda a: a + 0.01, params0_S)
    out = linearized_ensemble(apply_fn, params0_S)(moved_S, x)
    for s in range(len(keys)):
        p0, p = (jax.tree.map(lambda a, s=s: a[s], t) for t in (params0_S, moved_S))
        f0, df = jax.jvp(lambda q: apply_fn(q, x), (p0,), (jax.tree.map(jnp.subtract, p, p0),))
        np.testing.assert_allclose(out[:, s], f0 + df, rtol=1e-5, atol=1e-6)
