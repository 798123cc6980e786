"""Curvature of a loss: spectra of symmetric operators seen through a matvec, and Hessians of parameter pytrees.

:mod:`~dl_theory.curvature.spectral` sees only ``matvec: (D,) -> (D,)`` (power iteration, Lanczos, Hutchinson, SLQ);
:mod:`~dl_theory.curvature.hessian` turns ``loss_fn(params, batch)`` and data into that matvec.
"""

from dl_theory.curvature import hessian, spectral

__all__ = ["hessian", "spectral"]
