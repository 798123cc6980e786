"""The planted-topic corpus and skip-gram pair extraction, against brute-force loops and the exact context law."""

import jax
import numpy as np
import pytest

from dl_theory.data.corpus import context_distribution, pair_counts, planted_corpus, skipgram_pairs


def test_skipgram_pairs_match_a_brute_force_loop():
    tokens = np.array([[1, 2, 3, 4, 5], [6, 7, 8, 9, 0]])
    centers, contexts = skipgram_pairs(tokens, 2)
    brute = sorted((s[i], s[j]) for s in tokens for i in range(5) for j in range(5) if 1 <= abs(i - j) <= 2)
    assert sorted(zip(np.asarray(centers).tolist(), np.asarray(contexts).tolist(), strict=True)) == brute
    counts = np.asarray(pair_counts(centers, contexts, 10))
    assert counts.sum() == len(brute) == 2 * 2 * (2 * 5 - 2 - 1)
    assert counts[1, 3] == 1 and counts[3, 1] == 1 and counts[1, 4] == 0


def test_planted_corpus_follows_its_context_distribution(key):
    corpus = planted_corpus(key, n_topics=3, words_per_topic=4, n_function_words=2, n_sentences=3000,
                            sentence_length=6, p_function=0.25)
    topic = np.asarray(corpus.topic_V)
    assert corpus.vocab_size == 14 and corpus.n_topics == 3 and (topic < 0).sum() == 2
    tokens = np.asarray(corpus.tokens_SxL)
    content = np.where(topic[tokens] >= 0, topic[tokens], -1)
    one_topic = [len(set(row[row >= 0])) <= 1 for row in content]
    assert all(one_topic)  # every sentence uses one topic's content words
    p = context_distribution(topic, 0.25)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    counts = np.asarray(pair_counts(*skipgram_pairs(tokens, 1), 14))
    n_row = counts.sum(axis=1, keepdims=True)
    se = np.sqrt(p * (1 - p) / n_row)
    assert np.all(np.abs(counts / n_row - p) <= 5 * se + 1e-12)


@pytest.mark.parametrize("call, match", [
    (lambda: skipgram_pairs(np.array([[1, 2, 3]]), 3), "tokens_SxL must be sentences of more than window=3 words"),
    (lambda: skipgram_pairs(np.array([1, 2, 3]), 0), "window"),
    (lambda: planted_corpus(jax.random.key(0), n_topics=1), "n_topics"),
    (lambda: planted_corpus(jax.random.key(0), p_function=1.0), "p_function"),
    (lambda: planted_corpus(jax.random.key(0), n_function_words=0, p_function=0.2), "p_function"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
