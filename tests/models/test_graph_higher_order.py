"""PPGN on node-pair features: exact invariance, the readout against loops, and a hand-set network that computes
tr(A³) (so it counts triangles, which no 1-WL-bounded model can)."""

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest

from dl_theory.data.wl_pairs import wl_pair
from dl_theory.models.graph import higher_order as ho
from dl_theory.models.graph.wl import cycle_counts

IDENTITY = lambda h: h  # noqa: E731


def _graphs(n: int = 7, count: int = 4) -> np.ndarray:
    return np.stack([nx.to_numpy_array(nx.gnp_random_graph(n, 0.4, seed=s), nodelist=range(n)) for s in range(count)])


def test_pair_features_and_readout_match_loops():
    a = _graphs()
    x = np.asarray(ho.pair_features(a))
    np.testing.assert_array_equal(x[..., 0], a)
    np.testing.assert_array_equal(x[..., 1], np.broadcast_to(np.eye(a.shape[-1]), a.shape))
    y = np.random.default_rng(0).normal(size=(3, 5, 5, 2))
    diag = [[sum(y[g, i, i, c] for i in range(5)) / 5 for c in range(2)] for g in range(3)]
    off = [[sum(y[g, i, j, c] for i in range(5) for j in range(5) if i != j) / 5 for c in range(2)] for g in range(3)]
    np.testing.assert_allclose(np.asarray(ho.pair_readout(jnp.asarray(y))), np.concatenate([diag, off], axis=1),
                               rtol=1e-6)


def test_ppgn_is_permutation_invariant(x64):
    a = jnp.asarray(_graphs(), jnp.float64)
    init, apply = ho.ppgn((6, 6), 3)
    shape, params = init(jax.random.key(0), a.shape)
    assert shape == (a.shape[0], 3)
    apply = jax.jit(apply)
    base = apply(params, a)
    for s in range(3):
        perm = np.random.default_rng(s).permutation(a.shape[-1])
        np.testing.assert_allclose(np.asarray(apply(params, a[:, perm][:, :, perm])), np.asarray(base),
                                   rtol=1e-12, atol=1e-12)


def test_hand_set_ppgn_counts_triangles(x64):
    """Two identity-activation blocks: block 1 outputs (A, A²/N), block 2 outputs A³/N²; the diagonal readout is
    tr(A³)/N³, and the head rescales it to tr(A³)/6 = the number of triangles."""
    a = jnp.asarray(np.concatenate([_graphs(6), np.stack(wl_pair("two-triangles-vs-hexagon"))]), jnp.float64)
    n = a.shape[-1]
    init, apply = ho.ppgn((2, 1), 1, activation=IDENTITY)
    _, params = init(jax.random.key(0), a.shape)
    e = jnp.eye(2)
    params = jax.tree_util.tree_map(jnp.zeros_like, params)
    b1, b2 = params["blocks"]
    b1["m1"]["w"] = b1["m2"]["w"] = e  # channel 0 of both: A; the product's channel 0: A²/N
    b1["out"]["w"] = jnp.array([[1.0, 0], [0, 0], [0, 1], [0, 0]])  # out = (A, A²/N)
    b2["m1"]["w"] = jnp.array([[0.0], [1.0]])  # A²/N
    b2["m2"]["w"] = jnp.array([[1.0], [0.0]])  # A  -> product A³/N²
    b2["out"]["w"] = jnp.array([[0.0], [0.0], [1.0]])
    params["head"]["w"] = jnp.array([[n**3 / 6], [0.0]])  # diagonal readout tr(A³)/N³ -> triangles
    triangles = np.asarray(jax.jit(apply)(params, a))[:, 0]
    np.testing.assert_allclose(triangles, np.asarray(cycle_counts(a))[:, 0], atol=1e-10)
    assert triangles[-2] == pytest.approx(2) and triangles[-1] == pytest.approx(0, abs=1e-12)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="a_NxN"):
        ho.pair_features(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="hidden"):
        ho.ppgn((), 2)
    with pytest.raises(ValueError, match="out_dim"):
        ho.ppgn_block(0)
