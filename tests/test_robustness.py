"""dl_theory.robustness against closed forms, scipy's LP and brute force."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.optimize

from dl_theory import robustness
from dl_theory.losses import logistic, softmax_cross_entropy
from dl_theory.models import dense_mlp
from dl_theory.training import train


def _linear(seed: int = 0, n: int = 12, d: int = 7):
    rng = np.random.default_rng(seed)
    w, b, x = rng.standard_normal(d), 0.3, rng.standard_normal((n, d))
    y = np.sign(x @ w + b)
    return w, b, x, y


def _score_model(w, b):
    """The linear score ``w^T x + b`` as a model with its (w, b) as parameters."""
    return (lambda p, x: x @ p["w"] + p["b"]), {"w": jnp.asarray(w), "b": jnp.asarray(b)}


def _min_norm_lp(a, c, ord_):
    """min ||delta||_ord subject to a^T delta <= -c, by a linear program (ord in {inf, 1})."""
    d = a.size
    eye = np.eye(d)
    if ord_ == np.inf:  # variables (delta, t): |delta_i| <= t
        a_ub = np.block([[eye, -np.ones((d, 1))], [-eye, -np.ones((d, 1))], [a[None], np.zeros((1, 1))]])
        sol = scipy.optimize.linprog(np.eye(d + 1)[-1], A_ub=a_ub, b_ub=np.r_[np.zeros(2 * d), -c],
                                     bounds=[(None, None)] * d + [(0, None)], method="highs")
        return sol.fun
    # variables (delta, s): |delta_i| <= s_i, minimize sum s
    a_ub = np.block([[eye, -eye], [-eye, -eye], [a[None], np.zeros((1, d))]])
    sol = scipy.optimize.linprog(np.r_[np.zeros(d), np.ones(d)], A_ub=a_ub, b_ub=np.r_[np.zeros(2 * d), -c],
                                 bounds=[(None, None)] * d + [(0, None)] * d, method="highs")
    return sol.fun


def test_l2_minimal_perturbation_lands_on_boundary(x64):
    w, b, x, _ = _linear()
    delta = np.asarray(robustness.l2_minimal_perturbation(w, b, x))
    np.testing.assert_allclose((x + delta) @ w + b, 0.0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(delta, axis=1), np.abs(x @ w + b) / np.linalg.norm(w), rtol=1e-12)
    np.testing.assert_allclose(np.abs(delta @ w), np.linalg.norm(delta, axis=1) * np.linalg.norm(w), rtol=1e-12)


@pytest.mark.parametrize("norm,ord_", [("linf", np.inf), ("l1", 1)])
def test_distance_matches_linear_program(x64, norm, ord_):
    w, b, x, y = _linear(1)
    closed = np.asarray(robustness.distance(w, b, x, norm))
    lp = [_min_norm_lp(y[i] * w, abs(x[i] @ w + b), ord_) for i in range(len(x))]
    np.testing.assert_allclose(closed, lp, rtol=1e-7)


def test_linf_attack_reaches_boundary_at_its_eps(x64):
    w, b, x, y = _linear(2)
    eps = np.asarray(robustness.distance(w, b, x, "linf"))
    x_adv = np.asarray(robustness.linf_attack(w, x, y, eps))
    np.testing.assert_allclose(x_adv @ w + b, 0.0, atol=1e-12)
    np.testing.assert_allclose(np.max(np.abs(x_adv - x), axis=1), eps, rtol=1e-12)


def test_multiclass_margins_and_distances_brute_force(x64):
    rng = np.random.default_rng(3)
    W, b, x = rng.standard_normal((5, 4)), rng.standard_normal(4), rng.standard_normal((6, 5))
    y = rng.integers(0, 4, 6)
    margins = np.asarray(robustness.multiclass_margins(W, b, x, y))
    dist = {n: np.asarray(robustness.multiclass_distances(W, b, x, y, n)) for n in ("l2", "linf", "l1")}
    for i in range(6):
        for j in range(4):
            m = (W[:, y[i]] - W[:, j]) @ x[i] + b[y[i]] - b[j]
            assert margins[i, j] == pytest.approx(m, abs=1e-12)
            if j == y[i]:
                assert all(np.isinf(dist[n][i, j]) for n in dist)
                continue
            v = W[:, y[i]] - W[:, j]
            assert dist["l2"][i, j] == pytest.approx(m / np.linalg.norm(v), rel=1e-12)
            assert dist["linf"][i, j] == pytest.approx(m / np.abs(v).sum(), rel=1e-12)
            assert dist["l1"][i, j] == pytest.approx(m / np.abs(v).max(), rel=1e-12)


def test_multiclass_minimal_perturbation_crosses_to_nearest_class(x64):
    rng = np.random.default_rng(4)
    W, b, x = rng.standard_normal((5, 4)), rng.standard_normal(4), rng.standard_normal((20, 5))
    y = np.argmax(x @ W + b, axis=1)
    delta, j = (np.asarray(a) for a in robustness.multiclass_minimal_perturbation(W, b, x, y))
    logits = (x + delta) @ W + b
    np.testing.assert_allclose(logits[np.arange(20), y], logits[np.arange(20), j], atol=1e-12)
    np.testing.assert_array_equal(np.argmax((x + 1.001 * delta) @ W + b, axis=1), j)
    np.testing.assert_allclose(np.linalg.norm(delta, axis=1),
                               np.asarray(robustness.multiclass_distances(W, b, x, y)).min(axis=1), rtol=1e-12)


def test_project_against_clip_and_l2_formula():
    delta = jax.random.normal(jax.random.key(0), (6, 2, 3)) * jnp.arange(1.0, 7.0).reshape(6, 1, 1)
    np.testing.assert_array_equal(robustness.project(delta, 0.5, "linf"), np.clip(delta, -0.5, 0.5))
    d = np.asarray(delta)
    norms = np.linalg.norm(d.reshape(6, -1), axis=1)
    expected = d * np.minimum(1.0, 4.0 / norms)[:, None, None]
    np.testing.assert_allclose(robustness.project(delta, 4.0, "l2"), expected, rtol=1e-6)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_fgsm_on_linear_logistic_model_is_the_closed_form(x64, norm):
    w, b, x, y = _linear(5)
    apply_fn, params = _score_model(w, b)
    x_adv = np.asarray(robustness.fgsm(apply_fn, params, x, (y > 0).astype(int), 0.2, norm=norm, loss=logistic))
    direction = np.sign(w) if norm == "linf" else w / np.linalg.norm(w)
    np.testing.assert_allclose(x_adv, x - 0.2 * y[:, None] * direction[None], rtol=1e-12, atol=1e-12)


def test_pgd_l2_on_linear_model_converges_to_minimal_direction(x64, key):
    w, b, x, y = _linear(6)
    apply_fn, params = _score_model(w, b)
    x_adv = np.asarray(robustness.pgd(apply_fn, params, x, (y > 0).astype(int), 0.7, key=key, norm="l2",
                                      n_steps=60, step_size=0.35, loss=logistic))
    delta_star = np.asarray(robustness.l2_minimal_perturbation(w, b, x))
    delta = x_adv - x
    cosine = np.sum(delta * delta_star, axis=1) / np.linalg.norm(delta, axis=1) / np.linalg.norm(delta_star, axis=1)
    np.testing.assert_allclose(cosine, 1.0, atol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(delta, axis=1), 0.7, rtol=1e-10)


def test_pgd_linf_on_linear_model_reaches_the_corner(x64, key):
    w, b, x, y = _linear(7)
    apply_fn, params = _score_model(w, b)
    x_adv = robustness.pgd(apply_fn, params, x, (y > 0).astype(int), 0.1, key=key, n_steps=10, loss=logistic)
    np.testing.assert_allclose(x_adv, robustness.linf_attack(w, x, y, 0.1), atol=1e-12)


def test_targeted_pgd_reduces_the_margin_over_the_target(key):
    init_fn, apply_fn = dense_mlp((16,), 5)
    _, params = init_fn(key, (-1, 8))
    x = jax.random.uniform(jax.random.fold_in(key, 1), (32, 8))
    y = jnp.argmax(apply_fn(params, x), axis=1)
    target = (y + 1) % 5

    @jax.jit
    def margin_and_loss(xs):
        logits = apply_fn(params, xs)
        pick = lambda c: jnp.take_along_axis(logits, c[:, None], 1)[:, 0]
        return pick(y) - pick(target), softmax_cross_entropy(logits, y)

    x_adv = robustness.pgd(apply_fn, params, x, target, 0.3, key=key, n_steps=20, targeted=True, bounds=(0.0, 1.0))
    untargeted = robustness.pgd(apply_fn, params, x, y, 0.3, key=key, n_steps=20, bounds=(0.0, 1.0))
    (margin, loss), (margin_adv, _), (_, loss_untargeted) = map(margin_and_loss, (x, x_adv, untargeted))
    assert np.all(np.asarray(margin_adv < margin))
    assert np.all(np.asarray(loss_untargeted > loss))
    assert float(jnp.max(jnp.abs(x_adv - x))) <= 0.3 * (1 + 1e-6)
    assert float(jnp.min(x_adv)) >= 0.0 and float(jnp.max(x_adv)) <= 1.0


def test_pgd_is_batched_per_example(key):
    init_fn, apply_fn = dense_mlp((8,), 3)
    _, params = init_fn(key, (-1, 4))
    x, y = jax.random.normal(key, (3, 4)), jnp.arange(3)
    batch = robustness.pgd(apply_fn, params, x, y, 0.2, key=key, norm="l2", n_steps=5, random_start=False)
    single = [robustness.pgd(apply_fn, params, x[i:i + 1], y[i:i + 1], 0.2, key=key, norm="l2", n_steps=5,
                             random_start=False)[0] for i in range(3)]
    np.testing.assert_allclose(batch, np.stack(single), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_ball_uniform_is_uniform(key, norm):
    d, eps = 3, 0.5
    delta = np.asarray(robustness.ball_uniform(key, (20000, d), eps, norm))
    if norm == "linf":
        assert np.abs(delta).max() <= eps
        u = np.abs(delta) / eps  # uniform on [0, 1]
    else:
        u = (np.linalg.norm(delta, axis=1) / eps) ** d  # P(||delta|| <= r eps) = r^d
    assert np.all(u <= 1 + 1e-6)
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / u.size)


def test_robust_correct_matches_the_linear_distance(x64):
    w, b, x, y = _linear(8, n=40)
    w2 = np.stack([-w / 2, w / 2], axis=1)  # two logits whose difference is w^T x
    apply_fn = lambda p, xs: xs @ p["w"] + p["b"][None, :]
    params = {"w": jnp.asarray(w2), "b": jnp.asarray([-b / 2, b / 2])}
    labels = (y > 0).astype(int)
    eps = [0.0, 0.05, 0.2, 0.5]
    ok = robustness.robust_correct(apply_fn, params, x, labels, eps, attack="fgsm")
    dinf = np.asarray(robustness.distance(w, b, x, "linf"))
    np.testing.assert_array_equal(ok, dinf[None, :] > np.asarray(eps)[:, None])
    np.testing.assert_allclose(robustness.robust_accuracy(apply_fn, params, x, labels, eps, attack="pgd",
                                                          key=jax.random.key(0), n_steps=10), ok.mean(axis=1))


def test_adversarial_loss_gradient_is_taken_at_the_attack(key):
    init_fn, apply_fn = dense_mlp((8,), 3)
    _, params = init_fn(key, (-1, 4))
    x, y = jax.random.normal(key, (16, 4)), jnp.arange(16) % 3
    loss_fn = robustness.adversarial_loss(apply_fn, 0.1, n_steps=3)
    x_adv = robustness.pgd(apply_fn, params, x, y, 0.1, key=key, n_steps=3)
    danskin = jax.jit(jax.grad(lambda p: jnp.mean(softmax_cross_entropy(apply_fn(p, x_adv), y))))(params)
    got = jax.grad(loss_fn)(params, (x, y), key)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), got, danskin)
    trained, history = train(loss_fn, params, optax.adam(1e-2), (x, y), n_steps=30, noise_key=key, log_every=30)
    assert history["loss"][-1] < history["loss"][0]


BAD = [
    (lambda f, p, x, y: robustness.pgd(f, p, x, y, -0.1, key=jax.random.key(0)), "eps must be >= 0"),
    (lambda f, p, x, y: robustness.pgd(f, p, x, y, 0.1, key=jax.random.key(0), n_steps=0), "n_steps must be"),
    (lambda f, p, x, y: robustness.pgd(f, p, x, y, 0.1, key=jax.random.key(0), step_size=0.0), "step_size must be"),
    (lambda f, p, x, y: robustness.fgsm(f, p, x, y, -1.0), "eps must be >= 0"),
    (lambda f, p, x, y: robustness.fgsm(f, p, x, y, 0.1, norm="l3"), "norm must be one of"),
    (lambda f, p, x, y: robustness.fgsm(f, p, x, y, 0.1, bounds=(1.0, 0.0)), "bounds must be"),
    (lambda f, p, x, y: robustness.robust_accuracy(f, p, x, y, [0.1, -0.1], attack="fgsm"), r"eps_E\[1\] must be"),
    (lambda f, p, x, y: robustness.robust_accuracy(f, p, x, y, [0.1], attack="cw"), "attack must be one of"),
    (lambda f, p, x, y: robustness.adversarial_loss(f, -0.1), "eps must be >= 0"),
    (lambda f, p, x, y: robustness.adversarial_loss(f, 0.1, n_steps=0), "n_steps must be"),
]


@pytest.mark.parametrize("call,message", BAD)
def test_bad_input_raises_one_clear_error(key, call, message):
    init_fn, apply_fn = dense_mlp((), 3)
    _, params = init_fn(key, (-1, 4))
    with pytest.raises(ValueError, match=message):
        call(apply_fn, params, jnp.zeros((2, 4)), jnp.zeros(2, int))
