"""Your model, every analysis: one custom flax network on scikit-learn's digits, through every analysis of dl_theory.

Run it with ``python examples/your_model.py`` (the full sizes, about a minute on a laptop CPU), ``--quick`` for tiny
sizes (what the test suite runs), and ``--linen`` for the same network written as a ``flax.linen`` module. Read it from
top to bottom: every section is a few library calls on the *same* pair of pure functions.

The one idea: :func:`dl_theory.models.from_flax` turns your flax module into ``init_fn(key, input_shape) ->
(output_shape, params)`` and ``apply_fn(params, x) -> logits``. Every analysis in the library takes exactly that
``apply_fn`` and a parameter pytree -- the empirical neural tangent kernel (Jacot et al., 2018), the Hessian's spectrum
by Lanczos and stochastic Lanczos quadrature (Ghorbani et al., 2019), the smoothness constants and step-size limits of
gradient descent (Nesterov, 2004; Cohen et al., 2021), and PAC-Bayes risk certificates of a Gaussian stochastic
version of the network (Pérez-Ortiz et al., 2021) -- so nothing has to be rewritten for a new architecture.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.flatten_util import ravel_pytree

from dl_theory import data, dynamics, kernels, losses, training
from dl_theory.curvature import hessian
from dl_theory.generalization import pac_bayes as pb
from dl_theory.models import from_flax
from dl_theory.optim import convergence

N_PIXELS, N_CLASSES = 64, 10


# --- 1. Your model -------------------------------------------------------------------------------------------------
# A custom network, nothing the library knows about: a tanh embedding, one pre-norm residual block with a GELU, and a
# linear readout. LayerNorm holds only parameters (no running statistics), so the model is a pure function of them.


class DigitsNet(nnx.Module):
    """A residual MLP for 8x8 digits, as a flax NNX module."""

    def __init__(self, width: int, *, rngs: nnx.Rngs):
        self.embed = nnx.Linear(N_PIXELS, width, rngs=rngs)
        self.norm = nnx.LayerNorm(width, rngs=rngs)
        self.block = nnx.Linear(width, width, rngs=rngs)
        self.readout = nnx.Linear(width, N_CLASSES, rngs=rngs)

    def __call__(self, x_NxD: jax.Array) -> jax.Array:
        h_NxW = jnp.tanh(self.embed(x_NxD))
        h_NxW = h_NxW + nnx.gelu(self.block(self.norm(h_NxW)))
        return self.readout(h_NxW)


class DigitsNetLinen(nn.Module):
    """The same network as a flax linen module."""

    width: int

    @nn.compact
    def __call__(self, x_NxD: jax.Array) -> jax.Array:
        h_NxW = jnp.tanh(nn.Dense(self.width, name="embed")(x_NxD))
        h_NxW = h_NxW + nn.gelu(nn.Dense(self.width, name="block")(nn.LayerNorm(name="norm")(h_NxW)))
        return nn.Dense(N_CLASSES, name="readout")(h_NxW)


@dataclass(frozen=True)
class Sizes:
    n_train: int = 1347  # digits for training: half train the network (and its prior), half certify it
    width: int = 64
    lr: float = 0.2  # full-batch gradient descent
    steps: int = 1500
    log_every: int = 100
    ntk_points: int = 100  # inputs on which the NTK is tracked
    lanczos_iters: int = 80
    top_k: int = 5
    trace_probes: int = 100
    slq_probes: int = 8
    prior_sigma: float = 0.02
    pac_lr: float = 1e-3
    pac_steps: int = 2000
    pac_batch: int = 250
    mc_samples: int = 400
    delta: float = 0.025
    delta_prime: float = 0.01


QUICK = Sizes(n_train=128, width=8, steps=60, log_every=20, ntk_points=16, lanczos_iters=24, top_k=3,
              trace_probes=10, slq_probes=2, pac_steps=40, pac_batch=64, mc_samples=16)


def build(flavour: str, width: int, seed: int):
    """``(init_fn, apply_fn)`` of the network: the only place where flax appears."""
    if flavour == "nnx":
        return from_flax(DigitsNet(width, rngs=nnx.Rngs(seed)))  # init_fn returns the module's own parameters
    if flavour == "linen":
        return from_flax(DigitsNetLinen(width))  # init_fn draws parameters from its key
    raise ValueError(f"flavour must be 'nnx' or 'linen', got {flavour!r}")


def main(quick: bool = False, flavour: str = "nnx", seed: int = 0) -> dict[str, Any]:
    """Runs every section and returns what it measured (numbers and arrays), plus the trained parameters."""
    sizes = QUICK if quick else Sizes()
    k_init, k_split, k_hess, k_pac = jax.random.split(jax.random.key(seed), 4)
    digits = data.digits(seed=seed)
    x_all, y_all = jnp.asarray(digits.x_train[:sizes.n_train]), jnp.asarray(digits.y_train[:sizes.n_train])
    train_idx, cert_idx = pb.split_prior_certificate(k_split, len(y_all), 0.5)
    x, y = x_all[train_idx], y_all[train_idx]
    x_test, y_test = jnp.asarray(digits.x_test), jnp.asarray(digits.y_test)

    init_fn, apply_fn = build(flavour, sizes.width, seed)
    _, params0 = init_fn(k_init, (-1, N_PIXELS))
    dim = ravel_pytree(params0)[0].size
    print(f"{flavour} network with {dim} parameters; {len(y)} training, {len(cert_idx)} certificate and "
          f"{len(y_test)} test digits")
    out: dict[str, Any] = {"num_params": dim}
    params = _ntk_and_training(apply_fn, params0, (x, y), (x_test, y_test), sizes, out)
    matvec = _hessian_spectrum(apply_fn, params, (x, y), k_hess, sizes, out)
    _step_sizes(matvec, dim, jax.random.fold_in(k_hess, 1), sizes, out)
    _pac_bayes(apply_fn, params, (x_all[cert_idx], y_all[cert_idx]), (x_test, y_test), k_pac, sizes, out)
    out.update(params=params, loss_fn=losses.cross_entropy(apply_fn), train_data=(x, y))
    return out


# --- 2. The empirical NTK, and how far it moves while the network trains ------------------------------------------
# Theta(x, x') = J(x) J(x')^T with J the Jacobian of the logits in the parameters, averaged over the 10 logits
# (trace_axes). vmap_axes=0 tells the library that example i of the output depends only on example i of the input,
# which is true here (no batch statistics) and lets it take Jacobians per example. Training is plain full-batch
# gradient descent on the cross-entropy; the callback records ||Theta_t - Theta_0||_F / ||Theta_0||_F, the alignment
# of Theta_t with Theta_0, and its alignment with the label kernel y y^T, which grows when the network learns features
# instead of staying in the lazy (kernel) regime.


def _ntk_and_training(apply_fn, params0, train_data, test_data, sizes: Sizes, out: dict) -> Any:
    x, y = train_data
    ntk_fn = kernels.empirical_ntk_fn(apply_fn, trace_axes=(-1,), vmap_axes=0)
    x_probe, y_probe = x[:sizes.ntk_points], y[:sizes.ntk_points]
    theta0 = jax.jit(lambda p: ntk_fn(x_probe, None, p))(params0)
    eig0 = np.linalg.eigvalsh(np.asarray(theta0, np.float64))
    print(f"NTK at initialization on {len(y_probe)} inputs: eigenvalues in [{eig0[0]:.3g}, {eig0[-1]:.3g}], "
          f"condition number {eig0[-1] / max(eig0[0], 1e-30):.3g}")

    loss_fn = losses.cross_entropy(apply_fn)
    callback = dynamics.ntk_tracking_callback(ntk_fn, x_probe, targets=jax.nn.one_hot(y_probe, N_CLASSES))
    params, history = training.train(loss_fn, params0, optax.sgd(sizes.lr), train_data, n_steps=sizes.steps,
                                     log_every=sizes.log_every, callback=callback, desc="gradient descent")
    accuracy = {name: float(jnp.mean(jnp.argmax(apply_fn(params, xs), -1) == ys))
                for name, (xs, ys) in (("train", train_data), ("test", test_data))}
    print(f"training loss {history['loss'][0]:.3f} -> {history['loss'][-1]:.3f} in {sizes.steps} steps "
          f"(lr {sizes.lr}); accuracy train {accuracy['train']:.3f}, test {accuracy['test']:.3f}")
    for step, change, align in zip(history["log_step"], history["ntk_change"], history["target_alignment"],
                                   strict=True):
        print(f"  step {step:5d}: NTK moved {float(change):.3f} (relative Frobenius), alignment with labels "
              f"{float(align):.3f}")
    out.update(ntk_eigenvalues_init=eig0, loss=history["loss"], log_step=history["log_step"],
               ntk_change=history["ntk_change"], ntk_alignment=history["ntk_alignment"],
               target_alignment=history["target_alignment"], train_accuracy=accuracy["train"],
               test_accuracy=accuracy["test"])
    return params


# --- 3. The Hessian of the training loss at the trained parameters ------------------------------------------------
# hessian_matvec turns loss_fn and the data into v -> H v on the flat parameter vector (forward-over-reverse, two
# gradients' cost); the spectral routines see only that product. Lanczos gives the top eigenvalues, Hutchinson's
# estimator the trace (with a standard error), and stochastic Lanczos quadrature the eigenvalue density. The density's
# first quadrature moment is a second, independent estimate of tr(H)/D.


def _hessian_spectrum(apply_fn, params, train_data, key, sizes: Sizes, out: dict):
    k_top, k_trace, k_slq = jax.random.split(key, 3)
    matvec, dim = hessian.hessian_matvec(losses.cross_entropy(apply_fn), params, train_data)
    matvec = jax.jit(matvec)
    top, _ = hessian.top_eigenvalues(matvec, dim, sizes.top_k, key=k_top, num_iters=sizes.lanczos_iters)
    tr = hessian.trace(matvec, dim, key=k_trace, num_probes=sizes.trace_probes)
    density = hessian.spectral_density(matvec, dim, key=k_slq, num_probes=sizes.slq_probes,
                                       num_iters=sizes.lanczos_iters)
    print(f"Hessian ({dim} x {dim}): top eigenvalues {', '.join(f'{float(v):.4g}' for v in top)}")
    print(f"  trace {float(tr.mean):.4g} +- {float(tr.stderr):.2g} (Hutchinson, {sizes.trace_probes} probes); "
          f"SLQ: {dim} x mean eigenvalue = {dim * float(density.moment(1)):.4g}")
    integral = float(jnp.sum((density.density[1:] + density.density[:-1]) / 2 * jnp.diff(density.grid)))
    print(f"  spectral density on [{float(density.grid[0]):.3g}, {float(density.grid[-1]):.3g}] (integral "
          f"{integral:.4f}); quadrature nodes from {float(jnp.min(density.nodes)):.3g} to "
          f"{float(jnp.max(density.nodes)):.3g}")
    out.update(hessian_top=np.asarray(top), hessian_trace=float(tr.mean), hessian_trace_stderr=float(tr.stderr),
               slq_mean_eigenvalue=float(density.moment(1)), slq_nodes=np.asarray(density.nodes),
               slq_weights=np.asarray(density.weights), density_integral=integral)
    return matvec


# --- 4. Smoothness, strong convexity and the step sizes of gradient descent ---------------------------------------
# Locally, L = lambda_max(H) and mu = lambda_min(H) (extreme Ritz values of Lanczos). The descent lemma guarantees
# that a step eta <= 1/L decreases the loss; on the local quadratic model gradient descent is stable iff
# eta < 2/L (the edge of stability of Cohen et al., 2021, where full-batch training tends to settle). Only when
# mu > 0 is the loss locally strongly convex, with condition number kappa = L/mu, best constant step 2/(L + mu) and
# Polyak's heavy ball; a trained network usually has small negative eigenvalues, so kappa is undefined there.


def _step_sizes(matvec, dim: int, key, sizes: Sizes, out: dict) -> None:
    L, mu = (float(c) for c in convergence.curvature_from_matvec(matvec, dim, key=key, num_iters=sizes.lanczos_iters))
    eta_smooth, eta_stable = convergence.step_size_smooth(L), convergence.max_stable_step_size(L)
    print(f"L = {L:.4g}, mu = {mu:.4g}: descent-lemma step 1/L = {eta_smooth:.3g}, stability limit 2/L = "
          f"{eta_stable:.3g}; training used lr = {sizes.lr} ({sizes.lr * L / 2:.2f} of the limit)")
    if mu > 0:
        hb = convergence.heavy_ball(L, mu)
        print(f"  locally strongly convex: kappa = L/mu = {L / mu:.3g}, best step 2/(L+mu) = "
              f"{convergence.step_size_strongly_convex(L, mu):.3g}, heavy ball eta {hb.eta:.3g} beta {hb.beta:.3g}")
    else:
        print("  mu <= 0: not locally strongly convex, so kappa and the linear rates do not apply here")
    out.update(L=L, mu=mu, step_smooth=eta_smooth, step_stable=eta_stable, condition_number=L / mu if mu > 0 else
               math.inf)


# --- 5. A PAC-Bayes certificate for a stochastic version of the network --------------------------------------------
# The stochastic network draws its weights from a diagonal Gaussian Q. Its prior P = N(trained parameters, sigma^2 I)
# is data-dependent but legitimate: the network was trained on the first half of the digits only, so P is independent
# of the second half, on which the certificate is computed (n = its size; Parrado-Hernandez et al., 2012). Starting
# at P, fit_posterior minimizes the quadratic PAC-Bayes bound on that half (a bounded cross-entropy surrogate plus
# KL(Q||P)/n), and certify bounds the true 0-1 risk of Q with probability >= 1 - delta - delta': a Monte-Carlo
# estimate of Q's error on the certificate half, inverted twice through the binary kl (once for the sampling, once
# for the PAC-Bayes bound). Chance level for ten classes is an error of 0.9.


def _pac_bayes(apply_fn, params, cert_data, test_data, key, sizes: Sizes, out: dict) -> None:
    k_fit, k_cert, k_test = jax.random.split(key, 3)
    x, y = cert_data
    prior = pb.diag_gaussian(params, sizes.prior_sigma)
    objective = pb.make_objective(apply_fn, prior, len(y), sizes.delta)
    posterior, history = pb.fit_posterior(k_fit, objective, prior, optax.adam(sizes.pac_lr), cert_data,
                                          n_steps=sizes.pac_steps, batch_size=min(sizes.pac_batch, len(y)),
                                          log_every=sizes.log_every)
    cert = pb.certify(k_cert, posterior, prior, apply_fn, x, y, num_samples=sizes.mc_samples, delta=sizes.delta,
                      delta_prime=sizes.delta_prime)
    test_error = float(jnp.mean(pb.sampled_risks(k_test, posterior, apply_fn, *test_data, sizes.mc_samples)))
    print(f"PAC-Bayes (n = {cert.n}, KL = {cert.kl:.4g} nats): error of Q on the certificate half "
          f"{cert.emp_risk_mc:.3f} (<= {cert.emp_risk_upper:.3f} w.p. 1 - delta'), certified risk "
          f"{cert.risk_bound:.3f} (Pinsker: {cert.pinsker_bound:.3f}); measured test error of Q {test_error:.3f}; "
          f"bound objective {history['objective'][0]:.3f} -> {history['objective'][-1]:.3f}")
    out.update(certificate=cert.as_dict(), stochastic_test_error=test_error, pac_objective=history["objective"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    parser.add_argument("--linen", action="store_true", help="the same network as a flax.linen module")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(quick=args.quick, flavour="linen" if args.linen else "nnx", seed=args.seed)
