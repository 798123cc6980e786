"""Regenerate the neural-tangents 0.6.5 golden fixtures under ``tests/fixtures/nt/``.

Runs only inside the pinned legacy environment (``bash scripts/legacy_nt_env.sh`` builds it)::

    .legacy-nt/bin/python scripts/make_nt_fixtures.py [--only stax|empirical|predict] [--mc-check]

Everything is float64 (``jax_enable_x64``). Inputs come from ``numpy.random.default_rng`` seeded by the CRC32 of
the case name and are stored in the fixture, so the tests never regenerate them. One small ``.npz`` per case:

* ``stax/<case>.npz``: inputs, ``kernel_fn`` kwargs (JSON), ``nngp``/``ntk``/``cov1``/``cov2`` of the full
  ``Kernel`` (suffix ``_<i>`` per output for tuple outputs), the ``init_fn`` output shape, the parameter leaves
  (``jax.tree_util`` order) and ``apply_fn(params, x1)``.
* ``empirical/<model>.npz``: parameters, inputs, empirical NTK (implementations 1, 2, 3, which must agree) and
  NNGP for several ``trace_axes``/``diagonal_axes`` settings.
* ``predict/<case>.npz``: ``gradient_descent_mse``, ``gradient_descent`` (ODE, MSE loss),
  ``gradient_descent_mse_ensemble``, ``gp_inference`` and ``max_learning_rate`` outputs.

``--mc-check`` compares every one-hidden-layer activation case (``act_*_mlp``, ``act_*_conv``) with a Monte-Carlo
average over random initialisations: for a single hidden layer the finite-width expectation of the empirical
NNGP/NTK equals the infinite-width kernel exactly, so this is an independent check of neural-tangents' closed forms.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import warnings
import zlib

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import neural_tangents as nt  # noqa: E402
import numpy as np  # noqa: E402
from neural_tangents import stax  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import nt_cases  # noqa: E402

OUT = ROOT / "tests" / "fixtures" / "nt"
META = {"nt_version": nt.__version__, "jax_version": jax.__version__}


def _seed(name: str) -> int:
    return zlib.crc32(name.encode())


def _save(path: pathlib.Path, arrays: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    arrays["meta"] = np.array(json.dumps(META))
    np.savez_compressed(path, **{k: np.asarray(v) for k, v in arrays.items()})


def _draw(rng: np.random.Generator, shape):
    if shape is None:
        return None
    if isinstance(shape[0], tuple):
        return tuple(rng.standard_normal(s) for s in shape)
    return rng.standard_normal(shape)


def _pattern(rng: np.random.Generator, kind: str | None, x):
    """Aggregate adjacency for a ``(N, V, C)`` input: dense 0/1 ``(N, V, V)`` or sparse edges ``(N, E, 2)``."""
    if kind is None or x is None:
        return None
    n, v = x.shape[0], x.shape[1]
    if kind == "dense":
        return (rng.random((n, v, v)) < 0.5).astype(np.float64)
    return rng.integers(0, v, size=(n, 2 * v, 2))


def _put(arrays: dict, key: str, value) -> None:
    """Store an array or a tuple of arrays (as ``key_0``, ``key_1`` ...)."""
    if isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            arrays[f"{key}_{i}"] = v
    else:
        arrays[key] = value


# ---------------------------------------------------------------------------------------------------------------
# stax

# Two neural-tangents 0.6.5 bugs make its values unusable as golden data, so for networks using these layers the
# fixtures record values from an independent computation: the same network with the layer replaced by `Elementwise`
# with closed-form dual kernels written below (theta from a clipped cosine; no division by sin theta). Every
# difference from neural-tangents is listed in the fixture's `oracle_notes`.
# * `RectifiedMonomial` evaluates J_n(theta) through (pi - theta) / sin(theta): 0 * inf = NaN at theta = 0, i.e. on
#   every variance (`cov1`/`cov2`, and `nngp`/`ntk` entries pairing an input with itself when `x2=None`). `cov1` is
#   NaN even for `kernel_fn(x1, x2)` on flat inputs, so any later nonlinearity makes the whole kernel NaN.
# * `Sign` sets every entry of `cov1`/`cov2` to 1. That is right for variances only: with full spatial (or full
#   batch) covariances the off-diagonal entries must be 1 - 2 theta / pi = (2 / pi) arcsin(rho), as `nngp` is.
#   A later `Conv` mixes these entries into the variances, so the final `nngp` of e.g. Conv-Sign-Conv-Relu is wrong.
REFERENCE_NOTES = {
    "RectifiedMonomial": "neural-tangents 0.6.5 RectifiedMonomial is NaN at theta=0 ((pi-theta)/sin(theta))",
    "Sign": "neural-tangents 0.6.5 Sign sets all cov1/cov2 entries to 1 (right only for variances)",
}


def _arc_cosine(degree: int, cov12, var1, var2):
    """E[f(u) f(v)] for f(x) = x^n 1[x >= 0], (u, v) centred Gaussian, n in {0, 1, 2} (Cho & Saul 2009)."""
    norm = jnp.sqrt(var1 * var2)
    cos = jnp.clip(cov12 / norm, -1.0, 1.0)
    theta, sin = jnp.arccos(cos), jnp.sqrt(1.0 - cos**2)
    j = {
        0: jnp.pi - theta,
        1: sin + (jnp.pi - theta) * cos,
        2: 3 * sin * cos + (jnp.pi - theta) * (1 + 2 * cos**2),
    }[degree]
    return norm**degree * j / (2 * jnp.pi)


def _rectified_monomial_reference(degree: int):
    """Independent `RectifiedMonomial(degree)`; the NTK factor E[f'(u) f'(v)] uses n^2 x^(n-1) 1[x >= 0]."""
    if degree not in (0, 1, 2):
        raise NotImplementedError(degree)

    def d_nngp_fn(cov12, var1, var2):
        if degree == 0:  # neural-tangents' (and autodiff's) convention: the step has zero derivative a.e.
            return jnp.zeros_like(cov12)
        return degree**2 * _arc_cosine(degree - 1, cov12, var1, var2)

    return stax.Elementwise(
        fn=lambda x: (x >= 0) * x**degree,
        nngp_fn=lambda c, v1, v2: _arc_cosine(degree, c, v1, v2),
        d_nngp_fn=d_nngp_fn,
    )


def _sign_reference():
    """Independent `Sign`: E[sign u sign v] = (2 / pi) arcsin(rho); zero derivative a.e. (neural-tangents' choice)."""
    return stax.Elementwise(
        fn=jnp.sign,
        nngp_fn=lambda c, v1, v2: 2 / jnp.pi * jnp.arcsin(jnp.clip(c / jnp.sqrt(v1 * v2), -1.0, 1.0)),
        d_nngp_fn=lambda c, v1, v2: jnp.zeros_like(c),
    )


class _ReferenceStax:
    """``neural_tangents.stax`` with the layers of ``REFERENCE_NOTES`` replaced by independent references."""

    def __init__(self):
        self.replaced: list[str] = []

    def RectifiedMonomial(self, degree):  # noqa: N802 (mirrors the stax name)
        self.replaced.append("RectifiedMonomial")
        return _rectified_monomial_reference(degree)

    def Sign(self):  # noqa: N802
        self.replaced.append("Sign")
        return _sign_reference()

    def __getattr__(self, name):
        return getattr(stax, name)


def _reference_differences(case: nt_cases.Case, nt_kernels, ref_kernels) -> list[str]:
    """Where the reference kernels differ from neural-tangents' (NaN counts as a difference)."""
    diffs = []
    for i, (k_nt, k_ref) in enumerate(zip(nt_kernels, ref_kernels, strict=True)):
        for name in ("nngp", "ntk", "cov1", "cov2"):
            a, b = getattr(k_nt, name), getattr(k_ref, name)
            if a is None:
                continue
            a, b = np.asarray(a), np.asarray(b)
            assert np.all(np.isfinite(b)), f"{case.name}: reference {name} not finite"
            bad = ~np.isclose(a, b, rtol=1e-10, atol=1e-12 * np.max(np.abs(b)))
            if bad.any():
                finite_diff = np.abs(a - b)[bad & np.isfinite(a)]
                diffs.append(
                    f"output {i} {name}: {bad.sum()}/{bad.size} entries differ "
                    f"({(~np.isfinite(a)).sum()} NaN/inf in neural-tangents, max finite |diff| "
                    f"{finite_diff.max() if finite_diff.size else 0.0:.3g})"
                )
    return diffs


def stax_fixture(case: nt_cases.Case) -> dict:
    rng = np.random.default_rng(_seed(case.name))
    x1 = _draw(rng, case.x1_shape)
    x2 = _draw(rng, case.x2_shape)
    p1 = _pattern(rng, case.pattern, x1)
    # neural-tangents rejects `pattern=(p1, None)`; with x2=None the second pattern is the first.
    p2 = p1 if x2 is None else _pattern(rng, case.pattern, x2)
    kwargs = dict(case.kernel_kwargs)
    if case.pattern is not None:
        kwargs["pattern"] = (p1, p2)
    init_fn, apply_fn, kernel_fn = case.build(stax)

    kernel = kernel_fn(x1, x2, None, **kwargs)
    kernels = kernel if isinstance(kernel, (tuple, list)) else [kernel]
    notes = []
    reference_stax = _ReferenceStax()
    reference_kernel_fn = case.build(reference_stax)[2]
    if reference_stax.replaced:
        reference = reference_kernel_fn(x1, x2, None, **kwargs)
        references = reference if isinstance(reference, (tuple, list)) else [reference]
        diffs = _reference_differences(case, kernels, references)
        notes = [REFERENCE_NOTES[name] for name in sorted(set(reference_stax.replaced))]
        notes += diffs or ["no difference from neural-tangents for this case"]
        print(f"  {case.name}: independent reference used; " + "; ".join(notes), flush=True)
        kernel_fn, kernel, kernels = reference_kernel_fn, reference, references
    arrays: dict = {
        "kernel_kwargs": json.dumps(case.kernel_kwargs),
        "out_is_tuple": isinstance(kernel, (tuple, list)),
    }
    _put(arrays, "x1", x1)
    _put(arrays, "x2", x2)
    arrays["pattern1"], arrays["pattern2"] = p1, p2
    arrays["oracle_notes"] = json.dumps(notes)
    for i, k in enumerate(kernels):
        suffix = f"_{i}" if arrays["out_is_tuple"] else ""
        for name in ("nngp", "ntk", "cov1", "cov2"):
            arrays[name + suffix] = getattr(k, name)

    # The `get` shortcuts must agree with the full Kernel inside neural-tangents itself.
    for get in ("nngp", "ntk", ("nngp", "ntk")):
        out = kernel_fn(x1, x2, get, **kwargs)
        outs = out if isinstance(out, (tuple, list)) and not hasattr(out, "_fields") else [out]
        for k_full, k_get in zip(kernels, outs, strict=True):
            for g in (get,) if isinstance(get, str) else get:
                got = k_get if isinstance(get, str) else getattr(k_get, g)
                np.testing.assert_allclose(got, getattr(k_full, g), rtol=1e-12, atol=1e-14, err_msg=case.name)

    input_shape = tuple(a.shape for a in x1) if case.tuple_input else x1.shape
    out_shape, params = init_fn(jax.random.PRNGKey(_seed(case.name) % 2**31), input_shape)
    out_is_tuple = arrays["out_is_tuple"]
    _put(arrays, "init_out_shape", [np.array(s) for s in out_shape] if out_is_tuple else np.array(out_shape))
    leaves = jax.tree_util.tree_leaves(params)
    arrays["n_params"] = len(leaves)
    for i, leaf in enumerate(leaves):
        arrays[f"param_{i:03d}"] = leaf
    apply_kwargs = {"pattern": p1} if case.pattern is not None else {}
    if case.apply_rng:
        apply_kwargs["rng"] = jax.random.PRNGKey(0)
    apply_out = apply_fn(params, x1, **apply_kwargs)
    _put(
        arrays,
        "apply_out_shape",
        [np.array(a.shape) for a in apply_out] if out_is_tuple else np.array(apply_out.shape),
    )
    if case.deterministic_apply:
        _put(arrays, "apply_out", apply_out)
    for key, value in arrays.items():
        if isinstance(value, np.ndarray | jax.Array) and np.asarray(value).dtype.kind == "f":
            assert np.all(np.isfinite(value)), f"{case.name}: {key} is not finite"
    return arrays


def mc_check(case: nt_cases.Case, n_samples: int = 8000, chunk: int = 1000) -> tuple[float, float]:
    """Max |z|-scores of the analytic NNGP and NTK against a Monte-Carlo mean over initialisations."""
    fx = np.load(OUT / "stax" / f"{case.name}.npz")
    x1, x2 = fx["x1"], fx["x2"] if "x2" in fx else None
    init_fn, apply_fn, _ = case.build(stax)
    ntk_fn = jax.jit(jax.vmap(nt.empirical_ntk_fn(apply_fn, trace_axes=(-1,)), (None, None, 0)))
    nngp_fn = jax.jit(jax.vmap(nt.empirical_nngp_fn(apply_fn, trace_axes=(-1,)), (None, None, 0)))
    samples = {"nngp": [], "ntk": []}
    for start in range(0, n_samples, chunk):
        keys = jax.random.split(jax.random.PRNGKey(start), chunk)
        params = jax.vmap(lambda k: init_fn(k, x1.shape)[1])(keys)
        samples["nngp"].append(np.asarray(nngp_fn(x1, x2, params)))
        samples["ntk"].append(np.asarray(ntk_fn(x1, x2, params)))
    z = []
    for g in ("nngp", "ntk"):
        s = np.concatenate(samples[g])
        err = s.std(0) / np.sqrt(len(s)) + 1e-12 * np.abs(s.mean(0)).max()
        diff = np.abs(s.mean(0) - fx[g])
        z.append(float(np.max(np.where(diff == 0, 0.0, diff / np.where(err == 0, 1.0, err)))))
    return z[0], z[1]


# ---------------------------------------------------------------------------------------------------------------
# empirical


def _model_fn_and_params(model: nt_cases.EmpiricalModel, x1):
    key = jax.random.PRNGKey(_seed(model.name) % 2**31)
    if model.kind == "stax":
        init_fn, apply_fn, _ = model.build(stax)
        return apply_fn, init_fn(key, x1.shape)[1]
    import flax.linen as nn

    module = model.build(nn)
    # flax initialises float32 parameters whatever the input dtype: cast, so that everything runs in float64.
    variables = jax.tree_util.tree_map(lambda p: p.astype(np.float64), module.init(key, x1))
    return module.apply, variables


def empirical_fixture(model: nt_cases.EmpiricalModel) -> tuple[dict, float]:
    rng = np.random.default_rng(_seed(model.name))
    x1, x2 = rng.standard_normal(model.x1_shape), rng.standard_normal(model.x2_shape)
    f, params = _model_fn_and_params(model, x1)
    leaves = jax.tree_util.tree_leaves(params)
    arrays: dict = {
        "x1": x1,
        "x2": x2,
        "n_params": len(leaves),
        "f_x1": f(params, x1),
        "settings": json.dumps(model.settings),
    }
    for i, leaf in enumerate(leaves):
        arrays[f"param_{i:03d}"] = leaf
    worst = 0.0
    for j, (trace_axes, diagonal_axes, use_x2) in enumerate(model.settings):
        x2_j = x2 if use_x2 else None
        ntks = [
            np.asarray(
                nt.empirical_ntk_fn(f, trace_axes=trace_axes, diagonal_axes=diagonal_axes, implementation=impl)(
                    x1, x2_j, params
                )
            )
            for impl in (1, 2, 3)
        ]
        ntk_vmap = nt.empirical_ntk_fn(
            f, trace_axes=trace_axes, diagonal_axes=diagonal_axes, vmap_axes=0, implementation=3
        )(x1, x2_j, params)
        for other in (*ntks[1:], np.asarray(ntk_vmap)):
            rel = np.max(np.abs(other - ntks[0])) / np.max(np.abs(ntks[0]))
            worst = max(worst, float(rel))
        arrays[f"ntk_{j}"] = ntks[0]
        arrays[f"nngp_{j}"] = nt.empirical_nngp_fn(f, trace_axes=trace_axes, diagonal_axes=diagonal_axes)(
            x1, x2_j, params
        )
    arrays["impl_max_rel_diff"] = worst
    return arrays, worst


# ---------------------------------------------------------------------------------------------------------------
# predict


def _random_psd(rng: np.random.Generator, n: int, rank: int) -> np.ndarray:
    phi = rng.standard_normal((n, rank))
    return phi @ phi.T / rank


def predict_fixtures() -> dict[str, dict]:
    out: dict[str, dict] = {}
    ts = np.array([0.0, 0.5, 2.0, 10.0])
    mse = lambda fx, y: 0.5 * jnp.mean((fx - y) ** 2)

    # gradient_descent_mse on a fixed random PSD kernel, with/without diag_reg, and trace_axes=().
    rng = np.random.default_rng(_seed("predict_gd_mse"))
    n_train, n_test, n_out = 6, 4, 2
    k_all = _random_psd(rng, n_train + n_test, 12)
    k_dd, k_td = k_all[:n_train, :n_train], k_all[n_train:, :n_train]
    y = rng.standard_normal((n_train, n_out))
    fx_train_0 = 0.1 * rng.standard_normal((n_train, n_out))
    fx_test_0 = 0.1 * rng.standard_normal((n_test, n_out))
    for diag_reg, absolute in ((0.0, False), (0.1, False), (0.05, True)):
        name = f"gd_mse_reg{diag_reg}_{'abs' if absolute else 'rel'}"
        predict_fn = nt.predict.gradient_descent_mse(
            k_dd, y, learning_rate=0.7, diag_reg=diag_reg, diag_reg_absolute_scale=absolute
        )
        fx_tr, fx_te = predict_fn(ts, fx_train_0, fx_test_0, k_td)
        fx_tr_inf, fx_te_inf = predict_fn(None, fx_train_0, fx_test_0, k_td)
        arrays = {
            "k_train_train": k_dd,
            "k_test_train": k_td,
            "y_train": y,
            "fx_train_0": fx_train_0,
            "fx_test_0": fx_test_0,
            "ts": ts,
            "learning_rate": 0.7,
            "diag_reg": diag_reg,
            "diag_reg_absolute_scale": absolute,
            "fx_train_t": fx_tr,
            "fx_test_t": fx_te,
            "fx_train_inf": fx_tr_inf,
            "fx_test_inf": fx_te_inf,
            "mse_loss_t": jax.vmap(mse, (0, None))(fx_tr, y),
        }
        if diag_reg == 0.0:
            ode_fn = nt.predict.gradient_descent(mse, k_dd, y, learning_rate=0.7)
            ode_tr, ode_te = ode_fn(ts, fx_train_0, fx_test_0, k_td)
            np.testing.assert_allclose(ode_tr, fx_tr, rtol=1e-5, atol=1e-7)
            arrays["ode_fx_train_t"], arrays["ode_fx_test_t"] = ode_tr, ode_te
        out[name] = arrays

    k_out = np.array([[1.0, 0.3], [0.3, 0.5]])
    k_dd4, k_td4 = np.einsum("ij,kl->ijkl", k_dd, k_out), np.einsum("ij,kl->ijkl", k_td, k_out)
    predict_fn = nt.predict.gradient_descent_mse(k_dd4, y, learning_rate=0.7, trace_axes=())
    fx_tr, fx_te = predict_fn(ts, fx_train_0, fx_test_0, k_td4)
    out["gd_mse_trace_axes_none"] = {
        "k_train_train": k_dd4,
        "k_test_train": k_td4,
        "y_train": y,
        "fx_train_0": fx_train_0,
        "fx_test_0": fx_test_0,
        "ts": ts,
        "learning_rate": 0.7,
        "fx_train_t": fx_tr,
        "fx_test_t": fx_te,
    }

    # gradient_descent_mse_ensemble: closed-form kernel and an analytic stax kernel.
    rng = np.random.default_rng(_seed("predict_ensemble"))
    x_train, x_test = rng.standard_normal((5, 3)), rng.standard_normal((3, 3))
    y_train = rng.standard_normal((5, 2))
    for name, kernel_fn in (
        ("ensemble_fixed_kernel", nt_cases.fixed_kernel_fn),
        ("ensemble_stax_deep_relu", nt_cases.CASES["deep_relu_mlp_ntk"].build(stax)[2]),
    ):
        arrays = {
            "x_train": x_train,
            "x_test": x_test,
            "y_train": y_train,
            "ts": ts,
            "learning_rate": 0.9,
            "diag_reg": 1e-3,
        }
        predict_fn = nt.predict.gradient_descent_mse_ensemble(
            kernel_fn, x_train, y_train, learning_rate=0.9, diag_reg=1e-3
        )
        for get in ("nngp", "ntk"):
            for t_name, t in (("t", ts), ("inf", None)):
                test = predict_fn(t, x_test, get, compute_cov=True)
                train = predict_fn(t, None, get, compute_cov=True)
                arrays[f"{get}_{t_name}_test_mean"], arrays[f"{get}_{t_name}_test_cov"] = test
                arrays[f"{get}_{t_name}_train_mean"], arrays[f"{get}_{t_name}_train_cov"] = train
        out[name] = arrays

    # gp_inference on fixed random PSD kernels given as (nngp, ntk) namedtuples.
    rng = np.random.default_rng(_seed("predict_gp_inference"))
    import collections

    kern = collections.namedtuple("Kernel", ("nngp", "ntk"))
    nngp_all, ntk_all = _random_psd(rng, 9, 14), _random_psd(rng, 9, 14)
    split = lambda k: (k[:6, :6], k[6:, :6], k[6:, 6:])
    (nngp_dd, nngp_td, nngp_tt), (ntk_dd, ntk_td, ntk_tt) = split(nngp_all), split(ntk_all)
    y = rng.standard_normal((6, 3))
    for diag_reg, absolute in ((1e-4, False), (0.2, True)):
        arrays = {
            "nngp_train_train": nngp_dd,
            "nngp_test_train": nngp_td,
            "nngp_test_test": nngp_tt,
            "ntk_train_train": ntk_dd,
            "ntk_test_train": ntk_td,
            "ntk_test_test": ntk_tt,
            "y_train": y,
            "diag_reg": diag_reg,
            "diag_reg_absolute_scale": absolute,
        }
        predict_fn = nt.predict.gp_inference(
            kern(nngp_dd, ntk_dd), y, diag_reg=diag_reg, diag_reg_absolute_scale=absolute
        )
        for get in ("nngp", "ntk", "ntkgp"):
            mean, cov = predict_fn(get, kern(nngp_td, ntk_td), kern(nngp_tt, ntk_tt))
            arrays[f"{get}_mean"], arrays[f"{get}_cov"] = mean, cov
        out[f"gp_inference_reg{diag_reg}_{'abs' if absolute else 'rel'}"] = arrays

    # max_learning_rate.
    rng = np.random.default_rng(_seed("predict_max_lr"))
    ntk = _random_psd(rng, 7, 9)
    arrays = {"ntk_train_train": ntk, "y_train_sizes": np.array([-1, 14]), "momenta": np.array([0.0, 0.9])}
    arrays["lr"] = np.array(
        [
            [nt.predict.max_learning_rate(ntk, None if size < 0 else int(size), momentum=m) for m in arrays["momenta"]]
            for size in arrays["y_train_sizes"]
        ]
    )
    out["max_learning_rate"] = arrays
    return out


# ---------------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("stax", "empirical", "predict"), default=None)
    parser.add_argument("--cases", nargs="*", default=None, help="subset of stax case names")
    parser.add_argument("--mc-check", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    if args.only in (None, "stax"):
        failed = []
        for name in args.cases or nt_cases.CASES:
            try:
                _save(OUT / "stax" / f"{name}.npz", stax_fixture(nt_cases.CASES[name]))
            except Exception as e:  # report every unsupported case at once, then fail
                failed.append(name)
                print(f"FAILED {name}: {type(e).__name__}: {str(e)[:300]}", flush=True)
        print(f"stax: {len(args.cases or nt_cases.CASES)} cases, failed: {failed}")
        if failed:
            sys.exit(1)
    if args.mc_check:
        for name, case in nt_cases.CASES.items():
            if name.startswith("act_") and name.endswith(("_mlp", "_conv")) and "hermite" not in name:
                z_nngp, z_ntk = mc_check(case)
                flag = "  <-- CHECK" if max(z_nngp, z_ntk) > 5 else ""
                print(f"mc {name:40s} max|z| nngp {z_nngp:6.2f} ntk {z_ntk:6.2f}{flag}", flush=True)
    if args.only in (None, "empirical"):
        for name, model in nt_cases.EMPIRICAL_MODELS.items():
            arrays, worst = empirical_fixture(model)
            _save(OUT / "empirical" / f"{name}.npz", arrays)
            print(f"empirical {name}: implementations 1/2/3 (+vmap) agree to {worst:.2e} relative")
    if args.only in (None, "predict"):
        fixtures = predict_fixtures()
        for name, arrays in fixtures.items():
            _save(OUT / "predict" / f"{name}.npz", arrays)
        print(f"predict: {len(fixtures)} fixtures")


if __name__ == "__main__":
    main()
