"""Maximum margin vs perceptron margin, and the implicit bias of logistic-loss gradient descent.

The hard-margin classifier (QP) has the largest geometric margin; the perceptron stops at some separator with a
smaller one. Gradient descent on the logistic loss of separable data diverges in norm while its direction converges
to the max-margin direction, slowly: the angle is O(1/log t) (Soudry et al., 2018, JMLR). The fitted slope of
log(angle) against log(log t) is reported as a metric: over the last two decades of a 2e5-step run it is about -1.9,
steeper than the asymptotic -1 because the bounded residual rho(t) = w(t) - w_svm log t is itself still converging.
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dl_theory import checks, data
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots
from dl_theory.models.classical.linear import logistic_loss
from dl_theory.models.classical.max_margin import max_margin
from dl_theory.models.classical.perceptron import margins, perceptron
from dl_theory.stats import loglog_slope
from dl_theory.training import train


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    n_points: Annotated[int, checks.at_least(2)] = 60
    dim: Annotated[int, checks.at_least(2)] = 2
    margin: Annotated[float, checks.in_interval(0.0, 1.0)] = 0.1
    lr: Annotated[float, checks.positive] = 1.0
    n_steps: Annotated[int, checks.at_least(1000)] = 1_000_000  # the angle fit uses the last 99% of >= 100 logs
    log_every: Annotated[int, checks.count] = 1000

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_steps=200_000, log_every=1000)


def run(cfg: Config) -> Result:
    x, y, w_teacher = data.planted_margin(jax.random.key(cfg.seed), cfg.n_points, cfg.dim, cfg.margin)
    svm = max_margin(np.asarray(x), np.asarray(y))
    svm_margins = np.asarray(margins(svm.w, x, y))
    support = np.isclose(svm_margins, svm.margin, rtol=1e-6)
    p = perceptron(x, y, max_epochs=10_000)
    perceptron_margin = float(jnp.min(margins(p.w, x, y)))
    teacher_margin = float(jnp.min(margins(w_teacher, x, y)))

    w_svm = jnp.asarray(svm.w, x.dtype)

    def cosine(step, w):
        return {"cosine": jnp.dot(w, w_svm) / jnp.linalg.norm(w), "norm": jnp.linalg.norm(w)}

    def loss(w, batch):
        xb, yb = batch
        return logistic_loss(w, xb, (yb + 1) / 2)

    w, history = train(loss, jnp.zeros(cfg.dim), optax.sgd(cfg.lr), (x, y), n_steps=cfg.n_steps,
                       log_every=cfg.log_every, callback=cosine, desc="logistic GD")
    steps, cos = history["log_step"][1:], history["cosine"][1:]
    angle = np.arccos(np.clip(cos.astype(np.float64), -1, 1))
    late = steps >= steps[-1] // 100
    slope, _ = loglog_slope(np.log(steps[late]), angle[late])
    final_cos = float(cos[-1])
    claims = [
        Claim.at_most("kkt", "max violation of y_i w.x_i >= 1 at the QP solution", 0.0, svm.violation, slack=1e-9),
        Claim.at_least("support-vectors", "number of points attaining the max margin (2-D: at least 2)", 2,
                       int(support.sum())),
        Claim.at_least("svm-beats-teacher", "max margin >= margin of the planted separator", teacher_margin,
                       svm.margin, slack=1e-9),
        Claim.at_most("perceptron-below-svm", "perceptron margin <= max margin", svm.margin, perceptron_margin),
        Claim.at_least("gd-direction", f"cos(w_GD, w_svm) after {cfg.n_steps} logistic GD steps", 0.999,
                       final_cos),
        Claim.at_most("gd-turning", "angle(w_GD, w_svm) at the end / angle at 1% of the run", 1.0,
                      float(angle[-1] / angle[late][0])),
    ]
    metrics = {"svm_margin": svm.margin, "perceptron_margin": perceptron_margin, "teacher_margin": teacher_margin,
               "final_cosine": final_cos, "final_norm": float(history["norm"][-1]), "angle_loglog_slope": slope}
    return Result(claims, metrics, dict(x=np.asarray(x), y=np.asarray(y), w_svm=svm.w, w_p=np.asarray(p.w),
                                        w_gd=np.asarray(w), steps=steps, cos=cos, margin=svm.margin,
                                        support=support))


def plot(result: Result):
    d = result.data
    fig, (ax1, ax2) = subplots(1, 2, width=4.4, title="Max margin, perceptron, and logistic GD")
    x, y = d["x"], d["y"]
    ax1.scatter(*x[y > 0].T, s=12, label="y=+1")
    ax1.scatter(*x[y < 0].T, s=12, label="y=−1")
    ax1.scatter(*x[d["support"]].T, s=60, facecolors="none", edgecolors="black", label="support vectors")
    t = np.linspace(-1.1, 1.1, 2)
    for w, name, style in [(d["w_svm"], "max margin", "-"), (d["w_p"], "perceptron", ":"),
                           (d["w_gd"], "logistic GD", "--")]:
        normal = np.array([-w[1], w[0]]) / np.linalg.norm(w)
        ax1.plot(*(t[:, None] * normal).T, style, color="black" if name == "max margin" else None, label=name)
    normal = np.array([-d["w_svm"][1], d["w_svm"][0]])
    for side in (-1, 1):
        ax1.plot(*(t[:, None] * normal + side * d["margin"] * d["w_svm"]).T, color="0.6", lw=0.8)
    ax1.set(aspect="equal", xlim=(-1.1, 1.1), ylim=(-1.1, 1.1), title="separators")
    ax1.legend(fontsize=6.5, loc="lower right")
    ax2.loglog(d["steps"], 1 - d["cos"], label="1 − cos(w_t, w_svm)")
    ax2.loglog(d["steps"], 1 / np.log(d["steps"]) ** 2 * (1 - d["cos"][-1]) * np.log(d["steps"][-1]) ** 2,
               color="black", ls="--", lw=1, label="∝ 1/log² t (angle ∝ 1/log t)")
    ax2.set(xlabel="GD step t", title="direction → max margin, slowly")
    ax2.legend()
    return fig


EXPERIMENT = Experiment(
    id="perceptron-max-margin",
    description="Hard-margin QP vs perceptron margin; logistic-loss GD turns toward the max-margin direction.",
    config=Config, run=run, plot=plot)
