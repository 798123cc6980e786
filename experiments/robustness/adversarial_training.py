"""Adversarial examples and adversarial training of a ReLU network on scikit-learn's 8x8 digits.

A one-hidden-layer ReLU net is trained normally (cross-entropy, Adam) and then attacked inside the pixel box [0, 1]
with L∞ FGSM and PGD over a grid of radii eps. Both attacks follow the gradient of the loss, not of the network
output, and PGD takes steps alpha = 2.5 eps / n_steps <= eps with a random start (the notes use eps itself as the
step and the gradient of f). Claims:

* PGD is at least as strong as FGSM at every radius, for both nets: the robust accuracy under PGD exceeds the one
  under FGSM by at most k paired standard errors of the test-set difference. PGD here is not started from the FGSM
  point, so this is measured, not true by construction.
* The normally trained net is accurate (clean accuracy far above chance) yet its PGD robust accuracy collapses below
  chance (1/10) at a moderate radius.
* Madry's adversarial training (the same net, each minibatch replaced by its PGD adversarial examples at the training
  radius) raises the PGD robust accuracy at that radius by more than k standard errors, and costs clean accuracy, also
  by more than k standard errors: the robustness-accuracy trade-off (Tsipras et al. 2019).

Standard errors are those of a paired difference of per-example 0/1 outcomes over the test set (the randomness the
claims are about is the test sample); k = 4.
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dl_theory import checks
from dl_theory.data import digits
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots, theory_line
from dl_theory.losses import cross_entropy
from dl_theory.models import dense_mlp
from dl_theory.robustness import adversarial_loss, robust_correct
from dl_theory.stats import paired_difference, proportion_stderr
from dl_theory.training import train

PIXELS = (0.0, 1.0)  # digits are scaled into [0, 1]; every attack stays in that box
CHANCE = 0.1  # ten classes
K_SE = 4.0


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    hidden: Annotated[tuple[int, ...], checks.each(checks.count)] = (256,)
    n_steps: Annotated[int, checks.count] = 3000
    batch_size: Annotated[int, checks.count] = 128
    learning_rate: Annotated[float, checks.positive] = 3e-3
    eps_train: Annotated[float, checks.in_interval(0.0, 1.0)] = 0.3
    train_pgd_steps: Annotated[int, checks.count] = 7
    eval_pgd_steps: Annotated[int, checks.count] = 50
    collapse_eps: Annotated[float, checks.in_interval(0.0, 1.0)] = 0.2
    eps_grid: Annotated[tuple[float, ...], checks.each(checks.in_interval(0.0, 1.0, closed=True), min_length=2)] = (
        0.0, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4)

    @classmethod
    def quick(cls) -> "Config":
        return cls(hidden=(128,), n_steps=1000, train_pgd_steps=5, eval_pgd_steps=20,
                   eps_grid=(0.0, 0.05, 0.1, 0.15, 0.2, 0.3))


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    data = digits(seed=cfg.seed)
    init_fn, apply_fn = dense_mlp(cfg.hidden, 10, activation=jax.nn.relu)
    _, params0 = init_fn(jax.random.fold_in(key, 0), (-1, data.x_train.shape[1]))
    train_data = (jnp.asarray(data.x_train), jnp.asarray(data.y_train))
    fit = dict(optimizer=optax.adam(cfg.learning_rate), data=train_data, n_steps=cfg.n_steps,
               batch_size=cfg.batch_size, key=jax.random.fold_in(key, 1), log_every=cfg.n_steps)
    nets = {"standard": train(cross_entropy(apply_fn), params0, desc="standard training", **fit)[0],
            "adversarial": train(adversarial_loss(apply_fn, cfg.eps_train, n_steps=cfg.train_pgd_steps,
                                                  bounds=PIXELS), params0, noise_key=jax.random.fold_in(key, 2),
                                 desc="adversarial training", **fit)[0]}

    eps = np.asarray(sorted(set(cfg.eps_grid) | {0.0, cfg.eps_train, cfg.collapse_eps}))
    ok = {(net, attack): robust_correct(apply_fn, params, data.x_test, data.y_test, eps, attack=attack,
                                        key=jax.random.fold_in(key, 3), n_steps=cfg.eval_pgd_steps, bounds=PIXELS)
          for net, params in nets.items() for attack in ("fgsm", "pgd")}
    acc = {k: v.mean(axis=1) for k, v in ok.items()}
    n_test = len(data.y_test)
    at = {e: int(np.flatnonzero(eps == e)[0]) for e in (0.0, cfg.eps_train, cfg.collapse_eps)}

    excess = {net: [paired_difference(ok[net, "pgd"][i], ok[net, "fgsm"][i]) for i in range(len(eps))] for net in nets}
    worst = {net: max(range(1, len(eps)), key=lambda i, net=net: excess[net][i][0] - K_SE * excess[net][i][1])
             for net in nets}
    t, c = at[cfg.eps_train], at[cfg.collapse_eps]
    gain, gain_se = paired_difference(ok["adversarial", "pgd"][t], ok["standard", "pgd"][t])
    cost, cost_se = paired_difference(ok["standard", "pgd"][at[0.0]], ok["adversarial", "pgd"][at[0.0]])
    clean_std = float(acc["standard", "pgd"][at[0.0]])
    collapsed = float(acc["standard", "pgd"][c])

    claims = [
        *(Claim.at_most(f"pgd-le-fgsm-{net}", f"{net} net: max over eps of the PGD minus FGSM robust accuracy "
                        f"(worst at eps={eps[worst[net]]:g}) <= {K_SE:g} paired SE", 0.0,
                        excess[net][worst[net]][0], slack=K_SE * excess[net][worst[net]][1]) for net in nets),
        Claim.at_least("standard-clean-accuracy", f"normally trained net: clean test accuracy >= 0.9 (chance "
                       f"{CHANCE:g}; binomial SE {proportion_stderr(clean_std, n_test):.3f})", 0.9, clean_std),
        Claim.at_most("standard-collapses", f"normally trained net: PGD robust accuracy at eps={cfg.collapse_eps:g} "
                      f"below chance {CHANCE:g} (binomial SE {proportion_stderr(collapsed, n_test):.3f})", CHANCE,
                      collapsed),
        Claim.at_least("adversarial-training-raises-robustness", f"PGD robust accuracy at the training radius "
                       f"eps={cfg.eps_train:g}: adversarially trained minus standard >= {K_SE:g} paired SE "
                       f"({gain_se:.4f})", K_SE * gain_se, gain),
        Claim.at_least("adversarial-training-costs-clean-accuracy", f"clean accuracy: standard minus adversarially "
                       f"trained >= {K_SE:g} paired SE ({cost_se:.4f})", K_SE * cost_se, cost),
    ]
    metrics = {
        "eps": eps.tolist(), "n_test": n_test,
        "robust_accuracy": {f"{net}/{attack}": a.tolist() for (net, attack), a in acc.items()},
        "pgd_minus_fgsm": {net: [m for m, _ in excess[net]] for net in nets},
        "clean_accuracy": {net: float(acc[net, "pgd"][at[0.0]]) for net in nets},
        "robust_gain_at_eps_train": gain, "robust_gain_se": gain_se,
        "clean_cost": cost, "clean_cost_se": cost_se,
    }
    return Result(claims, metrics, {"eps": eps, "acc": acc, "n_test": n_test, "eps_train": cfg.eps_train})


def plot(result: Result):
    d = result.data
    fig, (ax1, ax2) = subplots(1, 2, width=4.6, title="Adversarial robustness on 8x8 digits (L∞, pixels in [0, 1])")
    colors = {"standard": "tab:blue", "adversarial": "tab:red"}
    for (net, attack), a in d["acc"].items():
        ax1.errorbar(d["eps"], a, yerr=proportion_stderr(a, d["n_test"]), color=colors[net],
                     ls="-" if attack == "pgd" else ":", marker="o" if attack == "pgd" else "s", ms=3, capsize=2,
                     label=f"{net} training, {attack.upper()}")
    theory_line(ax1, d["eps"], np.full(len(d["eps"]), CHANCE), label="chance", color="0.4")
    ax1.axvline(d["eps_train"], color="tab:red", lw=0.8, alpha=0.5)
    ax1.set(xlabel="ε (L∞ radius)", ylabel="test accuracy under attack", title="robust accuracy vs ε")
    ax1.legend(fontsize=7)
    i_train = int(np.flatnonzero(d["eps"] == d["eps_train"])[0])
    labels = ["clean", f"PGD ε={d['eps_train']:g}"]
    for j, net in enumerate(("standard", "adversarial")):
        values = [d["acc"][net, "pgd"][0], d["acc"][net, "pgd"][i_train]]
        ax2.bar(np.arange(2) + 0.38 * (j - 0.5), values, width=0.36, color=colors[net],
                yerr=proportion_stderr(np.asarray(values), d["n_test"]), capsize=3, label=f"{net} training")
    ax2.set_xticks(np.arange(2), labels)
    ax2.set(ylabel="test accuracy", title="the robustness–accuracy trade-off")
    ax2.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="adversarial-training",
    description="FGSM/PGD robust accuracy vs ε on digits; Madry adversarial training trades clean for robust accuracy.",
    config=Config, run=run, plot=plot)
