r"""Monte-Carlo NNGP and NTK: empirical kernels averaged over random initializations.

For a network :math:`f(\theta, x)` with :math:`\theta \sim p_0` (its ``init_fn``), the estimates

.. math::
    \hat K_n(x_1, x_2) = \frac{1}{n}\sum_{s=1}^n f(\theta_s, x_1) f(\theta_s, x_2)^\top, \qquad
    \hat\Theta_n(x_1, x_2) = \frac{1}{n}\sum_{s=1}^n J(\theta_s, x_1) J(\theta_s, x_2)^\top

converge to :math:`\mathbb{E}_{\theta}[\cdot]` at rate :math:`n^{-1/2}`, and, as the width grows, to the infinite-width
NNGP (Neal, 1994; Lee et al., 2018) and NTK (Jacot et al., 2018). The semantics (names, arguments, key splitting) follow
neural-tangents' ``monte_carlo_kernel_fn`` (Novak et al., 2020): sample ``s`` uses the ``s``-th key of the chain
``key, k_s = split(key)``, split again into an ``init_fn`` key and a dropout ``rng``.
"""

import functools
import inspect
from collections.abc import Callable, Generator, Iterable
from typing import Any

import jax

from dl_theory import checks
from dl_theory.kernels.batching import batch
from dl_theory.kernels.empirical import DEFAULT_NTK_IMPLEMENTATION, NtkImplementation, empirical_kernel_fn
from dl_theory.kernels.get import canonicalize_get, pack_output
from dl_theory.typing import ApplyFn, Axes, InitFn, VmapAxes


def _canonicalize_n_samples(n_samples: int | Iterable[int]) -> tuple[set[int], bool]:
    """``(sample counts, whether to return a generator)``."""
    if isinstance(n_samples, int):
        return {checks.count("n_samples", n_samples)}, False
    if not isinstance(n_samples, Iterable):
        raise TypeError(f"n_samples must be an int or an iterable of ints, got {type(n_samples).__name__}")
    counts = list(n_samples)
    checks.each(checks.count)("n_samples", counts)
    return {int(n) for n in counts}, True


def _accepts_rng(apply_fn: Callable) -> bool:
    try:
        params = inspect.signature(apply_fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == "rng" or p.kind == inspect.Parameter.VAR_KEYWORD for p in params)


def monte_carlo_kernel_fn(
    init_fn: InitFn,
    apply_fn: ApplyFn,
    key: jax.Array,
    n_samples: int | Iterable[int],
    batch_size: int = 0,
    device_count: int = -1,
    store_on_device: bool = True,
    trace_axes: Axes = (-1,),
    diagonal_axes: Axes = (),
    vmap_axes: VmapAxes = None,
    implementation: NtkImplementation | int = DEFAULT_NTK_IMPLEMENTATION,
) -> Callable[..., Any]:
    r"""Returns a Monte-Carlo estimator of the NNGP and NTK of ``apply_fn`` over inits drawn by ``init_fn``.

    Each sample is an empirical kernel (:func:`dl_theory.kernels.empirical.empirical_kernel_fn`) computed through
    :func:`dl_theory.kernels.batching.batch`, so it is jitted, tiled and spread over devices; do not wrap the result in
    ``batch`` or ``jax.jit``.

    Args:
      init_fn: ``init_fn(key, input_shape) -> (output_shape, params)``.
      apply_fn: ``apply_fn(params, x, **kwargs)``; it also receives a dropout key ``rng=`` if its signature
        accepts ``rng`` or ``**kwargs``.
      key: PRNG key for the random networks.
      n_samples: number of networks, or an iterable of counts at which to yield running estimates
        (e.g. ``[2**k for k in range(10)]``).
      batch_size: tile size of :func:`dl_theory.kernels.batching.batch` (``0``: whole kernel).
      device_count: devices to spread tiles over (``-1``: all, ``0``: one).
      store_on_device: ``False`` keeps each tile in host memory.
      trace_axes: output axes to trace over (average the diagonal of the covariance along them).
      diagonal_axes: output axes along which only the diagonal of the covariance is kept.
      vmap_axes: NTK only: ``(in_axes, out_axes, kwargs_axes)`` along which ``apply_fn`` is a ``vmap``.
      implementation: NTK only: an :class:`~dl_theory.kernels.empirical.NtkImplementation` value.

    Returns:
      ``kernel_fn(x1, x2=None, get=None, **apply_fn_kwargs)``: ``get`` is ``'nngp'``, ``'ntk'`` or a tuple
      (a ``MonteCarloKernel`` namedtuple; ``None`` means both). With an integer ``n_samples`` it returns the
      estimate; with an iterable it returns a generator of estimates for each count in increasing order.
    """
    counts, generator = _canonicalize_n_samples(n_samples)
    kernel_fn = empirical_kernel_fn(apply_fn, trace_axes, diagonal_axes, vmap_axes, implementation)
    pass_rng = _accepts_rng(apply_fn)

    @functools.partial(batch, batch_size=batch_size, device_count=device_count, store_on_device=store_on_device)
    def sample_once(x1, x2, sample_key, get, **apply_fn_kwargs):
        init_key, dropout_key = jax.random.split(sample_key, 2)
        _, params = init_fn(init_key, jax.tree.map(lambda x: x.shape, x1))
        if pass_rng:
            apply_fn_kwargs = {"rng": dropout_key, **apply_fn_kwargs}
        return kernel_fn(x1, x2, get, params, **apply_fn_kwargs)

    def running_sums(x1, x2, names, apply_fn_kwargs) -> Generator[tuple[int, Any], None, None]:
        chain, total = key, None
        for n in range(1, max(counts) + 1):
            chain, sample_key = jax.random.split(chain)
            sample = sample_once(x1, x2, sample_key, names, **apply_fn_kwargs)
            total = sample if total is None else jax.tree.map(lambda a, b: a + b, total, sample)
            yield n, total

    def estimate(total: Any, n: int, names: tuple[str, ...], single: bool) -> Any:
        mean = jax.tree.map(lambda a: a / n, total)
        return pack_output("MonteCarloKernel", {g: getattr(mean, g) for g in names}, single)

    def mc_kernel_fn(x1, x2=None, get=None, **apply_fn_kwargs):
        single, names = canonicalize_get(get, ("nngp", "ntk"), default=("nngp", "ntk"))
        sums = running_sums(x1, x2, names, apply_fn_kwargs)
        if generator:
            return (estimate(total, n, names, single) for n, total in sums if n in counts)
        for n, total in sums:
            if n == max(counts):
                return estimate(total, n, names, single)

    return mc_kernel_fn
