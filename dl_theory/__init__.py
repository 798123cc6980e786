"""dl_theory: deep-learning theory in pure JAX functions.

``import dl_theory as nt`` gives the public names of neural-tangents (``stax``, ``empirical_ntk_fn``,
``monte_carlo_kernel_fn``, ``predict``, ``batch``, ``linearize``, ``taylor_expand``) on modern JAX, plus the packages
of the analysis (``kernels``, ``dynamics``, ``curvature``, ``optim``, ``generalization``, ``regularization``,
``robustness``, ``interpret``, ``fairness``, ``models``, ``losses``) and the older short names ``hessian``,
``spectral``, ``convergence`` and ``pac_bayes``.

Names are imported on first use (PEP 562), so that ``dl-theory list`` and other light commands do not pay for
importing JAX.
"""

import importlib
from typing import Any

_NAMES = {
    "DEFAULT_NTK_IMPLEMENTATION": "dl_theory.kernels",
    "NtkImplementation": "dl_theory.kernels",
    "batch": "dl_theory.kernels",
    "empirical_kernel_fn": "dl_theory.kernels",
    "empirical_nngp_fn": "dl_theory.kernels",
    "empirical_ntk_fn": "dl_theory.kernels",
    "empirical_ntk_vp_fn": "dl_theory.kernels",
    "monte_carlo_kernel_fn": "dl_theory.kernels",
    "linearize": "dl_theory.dynamics",
    "taylor_expand": "dl_theory.dynamics",
    "hessian": "dl_theory.curvature",
    "spectral": "dl_theory.curvature",
    "convergence": "dl_theory.optim",
    "pac_bayes": "dl_theory.generalization",
}
_PACKAGES = ("checks", "curvature", "data", "dynamics", "experiment", "fairness", "generalization", "interpret",
             "kernels", "losses", "models", "optim", "predict", "regularization", "robustness", "stats", "stax",
             "theory", "training", "tree", "typing")

__all__: list[str] = sorted([*_NAMES, *_PACKAGES])


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
    elif name in _PACKAGES:
        value = importlib.import_module(f"dl_theory.{name}")
    else:
        raise AttributeError(f"module 'dl_theory' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
