"""Training dynamics of finite networks: Taylor expansions around the initialization and the NTK along a run.

* :mod:`~dl_theory.dynamics.taylor` -- :func:`linearize` and :func:`taylor_expand` of any ``apply_fn``;
* :mod:`~dl_theory.dynamics.ntk_tracking` -- a :func:`~dl_theory.training.train` callback that records how far the
  empirical NTK moves from its value at initialization.
"""

from dl_theory.dynamics.ntk_tracking import ntk_tracking_callback
from dl_theory.dynamics.taylor import linearize, taylor_expand

__all__ = ["linearize", "ntk_tracking_callback", "taylor_expand"]
