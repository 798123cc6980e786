"""Golden tests: ``dl_theory`` against neural-tangents 0.6.5, our numerical oracle.

The fixtures under ``tests/fixtures/nt/`` are written by ``scripts/make_nt_fixtures.py`` running neural-tangents
0.6.5 in float64 inside the pinned legacy environment (``scripts/legacy_nt_env.sh``). Each stax case is rebuilt here
from the same recipe in ``tests/nt_cases.py`` with ``dl_theory.stax`` and every stored quantity is compared:
analytic ``nngp``/``ntk``/``cov1``/``cov2`` (shapes included: they encode ``diagonal_batch``/``diagonal_spatial``),
``init_fn`` output shapes and parameter shapes (our parameter pytree mirrors neural-tangents' leaf order), and
``apply_fn`` on neural-tangents' own parameters. Empirical NTK/NNGP fixtures (where neural-tangents'
implementations 1, 2 and 3 agree) are checked for implementations 0 (AUTO), 1, 2 and 3, and ``predict``
fixtures against ``dl_theory.predict``, all with neural-tangents' argument names.

Where neural-tangents 0.6.5 is wrong (``RectifiedMonomial`` NaN variances, ``Sign`` covariances), the fixture holds
an independent closed-form value instead and says so in its ``oracle_notes`` (see ``scripts/make_nt_fixtures.py``).

Tolerance: ``rtol=1e-6`` elementwise, with an absolute floor of ``1e-9`` times the array's largest magnitude so that
entries that vanish mathematically (cancellations at the 1e-16 level) do not count as relative errors.
"""

from __future__ import annotations

import collections
import json
import pathlib

import jax
import nt_cases
import numpy as np
import pytest

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "nt"
RTOL = 1e-6
ATOL_SCALE = 1e-9
STAX_FILES = sorted((FIXTURES / "stax").glob("*.npz"))
EMPIRICAL_FILES = sorted((FIXTURES / "empirical").glob("*.npz"))
# `get` shortcuts ("nngp", "ntk", ("nngp", "ntk")) are checked on a representative subset to keep the suite fast.
GET_CASES = (
    "act_relu_mlp",
    "act_erf_conv",
    "conv2d_same_standard",
    "cnn_global_avg_pool",
    "residual_fanin_sum",
    "parallel_tuple_inputs",
    "attention_softmax",
    "graph_aggregate_dense",
    "dropout_train_mlp_x2_none",
)


def _ids(path: pathlib.Path) -> str:
    return path.stem


def _assert_close(got, want, what: str) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, neural-tangents {want.shape}"
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL_SCALE * scale, err_msg=what)


def _load(path: pathlib.Path) -> dict:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def _maybe_tuple(fx: dict, key: str):
    """The array ``key``, or the tuple ``key_0, key_1, ...``, or ``None``."""
    if key in fx:
        return fx[key]
    parts = []
    while f"{key}_{len(parts)}" in fx:
        parts.append(fx[f"{key}_{len(parts)}"])
    return tuple(parts) if parts else None


def _stax_inputs(case: nt_cases.Case, fx: dict):
    x1, x2 = _maybe_tuple(fx, "x1"), _maybe_tuple(fx, "x2")
    kwargs = dict(json.loads(str(fx["kernel_kwargs"])))
    if case.pattern is not None:
        kwargs["pattern"] = (fx["pattern1"], fx["pattern2"])
    return x1, x2, kwargs


def _outputs(kernel, is_tuple: bool) -> list:
    return list(kernel) if is_tuple else [kernel]


# ---------------------------------------------------------------------------------------------------------------
# stax


def test_every_case_has_a_fixture():
    assert {p.stem for p in STAX_FILES} == set(nt_cases.CASES), "regenerate with scripts/make_nt_fixtures.py"


@pytest.mark.parametrize("path", STAX_FILES, ids=_ids)
def test_stax_kernel(path, x64):
    from dl_theory import stax

    case, fx = nt_cases.CASES[path.stem], _load(path)
    x1, x2, kwargs = _stax_inputs(case, fx)
    _, _, kernel_fn = case.build(stax)
    is_tuple = bool(fx["out_is_tuple"])
    kernels = _outputs(kernel_fn(x1, x2, get=None, **kwargs), is_tuple)
    for i, k in enumerate(kernels):
        suffix = f"_{i}" if is_tuple else ""
        for name in ("nngp", "ntk", "cov1", "cov2"):
            if name + suffix in fx:
                _assert_close(getattr(k, name), fx[name + suffix], f"{case.name}: {name}{suffix}")
            else:
                assert getattr(k, name) is None, f"{case.name}: {name}{suffix} should be None"


@pytest.mark.parametrize("name", GET_CASES)
def test_stax_get_shortcuts(name, x64):
    from dl_theory import stax

    path = FIXTURES / "stax" / f"{name}.npz"
    case, fx = nt_cases.CASES[name], _load(path)
    x1, x2, kwargs = _stax_inputs(case, fx)
    _, _, kernel_fn = case.build(stax)
    is_tuple = bool(fx["out_is_tuple"])
    for get in ("nngp", "ntk"):
        for i, k in enumerate(_outputs(kernel_fn(x1, x2, get, **kwargs), is_tuple)):
            _assert_close(k, fx[get + (f"_{i}" if is_tuple else "")], f"{name}: get={get!r}")
    both = kernel_fn(x1, x2, ("nngp", "ntk"), **kwargs)
    for get in ("nngp", "ntk"):
        for i, k in enumerate(_outputs(getattr(both, get), is_tuple)):
            _assert_close(k, fx[get + (f"_{i}" if is_tuple else "")], f"{name}: get=('nngp', 'ntk').{get}")


@pytest.mark.parametrize("path", STAX_FILES, ids=_ids)
def test_stax_init_apply(path, x64):
    from dl_theory import stax

    case, fx = nt_cases.CASES[path.stem], _load(path)
    x1, _, _ = _stax_inputs(case, fx)
    init_fn, apply_fn, _ = case.build(stax)
    input_shape = tuple(a.shape for a in x1) if case.tuple_input else x1.shape
    out_shape, params = init_fn(jax.random.key(0), input_shape)

    want_shape = _maybe_tuple(fx, "init_out_shape")
    is_tuple = bool(fx["out_is_tuple"])
    if is_tuple:
        assert [tuple(s) for s in out_shape] == [tuple(int(d) for d in s) for s in want_shape], case.name
    else:
        assert tuple(out_shape) == tuple(int(d) for d in want_shape), case.name

    leaves, treedef = jax.tree_util.tree_flatten(params)
    nt_leaves = [fx[f"param_{i:03d}"] for i in range(int(fx["n_params"]))]
    assert [np.shape(p) for p in leaves] == [p.shape for p in nt_leaves], f"{case.name}: parameter leaf shapes"
    nt_params = jax.tree_util.tree_unflatten(treedef, nt_leaves)

    apply_kwargs = {"pattern": fx["pattern1"]} if case.pattern is not None else {}
    if case.apply_rng:
        apply_kwargs["rng"] = jax.random.key(0)
    out = apply_fn(nt_params, x1, **apply_kwargs)
    if case.deterministic_apply:
        want = _maybe_tuple(fx, "apply_out")
        for i, (o, w) in enumerate(zip(_outputs(out, is_tuple), _outputs(want, is_tuple), strict=True)):
            _assert_close(o, w, f"{case.name}: apply_fn output {i}")
    else:
        want = _maybe_tuple(fx, "apply_out_shape")
        for o, w in zip(_outputs(out, is_tuple), _outputs(want, is_tuple), strict=True):
            assert np.shape(o) == tuple(int(d) for d in w), f"{case.name}: apply_fn output shape"


# ---------------------------------------------------------------------------------------------------------------
# empirical


def _empirical_model(name: str, x1):
    """``(f, params)`` for an empirical fixture model, params being the stored neural-tangents leaves."""
    model = nt_cases.EMPIRICAL_MODELS[name]
    if model.kind == "stax":
        from dl_theory import stax

        init_fn, f, _ = model.build(stax)
        params = init_fn(jax.random.key(0), x1.shape)[1]
    else:
        import flax.linen as nn

        module = model.build(nn)
        f, params = module.apply, module.init(jax.random.key(0), x1)
    return f, jax.tree_util.tree_structure(params), [np.shape(p) for p in jax.tree_util.tree_leaves(params)]


@pytest.mark.parametrize("implementation", [0, 1, 2, 3])
@pytest.mark.parametrize("path", EMPIRICAL_FILES, ids=_ids)
def test_empirical_ntk(path, implementation, x64):
    from dl_theory import empirical_ntk_fn

    fx = _load(path)
    assert float(fx["impl_max_rel_diff"]) < 1e-10, "neural-tangents' own implementations disagree"
    f, treedef, shapes = _empirical_model(path.stem, fx["x1"])
    leaves = [fx[f"param_{i:03d}"] for i in range(int(fx["n_params"]))]
    assert shapes == [p.shape for p in leaves], f"{path.stem}: parameter leaf shapes"
    params = jax.tree_util.tree_unflatten(treedef, leaves)
    _assert_close(f(params, fx["x1"]), fx["f_x1"], f"{path.stem}: f(params, x1)")
    for j, (trace_axes, diagonal_axes, use_x2) in enumerate(json.loads(str(fx["settings"]))):
        ntk_fn = empirical_ntk_fn(
            f, trace_axes=tuple(trace_axes), diagonal_axes=tuple(diagonal_axes), implementation=implementation
        )
        ntk = ntk_fn(fx["x1"], fx["x2"] if use_x2 else None, params)
        _assert_close(ntk, fx[f"ntk_{j}"], f"{path.stem}: ntk trace_axes={trace_axes} diagonal_axes={diagonal_axes}")


@pytest.mark.parametrize("path", EMPIRICAL_FILES, ids=_ids)
def test_empirical_nngp_and_kernel_fn(path, x64):
    from dl_theory import empirical_kernel_fn, empirical_nngp_fn

    fx = _load(path)
    f, treedef, _ = _empirical_model(path.stem, fx["x1"])
    params = jax.tree_util.tree_unflatten(treedef, [fx[f"param_{i:03d}"] for i in range(int(fx["n_params"]))])
    for j, (trace_axes, diagonal_axes, use_x2) in enumerate(json.loads(str(fx["settings"]))):
        axes = {"trace_axes": tuple(trace_axes), "diagonal_axes": tuple(diagonal_axes)}
        x2 = fx["x2"] if use_x2 else None
        what = f"{path.stem}: {axes}"
        _assert_close(empirical_nngp_fn(f, **axes)(fx["x1"], x2, params), fx[f"nngp_{j}"], f"{what} nngp")
        both = empirical_kernel_fn(f, **axes)(fx["x1"], x2, ("nngp", "ntk"), params)
        _assert_close(both.nngp, fx[f"nngp_{j}"], f"{what} empirical_kernel_fn nngp")
        _assert_close(both.ntk, fx[f"ntk_{j}"], f"{what} empirical_kernel_fn ntk")


# ---------------------------------------------------------------------------------------------------------------
# predict


def _predict_fixture(name: str) -> dict:
    return _load(FIXTURES / "predict" / f"{name}.npz")


@pytest.mark.parametrize("name", ["gd_mse_reg0.0_rel", "gd_mse_reg0.1_rel", "gd_mse_reg0.05_abs"])
def test_gradient_descent_mse(name, x64):
    from dl_theory import predict

    fx = _predict_fixture(name)
    predict_fn = predict.gradient_descent_mse(
        fx["k_train_train"],
        fx["y_train"],
        learning_rate=float(fx["learning_rate"]),
        diag_reg=float(fx["diag_reg"]),
        diag_reg_absolute_scale=bool(fx["diag_reg_absolute_scale"]),
    )
    inputs = {"fx_train_0": fx["fx_train_0"], "fx_test_0": fx["fx_test_0"], "k_test_train": fx["k_test_train"]}
    fx_train, fx_test = predict_fn(t=fx["ts"], **inputs)
    _assert_close(fx_train, fx["fx_train_t"], f"{name}: train at t")
    _assert_close(fx_test, fx["fx_test_t"], f"{name}: test at t")
    loss = 0.5 * np.mean((np.asarray(fx_train) - fx["y_train"]) ** 2, axis=(1, 2))
    _assert_close(loss, fx["mse_loss_t"], f"{name}: MSE loss at t")
    fx_train, fx_test = predict_fn(t=None, **inputs)
    _assert_close(fx_train, fx["fx_train_inf"], f"{name}: train at t=inf")
    _assert_close(fx_test, fx["fx_test_inf"], f"{name}: test at t=inf")


def test_gradient_descent_mse_trace_axes_empty(x64):
    from dl_theory import predict

    fx = _predict_fixture("gd_mse_trace_axes_none")
    predict_fn = predict.gradient_descent_mse(
        fx["k_train_train"], fx["y_train"], learning_rate=float(fx["learning_rate"]), trace_axes=()
    )
    fx_train, fx_test = predict_fn(
        t=fx["ts"], fx_train_0=fx["fx_train_0"], fx_test_0=fx["fx_test_0"], k_test_train=fx["k_test_train"]
    )
    _assert_close(fx_train, fx["fx_train_t"], "trace_axes=(): train")
    _assert_close(fx_test, fx["fx_test_t"], "trace_axes=(): test")


def test_gradient_descent_ode_mse(x64):
    from dl_theory import predict

    fx = _predict_fixture("gd_mse_reg0.0_rel")
    mse = lambda f, y: 0.5 * jax.numpy.mean((f - y) ** 2)
    predict_fn = predict.gradient_descent(
        mse, fx["k_train_train"], fx["y_train"], learning_rate=float(fx["learning_rate"])
    )
    fx_train, fx_test = predict_fn(fx["ts"], fx["fx_train_0"], fx["fx_test_0"], fx["k_test_train"])
    # An adaptive ODE solver (rtol 1.4e-8 by default in both libraries) is not exact: compare at 1e-5.
    np.testing.assert_allclose(fx_train, fx["ode_fx_train_t"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(fx_test, fx["ode_fx_test_t"], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", ["ensemble_fixed_kernel", "ensemble_stax_deep_relu"])
def test_gradient_descent_mse_ensemble(name, x64):
    from dl_theory import predict

    fx = _predict_fixture(name)
    if name == "ensemble_fixed_kernel":
        kernel_fn = nt_cases.fixed_kernel_fn
    else:
        from dl_theory import stax

        kernel_fn = nt_cases.CASES["deep_relu_mlp_ntk"].build(stax)[2]
    predict_fn = predict.gradient_descent_mse_ensemble(
        kernel_fn,
        fx["x_train"],
        fx["y_train"],
        learning_rate=float(fx["learning_rate"]),
        diag_reg=float(fx["diag_reg"]),
    )
    for get in ("nngp", "ntk"):
        for t_name, t in (("t", fx["ts"]), ("inf", None)):
            for split, x_test in (("test", fx["x_test"]), ("train", None)):
                mean, cov = predict_fn(t=t, x_test=x_test, get=get, compute_cov=True)
                key = f"{get}_{t_name}_{split}"
                _assert_close(mean, fx[f"{key}_mean"], f"{name}: {key} mean")
                _assert_close(cov, fx[f"{key}_cov"], f"{name}: {key} covariance")


@pytest.mark.parametrize("name", ["gp_inference_reg0.0001_rel", "gp_inference_reg0.2_abs"])
def test_gp_inference(name, x64):
    from dl_theory import predict

    fx = _predict_fixture(name)
    kern = collections.namedtuple("Kernel", ("nngp", "ntk"))
    k = {s: kern(fx[f"nngp_{s}"], fx[f"ntk_{s}"]) for s in ("train_train", "test_train", "test_test")}
    predict_fn = predict.gp_inference(
        k["train_train"],
        fx["y_train"],
        diag_reg=float(fx["diag_reg"]),
        diag_reg_absolute_scale=bool(fx["diag_reg_absolute_scale"]),
    )
    for get in ("nngp", "ntk", "ntkgp"):
        mean, cov = predict_fn(get=get, k_test_train=k["test_train"], k_test_test=k["test_test"])
        _assert_close(mean, fx[f"{get}_mean"], f"{name}: {get} mean")
        _assert_close(cov, fx[f"{get}_cov"], f"{name}: {get} covariance")


def test_max_learning_rate(x64):
    from dl_theory import predict

    fx = _predict_fixture("max_learning_rate")
    for i, size in enumerate(fx["y_train_sizes"]):
        for j, momentum in enumerate(fx["momenta"]):
            lr = predict.max_learning_rate(
                fx["ntk_train_train"], y_train_size=None if size < 0 else int(size), momentum=float(momentum)
            )
            _assert_close(lr, fx["lr"][i, j], f"max_learning_rate(y_train_size={size}, momentum={momentum})")
