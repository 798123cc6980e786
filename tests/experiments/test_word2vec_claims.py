"""word2vec on a shrunk config: every claim holds (identities, topic recovery, Bayes floor, shifted PMI)."""

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.convolutions import word2vec


def test_word2vec_claims_hold():
    result = word2vec.run(word2vec.Config(n_topics=4, words_per_topic=12, n_function_words=6, n_sentences=3000,
                                          n_heldout=600, steps=500, log_every=500, n_check_pairs=50))
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert {"softmax-grad-closed-form", "negative-sampling-vs-definition", "knn-topic-accuracy-softmax",
            "knn-topic-accuracy-negative-sampling", "sgns-shifted-pmi"} <= {c.id for c in result.claims}


@pytest.mark.parametrize("overrides", [{"window": "0"}, {"p_function": "1.0"}, {"n_topics": "1"},
                                       {"learning_rate": "0"}, {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        word2vec.EXPERIMENT.make_config(quick=True, overrides=overrides)
