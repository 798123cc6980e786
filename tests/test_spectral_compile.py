"""The spectral routines compile once per matvec function and shapes: a second call does not compile."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.tree_util import Partial

from dl_theory.curvature import spectral

_COMPILES = {"count": 0, "on": False}


def _count(event: str, duration: float, **kwargs) -> None:
    if _COMPILES["on"] and event == "/jax/core/compile/backend_compile_duration":
        _COMPILES["count"] += 1


jax.monitoring.register_event_duration_secs_listener(_count)


def _compiles(fn) -> int:
    """Backend compilations while running ``fn`` (results blocked on)."""
    _COMPILES.update(count=0, on=True)
    try:
        jax.block_until_ready(fn())
    finally:
        _COMPILES["on"] = False
    return _COMPILES["count"]


def _matmul(a_DxD: jax.Array, v_D: jax.Array) -> jax.Array:
    return a_DxD @ v_D


def _sym(seed: int, dim: int = 12) -> jax.Array:
    m = np.random.default_rng(seed).normal(size=(dim, dim))
    return jnp.asarray((m + m.T) / 2, jnp.float32)


CALLS = {
    "top_eigenvalues": lambda mv, k: spectral.top_eigenvalues(mv, 12, 2, key=k, num_iters=8),
    "trace": lambda mv, k: spectral.trace(mv, 12, key=k, num_probes=6),
    "trace_chunked": lambda mv, k: spectral.trace(mv, 12, key=k, num_probes=6, chunk_size=2),
    "spectral_density": lambda mv, k: spectral.spectral_density(mv, 12, key=k, num_probes=3, num_iters=6,
                                                                 num_points=32),
    "power_iteration": lambda mv, k: spectral.power_iteration(mv, 12, key=k, num_iters=5),
    "lanczos": lambda mv, k: spectral.lanczos(mv, jnp.ones(12), 6, key=k),
}


@pytest.mark.parametrize("name", CALLS)
def test_partial_matvec_compiles_once_across_operands(name):
    """``Partial(fn, a)``: new matrix values and a new key reuse the compiled program."""
    call = CALLS[name]
    call(Partial(_matmul, _sym(0)), jax.random.key(0))  # warm-up: the first call may compile
    assert _compiles(lambda: call(Partial(_matmul, _sym(1)), jax.random.key(1))) == 0


def test_same_closure_compiles_once():
    a = _sym(2)
    matvec = lambda v: a @ v  # noqa: E731
    spectral.top_eigenvalues(matvec, 12, 2, key=jax.random.key(0), num_iters=8)
    assert _compiles(lambda: spectral.top_eigenvalues(matvec, 12, 2, key=jax.random.key(3), num_iters=8)) == 0
    assert _compiles(lambda: spectral.trace(matvec, 12, key=jax.random.key(3), num_probes=6)) > 0  # control


def test_partial_results_match_dense():
    """The cached program computes with the new operand, not the one it was compiled with."""
    for seed in (4, 5):
        a = _sym(seed)
        top, _ = spectral.top_eigenvalues(Partial(_matmul, a), 12, 2, key=jax.random.key(0), num_iters=12)
        np.testing.assert_allclose(np.asarray(top), np.linalg.eigvalsh(np.asarray(a))[::-1][:2], rtol=1e-4,
                                   atol=1e-4)
        tr = spectral.trace(Partial(_matmul, a), 12, key=jax.random.key(0), num_probes=6)
        np.testing.assert_allclose(float(jnp.mean(tr.samples)), float(tr.mean), rtol=1e-6)
        assert abs(float(tr.mean) - float(jnp.trace(a))) <= 6 * float(tr.stderr) + 1e-4
