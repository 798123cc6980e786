r"""Training a Gaussian posterior by minimizing a PAC-Bayes bound (Pérez-Ortiz et al., 2021, "Tighter risk certificates
for neural networks", JMLR 22(227)).

The 0-1 loss has no useful gradient, so training minimizes the bound for a *surrogate* loss in [0, 1]: the bounded
cross-entropy :math:`\ell = -\max(\ln p_y, \ln p_{\min})/\ln(1/p_{\min})`
(:func:`dl_theory.losses.bounded_cross_entropy`), which is a valid loss for the same bounds. Each step draws one network
:math:`\tilde\theta\sim Q` by reparameterization, evaluates the minibatch surrogate risk (an unbiased estimate of
:math:`\hat R`), and adds the exact :math:`\mathrm{KL}(Q\|P)`; ``n`` is the size of the data the certificate will use.
The certificate itself is computed afterwards on the 0-1 loss (:mod:`dl_theory.generalization.pac_bayes.certificate`).
"""

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.tree_util import Partial

from dl_theory import checks, losses
from dl_theory.generalization.pac_bayes.bounds import bound_objective, confidence
from dl_theory.generalization.pac_bayes.posterior import DiagGaussian, kl_divergence, sample_params
from dl_theory.training import train
from dl_theory.typing import ApplyFn, PyTree

ObjectiveFn = Callable[[DiagGaussian, jax.Array, PyTree], tuple[jax.Array, dict[str, jax.Array]]]


def make_objective(
    apply_fn: ApplyFn,
    prior: DiagGaussian,
    n: int,
    delta: float,
    objective: str = "fquad",
    pmin: float = 1e-4,
    kl_penalty: float = 1.0,
) -> ObjectiveFn:
    """``f(posterior, key, (x, y)) -> (bound value, aux)`` for minibatch training.

    Args:
      apply_fn: ``apply_fn(params, x_NxD) -> logits_NxC``.
      prior: the prior; it must not depend on the examples the certificate will use.
      n: number of examples of the certificate (training) split.
      delta: confidence of the bound.
      objective: ``"fquad"``, ``"flamb"`` (optimal λ each step), ``"fclassic"`` or ``"fkl"``.
      pmin: probability clamp of the bounded cross-entropy.
      kl_penalty: multiplies the KL (1 gives the bound; values < 1 are the "KL annealing" heuristic, not a
        bound).

    Returns:
      a :class:`jax.tree_util.Partial` with the prior as its traced argument: objectives of the same model and
      settings share one function, so :func:`fit_posterior` compiles once for every prior (and data set) of the
      same shapes.
    """
    n, delta = checks.count("n", n), confidence("delta", delta)
    bound_objective(objective, 0.5, 0.0, n, delta)  # validates the name
    settings = (apply_fn, n, delta, objective, float(pmin), float(kl_penalty))
    try:
        fn = _objective(*settings)
    except TypeError:  # an unhashable apply_fn: a function of its own (no compile sharing)
        fn = _objective.__wrapped__(*settings)
    return Partial(fn, prior)


@functools.lru_cache(maxsize=64)
def _objective(apply_fn: ApplyFn, n: int, delta: float, objective: str, pmin: float,
               kl_penalty: float) -> Callable[..., tuple[jax.Array, dict[str, jax.Array]]]:
    """One function per (model, settings): ``f(prior, posterior, key, batch)``."""

    def f(prior: DiagGaussian, posterior: DiagGaussian, key: jax.Array,
          batch: PyTree) -> tuple[jax.Array, dict[str, jax.Array]]:
        x, y = batch
        logits = apply_fn(sample_params(key, posterior), x)
        risk = jnp.mean(losses.bounded_cross_entropy(logits, y, pmin))
        kl = kl_divergence(posterior, prior)
        value = bound_objective(objective, risk, kl_penalty * kl, n, delta)
        return value, {"risk": risk, "kl": kl, "error": jnp.mean(losses.zero_one(logits, y))}

    return f


def _bound_value(objective_fn: ObjectiveFn, posterior: DiagGaussian, batch: PyTree, key: jax.Array) -> jax.Array:
    return objective_fn(posterior, key, batch)[0]


def fit_posterior(
    key: jax.Array,
    objective_fn: ObjectiveFn,
    posterior: DiagGaussian,
    optimizer: optax.GradientTransformation,
    data: PyTree,
    *,
    n_steps: int,
    batch_size: int,
    log_every: int = 100,
    desc: str = "posterior (PAC-Bayes objective)",
) -> tuple[DiagGaussian, dict[str, np.ndarray]]:
    """Minimizes ``objective_fn`` over the posterior's mean and ρ with fresh network noise every step.

    Runs :func:`dl_theory.training.train` (progress bar, NaN guard, checkpoints and resume inside
    :func:`dl_theory.training.checkpointing`), minibatches drawn from one half of ``key`` and the network
    noise of step ``t`` from ``fold_in(other half, t)``. Returns the trained posterior and the per-step
    ``objective``.

    Raises:
      FloatingPointError: if the objective became NaN/inf (naming the step and the last finite value).
    """
    checks.count("n_steps", n_steps)
    checks.count("batch_size", batch_size)
    data_key, noise_key = jax.random.split(key)
    # a Partial objective (make_objective's) gives a Partial loss: train then shares one compiled scan across fits
    # with the same objective function, optimizer object and shapes
    loss = (Partial(_bound_value, objective_fn) if isinstance(objective_fn, Partial)
            else lambda post, batch, k: objective_fn(post, k, batch)[0])
    posterior, history = train(loss, posterior, optimizer, data,
                               n_steps=n_steps, batch_size=batch_size, key=data_key, noise_key=noise_key,
                               log_every=log_every, desc=desc)
    return posterior, {"objective": history["loss"]}
