"""Kernels of finite networks: empirical NTK/NNGP, Monte-Carlo estimates, batching over inputs and kernel metrics.

* :mod:`~dl_theory.kernels.empirical` -- :math:`J(x_1)J(x_2)^\\top` and :math:`f(x_1)f(x_2)^\\top` of any ``apply_fn``
  and parameter pytree, with neural-tangents' implementations 1-3 (3: :mod:`.structured` derivatives);
* :mod:`~dl_theory.kernels.monte_carlo` -- averages of empirical kernels over random initializations;
* :mod:`~dl_theory.kernels.batching` -- a kernel function evaluated tile by tile (and across devices);
* :mod:`~dl_theory.kernels.axes` -- output-axis conventions (``trace_axes``, ``diagonal_axes``, zipped pairs of axes);
* :mod:`~dl_theory.kernels.get` -- the ``get`` argument (which kernels to return) and the namedtuples it returns;
* :mod:`~dl_theory.kernels.metrics` -- relative change and (centred) alignment of two kernels.
"""

from dl_theory.kernels import axes, batching, empirical, get, metrics, monte_carlo, structured
from dl_theory.kernels.batching import batch
from dl_theory.kernels.empirical import (
    DEFAULT_NTK_IMPLEMENTATION,
    NtkImplementation,
    empirical_kernel_fn,
    empirical_nngp_fn,
    empirical_ntk_fn,
    empirical_ntk_vp_fn,
)
from dl_theory.kernels.metrics import (
    center_kernel,
    centered_kernel_alignment,
    kernel_alignment,
    relative_frobenius_change,
)
from dl_theory.kernels.monte_carlo import monte_carlo_kernel_fn

__all__ = [
    "DEFAULT_NTK_IMPLEMENTATION",
    "NtkImplementation",
    "axes",
    "batch",
    "batching",
    "center_kernel",
    "centered_kernel_alignment",
    "empirical",
    "empirical_kernel_fn",
    "empirical_nngp_fn",
    "empirical_ntk_fn",
    "empirical_ntk_vp_fn",
    "get",
    "kernel_alignment",
    "metrics",
    "monte_carlo",
    "monte_carlo_kernel_fn",
    "relative_frobenius_change",
    "structured",
]
