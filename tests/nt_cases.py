"""Golden-test cases for analytic NNGP/NTK layers, written against neural-tangents' public ``stax`` API.

Every case is a recipe ``build(stax) -> (init_fn, apply_fn, kernel_fn)`` that uses only public names of
``neural_tangents.stax`` (0.6.5), so the same recipe builds the oracle network inside the legacy environment
(``scripts/make_nt_fixtures.py``) and the network under test with ``dl_theory.stax``
(``tests/test_nt_golden.py``). This module imports neither library: recipes receive the ``stax`` module as an
argument and import ``jax.numpy`` lazily (it exists, in different versions, in both environments).

Inputs are drawn from ``numpy.random.default_rng`` by the fixture script and stored in the fixture, so the
test never regenerates them. ``x1_shape`` is either one shape or a tuple of shapes (a ``parallel`` net fed a
tuple of inputs); ``x2_shape=None`` means ``kernel_fn(x1, None)``. ``pattern`` asks for graph adjacency arrays
for ``Aggregate`` (``"dense"``: ``(N, V, V)`` 0/1 matrices; ``"sparse"``: ``(N, E, 2)`` integer edge lists).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

Shape = tuple[int, ...]
Builder = Callable[[ModuleType], tuple]


@dataclasses.dataclass(frozen=True)
class Case:
    """One analytic-kernel golden case.

    Attributes:
      name: file stem of the fixture, ``tests/fixtures/nt/stax/<name>.npz``.
      build: ``stax -> (init_fn, apply_fn, kernel_fn)``.
      x1_shape: shape of ``x1`` (or tuple of shapes for tuple inputs).
      x2_shape: shape of ``x2``; ``None`` for ``kernel_fn(x1, None)``.
      kernel_kwargs: static keyword arguments of ``kernel_fn`` (``diagonal_batch``, ``diagonal_spatial``).
      pattern: ``None``, ``"dense"`` or ``"sparse"``: ``Aggregate`` adjacency passed as ``pattern=``.
      deterministic_apply: whether ``apply_fn(params, x1)`` is deterministic (not train-mode ``Dropout``).
      apply_rng: whether ``apply_fn`` needs an ``rng`` keyword (neural-tangents' ``Dropout`` asks for one even in
        ``"test"`` mode, where the output does not depend on it).
    """

    name: str
    build: Builder
    x1_shape: Shape | tuple[Shape, ...]
    x2_shape: Shape | tuple[Shape, ...] | None
    kernel_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    pattern: str | None = None
    deterministic_apply: bool = True
    apply_rng: bool = False

    @property
    def tuple_input(self) -> bool:
        """Whether the network takes a tuple of inputs."""
        return isinstance(self.x1_shape[0], tuple)


CASES: dict[str, Case] = {}


def _add(name: str, build: Builder, x1: Any, x2: Any, **kwargs: Any) -> None:
    if name in CASES:
        raise ValueError(f"duplicate case name {name!r}")
    CASES[name] = Case(name, build, x1, x2, **kwargs)


# ----------------------------------------------------------------------------------------------------
# Elementwise nonlinearities: each sits between two Dense layers (MLP) and after a 1-D Conv (spatial kernels).


def _sin_nngp(cov12, var1, var2):
    """E[sin u sin v] for centred Gaussians: exp(-(var1 + var2) / 2) sinh(cov12)."""
    import jax.numpy as jnp

    return jnp.exp(-(var1 + var2) / 2) * jnp.sinh(cov12)


def _sin_d_nngp(cov12, var1, var2):
    """d/dcov12 of :func:`_sin_nngp` = E[cos u cos v]."""
    import jax.numpy as jnp

    return jnp.exp(-(var1 + var2) / 2) * jnp.cosh(cov12)


def _elementwise_user(s: ModuleType, with_derivative: bool):
    import jax.numpy as jnp

    return s.Elementwise(fn=jnp.sin, nngp_fn=_sin_nngp, d_nngp_fn=_sin_d_nngp if with_derivative else None)


def _elementwise_numerical(s: ModuleType, with_derivative: bool):
    import jax.numpy as jnp

    df = (lambda x: 1 - jnp.tanh(x) ** 2) if with_derivative else None
    return s.ElementwiseNumerical(fn=jnp.tanh, deg=25, df=df)


ACTIVATIONS: dict[str, Callable[[ModuleType], tuple]] = {
    "relu": lambda s: s.Relu(),
    "relu_stabilized": lambda s: s.Relu(do_stabilize=True),
    "abrelu": lambda s: s.ABRelu(-0.4, 1.3),
    "leaky_relu": lambda s: s.LeakyRelu(0.15),
    "abs": lambda s: s.Abs(),
    "erf": lambda s: s.Erf(),
    "erf_abc": lambda s: s.Erf(a=1.3, b=0.7, c=0.2),
    "gelu": lambda s: s.Gelu(),
    "sin": lambda s: s.Sin(),
    "sin_abc": lambda s: s.Sin(a=1.2, b=0.8, c=0.3),
    "cos": lambda s: s.Cos(a=0.9, b=1.1, c=-0.2),
    "exp": lambda s: s.Exp(a=0.8, b=0.6),
    "gaussian": lambda s: s.Gaussian(a=1.1, b=-0.7),
    "sigmoid_like": lambda s: s.Sigmoid_like(),
    "sign": lambda s: s.Sign(),
    "monomial1": lambda s: s.Monomial(1),
    "monomial2": lambda s: s.Monomial(2),
    "monomial3": lambda s: s.Monomial(3),
    "rectified_monomial0": lambda s: s.RectifiedMonomial(0),
    "rectified_monomial1": lambda s: s.RectifiedMonomial(1),
    "rectified_monomial2": lambda s: s.RectifiedMonomial(2),
    "polynomial": lambda s: s.Polynomial([0.1, -0.5, 0.3, 0.2]),
    "rbf": lambda s: s.Rbf(gamma=0.5),
    "elementwise_user": lambda s: _elementwise_user(s, with_derivative=False),
    "elementwise_user_dnngp": lambda s: _elementwise_user(s, with_derivative=True),
    "elementwise_numerical": lambda s: _elementwise_numerical(s, with_derivative=False),
    "elementwise_numerical_df": lambda s: _elementwise_numerical(s, with_derivative=True),
}

for _act, _make in ACTIVATIONS.items():
    _add(
        f"act_{_act}_mlp",
        lambda s, m=_make: s.serial(s.Dense(6, W_std=1.5, b_std=0.3), m(s), s.Dense(2, W_std=1.2, b_std=0.1)),
        (4, 5),
        (3, 5),
    )
    _add(
        f"act_{_act}_conv",
        lambda s, m=_make: s.serial(s.Conv(3, (2,), padding="SAME", W_std=1.3, b_std=0.2), m(s)),
        (3, 4, 2),
        None,
    )

# Hermite polynomials assume unit-variance pre-activations: LayerNorm makes that exact in the limit.
for _deg in (1, 2, 3):
    _add(
        f"act_hermite{_deg}_mlp",
        lambda s, d=_deg: s.serial(s.Dense(6, W_std=1.4, b_std=0.5), s.LayerNorm(), s.Hermite(d), s.Dense(2)),
        (4, 5),
        (3, 5),
    )

# A nonlinearity after RectifiedMonomial consumes its variances (cov1), which neural-tangents 0.6.5 gets as NaN.
_add(
    "act_rectified_monomial2_deep",
    lambda s: s.serial(s.Dense(6, W_std=1.2, b_std=0.3), s.RectifiedMonomial(2), s.Dense(5), s.Relu(), s.Dense(1)),
    (4, 5),
    (3, 5),
)
# Pooling after Sign mixes Sign's spatial covariances (cov1) into the variances that the next nonlinearity uses.
_add(
    "act_sign_conv_deep",
    lambda s: s.serial(
        s.Conv(3, (2,), padding="SAME", b_std=0.1),
        s.Sign(),
        s.AvgPool((2,)),
        s.Conv(3, (2,), padding="SAME", b_std=0.1),
        s.Relu(),
        s.GlobalAvgPool(),
        s.Dense(1),
    ),
    (3, 4, 2),
    (2, 4, 2),
)
_add(
    "act_relu_mlp_standard",
    lambda s: s.serial(
        s.Dense(7, W_std=1.5, b_std=0.3, parameterization="standard"),
        s.Relu(),
        s.Dense(2, W_std=1.1, b_std=0.2, parameterization="standard"),
    ),
    (4, 5),
    (3, 5),
)
_add(
    "act_erf_mlp_full_batch",
    lambda s: s.serial(s.Dense(6, W_std=1.5, b_std=0.3), s.Erf(), s.Dense(2)),
    (4, 5),
    None,
    kernel_kwargs={"diagonal_batch": False},
)
for _act in ("relu", "erf", "gelu", "abs"):
    _add(
        f"act_{_act}_conv_diag_spatial",
        lambda s, a=_act: s.serial(
            s.Conv(3, (2,), padding="SAME", W_std=1.3, b_std=0.2), ACTIVATIONS[a](s), s.Flatten(), s.Dense(1)
        ),
        (3, 4, 2),
        (2, 4, 2),
        kernel_kwargs={"diagonal_spatial": True},
    )

# ----------------------------------------------------------------------------------------------------
# Dense.

for _param in ("ntk", "standard"):
    _add(
        f"dense_{_param}",
        lambda s, p=_param: s.Dense(5, W_std=1.3, b_std=0.4, parameterization=p),
        (4, 6),
        (3, 6),
    )
    _add(
        f"dense_{_param}_x2_none",
        lambda s, p=_param: s.Dense(5, W_std=1.3, b_std=0.4, parameterization=p),
        (4, 6),
        None,
    )
    _add(
        f"dense_{_param}_relu_dense",
        lambda s, p=_param: s.serial(
            s.Dense(7, W_std=1.4, b_std=0.2, parameterization=p),
            s.Relu(),
            s.Dense(3, W_std=0.9, b_std=0.5, parameterization=p),
        ),
        (3, 4),
        (2, 4),
    )
    _add(
        f"dense_{_param}_spatial_input",
        lambda s, p=_param: s.serial(s.Dense(4, W_std=1.1, b_std=0.3, parameterization=p), s.Relu(), s.Dense(2)),
        (3, 5, 2),
        (2, 5, 2),
    )
    _add(
        f"dense_{_param}_spatial_input_diag_spatial",
        lambda s, p=_param: s.serial(s.Dense(4, W_std=1.1, b_std=0.3, parameterization=p), s.Relu(), s.Dense(2)),
        (3, 5, 2),
        (2, 5, 2),
        kernel_kwargs={"diagonal_spatial": True},
    )
_add("dense_no_bias", lambda s: s.Dense(3, W_std=2.0), (4, 5), (2, 5))
_add(
    "dense_standard_s",
    lambda s: s.serial(
        s.Dense(7, W_std=1.2, b_std=0.3, parameterization="standard", s=(1, 2)),
        s.Relu(),
        s.Dense(3, W_std=0.8, b_std=0.1, parameterization="standard", s=(2, 3)),
    ),
    (3, 4),
    (2, 4),
)
_add(
    "dense_channel_axis1",
    lambda s: s.serial(s.Dense(4, W_std=1.2, b_std=0.1, channel_axis=1), s.Erf(), s.Dense(2, channel_axis=1)),
    (3, 2, 5),
    (2, 2, 5),
)
_add(
    "dense_full_batch",
    lambda s: s.serial(s.Dense(5, W_std=1.4, b_std=0.2), s.Relu(), s.Dense(1)),
    (4, 3),
    (3, 3),
    kernel_kwargs={"diagonal_batch": False},
)

# ----------------------------------------------------------------------------------------------------
# Conv: 1-D/2-D/3-D, strides, VALID/SAME/CIRCULAR, both parameterizations.

_CONV_SPECS: dict[str, tuple[Shape, Shape | None, dict[str, Any]]] = {
    "conv1d_valid": ((3, 7, 2), (2, 7, 2), {"filter_shape": (3,), "padding": "VALID"}),
    "conv1d_same_stride2": ((3, 7, 2), None, {"filter_shape": (3,), "strides": (2,), "padding": "SAME"}),
    "conv1d_circular": ((3, 6, 2), (2, 6, 2), {"filter_shape": (3,), "padding": "CIRCULAR"}),
    "conv2d_valid": ((3, 5, 4, 2), (2, 5, 4, 2), {"filter_shape": (3, 2), "padding": "VALID"}),
    "conv2d_same": ((3, 4, 3, 2), None, {"filter_shape": (2, 3), "padding": "SAME"}),
    "conv2d_circular_stride": (
        (2, 5, 4, 2),
        (3, 5, 4, 2),
        {"filter_shape": (3, 2), "strides": (2, 1), "padding": "CIRCULAR"},
    ),
    "conv2d_valid_stride": (
        (3, 5, 5, 1),
        None,
        {"filter_shape": (2, 2), "strides": (2, 2), "padding": "VALID"},
    ),
    "conv3d_same": ((2, 3, 3, 2, 2), (2, 3, 3, 2, 2), {"filter_shape": (2, 2, 1), "padding": "SAME"}),
    "conv3d_valid_stride": (
        (2, 4, 3, 3, 1),
        None,
        {"filter_shape": (2, 2, 2), "strides": (2, 1, 1), "padding": "VALID"},
    ),
}
for _name, (_x1, _x2, _kw) in _CONV_SPECS.items():
    for _param in ("ntk", "standard"):
        _add(
            f"{_name}_{_param}",
            lambda s, kw=_kw, p=_param: s.serial(
                s.Conv(3, W_std=1.4, b_std=0.2, parameterization=p, **kw),
                s.Relu(),
                s.Conv(2, W_std=0.9, b_std=0.1, parameterization=p, **kw),
            ),
            _x1,
            _x2,
        )
_add(
    "conv2d_nchw_dimension_numbers",
    lambda s: s.serial(
        s.Conv(3, (2, 2), padding="SAME", W_std=1.2, b_std=0.1, dimension_numbers=("NCHW", "OIHW", "NCHW")),
        s.Relu(),
        s.Flatten(),
        s.Dense(1),
    ),
    (3, 2, 4, 3),
    (2, 2, 4, 3),
)
_add(
    "conv2d_diag_spatial_flatten",
    lambda s: s.serial(
        s.Conv(4, (2, 2), padding="SAME", W_std=1.5, b_std=0.1),
        s.Relu(),
        s.Conv(4, (2, 2), padding="SAME"),
        s.Relu(),
        s.Flatten(),
        s.Dense(2),
    ),
    (3, 4, 3, 2),
    (2, 4, 3, 2),
    kernel_kwargs={"diagonal_spatial": True},
)
_add(
    "conv1d_full_batch",
    lambda s: s.serial(s.Conv(3, (2,), padding="SAME", W_std=1.2, b_std=0.2), s.Relu(), s.Conv(2, (2,))),
    (3, 5, 2),
    None,
    kernel_kwargs={"diagonal_batch": False},
)

# ----------------------------------------------------------------------------------------------------
# Pooling, Flatten, Identity (alone on the input kernel, and inside small CNNs).

_add("avgpool2d_valid_input", lambda s: s.AvgPool((2, 2)), (3, 4, 4, 2), (2, 4, 4, 2))
_add(
    "avgpool1d_same_stride_normalize",
    lambda s: s.serial(
        s.Conv(3, (2,), padding="SAME"),
        s.Relu(),
        s.AvgPool((3,), strides=(2,), padding="SAME", normalize_edges=True),
    ),
    (3, 7, 2),
    (2, 7, 2),
)
_add(
    "avgpool1d_same_stride_unnormalized",
    lambda s: s.serial(
        s.Conv(3, (2,), padding="SAME"),
        s.Relu(),
        s.AvgPool((3,), strides=(2,), padding="SAME", normalize_edges=False),
    ),
    (3, 7, 2),
    None,
)
_add(
    "avgpool2d_circular",
    lambda s: s.serial(s.Conv(3, (2, 2), padding="CIRCULAR"), s.Erf(), s.AvgPool((2, 3), padding="CIRCULAR")),
    (2, 4, 3, 2),
    (3, 4, 3, 2),
)
_add("sumpool2d_valid_stride_input", lambda s: s.SumPool((2, 2), strides=(2, 1)), (3, 4, 3, 2), None)
_add(
    "sumpool1d_same",
    lambda s: s.serial(s.Conv(3, (3,), padding="SAME", b_std=0.3), s.Relu(), s.SumPool((2,), padding="SAME")),
    (3, 5, 2),
    (2, 5, 2),
)
_add(
    "sumpool2d_circular",
    lambda s: s.serial(s.Conv(2, (2, 2), padding="SAME"), s.Relu(), s.SumPool((2, 2), padding="CIRCULAR")),
    (2, 3, 3, 1),
    None,
)
_add("global_avg_pool_input", lambda s: s.GlobalAvgPool(), (3, 4, 3, 2), (2, 4, 3, 2))
_add("global_sum_pool_input", lambda s: s.GlobalSumPool(), (3, 5, 2), None)
_add("flatten_input", lambda s: s.Flatten(), (3, 2, 3, 2), (2, 2, 3, 2))
_add(
    "flatten_input_diag_spatial",
    lambda s: s.Flatten(),
    (3, 2, 3, 2),
    None,
    kernel_kwargs={"diagonal_spatial": True},
)
_add(
    "flatten_batch_axis_out1",
    lambda s: s.serial(s.Conv(3, (2,), padding="SAME"), s.Relu(), s.Flatten(batch_axis_out=1)),
    (3, 4, 2),
    (2, 4, 2),
)
_add("identity_input", lambda s: s.Identity(), (4, 5), (3, 5))
_add(
    "identity_in_mlp",
    lambda s: s.serial(s.Dense(5, b_std=0.2), s.Identity(), s.Relu(), s.Identity()),
    (3, 4),
    None,
)

# ----------------------------------------------------------------------------------------------------
# LayerNorm and Dropout.

_add(
    "layernorm_mlp",
    lambda s: s.serial(s.Dense(6, W_std=1.7, b_std=0.5), s.LayerNorm(), s.Relu(), s.Dense(2)),
    (4, 5),
    (3, 5),
)
_add(
    "layernorm_conv_all_axes",
    lambda s: s.serial(
        s.Conv(3, (2, 2), padding="SAME", b_std=0.4),
        s.LayerNorm(axis=(1, 2, 3)),
        s.Erf(),
        s.GlobalAvgPool(),
        s.Dense(1),
    ),
    (3, 3, 3, 2),
    (2, 3, 3, 2),
)
_add(
    "layernorm_conv_channel_diag_spatial",
    lambda s: s.serial(s.Conv(3, (2,), padding="SAME", b_std=0.4), s.LayerNorm(axis=-1, eps=1e-6), s.Relu()),
    (3, 4, 2),
    None,
    kernel_kwargs={"diagonal_spatial": True},
)
for _x2 in ((3, 5), None):
    _add(
        f"dropout_train_mlp_{'x2' if _x2 else 'x2_none'}",
        lambda s: s.serial(s.Dense(8, W_std=1.4, b_std=0.2), s.Relu(), s.Dropout(0.7), s.Dense(2)),
        (4, 5),
        _x2,
        deterministic_apply=False,
        apply_rng=True,
    )
_add(
    "dropout_test_mode",
    lambda s: s.serial(s.Dense(8, W_std=1.4, b_std=0.2), s.Relu(), s.Dropout(0.6, mode="test"), s.Dense(2)),
    (4, 5),
    (3, 5),
    apply_rng=True,
)

# ----------------------------------------------------------------------------------------------------
# Branching and combinators: FanOut / parallel / FanInSum / FanInConcat / FanInProd, repeat, tuple inputs.

_add(
    "residual_fanin_sum",
    lambda s: s.serial(
        s.Dense(6, W_std=1.3, b_std=0.1),
        s.FanOut(2),
        s.parallel(s.serial(s.Relu(), s.Dense(6, W_std=1.5, b_std=0.2)), s.Identity()),
        s.FanInSum(),
        s.Relu(),
        s.Dense(1),
    ),
    (4, 5),
    (3, 5),
)
_add(
    "fanin_concat_channels",
    lambda s: s.serial(
        s.FanOut(3),
        s.parallel(s.Dense(3, b_std=0.1), s.serial(s.Dense(4), s.Erf()), s.Identity()),
        s.FanInConcat(),
        s.Dense(2, W_std=1.2),
    ),
    (4, 5),
    None,
)
# Concatenation along a spatial axis is only defined (in neural-tangents) for Gaussian (pre-activation) inputs.
_add(
    "fanin_concat_spatial_axis",
    lambda s: s.serial(
        s.Conv(3, (2,), padding="SAME"),
        s.Relu(),
        s.FanOut(2),
        s.parallel(s.Conv(3, (2,), padding="SAME", b_std=0.2), s.Conv(3, (3,), padding="SAME")),
        s.FanInConcat(axis=1),
        s.Relu(),
        s.Conv(2, (3,)),
    ),
    (3, 4, 2),
    (2, 4, 2),
)
_add(
    "fanin_prod",
    lambda s: s.serial(
        s.FanOut(2),
        s.parallel(s.Dense(5, W_std=1.2, b_std=0.3), s.serial(s.Dense(5), s.Erf())),
        s.FanInProd(),
        s.Dense(2),
    ),
    (4, 5),
    (3, 5),
)
_add(
    "fanin_prod_conv",
    lambda s: s.serial(
        s.FanOut(2),
        s.parallel(s.Conv(3, (2,), padding="SAME"), s.Conv(3, (2,), padding="SAME")),
        s.FanInProd(),
        s.GlobalAvgPool(),
    ),
    (3, 4, 2),
    None,
)
_add(
    "parallel_tuple_inputs",
    lambda s: s.parallel(s.serial(s.Dense(4, b_std=0.2), s.Relu()), s.serial(s.Conv(3, (2,)), s.Erf())),
    ((3, 4), (3, 5, 2)),
    ((2, 4), (2, 5, 2)),
)
_add(
    "parallel_tuple_inputs_fanin_concat",
    lambda s: s.serial(s.parallel(s.Dense(4, b_std=0.2), s.serial(s.Dense(3), s.Relu())), s.FanInConcat(), s.Dense(1)),
    ((3, 4), (3, 2)),
    None,
)
_add(
    "repeat_relu_block",
    lambda s: s.serial(
        s.Dense(6, W_std=1.4, b_std=0.1), s.repeat(s.serial(s.Relu(), s.Dense(6, W_std=1.4, b_std=0.1)), 3)
    ),
    (4, 5),
    (3, 5),
)
_add(
    "repeat_conv_block_diag_spatial",
    lambda s: s.serial(
        s.Conv(3, (2,), padding="SAME"),
        s.repeat(s.serial(s.Erf(), s.Conv(3, (2,), padding="CIRCULAR", b_std=0.2)), 2),
        s.Flatten(),
    ),
    (3, 4, 2),
    None,
    kernel_kwargs={"diagonal_spatial": True},
)

# ----------------------------------------------------------------------------------------------------
# Compositions.

for _param in ("ntk", "standard"):
    _add(
        f"deep_relu_mlp_{_param}",
        lambda s, p=_param: s.serial(
            *[s.serial(s.Dense(8, W_std=1.41, b_std=0.1, parameterization=p), s.Relu()) for _ in range(4)],
            s.Dense(1, W_std=1.0, b_std=0.05, parameterization=p),
        ),
        (4, 6),
        (3, 6),
    )
_add(
    "cnn_avgpool_flatten",
    lambda s: s.serial(
        s.Conv(4, (2, 2), padding="SAME", W_std=1.4, b_std=0.1),
        s.Relu(),
        s.AvgPool((2, 2)),
        s.Conv(4, (2, 2), padding="VALID", W_std=1.4),
        s.Relu(),
        s.Flatten(),
        s.Dense(2),
    ),
    (3, 4, 4, 1),
    (2, 4, 4, 1),
)
_add(
    "cnn_global_avg_pool",
    lambda s: s.serial(
        s.Conv(4, (3, 3), padding="SAME", W_std=1.4, b_std=0.1),
        s.Relu(),
        s.Conv(4, (3, 3), strides=(2, 2), padding="SAME", W_std=1.4),
        s.Relu(),
        s.GlobalAvgPool(),
        s.Dense(1),
    ),
    (3, 4, 4, 2),
    (2, 4, 4, 2),
)
_add(
    "cnn_global_sum_pool_standard",
    lambda s: s.serial(
        s.Conv(4, (2,), padding="CIRCULAR", W_std=1.3, b_std=0.2, parameterization="standard"),
        s.Gelu(),
        s.GlobalSumPool(),
        s.Dense(2, parameterization="standard"),
    ),
    (3, 5, 2),
    None,
)


def _wide_resnet_block(s: ModuleType, channels: int, strides: tuple[int, int], channel_mismatch: bool):
    main = s.serial(
        s.Relu(),
        s.Conv(channels, (3, 3), strides, padding="SAME", W_std=1.4),
        s.Relu(),
        s.Conv(channels, (3, 3), padding="SAME", W_std=1.4),
    )
    shortcut = s.Identity() if not channel_mismatch else s.Conv(channels, (1, 1), strides, padding="SAME")
    return s.serial(s.FanOut(2), s.parallel(main, shortcut), s.FanInSum())


_add(
    "wide_resnet_block",
    lambda s: s.serial(
        s.Conv(3, (3, 3), padding="SAME"),
        _wide_resnet_block(s, 4, (2, 2), True),
        _wide_resnet_block(s, 4, (1, 1), False),
        s.AvgPool((2, 2)),
        s.Flatten(),
        s.Dense(1),
    ),
    (2, 4, 4, 1),
    (2, 4, 4, 1),
)


def _attention_net(s: ModuleType, **attention_kwargs: Any):
    return s.serial(
        s.Dense(6, W_std=1.2, b_std=0.1),
        s.GlobalSelfAttention(n_chan_out=5, n_chan_key=4, n_chan_val=3, n_heads=2, **attention_kwargs),
        s.Relu(),
        s.GlobalAvgPool(),
        s.Dense(1),
    )


_ATTENTION_VARIANTS: dict[str, Callable[[], dict[str, Any]]] = {
    "softmax": lambda: {},
    "identity": lambda: {"attention_mechanism": "IDENTITY", "W_key_std": 1.3, "W_value_std": 0.8},
    "abs_bias": lambda: {"attention_mechanism": "ABS", "b_std": 0.3, "W_out_std": 1.2, "W_query_std": 0.7},
    "relu": lambda: {"attention_mechanism": "RELU"},
    "pos_emb_sum": lambda: {"pos_emb_type": "SUM", "W_pos_emb_std": 0.9},
    "pos_emb_concat_decay": lambda: {
        "pos_emb_type": "CONCAT",
        "n_chan_pos_emb": 3,
        "pos_emb_p_norm": 1,
        "pos_emb_decay_fn": _exp_decay,
        "val_pos_emb": True,
    },
}


def _exp_decay(d):
    import jax.numpy as jnp

    return jnp.exp(-0.5 * d)


for _variant, _kwargs in _ATTENTION_VARIANTS.items():
    _add(
        f"attention_{_variant}",
        lambda s, kw=_kwargs: _attention_net(s, **kw()),
        (3, 4, 5),
        (2, 4, 5),
    )
_add("attention_softmax_x2_none", lambda s: _attention_net(s), (3, 4, 5), None)

_add(
    "graph_aggregate_dense",
    lambda s: s.serial(
        s.Dense(5, W_std=1.3, b_std=0.2),
        s.Relu(),
        s.Aggregate(),
        s.Dense(5),
        s.Relu(),
        s.Aggregate(),
        s.GlobalSumPool(),
        s.Dense(1),
    ),
    (3, 4, 3),
    (2, 4, 3),
    pattern="dense",
)
_add(
    "graph_aggregate_dense_x2_none",
    lambda s: s.serial(s.Dense(5, b_std=0.2), s.Erf(), s.Aggregate(), s.GlobalAvgPool()),
    (3, 4, 3),
    None,
    pattern="dense",
)
_add(
    "graph_aggregate_sparse",
    lambda s: s.serial(
        s.Dense(5, W_std=1.3, b_std=0.2),
        s.Relu(),
        s.Aggregate(implementation="SPARSE"),
        s.Dense(4),
        s.Relu(),
        s.GlobalSumPool(),
    ),
    (3, 4, 3),
    (2, 4, 3),
    pattern="sparse",
)


# --------------------------------------------------------------------------------------------------------------
# Empirical-kernel models (``tests/fixtures/nt/empirical``) and a closed-form kernel for ``predict`` fixtures.

# (trace_axes, diagonal_axes, use_x2) settings for empirical NTK/NNGP.
EmpiricalSetting = tuple[tuple[int, ...], tuple[int, ...], bool]
_FLAT_SETTINGS: tuple[EmpiricalSetting, ...] = (
    ((-1,), (), True),
    ((), (), True),
    ((), (-1,), True),
    ((-1,), (0,), False),
)


@dataclasses.dataclass(frozen=True)
class EmpiricalModel:
    """A model for empirical NTK/NNGP fixtures.

    Attributes:
      name: file stem of ``tests/fixtures/nt/empirical/<name>.npz``.
      kind: ``"stax"`` (``build(stax)`` gives the triple) or ``"flax"`` (``build(flax.linen)`` gives a Module).
      build: the model recipe.
      x1_shape, x2_shape: input shapes.
      settings: ``(trace_axes, diagonal_axes, use_x2)`` triples to record.
    """

    name: str
    kind: str
    build: Callable[[ModuleType], Any]
    x1_shape: Shape
    x2_shape: Shape
    settings: tuple[EmpiricalSetting, ...]


def _flax_net(nn: ModuleType):
    """A small flax.linen 1-D CNN + MLP head (kernel shapes (..., in, out), as in stax)."""

    class FlaxNet(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.Conv(features=4, kernel_size=(2,), padding="SAME")(x)
            x = nn.relu(x)
            x = x.reshape((x.shape[0], -1))
            x = nn.Dense(features=5)(x)
            x = nn.tanh(x)
            return nn.Dense(features=2)(x)

    return FlaxNet()


EMPIRICAL_MODELS: dict[str, EmpiricalModel] = {
    m.name: m
    for m in (
        EmpiricalModel(
            "mlp_stax",
            "stax",
            lambda s: s.serial(s.Dense(8, W_std=1.5, b_std=0.2), s.Relu(), s.Dense(8, b_std=0.1), s.Erf(), s.Dense(3)),
            (4, 5),
            (3, 5),
            _FLAT_SETTINGS,
        ),
        EmpiricalModel(
            "cnn_stax",
            "stax",
            lambda s: s.serial(
                s.Conv(4, (2, 2), padding="SAME", b_std=0.1), s.Relu(), s.Conv(3, (2, 2), padding="SAME")
            ),
            (3, 3, 3, 2),
            (2, 3, 3, 2),
            (
                ((-1,), (), True),
                ((-1,), (1, 2), True),
                ((1, 2, 3), (), True),
                ((), (1, 2, 3), True),
                ((-1,), (0, 1), False),
            ),
        ),
        EmpiricalModel(
            "resnet_stax",
            "stax",
            lambda s: s.serial(
                s.Conv(4, (2,), padding="SAME"),
                s.FanOut(2),
                s.parallel(s.serial(s.Relu(), s.Conv(4, (2,), padding="SAME", b_std=0.1)), s.Identity()),
                s.FanInSum(),
                s.Relu(),
                s.GlobalAvgPool(),
                s.Dense(2),
            ),
            (3, 5, 2),
            (2, 5, 2),
            _FLAT_SETTINGS,
        ),
        EmpiricalModel("flax_linen", "flax", _flax_net, (3, 4, 2), (2, 4, 2), _FLAT_SETTINGS),
    )
}


def fixed_kernel_fn(x1, x2=None, get=None, **kwargs):
    r"""A closed-form ``kernel_fn`` stand-in for ``predict`` fixtures, independent of any stax implementation.

    :math:`k_{nngp}(x, x') = \exp(-\|x - x'\|^2 / 2d)` and :math:`k_{ntk}(x, x') = k_{nngp}(x, x')
    (1 + x \cdot x' / d)`, both positive semi-definite (a product of PSD kernels is PSD).

    Args:
      x1: ``(N1, d)`` inputs.
      x2: ``(N2, d)`` inputs or ``None`` (means ``x1``).
      get: ``"nngp"``/``"ntk"`` (returns that array), a tuple of them or ``None`` (returns a namedtuple).
      **kwargs: ignored (``predict`` may forward kernel kwargs).

    Returns:
      The requested kernel(s).
    """
    import collections

    import jax.numpy as jnp

    x2 = x1 if x2 is None else x2
    d = x1.shape[-1]
    sq = jnp.sum(x1**2, -1)[:, None] + jnp.sum(x2**2, -1)[None, :] - 2 * x1 @ x2.T
    nngp = jnp.exp(-sq / (2 * d))
    values = {"nngp": nngp, "ntk": nngp * (1 + x1 @ x2.T / d)}
    if isinstance(get, str):
        return values[get]
    names = ("nngp", "ntk") if get is None else tuple(get)
    return collections.namedtuple("Kernel", names)(*(values[g] for g in names))
