"""FanOut / parallel / FanInSum / FanInProd / FanInConcat: Monte Carlo NNGP and clear errors."""

import jax
import pytest
from stax_mc import as_pairs, assert_within_se, mc_kernels

from dl_theory import stax

X1 = jax.random.normal(jax.random.key(1), (3, 4))
X2 = jax.random.normal(jax.random.key(2), (2, 4))


@pytest.mark.parametrize(
    "net",
    [
        lambda: stax.serial(
            stax.Dense(32, W_std=1.3, b_std=0.1),
            stax.FanOut(2),
            stax.parallel(stax.serial(stax.Relu(), stax.Dense(32, W_std=1.5)), stax.Identity()),
            stax.FanInSum(),
            stax.Dense(4),
        ),
        lambda: stax.serial(
            stax.FanOut(2),
            stax.parallel(stax.Dense(16, b_std=0.3), stax.serial(stax.Dense(16), stax.Erf())),
            stax.FanInProd(),
            stax.Dense(4),
        ),
        lambda: stax.serial(
            stax.FanOut(3),
            stax.parallel(stax.Dense(8, b_std=0.1), stax.serial(stax.Dense(24), stax.Relu()), stax.Identity()),
            stax.FanInConcat(),
            stax.Dense(4, W_std=1.2),
        ),
    ],
    ids=["residual_sum", "prod", "concat_channels"],
)
def test_fan_in_matches_monte_carlo(net, x64):
    init_fn, apply_fn, kernel_fn = net()
    mc = mc_kernels(init_fn, apply_fn, X1, X2, jax.random.key(3), 150)
    assert_within_se(kernel_fn(X1, X2, "nngp")[..., None, None], *mc["nngp"])


def test_concat_along_space_matches_monte_carlo(x64):
    x = jax.random.normal(jax.random.key(1), (2, 3, 2))
    init_fn, apply_fn, kernel_fn = stax.serial(
        stax.Conv(8, (2,), padding="SAME"),
        stax.FanOut(2),
        stax.parallel(stax.Identity(), stax.serial(stax.Relu(), stax.Conv(8, (2,), padding="SAME"))),
        stax.FanInConcat(axis=1),
        stax.Conv(2, (3,)),
    )
    mc = mc_kernels(init_fn, apply_fn, x, None, jax.random.key(3), 150)
    assert_within_se(as_pairs(kernel_fn(x, None, "nngp")), *mc["nngp"])


def test_fan_in_errors():
    mismatched = stax.serial(stax.FanOut(2), stax.parallel(stax.Dense(3), stax.Dense(4)), stax.FanInSum())
    with pytest.raises(ValueError, match="same shape"):
        mismatched[2](X1, None)
    with pytest.raises(ValueError, match="same shape"):
        mismatched[0](jax.random.key(0), X1.shape)
    branches = stax.parallel(stax.serial(stax.Dense(4), stax.Relu()), stax.Dense(4))
    non_gaussian = stax.serial(stax.FanOut(2), branches, stax.FanInSum())
    with pytest.raises(NotImplementedError, match="Gaussian"):
        non_gaussian[2](X1, None)
    with pytest.raises(TypeError, match="list"):
        stax.FanInSum()[2](X1, None)
