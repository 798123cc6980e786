r"""Denoising diffusion probabilistic models (DDPM, Ho et al. 2020): schedules, the forward process, the Gaussian
posterior, the :math:`\varepsilon`-prediction loss, ancestral sampling and a time-conditioned MLP denoiser.

Forward process: :math:`q(x_t|x_{t-1}) = \mathcal N(\sqrt{\alpha_t}\,x_{t-1}, \beta_t I)` with
:math:`\alpha_t = 1-\beta_t`, :math:`\bar\alpha_t = \prod_{s\le t}\alpha_s` (:math:`\bar\alpha_0 = 1`), hence in
closed form

.. math::
   q(x_t|x_0) = \mathcal N(\sqrt{\bar\alpha_t}\,x_0, (1-\bar\alpha_t) I),\qquad
   x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon.

Bayes' rule on the two Gaussians :math:`q(x_t|x_{t-1})\,q(x_{t-1}|x_0)` gives the posterior (Ho et al. eq. 6-7)

.. math::
   q(x_{t-1}|x_t,x_0) = \mathcal N(\tilde\mu_t, \tilde\beta_t I),\quad
   \tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\beta_t}{1-\bar\alpha_t}x_0
               + \frac{\sqrt{\alpha_t}(1-\bar\alpha_{t-1})}{1-\bar\alpha_t}x_t
             = \frac1{\sqrt{\alpha_t}}\Big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\varepsilon\Big),\quad
   \tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t.

The course notes drop the bars: their variance :math:`\frac{1-\alpha_t}{1-\alpha_t}\beta_t` is just :math:`\beta_t`
and their mean has :math:`\frac{1-\alpha_t}{\sqrt{1-\alpha_t}} = \sqrt{\beta_t}` in place of
:math:`\beta_t/\sqrt{1-\bar\alpha_t}` (:func:`posterior_notes` keeps that form to measure the slip). The model
:math:`p_\theta(x_{t-1}|x_t) = \mathcal N(\mu_\theta, \sigma_t^2 I)` with
:math:`\mu_\theta = (x_t - \beta_t\varepsilon_\theta(x_t,t)/\sqrt{1-\bar\alpha_t})/\sqrt{\alpha_t}` turns the VLB term
:math:`L_{t-1} = \mathrm{KL}(q(x_{t-1}|x_t,x_0)\,\|\,p_\theta(x_{t-1}|x_t))` into
:math:`\frac{\beta_t^2}{2\sigma_t^2\alpha_t(1-\bar\alpha_t)}\|\varepsilon-\varepsilon_\theta\|^2` plus a constant;
:math:`L_\text{simple}` drops the weight. Schedules: linear (Ho et al.) and cosine (Nichol & Dhariwal 2021).

Time steps are 1-based, :math:`t \in \{1,\dots,T\}`; schedule arrays hold entry ``t - 1``.
"""

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from dl_theory import checks
from dl_theory.models.mlp import dense_mlp
from dl_theory.stats import wasserstein1
from dl_theory.training import TrainState
from dl_theory.typing import Model, Params, Shape

__all__ = ["Schedule", "cosine_schedule", "ddpm_sample", "ddpm_train_step", "denoiser", "eps_loss", "eps_to_mean",
           "forward_iterate", "linear_schedule", "posterior", "posterior_notes", "q_sample", "reverse_variance",
           "schedule_from_betas", "sliced_wasserstein1", "time_embedding", "vlb_weights"]

WEIGHTINGS = ("simple", "vlb")
VARIANCES = ("beta", "posterior")


class Schedule(NamedTuple):
    r"""A noise schedule: :math:`\beta_t`, :math:`\alpha_t = 1-\beta_t`, :math:`\bar\alpha_t` (entry ``t - 1``)."""

    beta_T: jax.Array
    alpha_T: jax.Array
    alpha_bar_T: jax.Array

    @property
    def alpha_bar_prev_T(self) -> jax.Array:
        r""":math:`\bar\alpha_{t-1}`, with :math:`\bar\alpha_0 = 1`."""
        return jnp.concatenate([jnp.ones((1,), self.alpha_bar_T.dtype), self.alpha_bar_T[:-1]])


def schedule_from_betas(beta_T: ArrayLike) -> Schedule:
    r"""The schedule of the variances :math:`\beta_1..\beta_T`: :math:`\alpha_t = 1-\beta_t`,
    :math:`\bar\alpha_t = \prod_{s\le t}\alpha_s` (a cumulative product).

    Raises:
      ValueError: if ``beta_T`` is not a non-empty 1-D array (T >= 1) or an entry lies outside (0, 1).
    """
    beta_T = jnp.asarray(beta_T)
    if beta_T.ndim != 1 or beta_T.shape[0] < 1:
        raise checks.fail("beta_T", "a 1-D array of T >= 1 variances", f"shape {beta_T.shape}")
    checks.probability("beta_T", beta_T)
    alpha_T = 1.0 - beta_T
    return Schedule(beta_T, alpha_T, jnp.cumprod(alpha_T))


def linear_schedule(T: int, beta_start: float | None = None, beta_end: float | None = None) -> Schedule:
    r"""Ho et al. (2020): :math:`\beta_t` linear from ``beta_start`` to ``beta_end``. The defaults are Ho et al.'s
    :math:`10^{-4}` and :math:`0.02` at :math:`T = 1000`, scaled by :math:`1000/T` for other lengths (Nichol &
    Dhariwal 2021, so that :math:`\bar\alpha_T` stays near zero for short chains), capped at 0.999 (``T < 20``).

    Raises:
      ValueError: if ``T < 1`` or a resulting :math:`\beta_t` lies outside (0, 1).
    """
    T = checks.count("T", T)
    scale = 1000.0 / T
    beta_start = 1e-4 * scale if beta_start is None else beta_start
    beta_end = min(0.02 * scale, 0.999) if beta_end is None else beta_end
    return schedule_from_betas(jnp.asarray(np.linspace(beta_start, beta_end, T)))


def cosine_schedule(T: int, s: float = 0.008, max_beta: float = 0.999) -> Schedule:
    r"""Nichol & Dhariwal (2021): :math:`\bar\alpha(t) = f(t)/f(0)`, :math:`f(t) = \cos^2\big(\frac{t/T + s}{1+s}
    \frac\pi2\big)`, :math:`\beta_t = \min(1 - \bar\alpha(t)/\bar\alpha(t-1), \beta_\max)` with
    :math:`\beta_\max = 0.999` (the clip keeps :math:`\beta_T < 1`); :math:`\bar\alpha_t` is then recomputed from the
    clipped :math:`\beta_t`.

    Raises:
      ValueError: if ``T < 1``, ``s < 0`` or ``max_beta`` is outside (0, 1).
    """
    T = checks.count("T", T)
    checks.nonnegative("s", s)
    checks.probability("max_beta", max_beta)
    f = np.cos((np.arange(T + 1) / T + s) / (1 + s) * np.pi / 2) ** 2
    return schedule_from_betas(jnp.asarray(np.minimum(1.0 - f[1:] / f[:-1], max_beta)))


def _at(values_T: jax.Array, t_N: jax.Array, ndim: int) -> jax.Array:
    """Entry ``t - 1`` of a schedule array for each example, shaped to broadcast against ``(N, ...)`` of ``ndim``."""
    return values_T[t_N - 1].reshape((-1,) + (1,) * (ndim - 1))


def q_sample(key: jax.Array, schedule: Schedule, x0_NxD: ArrayLike, t_N: ArrayLike,
             eps_NxD: ArrayLike | None = None) -> tuple[jax.Array, jax.Array]:
    r"""A draw of :math:`q(x_t|x_0)`: :math:`x_t = \sqrt{\bar\alpha_t}x_0 + \sqrt{1-\bar\alpha_t}\varepsilon` (one
    :math:`t` per example); returns ``(x_t, eps)``. ``eps_NxD`` defaults to fresh standard normal noise."""
    x0_NxD, t_N = jnp.asarray(x0_NxD), jnp.asarray(t_N)
    eps_NxD = jax.random.normal(key, x0_NxD.shape, x0_NxD.dtype) if eps_NxD is None else jnp.asarray(eps_NxD)
    a_bar = _at(schedule.alpha_bar_T, t_N, x0_NxD.ndim)
    return jnp.sqrt(a_bar) * x0_NxD + jnp.sqrt(1.0 - a_bar) * eps_NxD, eps_NxD


def forward_iterate(key: jax.Array, schedule: Schedule, x0_NxD: ArrayLike, t: ArrayLike) -> jax.Array:
    r""":math:`x_t` by ``t`` single forward steps :math:`x_s = \sqrt{\alpha_s}x_{s-1} + \sqrt{\beta_s}\varepsilon_s`
    from :math:`x_0` (a ``lax.fori_loop``; step ``s`` draws its noise from ``fold_in(key, s)``). ``t`` may be traced:
    one compilation serves every ``t``. The Markov chain :func:`q_sample` has in closed form."""
    x0_NxD = jnp.asarray(x0_NxD)

    def step(s, x):
        noise = jax.random.normal(jax.random.fold_in(key, s), x.shape, x.dtype)
        return jnp.sqrt(schedule.alpha_T[s - 1]) * x + jnp.sqrt(schedule.beta_T[s - 1]) * noise

    return jax.lax.fori_loop(1, jnp.asarray(t) + 1, step, x0_NxD)


def posterior(schedule: Schedule, x0_NxD: ArrayLike, xt_NxD: ArrayLike, t_N: ArrayLike
              ) -> tuple[jax.Array, jax.Array]:
    r"""Mean and variance of :math:`q(x_{t-1}|x_t,x_0) = \mathcal N(\tilde\mu_t, \tilde\beta_t I)`:
    :math:`\tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\beta_t}{1-\bar\alpha_t}x_0 +
    \frac{\sqrt{\alpha_t}(1-\bar\alpha_{t-1})}{1-\bar\alpha_t}x_t`, :math:`\tilde\beta_t =
    \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t` (Ho et al. 2020, eq. 7); the variance has shape ``(N,)``.
    At :math:`t = 1` the posterior is the point mass at :math:`x_0`."""
    x0_NxD, xt_NxD, t_N = jnp.asarray(x0_NxD), jnp.asarray(xt_NxD), jnp.asarray(t_N)
    beta, alpha, a_bar = (schedule.beta_T[t_N - 1], schedule.alpha_T[t_N - 1], schedule.alpha_bar_T[t_N - 1])
    a_bar_prev = schedule.alpha_bar_prev_T[t_N - 1]
    shape = (-1,) + (1,) * (x0_NxD.ndim - 1)
    c0 = (jnp.sqrt(a_bar_prev) * beta / (1.0 - a_bar)).reshape(shape)
    ct = (jnp.sqrt(alpha) * (1.0 - a_bar_prev) / (1.0 - a_bar)).reshape(shape)
    return c0 * x0_NxD + ct * xt_NxD, (1.0 - a_bar_prev) / (1.0 - a_bar) * beta


def posterior_notes(schedule: Schedule, x0_NxD: ArrayLike, xt_NxD: ArrayLike, t_N: ArrayLike
                    ) -> tuple[jax.Array, jax.Array]:
    r"""The notes' posterior with the bars dropped: mean :math:`\frac1{\sqrt{\alpha_t}}(x_t -
    \frac{1-\alpha_t}{\sqrt{1-\alpha_t}}\varepsilon)` with :math:`\varepsilon = (x_t - \sqrt{\bar\alpha_t}x_0)/
    \sqrt{1-\bar\alpha_t}`, variance :math:`\frac{1-\alpha_t}{1-\alpha_t}\beta_t = \beta_t`. *Not* the posterior;
    kept only to measure the slip. Use :func:`posterior`."""
    x0_NxD, xt_NxD, t_N = jnp.asarray(x0_NxD), jnp.asarray(xt_NxD), jnp.asarray(t_N)
    a_bar = _at(schedule.alpha_bar_T, t_N, x0_NxD.ndim)
    alpha = _at(schedule.alpha_T, t_N, x0_NxD.ndim)
    eps = (xt_NxD - jnp.sqrt(a_bar) * x0_NxD) / jnp.sqrt(1.0 - a_bar)
    mean = (xt_NxD - (1.0 - alpha) / jnp.sqrt(1.0 - alpha) * eps) / jnp.sqrt(alpha)
    return mean, schedule.beta_T[t_N - 1]


def eps_to_mean(schedule: Schedule, xt_NxD: ArrayLike, eps_NxD: ArrayLike, t_N: ArrayLike) -> jax.Array:
    r""":math:`\mu = \frac1{\sqrt{\alpha_t}}\big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\varepsilon\big)`: the
    reverse-step mean from a noise prediction (with the true :math:`\varepsilon`, the posterior mean
    :math:`\tilde\mu_t`)."""
    xt_NxD, t_N = jnp.asarray(xt_NxD), jnp.asarray(t_N)
    beta, alpha, a_bar = (_at(v, t_N, xt_NxD.ndim) for v in schedule)
    return (xt_NxD - beta / jnp.sqrt(1.0 - a_bar) * jnp.asarray(eps_NxD)) / jnp.sqrt(alpha)


def reverse_variance(schedule: Schedule, kind: str = "beta") -> jax.Array:
    r"""The reverse-step variances :math:`\sigma_t^2`: ``'beta'`` gives :math:`\beta_t`, ``'posterior'`` gives
    :math:`\tilde\beta_t` (Ho et al. found both work; they are the upper and lower bounds on the optimal variance),
    with :math:`\tilde\beta_1 = 0` replaced by :math:`\tilde\beta_2` as Nichol & Dhariwal (2021) clip it (``T = 1``:
    :math:`\beta_1`)."""
    checks.one_of(*VARIANCES)("kind", kind)
    if kind == "beta":
        return schedule.beta_T
    tilde = (1.0 - schedule.alpha_bar_prev_T) / (1.0 - schedule.alpha_bar_T) * schedule.beta_T
    first = tilde[1:2] if tilde.shape[0] > 1 else schedule.beta_T[:1]
    return jnp.concatenate([first, tilde[1:]])


def vlb_weights(schedule: Schedule, variance: str = "beta") -> jax.Array:
    r""":math:`\lambda_t = \frac{\beta_t^2}{2\sigma_t^2\alpha_t(1-\bar\alpha_t)}`, so that
    :math:`\frac{\|\tilde\mu_t - \mu_\theta\|^2}{2\sigma_t^2} = \lambda_t\|\varepsilon - \varepsilon_\theta\|^2`
    (Ho et al. 2020, eq. 12; :math:`\sigma_t^2` from :func:`reverse_variance`)."""
    sigma2 = reverse_variance(schedule, variance)
    return schedule.beta_T**2 / (2.0 * sigma2 * schedule.alpha_T * (1.0 - schedule.alpha_bar_T))


def time_embedding(t_N: ArrayLike, T: int, n_features: int) -> jax.Array:
    r"""Sinusoidal features of the step (Vaswani et al. 2017, as in Ho et al.): :math:`[\sin(\tau\omega_k),
    \cos(\tau\omega_k)]_{k<K/2}`, :math:`\tau = 1000\,t/T` (independent of the chain length),
    :math:`\omega_k = 10^{-4k/(K/2)}`; shape ``(N, n_features)``, ``n_features`` even."""
    half = n_features // 2
    freqs = jnp.exp(-np.log(1e4) * jnp.arange(half) / half)
    tau_N = 1000.0 * jnp.asarray(t_N).astype(freqs.dtype) / T
    phase = tau_N[:, None] * freqs[None, :]
    return jnp.concatenate([jnp.sin(phase), jnp.cos(phase)], axis=1)


def denoiser(hidden: Sequence[int], T: int, *, n_classes: int | None = None, time_features: int = 32,
             activation: Callable[[jax.Array], jax.Array] = jax.nn.silu) -> Model:
    r"""A time-conditioned noise predictor :math:`\varepsilon_\theta(x_t, t[, y])` on
    :func:`dl_theory.models.mlp.dense_mlp`: its input is :math:`x_t` concatenated with :func:`time_embedding` and,
    when ``n_classes`` is set, a one-hot class with one extra "no class" entry (index ``n_classes``) for classifier-free
    guidance (Ho & Salimans 2021). ``apply(params, x_NxD, t_N=..., y_N=None)``; ``y_N=None`` is the unconditional
    input. ``init(key, (-1, D))``.

    Raises:
      ValueError: if ``T < 1``, ``n_classes < 1``, ``time_features`` is not a positive even number, or a width is
        not a positive integer.
    """
    T = checks.count("T", T)
    if n_classes is not None:
        checks.count("n_classes", n_classes)
    if checks.count("time_features", time_features) % 2:
        raise checks.fail("time_features", "even", time_features)
    n_cond = 0 if n_classes is None else n_classes + 1
    net = dense_mlp(hidden, 1, activation=activation)  # out_dim set in init from the data dimension

    def features(x_NxD: jax.Array, t_N: ArrayLike, y_N: ArrayLike | None) -> jax.Array:
        parts = [x_NxD, time_embedding(t_N, T, time_features).astype(x_NxD.dtype)]
        if n_classes is not None:
            y_N = jnp.full(x_NxD.shape[:1], n_classes) if y_N is None else jnp.asarray(y_N)
            parts.append(jax.nn.one_hot(y_N, n_cond, dtype=x_NxD.dtype))
        return jnp.concatenate(parts, axis=1)

    def init_fn(key: jax.Array, input_shape: Shape) -> tuple[Shape, Params]:
        dim = input_shape[-1]
        _, params = dense_mlp(hidden, dim, activation=activation).init(key, (-1, dim + time_features + n_cond))
        return tuple(input_shape), params

    def apply_fn(params: Params, x_NxD: ArrayLike, *, t_N: ArrayLike, y_N: ArrayLike | None = None,
                 **kwargs) -> jax.Array:
        return net.apply(params, features(jnp.asarray(x_NxD), t_N, y_N))

    return Model(init_fn, apply_fn)


def _with_labels(batch) -> tuple[jax.Array, jax.Array | None]:
    return (batch[0], batch[1]) if isinstance(batch, tuple | list) else (batch, None)


def eps_loss(apply_fn: Callable, schedule: Schedule, *, weighting: str = "simple", variance: str = "beta",
             p_uncond: float = 0.0, n_classes: int | None = None) -> Callable:
    r"""``loss(params, batch, key)``: :math:`\mathbb E_{t,\varepsilon}[w_t\|\varepsilon -
    \varepsilon_\theta(\sqrt{\bar\alpha_t}x_0 + \sqrt{1-\bar\alpha_t}\varepsilon, t)\|^2]` over the batch, with
    :math:`t \sim U\{1..T\}` per example. ``'simple'``: :math:`w_t = 1` (Ho et al.'s :math:`L_\text{simple}`, a mean
    over the D coordinates); ``'vlb'``: :math:`w_t = T\lambda_t` (:func:`vlb_weights`, a sum over coordinates), an
    unbiased estimate of :math:`\sum_{t=1}^T L_{t-1}` up to constants. ``batch`` is ``x0_NxD`` or ``(x0_NxD, y_N)``;
    with labels and ``p_uncond > 0`` each label is replaced by the "no class" index ``n_classes`` with probability
    ``p_uncond`` (classifier-free guidance training). The signature is the one :func:`dl_theory.training.train`
    calls with a ``noise_key``.

    Raises:
      ValueError: for an unknown ``weighting`` or ``variance``, or ``p_uncond`` outside [0, 1) (> 0 needs
        ``n_classes``).
    """
    checks.one_of(*WEIGHTINGS)("weighting", weighting)
    if p_uncond:
        checks.probability("p_uncond", p_uncond)
    if p_uncond and n_classes is None:
        raise checks.fail("n_classes", "set when p_uncond > 0", n_classes)
    T = schedule.beta_T.shape[0]
    weights_T = T * vlb_weights(schedule, variance) if weighting == "vlb" else None

    def loss(params: Params, batch, key: jax.Array) -> jax.Array:
        x0_NxD, y_N = _with_labels(batch)
        k_t, k_eps, k_drop = jax.random.split(key, 3)
        t_N = jax.random.randint(k_t, x0_NxD.shape[:1], 1, T + 1)
        xt_NxD, eps_NxD = q_sample(k_eps, schedule, x0_NxD, t_N)
        if y_N is not None and p_uncond:
            y_N = jnp.where(jax.random.bernoulli(k_drop, p_uncond, y_N.shape), n_classes, y_N)
        sq_NxD = (eps_NxD - apply_fn(params, xt_NxD, t_N=t_N, y_N=y_N)) ** 2
        if weights_T is None:
            return jnp.mean(sq_NxD)
        return jnp.mean(weights_T[t_N - 1].astype(sq_NxD.dtype) * jnp.sum(sq_NxD.reshape(sq_NxD.shape[0], -1), 1))

    return loss


def ddpm_train_step(apply_fn: Callable, schedule: Schedule, optimizer: optax.GradientTransformation,
                    batch_size: int, **loss_kwargs) -> Callable:
    """A jitted ``step(state, batch, key) -> (state, loss)``: one optimizer step of :func:`eps_loss` on a batch of
    ``batch_size`` examples (``x0`` or ``(x0, y)``); ``state`` is a :class:`dl_theory.training.TrainState`. The same
    step :func:`dl_theory.training.train` scans; exposed for benchmarks (steps per second).

    Raises:
      ValueError: if ``batch_size < 1``, or (at trace time) a batch has another leading size.
    """
    batch_size = checks.count("batch_size", batch_size)
    loss_fn = eps_loss(apply_fn, schedule, **loss_kwargs)

    @jax.jit
    def step(state: TrainState, batch, key: jax.Array) -> tuple[TrainState, jax.Array]:
        n = _with_labels(batch)[0].shape[0]
        if n != batch_size:
            raise checks.fail("batch", f"of leading size batch_size={batch_size}", n)
        loss, grads = jax.value_and_grad(loss_fn)(state.params, batch, key)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        return TrainState(optax.apply_updates(state.params, updates), opt_state), loss

    return step


def ddpm_sample(key: jax.Array, apply_fn: Callable, params: Params, schedule: Schedule, shape: Shape, *,
                y_N: ArrayLike | None = None, guidance: float = 0.0, variance: str = "beta") -> jax.Array:
    r"""Ancestral sampling (Ho et al. 2020, Algorithm 2) as one ``lax.scan`` over :math:`t = T, \dots, 1`:
    :math:`x_T \sim \mathcal N(0, I)`, :math:`x_{t-1} = \frac1{\sqrt{\alpha_t}}(x_t -
    \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\hat\varepsilon) + \sigma_t z` with :math:`z = 0` at :math:`t = 1`.
    With labels ``y_N`` and ``guidance`` :math:`w`, :math:`\hat\varepsilon = (1+w)\varepsilon_\theta(x_t,t,y) -
    w\,\varepsilon_\theta(x_t,t,\varnothing)` (classifier-free guidance, Ho & Salimans 2021); otherwise
    :math:`\hat\varepsilon = \varepsilon_\theta(x_t, t, y)`. ``shape`` is ``(N, ...)``; :math:`\sigma_t^2` from
    :func:`reverse_variance`.

    Raises:
      ValueError: for an unknown ``variance`` or a negative ``guidance``.
    """
    checks.nonnegative("guidance", guidance)
    sigma_T = jnp.sqrt(reverse_variance(schedule, variance))
    T = schedule.beta_T.shape[0]
    k_init, k_steps = jax.random.split(key)
    dtype = schedule.beta_T.dtype

    unguided = y_N is None or (not isinstance(guidance, jax.Array) and guidance == 0)  # guidance may be traced

    def eps_hat(x, t_N):
        eps = apply_fn(params, x, t_N=t_N, y_N=y_N)
        if unguided:
            return eps
        return (1.0 + guidance) * eps - guidance * apply_fn(params, x, t_N=t_N, y_N=None)

    def step(x, t):
        t_N = jnp.full(shape[:1], t)
        mean = eps_to_mean(schedule, x, eps_hat(x, t_N), t_N)
        z = jax.random.normal(jax.random.fold_in(k_steps, t), x.shape, x.dtype)
        return mean + jnp.where(t > 1, sigma_T[t - 1], 0.0).astype(x.dtype) * z, None

    x_T = jax.random.normal(k_init, shape, dtype)
    return jax.lax.scan(step, x_T, jnp.arange(T, 0, -1))[0]


def sliced_wasserstein1(a_NxD: ArrayLike, b_MxD: ArrayLike, directions_KxD: ArrayLike) -> np.ndarray:
    r"""1-D Wasserstein-1 distances of the projections :math:`\langle u_k, x\rangle` of two samples on unit
    directions :math:`u_k` (:func:`dl_theory.stats.wasserstein1`, exact); their mean is the sliced
    :math:`W_1` (Rabin et al. 2011, Bonneel et al. 2015), a metric on distributions. Returns the ``(K,)`` values.

    Raises:
      ValueError: if the samples and directions do not share the dimension D.
    """
    a, b, u = (np.asarray(v, np.float64) for v in (a_NxD, b_MxD, directions_KxD))
    if not (a.ndim == b.ndim == u.ndim == 2 and a.shape[1] == b.shape[1] == u.shape[1]):
        raise checks.fail("a_NxD, b_MxD, directions_KxD", "2-D with one dimension D",
                          f"shapes {a.shape}, {b.shape}, {u.shape}")
    u = u / np.linalg.norm(u, axis=1, keepdims=True)
    pa, pb = a @ u.T, b @ u.T
    return np.array([wasserstein1(pa[:, k], None, pb[:, k], None) for k in range(u.shape[0])])
