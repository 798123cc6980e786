r"""Continuous piecewise-linear (CPWL) functions of one variable as one-hidden-layer ReLU networks, and maxout units.

Every CPWL :math:`g : \mathbb R \to \mathbb R` with breakpoints :math:`x_1 < \dots < x_M` (:math:`M + 1` pieces) is

.. math:: g(x) = a x + b + \sum_{i=1}^{M} c_i (x - x_i)_+,

with :math:`a` the slope of the leftmost piece and :math:`c_i` the change of slope at :math:`x_i` (Lebesgue's
representation; Shekhtman 1982, *Why piecewise linear functions are dense in C[0, 1]*). Writing
:math:`a x = a (x)_+ - a (-x)_+` makes it a one-hidden-layer ReLU network of width :math:`M + 2` that equals
:math:`g` on all of :math:`\mathbb R`. Conversely a unit :math:`v\,\mathrm{relu}(w x + \beta)` with
:math:`w \ne 0` is a hinge at :math:`t = -\beta/w`: :math:`|w| v (x - t)_+` for :math:`w > 0` and
:math:`|w| v [(x - t)_+ - (x - t)]` for :math:`w < 0`, so summing the units and merging equal knots recovers
:math:`(a, b, c, x)` from any such network. Both directions only add and
multiply the given numbers: they are exact up to float rounding.

A :math:`k`-hinge (maxout unit, Goodfellow et al. 2013) is :math:`h(x) = \max_{j \le k} (w_j^\top x + \beta_j)`; ReLU is
the 2-hinge :math:`\max(0, z)`. In one dimension a :math:`k`-hinge is a convex CPWL with at most :math:`k - 1` knots
(the breakpoints of the upper envelope of its lines), and every CPWL is a difference of two of them, the convex parts
collecting the positive and the negative :math:`c_i` (the one-dimensional case of Wang & Sun 2005, *Generalization of
hinging hyperplanes*: every CPWL on :math:`\mathbb R^n` is a signed sum of :math:`k`-hinges with :math:`k \le n + 1`).

The conversions work on concrete arrays (NumPy: the number of knots is data-dependent); :func:`evaluate`,
:func:`k_hinge` and the network returned by :func:`to_relu_net` (evaluated with :func:`relu_net`) are JAX.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.models.mlp import dense_mlp
from dl_theory.typing import Model


class ReluForm(NamedTuple):
    r""":math:`g(x) = a x + b + \sum_i c_i (x - x_i)_+` with strictly increasing knots ``knots_M``."""

    slope: float
    intercept: float
    coef_M: np.ndarray
    knots_M: np.ndarray


def _vector(name: str, value: ArrayLike) -> np.ndarray:
    v = np.asarray(value)
    if v.ndim != 1:
        raise checks.fail(name, "a 1-D array", f"shape {v.shape}")
    checks.finite(name, v)
    return v


def from_knots(knots_K: ArrayLike, values_K: ArrayLike) -> ReluForm:
    r"""The ReLU form of the piecewise-linear interpolant of ``(knots_K, values_K)``, extended linearly beyond the end
    knots (slope of the first / last piece).

    :math:`a = s_0`, :math:`b = y_0 - a x_0`, :math:`c_i = s_i - s_{i-1}` at the interior knots, where
    :math:`s_i = (y_{i+1} - y_i)/(x_{i+1} - x_i)`.

    Raises:
      ValueError: fewer than 2 knots, knots not strictly increasing, or shapes that differ.
    """
    x, y = _vector("knots_K", knots_K), _vector("values_K", values_K)
    if len(x) < 2:
        raise checks.fail("knots_K", "at least 2 knots", len(x))
    if y.shape != x.shape:
        raise checks.fail("values_K", f"of shape {x.shape} (one value per knot)", f"shape {y.shape}")
    if np.any(np.diff(x) <= 0):
        raise checks.fail("knots_K", "strictly increasing", x)
    slopes = np.diff(y) / np.diff(x)
    return ReluForm(float(slopes[0]), float(y[0] - slopes[0] * x[0]), np.diff(slopes), x[1:-1].copy())


@jax.jit
def evaluate(form: ReluForm, x: ArrayLike) -> jax.Array:
    r""":math:`a x + b + \sum_i c_i (x - x_i)_+` at every entry of ``x``."""
    x = jnp.asarray(x)
    c, t = jnp.asarray(form.coef_M, x.dtype), jnp.asarray(form.knots_M, x.dtype)
    hinges = jax.nn.relu(x[..., None] - t.reshape((1,) * x.ndim + t.shape))
    return form.slope * x + form.intercept + jnp.sum(hinges * c.reshape((1,) * x.ndim + c.shape), axis=-1)


def relu_net(width: int) -> Model:
    """The one-hidden-layer ReLU network ``x_Nx1 -> y_Nx1`` of :func:`dl_theory.models.mlp.dense_mlp` (its params
    ``[{"w": (1, width), "b": (width,)}, {"w": (width, 1), "b": (1,)}]``)."""
    return dense_mlp((checks.count("width", width),), 1, activation=jax.nn.relu)


def to_relu_net(form: ReluForm) -> list[dict[str, np.ndarray]]:
    r"""Parameters of :func:`relu_net` (width :math:`M + 2`) computing ``form`` exactly on :math:`\mathbb R`.

    Unit :math:`i \le M` is :math:`\mathrm{relu}(x - x_i)` with output weight :math:`c_i`; the last two are
    :math:`\mathrm{relu}(\pm x)` with output weights :math:`\pm a`; the output bias is :math:`b`.
    """
    c, t = np.asarray(form.coef_M, float), np.asarray(form.knots_M, float)
    w = np.concatenate([np.ones_like(t), [1.0, -1.0]])
    return [{"w": w[None, :], "b": np.concatenate([-t, [0.0, 0.0]])},
            {"w": np.concatenate([c, [form.slope, -form.slope]])[:, None], "b": np.array([form.intercept])}]


def from_relu_net(params: list[dict[str, ArrayLike]]) -> ReluForm:
    r"""The ReLU form of a scalar one-hidden-layer ReLU network (the params of :func:`relu_net`:
    ``[{"w": (1, m), "b": (m,)}, {"w": (m, 1), "b": (1,)}]``).

    A unit with :math:`w_j = 0` is the constant :math:`v_j\,\mathrm{relu}(\beta_j)`; the others become hinges at
    :math:`t_j = -\beta_j / w_j` (see the module docstring). Hinges at the same knot are merged, and knots whose merged
    coefficient is exactly 0 are dropped (they are not breakpoints).

    Raises:
      ValueError: if the parameters are not of that shape.
    """
    if len(params) != 2:
        raise checks.fail("params", "two layers (hidden, readout)", f"{len(params)} layers")
    w1, b1 = np.asarray(params[0]["w"], float), np.asarray(params[0]["b"], float)
    v, b2 = np.asarray(params[1]["w"], float), np.asarray(params[1]["b"], float)
    m = b1.shape[0] if b1.ndim == 1 else -1
    if w1.shape != (1, m) or v.shape != (m, 1) or b2.shape != (1,):
        raise checks.fail("params", "a scalar one-hidden-layer net: w (1, m), b (m,), w (m, 1), b (1,)",
                          f"shapes {w1.shape}, {b1.shape}, {v.shape}, {b2.shape}")
    w, v = w1[0], v[:, 0]
    active = w != 0
    knots = -b1[active] / w[active]
    coef = np.abs(w[active]) * v[active]
    negative = w[active] < 0  # |w| v [(x - t)_+ - (x - t)]: slope -|w| v, intercept +|w| v t
    slope = float(-np.sum(coef[negative]))
    constant = np.sum(v[~active] * np.maximum(b1[~active], 0.0))
    intercept = float(b2[0] + constant + np.sum(coef[negative] * knots[negative]))
    unique, where = np.unique(knots, return_inverse=True)
    merged = np.zeros(len(unique))
    np.add.at(merged, where, coef)
    keep = merged != 0
    return ReluForm(slope, intercept, merged[keep], unique[keep])


def to_knots(form: ReluForm, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Breakpoints of ``form`` in ``[lo, hi]`` with the end points, and the values there: the interpolation data
    that :func:`from_knots` turns back into ``form`` (restricted to ``[lo, hi]``).

    Raises:
      ValueError: if ``lo >= hi``.
    """
    if not lo < hi:
        raise checks.fail("hi", f"> lo = {lo}", hi)
    t = np.asarray(form.knots_M, float)
    x = np.concatenate([[lo], t[(t > lo) & (t < hi)], [hi]])
    with jax.enable_x64(True):
        y = np.asarray(evaluate(form, jnp.asarray(x, jnp.float64)))
    return x, y


def k_hinge(x_NxD: ArrayLike, w_KxD: ArrayLike, b_K: ArrayLike) -> jax.Array:
    r"""Maxout unit :math:`\max_{j \le k}(w_j^\top x + \beta_j)` at each row of ``x_NxD``; returns ``(N,)``."""
    x_NxD, w_KxD, b_K = jnp.asarray(x_NxD), jnp.asarray(w_KxD), jnp.asarray(b_K)
    if x_NxD.ndim != 2 or w_KxD.ndim != 2 or w_KxD.shape[1] != x_NxD.shape[1] or b_K.shape != w_KxD.shape[:1]:
        raise checks.fail("w_KxD", f"of shape (k, {x_NxD.shape[-1]}) with b_K of shape (k,) and x_NxD 2-D",
                          f"shapes {w_KxD.shape}, {b_K.shape}, {x_NxD.shape}")
    return jnp.max(x_NxD @ w_KxD.T + b_K[None, :], axis=1)


def hinge_to_relu_form(slopes_K: ArrayLike, intercepts_K: ArrayLike) -> ReluForm:
    r"""The ReLU form of the 1-D :math:`k`-hinge :math:`\max_j (s_j x + \beta_j)`: its upper envelope.

    From :math:`x = -\infty` (the line of least slope, highest intercept among ties) the envelope follows a line until
    the first crossing with a steeper line; among lines crossing there it continues with the steepest. Each switch is
    a knot with :math:`c = ` the slope increase, so there are at most :math:`k - 1` knots, all :math:`c > 0`.
    """
    s, t = _vector("slopes_K", slopes_K).astype(float), _vector("intercepts_K", intercepts_K).astype(float)
    if s.shape != t.shape or len(s) == 0:
        raise checks.fail("intercepts_K", f"of shape {s.shape} (one per slope), non-empty", f"shape {t.shape}")
    start = j = int(np.lexsort((-t, s))[0])
    knots, coef = [], []
    while True:
        steeper = np.flatnonzero(s > s[j])
        if steeper.size == 0:
            break
        cross = (t[j] - t[steeper]) / (s[steeper] - s[j])
        first = cross.min()
        candidates = steeper[cross == first]
        nxt = int(candidates[np.argmax(s[candidates])])
        knots.append(first)
        coef.append(s[nxt] - s[j])
        j = nxt
    return ReluForm(float(s[start]), float(t[start]), np.asarray(coef, float), np.asarray(knots, float))


def relu_form_to_hinges(form: ReluForm) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    r"""Two 1-D :math:`k`-hinges :math:`P, N` (lines ``(slopes, intercepts)`` each) with :math:`g = P - N`.

    :math:`P(x) = a x + b + \sum_{c_i > 0} c_i (x - x_i)_+` and :math:`N(x) = \sum_{c_i < 0} |c_i| (x - x_i)_+` are
    convex CPWL, hence the maxima of their pieces' lines: piece :math:`p` of :math:`P` has slope
    :math:`a + \sum_{i \le p} c_i` and passes through the knot where it starts.
    """
    c, t = np.asarray(form.coef_M, float), np.asarray(form.knots_M, float)

    def lines(slope0: float, intercept0: float, c_i: np.ndarray, t_i: np.ndarray):
        slopes = slope0 + np.concatenate([[0.0], np.cumsum(c_i)])
        intercepts = intercept0 - np.concatenate([[0.0], np.cumsum(c_i * t_i)])  # c (x - t) = c x - c t
        return slopes, intercepts

    pos, neg = c > 0, c < 0
    return lines(form.slope, form.intercept, c[pos], t[pos]), lines(0.0, 0.0, -c[neg], t[neg])
