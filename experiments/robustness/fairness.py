"""Fairness: demographic parity, equalized odds and equality of opportunity, their conflict, and post-processing.

Notation (the notes write Y-hat for both the target and the prediction): A is the protected attribute, Y the target,
Y-hat the prediction. Demographic parity (DP) asks Y-hat independent of A, equalized odds (EO) Y-hat independent of A
given Y, equality of opportunity the same given Y = 1; each is measured as the max - min over groups of the selection
rate, of the TPR and FPR (the worse of the two), and of the TPR (fairlearn's semantics).

A synthetic population (``dl_theory.data.tabular.biased_population``) has differing base rates, a proxy of A among
the features and label bias (positives of the protected group recorded as negatives). A logistic regression (the
linear ``models.mlp``, trained with ``training.train``) that never sees A scores it. On held-out data:

* the perfect predictor Y-hat = Y satisfies EO exactly and violates DP by the base-rate gap, which equals the planted
  one within sampling error; the criteria are incompatible when base rates differ, because
  sel_a = base_a (TPR_a - FPR_a) + FPR_a;
* enforcing DP (per-group thresholds that select the same fraction of every group, fit on the training split)
  breaks EO: exactly, max(|dTPR|, |dFPR|) >= |base_0 - base_1| (TPR_1 - FPR_1) - |sel_0 - sel_1| on any sample, and
  the violation is many standard errors;
* the EO post-processor (Hardt et al. 2016: per-group ROC hulls, randomized thresholds; fit on the training split)
  satisfies EO on held-out data within sampling error (binomial standard errors of the test rates and of the
  training rates the rule was fit to), and because of EO its DP gap is (base_0 - base_1)(TPR - FPR) at its common
  operating point; it costs accuracy against the unconstrained classifier (a paired difference, measured).

The same classifiers are evaluated on scikit-learn's bundled diabetes data with sex as A and the target binarized at
its median; there the base rates of the two sexes are nearly equal, and the post-processor again satisfies EO on
held-out data within its (larger) sampling error.
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import numpy as np
import optax

from dl_theory import checks, fairness, losses, models
from dl_theory.data.tabular import FairnessData, biased_population, diabetes_sex, recorded_base_rates, split
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots
from dl_theory.fairness.postprocess import roc_points
from dl_theory.stats import paired_difference
from dl_theory.training import train

CLASSIFIERS = ("perfect", "unconstrained", "demographic parity", "equalized odds")


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    n_population: Annotated[int, checks.at_least(1000)] = 200_000
    p_protected: Annotated[float, checks.probability] = 0.4
    base_rate_0: Annotated[float, checks.probability] = 0.5
    base_rate_1: Annotated[float, checks.probability] = 0.3
    label_flip: Annotated[float, checks.in_interval(0.0, 1.0, closed=True)] = 0.2
    test_fraction: Annotated[float, checks.probability] = 0.5
    n_steps: Annotated[int, checks.count] = 500
    learning_rate: Annotated[float, checks.positive] = 0.05
    n_se: Annotated[float, checks.positive] = 5.0

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_population=60_000, n_steps=300)


def _scores(cfg: Config, key: jax.Array, fit: FairnessData, *evaluate: FairnessData) -> list[np.ndarray]:
    """A logistic regression trained on ``fit`` (features only, never A); its logits on ``fit`` and ``evaluate``."""
    init_fn, apply_fn, _ = models.mlp((), out_dim=1)
    _, params = init_fn(key, (-1, fit.x_NxD.shape[1]))
    loss = losses.mean_loss(apply_fn, lambda z, y: losses.logistic(z[:, 0], y))
    data = (np.asarray(fit.x_NxD, np.float32), np.asarray(fit.y_N, np.float32))
    params, _ = train(loss, params, optax.adam(cfg.learning_rate), data, n_steps=cfg.n_steps, desc="fairness")
    return [np.asarray(apply_fn(params, np.asarray(d.x_NxD, np.float32))[:, 0], np.float64) for d in (fit, *evaluate)]


def _criteria(y: np.ndarray, y_pred: np.ndarray, a: np.ndarray) -> dict[str, float]:
    rates = fairness.group_rates(y, y_pred, sensitive_features=a)
    return {"demographic_parity_difference": fairness.demographic_parity_difference(y, y_pred, sensitive_features=a),
            "equalized_odds_difference": fairness.equalized_odds_difference(y, y_pred, sensitive_features=a),
            "equal_opportunity_difference": fairness.equal_opportunity_difference(y, y_pred, sensitive_features=a),
            "accuracy": float(np.mean(y_pred == y)), "selection_rate": rates.selection_rate.tolist(),
            "tpr": rates.tpr.tolist(), "fpr": rates.fpr.tolist(), "base_rate": rates.base_rate.tolist()}


def _classifiers(key: jax.Array, train_set: FairnessData, test: FairnessData, s_train: np.ndarray,
                 s_test: np.ndarray):
    """Held-out predictions of the four classifiers, and the EO fit."""
    k_dp, k_eo = jax.random.split(key)
    rate = float(np.mean(s_train >= 0))
    dp = fairness.fit_demographic_parity(s_train, sensitive_features=train_set.a_N, selection_rate=rate)
    eo = fairness.fit_equalized_odds(s_train, train_set.y_N, sensitive_features=train_set.a_N)
    preds = {"perfect": test.y_N, "unconstrained": (s_test >= 0).astype(np.int64),
             "demographic parity": fairness.predict(dp, s_test, sensitive_features=test.a_N, key=k_dp),
             "equalized odds": fairness.predict(eo.rule, s_test, sensitive_features=test.a_N, key=k_eo)}
    return preds, eo


def _eo_stderr(eo: fairness.EqualizedOddsFit, train_set: FairnessData, test: FairnessData) -> tuple[float, float]:
    """Binomial standard errors of the TPR and FPR differences between the two groups on held-out data: the test
    rates around the rule's population rates, and those around the training rates the rule was fit to."""
    out = []
    for label, rate in ((1, eo.tpr), (0, eo.fpr)):
        counts = [np.sum((d.a_N == a) & (d.y_N == label)) for d in (train_set, test) for a in (0, 1)]
        out.append(float(np.sqrt(rate * (1 - rate) * np.sum(1.0 / np.asarray(counts)))))
    return out[0], out[1]


def _dp_gap_stderr(eo: fairness.EqualizedOddsFit, base: tuple[float, float], train_set: FairnessData,
                   test: FairnessData, selection: list[float]) -> float:
    """Standard error of sel_0 - sel_1 of the EO classifier on held-out data around (base_0 - base_1)(TPR - FPR):
    the test selection rates are proportions, and each group's population TPR and FPR deviate from the common fit
    point by the binomial error of its training rates, weighted by base_a and 1 - base_a."""
    var = 0.0
    for a in (0, 1):
        n_test = np.sum(test.a_N == a)
        var += selection[a] * (1 - selection[a]) / n_test
        for label, rate, weight in ((1, eo.tpr, base[a]), (0, eo.fpr, 1 - base[a])):
            var += weight**2 * rate * (1 - rate) / np.sum((train_set.a_N == a) & (train_set.y_N == label))
    return float(np.sqrt(var))


def run(cfg: Config) -> Result:
    key = jax.random.key(cfg.seed)
    k_pop, k_fit, k_pred, k_fit_real, k_pred_real = jax.random.split(key, 5)
    base_rates = (cfg.base_rate_0, cfg.base_rate_1)
    population = biased_population(k_pop, cfg.n_population, p_protected=cfg.p_protected, base_rates=base_rates,
                                   label_flip=cfg.label_flip)
    train_set, test = split(population, cfg.test_fraction, cfg.seed)
    s_train, s_test = _scores(cfg, k_fit, train_set, test)
    preds, eo = _classifiers(k_pred, train_set, test, s_train, s_test)
    crit = {name: _criteria(test.y_N, p, test.a_N) for name, p in preds.items()}

    base = recorded_base_rates(base_rates, cfg.label_flip)
    n_a = [np.sum(test.a_N == a) for a in (0, 1)]
    gap_se = float(np.sqrt(sum(b * (1 - b) / n for b, n in zip(base, n_a, strict=True))))
    se_tpr, se_fpr = _eo_stderr(eo, train_set, test)
    dp_c = crit["demographic parity"]
    tpr1, fpr1, sel = dp_c["tpr"][1], dp_c["fpr"][1], dp_c["selection_rate"]
    test_base = dp_c["base_rate"]
    dp_eo_bound = abs(test_base[0] - test_base[1]) * (tpr1 - fpr1) - abs(sel[0] - sel[1])
    dp_eo_se = max(float(np.sqrt(sum(r * (1 - r) / np.sum((test.a_N == a) & (test.y_N == label))
                                     for a, r in enumerate(dp_c[name])))) for name, label in (("tpr", 1), ("fpr", 0)))
    eo_c = crit["equalized odds"]
    eo_sel = eo_c["selection_rate"]
    dp_gap_theory = (base[0] - base[1]) * (eo.tpr - eo.fpr)
    dp_gap_se = _dp_gap_stderr(eo, base, train_set, test, eo_sel)
    cost = crit["unconstrained"]["accuracy"] - eo_c["accuracy"]
    cost_se = paired_difference(preds["unconstrained"] == test.y_N, preds["equalized odds"] == test.y_N)[1]

    real_train, real_test = split(diabetes_sex(), cfg.test_fraction, cfg.seed)
    r_train, r_test = _scores(cfg, k_fit_real, real_train, real_test)
    real_preds, real_eo = _classifiers(k_pred_real, real_train, real_test, r_train, r_test)
    real_crit = {name: _criteria(real_test.y_N, p, real_test.a_N) for name, p in real_preds.items()}
    real_se = max(_eo_stderr(real_eo, real_train, real_test))

    k = cfg.n_se
    claims = [
        Claim.close("perfect-violates-dp", f"DP difference of Y-hat = Y on held-out data = planted base-rate gap "
                    f"P(Y=1|A=0) - P(Y=1|A=1) (binomial SE {gap_se:.4f}, tolerance {k:g} SE)", base[0] - base[1],
                    crit["perfect"]["demographic_parity_difference"], atol=k * gap_se),
        Claim.at_most("perfect-satisfies-eo", "EO difference of Y-hat = Y (TPR = 1, FPR = 0 in every group)", 0.0,
                      crit["perfect"]["equalized_odds_difference"]),
        Claim.at_most("dp-thresholds-satisfy-dp", f"DP difference of the DP-thresholded classifier on held-out data "
                      f"(tolerance {k:g} binomial SE of the selection-rate difference)", 0.0,
                      dp_c["demographic_parity_difference"],
                      slack=k * float(np.sqrt(sum(s * (1 - s) / n for s, n in zip(sel, n_a, strict=True))
                                              + sum(s * (1 - s) / np.sum(train_set.a_N == a)
                                                    for a, s in enumerate(sel))))),
        Claim.at_least("dp-breaks-eo-bound", "EO difference of the DP-thresholded classifier >= |base_0 - base_1| "
                       "(TPR_1 - FPR_1) - |sel_0 - sel_1| (an identity on the held-out sample)", dp_eo_bound,
                       dp_c["equalized_odds_difference"]),
        Claim.at_least("dp-breaks-eo", f"EO difference of the DP-thresholded classifier on held-out data > {k:g} "
                       f"binomial SE ({dp_eo_se:.4f})", k * dp_eo_se, dp_c["equalized_odds_difference"]),
        Claim.at_most("postprocessing-eo-held-out", f"EO difference of the post-processed classifier on held-out "
                      f"data (tolerance {k:g} SE, SE of the TPR gap {se_tpr:.4f}, FPR gap {se_fpr:.4f})", 0.0,
                      eo_c["equalized_odds_difference"], slack=k * max(se_tpr, se_fpr)),
        Claim.close("eo-forces-dp-gap", f"sel_0 - sel_1 of the post-processed classifier = (base_0 - base_1) "
                    f"(TPR - FPR) at its operating point (SE {dp_gap_se:.4f}, tolerance {k:g} SE)", dp_gap_theory,
                    eo_sel[0] - eo_sel[1], atol=k * dp_gap_se),
        Claim.at_least("postprocessing-accuracy-cost", f"accuracy of the unconstrained classifier - accuracy of the "
                       f"post-processed one on held-out data > {k:g} paired SE ({cost_se:.4f})", k * cost_se, cost),
        Claim.at_most("diabetes-postprocessing-eo", f"diabetes (A = sex): EO difference of the post-processed "
                      f"classifier on held-out data (tolerance {k:g} SE, SE {real_se:.3f})", 0.0,
                      real_crit["equalized odds"]["equalized_odds_difference"], slack=k * real_se),
    ]
    metrics = {"synthetic": crit, "diabetes": real_crit, "planted_recorded_base_rates": list(base),
               "eo_operating_point": {"fpr": eo.fpr, "tpr": eo.tpr, "train_accuracy": eo.accuracy},
               "diabetes_eo_operating_point": {"fpr": real_eo.fpr, "tpr": real_eo.tpr},
               "accuracy_cost_of_eo": cost, "accuracy_cost_of_eo_se": cost_se,
               "accuracy_cost_of_dp": crit["unconstrained"]["accuracy"] - dp_c["accuracy"],
               "n_train": len(train_set.y_N), "n_test": len(test.y_N)}
    rocs = [roc_points(s_test[test.a_N == a], test.y_N[test.a_N == a])[:2] for a in (0, 1)]
    return Result(claims, metrics, {"crit": crit, "real": real_crit, "rocs": rocs, "eo": (eo.fpr, eo.tpr)})


def plot(result: Result):
    d = result.data
    fig, (ax1, ax2, ax3) = subplots(1, 3, width=4.2, title="Fairness criteria under differing base rates")
    names = ("demographic_parity_difference", "equalized_odds_difference", "equal_opportunity_difference")
    labels = ("DP", "EO", "EOpp")
    for ax, crit, title in ((ax1, d["crit"], "synthetic population (held out)"),
                            (ax3, d["real"], "diabetes, A = sex (held out)")):
        width = 0.8 / len(CLASSIFIERS)
        for i, c in enumerate(CLASSIFIERS):
            ax.bar(np.arange(3) + (i - 1.5) * width, [crit[c][n] for n in names], width,
                   label=f"{c} (acc {crit[c]['accuracy']:.3f})")
        ax.set_xticks(range(3), labels)
        ax.set(ylabel="max - min over groups", title=title)
        ax.legend(fontsize=7)
    for a, (fpr, tpr) in enumerate(d["rocs"]):
        (line,) = ax2.plot(fpr, tpr, label=f"ROC of the score, A={a}")
        for marker, c in zip("sD^o", CLASSIFIERS, strict=True):
            ax2.plot(d["crit"][c]["fpr"][a], d["crit"][c]["tpr"][a], marker, color=line.get_color(), ms=6,
                     mfc="none" if a else line.get_color(), label=c if a == 0 else None)
    ax2.plot(*d["eo"], "k+", ms=12, label="EO operating point (train)")
    ax2.plot([0, 1], [0, 1], color="0.6", lw=0.8)
    ax2.set(xlabel="FPR", ylabel="TPR", title="group rates on held-out data (filled: A=0)")
    ax2.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="fairness",
    description="DP, EO and equal opportunity with differing base rates: incompatibility, EO post-processing.",
    config=Config, run=run, plot=plot)
