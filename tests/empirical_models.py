"""Tiny models (plain jnp and flax.linen) and a dense reference for the empirical-kernel tests.

The reference is independent of ``dl_theory.kernels.empirical``: parameters are flattened with ``ravel_pytree``, the
full Jacobian matrix is taken with ``jax.jacrev``, :math:`\\Theta = J_1 J_2^\\top` is formed densely, and the
neural-tangents output layout (trace / diagonal axes) is applied entry by entry with explicit index loops.
"""

import itertools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree


def _rng(key):
    """A numpy generator seeded from a JAX key: numpy draws need no XLA compilation (tests stay fast)."""
    return np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())


def _normal(rng, shape):
    return jnp.asarray(rng.standard_normal(shape), dtype=jnp.result_type(float))


def _dense(rng, n_in, n_out):
    return {"w": _normal(rng, (n_in, n_out)), "b": 0.1 * _normal(rng, (n_out,))}


def _apply_dense(p, h):
    return h @ p["w"] / math.sqrt(p["w"].shape[0]) + p["b"][None]


def mlp(key, d_in=4, width=6, d_out=3):
    """Two hidden tanh layers, NTK parameterization; x (N, d_in) -> (N, d_out)."""
    rng = _rng(key)
    params = [_dense(rng, d_in, width), _dense(rng, width, width), _dense(rng, width, d_out)]

    def apply(params, x):
        h = x
        for layer in params[:-1]:
            h = jnp.tanh(_apply_dense(layer, h))
        return _apply_dense(params[-1], h)

    return params, apply, (4, d_in)


def cnn(key, channels=3, d_out=2):
    """Two 2x2 VALID convolutions with relu; x (N, 4, 4, 2) -> (N, 2, 2, d_out), spatial axes kept."""
    rng = _rng(key)
    params = {"c1": _normal(rng, (2, 2, 2, channels)), "c2": _normal(rng, (2, 2, channels, d_out)),
              "b": 0.2 + 0.0 * _normal(rng, (d_out,))}

    def conv(w, h):
        return jax.lax.conv_general_dilated(h, w / math.sqrt(math.prod(w.shape[:3])), (1, 1), "VALID",
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))

    def apply(params, x):
        h = jax.nn.relu(conv(params["c1"], x))
        h = conv(params["c2"], jax.nn.relu(conv(jnp.ones((1, 1, channels, channels)), h)))
        return h + params["b"][None, None, None]

    return params, apply, (3, 4, 4, 2)


def resnet(key, d=4, blocks=2, d_out=2):
    """Residual blocks x + W2 relu(W1 x) followed by a linear readout; x (N, d) -> (N, d_out)."""
    rng = _rng(key)
    params = {"blocks": [(_dense(rng, d, d), _dense(rng, d, d)) for _ in range(blocks)],
              "out": _dense(rng, d, d_out)}

    def apply(params, x):
        h = x
        for p1, p2 in params["blocks"]:
            h = h + _apply_dense(p2, jax.nn.relu(_apply_dense(p1, h)))
        return _apply_dense(params["out"], h)

    return params, apply, (3, d)


class _FlaxNet(nn.Module):
    features: int = 5
    d_out: int = 3

    @nn.compact
    def __call__(self, x):
        h = nn.Conv(self.features, (2,), padding="VALID")(x)
        h = nn.gelu(h).reshape((x.shape[0], -1))
        return nn.Dense(self.d_out)(nn.Dense(self.features)(h))


def flax_net(key):
    """A flax.linen Conv1D + Dense model applied through ``model.apply``; x (N, 3, 2) -> (N, 3)."""
    model = _FlaxNet()
    shapes = jax.eval_shape(model.init, key, jnp.zeros((1, 3, 2)))  # flax would init float32 params
    rng = _rng(key)
    params = jax.tree.map(lambda s: _normal(rng, s.shape) / np.sqrt(s.shape[0] if len(s.shape) > 1 else 1), shapes)
    return params, model.apply, (3, 3, 2)


MODELS = {"mlp": mlp, "cnn": cnn, "resnet": resnet, "flax": flax_net}


def dense_ntk(apply, params, x1, x2):
    """Full NTK of shape ``f(x1).shape + f(x2).shape`` from the dense flattened Jacobian."""
    @jax.jit
    def full(params, x1, x2):
        flat, unravel = ravel_pytree(params)
        j1, j2 = (jax.jacrev(lambda u, x=x: apply(unravel(u), x))(flat) for x in (x1, x2))
        return (j1.reshape(-1, flat.size) @ j2.reshape(-1, flat.size).T).reshape(j1.shape[:-1] + j2.shape[:-1])

    return np.asarray(full(params, x1, x2))


def dense_nngp(apply, params, x1, x2):
    """Full NNGP draw f(x1) (outer) f(x2)."""
    y1, y2 = jax.jit(lambda p, a, b: (apply(p, a), apply(p, b)))(params, x1, x2)
    return np.multiply.outer(np.asarray(y1), np.asarray(y2))


def layout(k_full, ndim, trace_axes, diagonal_axes):
    """neural-tangents' layout, entry by entry: free axes as (i1, i2) pairs, diagonal once, traced averaged."""
    trace = sorted(a % ndim for a in trace_axes)
    diag = sorted(a % ndim for a in diagonal_axes)
    s1, s2 = k_full.shape[:ndim], k_full.shape[ndim:]
    out_axes = []  # (axis, which) with which in {"1", "2", "d"}
    for i in range(ndim):
        if i in diag:
            out_axes.append((i, "d"))
        elif i not in trace:
            out_axes += [(i, "1"), (i, "2")]
    out_shape = tuple(s1[i] if w != "2" else s2[i] for i, w in out_axes)
    result = np.zeros(out_shape)
    for out_idx in itertools.product(*map(range, out_shape)):
        total = 0.0
        for t_idx in itertools.product(*(range(s1[i]) for i in trace)):
            i1, i2 = [0] * ndim, [0] * ndim
            for (i, w), v in zip(out_axes, out_idx, strict=True):
                if w in "1d":
                    i1[i] = v
                if w in "2d":
                    i2[i] = v
            for i, v in zip(trace, t_idx, strict=True):
                i1[i] = i2[i] = v
            total += k_full[tuple(i1) + tuple(i2)]
        result[out_idx] = total / math.prod(s1[i] for i in trace)
    return result
