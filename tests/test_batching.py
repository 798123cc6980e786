"""Tests of ``dl_theory.kernels.batching.batch``: tiles and devices change nothing but the schedule.

References: the untiled ``kernel_fn`` (analytic ``Kernel`` pytrees and empirical arrays) and, for devices, the same
computation in a subprocess with 4 forced host devices (``XLA_FLAGS`` set before JAX is imported).
"""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dl_theory import stax
from dl_theory.kernels.batching import batch
from dl_theory.kernels.empirical import empirical_kernel_fn

N1, N2, D = 16, 8, 3


def _net():
    return stax.serial(stax.Dense(8, W_std=1.5, b_std=0.1), stax.Relu(), stax.Dense(2, W_std=1.2, b_std=0.2))


def _inputs():
    rng = np.random.default_rng(0)
    return rng.normal(size=(N1, D)), rng.normal(size=(N2, D))


@pytest.mark.parametrize(("batch_size", "x2_none"), [(0, False), (2, False), (4, True)])
def test_analytic_kernel_tiles_equal_untiled(x64, batch_size, x2_none):
    _, _, kernel_fn = _net()
    x1, x2 = _inputs()
    x2 = None if x2_none else x2
    ref = kernel_fn(x1, x2)
    out = batch(kernel_fn, batch_size=batch_size)(x1, x2)
    assert type(out) is type(ref) and out.shape1 == ref.shape1 and out.shape2 == ref.shape2
    assert (out.cov2 is None) == (ref.cov2 is None) == x2_none
    # Tiles run under jit with x2 given, where the arc-cosine angle of a point with itself is computed from
    # c = 1 - O(eps), not set to 0: theta = arccos(c) ~ sqrt(2 eps), a relative change of ~sqrt(eps) / pi on the
    # diagonal. Off the diagonal the tiles agree to round-off.
    rtol = 4 * np.sqrt(np.finfo(np.float64).eps)
    for field in ("nngp", "ntk", "cov1") + (() if x2_none else ("cov2",)):
        np.testing.assert_allclose(getattr(out, field), getattr(ref, field), rtol=rtol, atol=1e-14)
    off_diagonal = ~np.eye(N1, dtype=bool) if x2_none else np.ones((N1, N2), bool)
    np.testing.assert_allclose(out.ntk[off_diagonal], ref.ntk[off_diagonal], rtol=1e-12)
    assert bool(out.x1_is_x2) == x2_none
    pair = batch(kernel_fn, batch_size=batch_size)(x1, x2, ("ntk", "nngp"))
    assert pair._fields == ("ntk", "nngp")
    np.testing.assert_allclose(pair.ntk, ref.ntk, rtol=rtol)


def test_empirical_kernel_with_params_and_host_storage(x64, key):
    init_fn, apply_fn, _ = _net()
    x1, x2 = _inputs()
    _, params = init_fn(key, x1.shape)
    kernel_fn = empirical_kernel_fn(apply_fn, trace_axes=())
    ref = jax.jit(kernel_fn, static_argnums=2)(x1, x2, ("nngp", "ntk"), params)
    out = batch(kernel_fn, batch_size=4, store_on_device=False)(x1, x2, ("nngp", "ntk"), params)
    assert out.ntk.shape == (N1, N2, 2, 2)
    np.testing.assert_allclose(out.ntk, ref.ntk, rtol=1e-12)
    np.testing.assert_allclose(out.nngp, ref.nngp, rtol=1e-12)
    assert out.ntk.devices() == {jax.devices("cpu")[0]}


def test_pair_keyword_arguments_are_tiled_with_the_inputs():
    """A ``(v1, v2)`` keyword goes with ``x1`` rows and ``x2`` columns (like neural-tangents' ``pattern``)."""

    def kernel_fn(x1, x2, scale=None):
        x2 = x1 if x2 is None else x2
        return (x1 * scale[0]) @ (x2 * scale[1]).T

    x1, x2 = (jnp.asarray(x, jnp.float32) for x in _inputs())
    s1, s2 = jnp.arange(N1 * D, dtype=jnp.float32).reshape(N1, D), jnp.ones((N2, D), jnp.float32) * 2
    np.testing.assert_allclose(batch(kernel_fn, 2)(x1, x2, scale=(s1, s2)), kernel_fn(x1, x2, (s1, s2)), rtol=1e-6)
    np.testing.assert_allclose(batch(kernel_fn, 4)(x1, None, scale=(s1, None)), kernel_fn(x1, x1, (s1, s1)),
                               rtol=1e-6)


def test_bad_batch_sizes_and_inputs():
    _, _, kernel_fn = _net()
    x1, x2 = _inputs()
    with pytest.raises(ValueError, match="divisible"):
        batch(kernel_fn, batch_size=3)(x1[:8], x1[:8])
    with pytest.warns(UserWarning, match="reduced"):
        batch(kernel_fn, batch_size=16)(x1, x2)
    with pytest.raises(ValueError, match="batch_size"):
        batch(kernel_fn, batch_size=-1)
    with pytest.raises(ValueError, match="device_count"):
        batch(kernel_fn, device_count=10_000)(x1, x2)
    with pytest.raises(NotImplementedError, match="diagonal_batch"):
        batch(kernel_fn, batch_size=4)(x1, x2, diagonal_batch=False)
    with pytest.raises(TypeError, match="x1"):
        batch(kernel_fn)(kernel_fn(x1, x2))


_SCRIPT = textwrap.dedent(
    """
    import sys
    import warnings
    import numpy as np
    import jax
    from dl_theory import stax
    from dl_theory.kernels.batching import batch
    from dl_theory.kernels.empirical import empirical_kernel_fn

    warnings.simplefilter("ignore")
    x1, x2 = (np.load(sys.argv[1])[k].astype(np.float64) for k in ("x1", "x2"))
    init_fn, apply_fn, kernel_fn = stax.serial(
        stax.Dense(8, W_std=1.5, b_std=0.1), stax.Relu(), stax.Dense(2, W_std=1.2, b_std=0.2))
    _, params = init_fn(jax.random.key(0), x1.shape)
    out = {"devices": jax.device_count()}
    for tag, count in (("four", -1), ("one", 0)):  # all 4 devices, then a single device
        analytic = batch(kernel_fn, batch_size=2, device_count=count)(x1, x2, ("nngp", "ntk"))
        whole = batch(kernel_fn, device_count=count)(x1, None, "ntk")
        emp = batch(empirical_kernel_fn(apply_fn), batch_size=2, device_count=count)(x1, x2, "ntk", params)
        out.update({f"{tag}_nngp": analytic.nngp, f"{tag}_ntk": analytic.ntk, f"{tag}_whole": whole,
                    f"{tag}_emp": emp, f"{tag}_sharded": len(whole.sharding.device_set)})
    np.savez(sys.argv[2], **out)
    """
)


def test_four_devices_give_the_one_device_numbers(tmp_path):
    """In one process with 4 forced CPU devices: device_count=-1 (tiles sharded) vs device_count=0 (one device).

    Runs in float64: a tile cannot know that its row and column inputs are the same points, so the diagonal of a
    tiled self-kernel goes through the arc-cosine at a correlation that rounds to 1 - O(eps) instead of exactly 1,
    which moves a ReLU NTK diagonal entry by O(sqrt(eps)) -- 7e-5 relative in float32, 1e-8 in float64.
    """
    x1, x2 = _inputs()
    np.savez(tmp_path / "in.npz", x1=x1, x2=x2)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu",
               JAX_ENABLE_X64="1")
    subprocess.run([sys.executable, "-c", _SCRIPT, str(tmp_path / "in.npz"), str(tmp_path / "out.npz")],
                   env=env, check=True, timeout=300)
    out = np.load(tmp_path / "out.npz")
    assert out["devices"] == 4 and out["four_sharded"] == 4 and out["one_sharded"] == 1
    for name in ("nngp", "ntk", "whole", "emp"):
        np.testing.assert_allclose(out[f"four_{name}"], out[f"one_{name}"], rtol=1e-6, atol=1e-7, err_msg=name)
    # And the tiled kernels are the kernels (here, on this process's default device).
    _, _, kernel_fn = _net()
    np.testing.assert_allclose(out["one_nngp"], kernel_fn(x1, x2, "nngp"), rtol=1e-5, atol=1e-6)
