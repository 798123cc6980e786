"""``dl_theory.checks``: one message format, concrete values only (traced values pass through)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dl_theory import checks


@pytest.mark.parametrize("check, value, message", [
    (checks.positive, -1.0, "x must be > 0, got -1.0"),
    (checks.positive, np.array([1.0, 0.0, np.nan]), "x must be > 0, got [0.0, nan]"),
    (checks.nonnegative, -2, "x must be >= 0, got -2"),
    (checks.finite, np.inf, "x must be finite, got inf"),
    (checks.probability, 1.0, "x must be in (0, 1), got 1.0"),
    (checks.unit_interval, 1.5, "x must be in [0, 1], got 1.5"),
    (checks.in_interval(0.0, 2.0, closed=True), 3.0, "x must be in [0.0, 2.0], got 3.0"),
    (checks.count, 0, "x must be an integer >= 1, got 0"),
    (checks.at_least(10), 9, "x must be an integer >= 10, got 9"),
    (checks.scalar, "a", "x must be a real number, got 'a'"),
    (checks.each(checks.count), (), "x must be a non-empty sequence, got ()"),
    (checks.each(checks.count), (1, -1), "x[1] must be an integer >= 1, got -1"),
    (checks.each(checks.count, min_length=0), "ab", "x must be a sequence, got 'ab'"),
    (checks.one_of("a", "b"), "c", "x must be one of ('a', 'b'), got 'c'"),
])
def test_one_message_format(check, value, message):
    with pytest.raises(ValueError) as error:
        check("x", value)
    assert str(error.value) == message


def test_integers_are_not_bools_or_fractions():
    assert checks.count("n", 3) == 3 and checks.count("n", np.int64(2)) == 2 and checks.count("n", 4.0) == 4
    for bad in (True, 2.5, "3", None):
        with pytest.raises(TypeError, match="n must be an integer"):
            checks.count("n", bad)


def test_good_values_pass():
    checks.positive("x", np.ones(3))
    checks.probability("p", 0.5)
    checks.each(checks.positive)("xs", (0.1, 2.0))
    checks.each(checks.count, min_length=0)("xs", ())
    checks.one_of("a", "b")("x", "b")
    checks.same_tree("a", {"w": np.ones(2)}, "b", {"w": np.zeros(2)})


def test_same_tree_names_both_arguments():
    with pytest.raises(ValueError, match=r"a and b leaf \['w'\] must be of the same shape, got \(2,\) and \(3,\)"):
        checks.same_tree("a", {"w": np.ones(2)}, "b", {"w": np.ones(3)})


def test_traced_values_are_skipped_so_checks_are_safe_under_jit():
    @jax.jit
    def f(x):
        checks.positive("x", x)
        checks.probability("x", x)
        return x * 2

    assert float(f(jnp.asarray(-1.0))) == -2.0  # the value is unknown at trace time: no error, no host sync
