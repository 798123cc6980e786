"""Data sets that work offline: seeded synthetic generators, bundled real data, and loaders for files on disk.

By topic: :mod:`~dl_theory.data.sequences` (adding and copy problems), :mod:`~dl_theory.data.unsegmented`
(unsegmented token sequences for CTC), :mod:`~dl_theory.data.feedback_tasks` (seq2seq tasks with Bayes references),
:mod:`~dl_theory.data.graphs` (graph generators, Zachary's karate club), :mod:`~dl_theory.data.wl_pairs`
(1-WL-equivalent non-isomorphic graphs), :mod:`~dl_theory.data.tabular` (a biased population, the diabetes data by
sex, planted features), :mod:`~dl_theory.data.corpus` (a corpus with planted topics for word2vec).
"""

from dl_theory.data import corpus, feedback_tasks, graphs, sequences, tabular, unsegmented, wl_pairs
from dl_theory.data._datasets import (
    Dataset,
    binary,
    digits,
    digits_subset,
    gaussian,
    load_cifar10,
    load_mnist,
    mnist1d,
    planted_margin,
    random_labels,
    read_idx,
    rings,
    teacher_student,
    two_moons,
)
from dl_theory.data.corpus import Corpus, context_distribution, pair_counts, planted_corpus, skipgram_pairs
from dl_theory.data.feedback_tasks import counting_hmm, counting_transition, hmm_bayes_errors, shifted_tokens
from dl_theory.data.graphs import (
    cycle,
    disjoint_union,
    erdos_renyi,
    karate_club,
    random_regular,
    stochastic_block_model,
)
from dl_theory.data.sequences import ADDING_TRIVIAL_MSE, adding_problem, copy_problem
from dl_theory.data.tabular import FairnessData, biased_population, diabetes_sex, planted_features
from dl_theory.data.unsegmented import Unsegmented, token_templates, unsegmented_tokens
from dl_theory.data.wl_pairs import WL_PAIRS, random_graphs, wl_pair, wl_pair_graphs

__all__ = [
    "ADDING_TRIVIAL_MSE", "Corpus", "Dataset", "FairnessData", "Unsegmented", "WL_PAIRS", "adding_problem",
    "biased_population", "binary", "context_distribution", "copy_problem", "corpus", "counting_hmm",
    "counting_transition", "cycle", "diabetes_sex", "digits", "digits_subset", "disjoint_union", "erdos_renyi",
    "feedback_tasks", "gaussian", "graphs", "hmm_bayes_errors", "karate_club", "load_cifar10", "load_mnist",
    "mnist1d", "pair_counts", "planted_corpus", "planted_features", "planted_margin", "random_graphs",
    "random_labels", "random_regular", "read_idx", "rings", "sequences", "shifted_tokens", "skipgram_pairs",
    "stochastic_block_model", "tabular", "teacher_student", "token_templates", "two_moons", "unsegmented",
    "unsegmented_tokens", "wl_pair", "wl_pair_graphs", "wl_pairs",
]
