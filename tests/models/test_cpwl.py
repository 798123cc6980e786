"""CPWL <-> one-hidden-layer ReLU net and maxout units, against scipy's linear interpolation and brute force."""

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.interpolate

from dl_theory.models.cpwl import (
    ReluForm,
    evaluate,
    from_knots,
    from_relu_net,
    hinge_to_relu_form,
    k_hinge,
    relu_form_to_hinges,
    relu_net,
    to_knots,
    to_relu_net,
)

RNG = np.random.default_rng(0)
KNOTS = np.sort(RNG.uniform(-1.0, 1.0, 9))
VALUES = RNG.normal(size=9)
GRID = np.linspace(-2.0, 2.0, 801)


def _numpy_net(params, x):
    """Brute-force evaluation of a scalar one-hidden-layer ReLU net."""
    h = np.maximum(x[:, None] * params[0]["w"][0][None] + params[0]["b"][None], 0.0)
    return h @ params[1]["w"][:, 0] + params[1]["b"][0]


def test_from_knots_is_scipy_linear_interpolation_extended_linearly(x64):
    form = from_knots(KNOTS, VALUES)
    reference = scipy.interpolate.interp1d(KNOTS, VALUES, kind="linear", fill_value="extrapolate")(GRID)
    np.testing.assert_allclose(evaluate(form, GRID), reference, rtol=1e-12, atol=1e-12)
    assert len(form.knots_M) == len(KNOTS) - 2  # end knots are not breakpoints


def test_relu_net_equals_the_form_and_round_trips_exactly(x64):
    form = from_knots(KNOTS, VALUES)
    params = to_relu_net(form)
    width = len(form.knots_M) + 2
    out = relu_net(width).apply([{k: jnp.asarray(v) for k, v in p.items()} for p in params], GRID[:, None])[:, 0]
    np.testing.assert_allclose(out, evaluate(form, GRID), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out, _numpy_net(params, GRID), rtol=1e-12, atol=1e-12)
    back = from_relu_net(params)
    assert back.slope == form.slope and back.intercept == form.intercept
    np.testing.assert_array_equal(back.knots_M, form.knots_M)
    np.testing.assert_array_equal(back.coef_M, form.coef_M)
    knots, values = to_knots(back, KNOTS[0], KNOTS[-1])
    np.testing.assert_array_equal(knots, KNOTS)
    np.testing.assert_allclose(values, VALUES, atol=1e-12)


def test_any_relu_net_converts_to_its_cpwl(x64):
    m = 7
    w = RNG.normal(size=(1, m))
    w[0, 2] = 0.0  # a constant unit
    b = RNG.normal(size=m)
    w[0, 4], b[4] = -2.0 * w[0, 3], -2.0 * b[3]  # two units sharing a knot (exactly): merged
    params = [{"w": w, "b": b}, {"w": RNG.normal(size=(m, 1)), "b": RNG.normal(size=1)}]
    form = from_relu_net(params)
    assert len(form.knots_M) == m - 2
    assert np.all(np.diff(form.knots_M) > 0)
    np.testing.assert_allclose(evaluate(form, GRID), _numpy_net(params, GRID), rtol=1e-12, atol=1e-12)


def test_k_hinge_envelope_and_difference_of_hinges(x64):
    slopes = np.array([-1.0, -1.0, 0.0, 0.5, 2.0, 2.0, 1.0])
    intercepts = np.array([0.0, 0.3, 0.1, 0.35, -1.0, -3.0, 0.15])  # a parallel pair, lines 2, 3, 6 meet at x = 0.1
    form = hinge_to_relu_form(slopes, intercepts)
    brute = np.max(GRID[:, None] * slopes[None] + intercepts[None], axis=1)
    np.testing.assert_allclose(evaluate(form, GRID), brute, atol=1e-12)
    assert len(form.knots_M) <= len(slopes) - 1 and np.all(form.coef_M > 0)
    (ps, pt), (ns, nt) = relu_form_to_hinges(from_knots(KNOTS, VALUES))
    diff = np.max(GRID[:, None] * ps + pt, 1) - np.max(GRID[:, None] * ns + nt, 1)
    np.testing.assert_allclose(diff, evaluate(from_knots(KNOTS, VALUES), GRID), atol=1e-9)


def test_k_hinge_in_two_dimensions_is_the_max_of_affine_maps():
    x, w, b = RNG.normal(size=(20, 2)), RNG.normal(size=(5, 2)), RNG.normal(size=5)
    np.testing.assert_allclose(k_hinge(x, w, b), np.max(x @ w.T + b, axis=1), rtol=1e-5)


@pytest.mark.parametrize(("call", "name"), [
    (lambda: from_knots([0.0, 0.0, 1.0], [1.0, 2.0, 3.0]), "knots_K"),
    (lambda: from_knots([0.0, 1.0], [1.0, 2.0, 3.0]), "values_K"),
    (lambda: from_knots([0.0], [1.0]), "knots_K"),
    (lambda: to_knots(ReluForm(1.0, 0.0, np.zeros(0), np.zeros(0)), 1.0, 0.0), "hi"),
    (lambda: from_relu_net([{"w": np.ones((2, 3)), "b": np.ones(3)}, {"w": np.ones((3, 1)), "b": np.ones(1)}]),
     "params"),
    (lambda: k_hinge(np.ones((4, 2)), np.ones((3, 3)), np.ones(3)), "w_KxD"),
    (lambda: hinge_to_relu_form([1.0, 2.0], [0.0]), "intercepts_K"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()
