r"""Exact linear-region counts of ReLU networks: a line arrangement in :math:`\mathbb{R}^2`, and pieces along a line.

**One hidden layer in the plane.** Unit :math:`i` of :math:`\mathrm{relu}(Wx + b)` switches on the line
:math:`w_i \cdot x + b_i = 0`; the activation regions are the cells of that line arrangement. Adding lines one at a
time, line :math:`i` is cut by the earlier lines into (1 + its distinct crossing points) pieces, and each piece splits
one cell in two, so

.. math:: \#\text{cells} = 1 + \sum_i \bigl(1 + \#\{\text{distinct crossings of line } i \text{ with } j < i\}\bigr)

over the lines that meet the region (the whole plane, or the interior of a box, where only crossings inside count).
For generic lines this is Zaslavsky's :math:`1 + m + \binom{m}{2}` (:func:`dl_theory.theory.regions.zaslavsky_count`).

**Deep nets along a line.** On :math:`x(t) = x_0 + t v` the first layer's pre-activations are affine in :math:`t`;
their zeros split :math:`[t_0, t_1]` into pieces on which the next layer's pre-activations are affine again, and so
on. Refining the partition layer by layer (a pre-activation with opposite signs at a piece's ends has exactly one
zero inside, found by linear interpolation) gives every breakpoint exactly up to rounding, without a grid
(Hanin & Rolnick, *Complexity of linear regions in deep networks*, ICML 2019).

**Tent map.** :math:`T(x) = 2\,\mathrm{relu}(x) - 4\,\mathrm{relu}(x - \tfrac12)` maps [0, 1] onto itself with two
pieces; :math:`T^{\circ L}` is a depth-:math:`L`, width-2 ReLU net with :math:`2^L` pieces (Telgarsky, COLT 2016).
"""

import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks

Params = list[dict[str, ArrayLike]]


def arrangement_regions(w_Mx2: ArrayLike, b_M: ArrayLike, box: float | None = None, *, tol: float = 1e-9) -> int:
    """Exact number of cells of the lines ``w_i . x + b_i = 0`` in the plane, or inside the open box ``[-box, box]²``.

    Lines with ``w_i = 0`` are absent (a constant unit); crossing points closer than ``tol`` (relative) count once, so
    concurrent lines are handled, and repeated lines add nothing.
    """
    w, b = np.asarray(w_Mx2, np.float64), np.asarray(b_M, np.float64)
    if w.ndim != 2 or w.shape[1] != 2 or b.shape != (w.shape[0],):
        raise checks.fail("w_Mx2, b_M", "shapes (m, 2) and (m,)", f"{w.shape} and {b.shape}")
    if box is not None:
        checks.positive("box", box)
    keep = np.linalg.norm(w, axis=1) > 0
    w, b = w[keep], b[keep]
    regions, seen = 1, []
    for i in range(len(w)):
        if any(_same_line(w[i], b[i], w[j], b[j], tol) for j in seen):
            continue
        if box is not None and abs(b[i]) >= box * np.abs(w[i]).sum():  # the line misses the open box
            continue
        points = [p for j in seen if (p := _crossing(w[i], b[i], w[j], b[j])) is not None
                  and (box is None or np.max(np.abs(p)) < box)]
        regions += 1 + _n_distinct(points, tol)
        seen.append(i)
    return regions


def _same_line(w1: np.ndarray, b1: float, w2: np.ndarray, b2: float, tol: float) -> bool:
    a, c = np.append(w1, b1), np.append(w2, b2)  # the same line iff (w, b) are parallel in R^3
    return bool(np.linalg.norm(np.cross(a, c)) <= tol * np.linalg.norm(a) * np.linalg.norm(c))


def _crossing(w1: np.ndarray, b1: float, w2: np.ndarray, b2: float) -> np.ndarray | None:
    det = w1[0] * w2[1] - w1[1] * w2[0]
    if det == 0:
        return None
    return np.array([(-b1 * w2[1] + b2 * w1[1]) / det, (-b2 * w1[0] + b1 * w2[0]) / det])


def _n_distinct(points: list[np.ndarray], tol: float) -> int:
    distinct: list[np.ndarray] = []
    for p in points:
        if not any(np.max(np.abs(p - q)) <= tol * (1 + np.max(np.abs(q))) for q in distinct):
            distinct.append(p)
    return len(distinct)


def line_breakpoints(params: Params, x0_D: ArrayLike, v_D: ArrayLike, t_range: tuple[float, float] = (0.0, 1.0)
                     ) -> np.ndarray:
    r"""Every :math:`t` in the open interval where a hidden ReLU unit of the MLP switches along :math:`x_0 + t v`.

    Args:
      params: a ReLU MLP in :func:`dl_theory.models.mlp.dense_mlp`'s layout (list of ``{"w": (n_in, n_out), "b":
        (n_out,)}``, ReLU after every layer but the last).
      x0_D, v_D: the line.
      t_range: ``(t0, t1)`` with ``t0 < t1``.

    Returns:
      The sorted breakpoints; the net is affine between consecutive ones, so ``len + 1`` activation pieces.
    """
    t0, t1 = map(float, t_range)
    if not t0 < t1:
        raise checks.fail("t_range", "(t0, t1) with t0 < t1", t_range)
    x0, v = np.asarray(x0_D, np.float64), np.asarray(v_D, np.float64)
    ts = np.array([t0, t1])
    for depth in range(len(params) - 1):
        z_TxN = _preactivation(params, depth, x0[None, :] + ts[:, None] * v[None, :])
        za, zb = z_TxN[:-1], z_TxN[1:]
        piece, unit = np.nonzero(za * zb < 0)  # opposite signs at a piece's ends: one zero inside
        ta, tb = ts[piece], ts[piece + 1]
        roots = ta + za[piece, unit] / (za[piece, unit] - zb[piece, unit]) * (tb - ta)
        ts = np.unique(np.concatenate([ts, roots]))
    return ts[1:-1]


def _preactivation(params: Params, depth: int, x_TxD: np.ndarray) -> np.ndarray:
    """Pre-activations of hidden layer ``depth`` (0-based) at the points ``x_TxD``, in float64."""
    h = x_TxD
    for k, layer in enumerate(params[:depth + 1]):
        z = h @ np.asarray(layer["w"], np.float64) + np.asarray(layer["b"], np.float64)[None, :]
        if k == depth:
            return z
        h = np.maximum(z, 0.0)
    raise AssertionError("unreachable")


def tent_map_params(depth: int) -> list[dict[str, np.ndarray]]:
    r"""Parameters of :math:`T^{\circ L}` as a width-2 ReLU MLP in :func:`~dl_theory.models.mlp.dense_mlp`'s layout.

    Layer 1 computes :math:`(\mathrm{relu}(x), \mathrm{relu}(x - \frac12))`; the readout :math:`(2, -4)` of one tent is
    folded into the next layer's weights; the last layer is the readout.
    """
    depth = checks.count("depth", depth)
    first = np.array([[1.0, 1.0]])
    fold = np.array([[2.0], [-4.0]]) @ first
    bias = np.array([0.0, -0.5])
    return ([{"w": first, "b": bias}] + [{"w": fold, "b": bias} for _ in range(depth - 1)]
            + [{"w": np.array([[2.0], [-4.0]]), "b": np.zeros(1)}])
