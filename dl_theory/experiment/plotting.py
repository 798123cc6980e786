"""One figure style for every experiment.

``subplots`` returns a figure with the house style applied (Agg backend, so it works without a display);
``theory_line`` / ``measured`` keep theory curves and measurements visually distinct across all figures.
"""

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 130,
    "savefig.bbox": "tight",
    "font.size": 9.5,
    "axes.titlesize": 10,
    "axes.labelsize": 9.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "legend.fontsize": 8.5,
    "lines.linewidth": 1.6,
    "axes.prop_cycle": matplotlib.cycler(color=["#1f5fa8", "#d1495b", "#2a9d8f", "#e9a23b", "#6a4c93", "#5c5c5c"]),
}
THEORY = {"color": "black", "linestyle": "--", "linewidth": 1.2}


def subplots(nrows: int = 1, ncols: int = 1, *, width: float = 4.0, height: float = 3.2,
             title: str | None = None, **kwargs: Any) -> tuple[Any, Any]:
    """A styled figure with an ``nrows x ncols`` grid of axes of ``width x height`` inches each."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), layout="constrained",
                                 squeeze=False, **kwargs)
    fig.set_dpi(STYLE["figure.dpi"])
    for ax in axes.flat:
        _style_axes(ax)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig, (axes[0, 0] if nrows == ncols == 1 else axes.reshape(-1) if 1 in (nrows, ncols) else axes)


def _style_axes(ax: Any) -> None:
    for key in ("top", "right"):
        ax.spines[key].set_visible(False)
    ax.grid(True, alpha=STYLE["grid.alpha"])
    ax.tick_params(labelsize=8.5)


def theory_line(ax: Any, x: Any, y: Any, label: str = "theory", **kwargs: Any) -> None:
    """A theory curve: dashed black."""
    ax.plot(np.asarray(x), np.asarray(y), label=label, **{**THEORY, **kwargs})

