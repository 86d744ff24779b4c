import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from pettriage.classifier.callers import SIDES, named_caller
from pettriage.classifier.dataset import load_corpus
from pettriage.classifier.domain import mentions_service
from pettriage.classifier.features import FeatureBuilder, lemma_ngrams, prepare
from pettriage.classifier.heads import LinearHead
from pettriage.classifier.labels import HEAD_LABELS

from .conftest import CORPUS


@pytest.fixture(scope="module")
def matrix():
    records = load_corpus(CORPUS)[::6]
    items = prepare([r["text"] for r in records], [r["channel"] for r in records])
    return FeatureBuilder().fit_transform(items), records


@pytest.mark.parametrize("head", ["category", "urgency", "is_hard", "reporter"])
def test_fast_probabilities_equal_scikit_learns(matrix, head):
    X, records = matrix
    y = [str(r[head]).lower() for r in records]
    fitted = LinearHead(HEAD_LABELS[head]).fit(X, y)
    ours = fitted.predict_proba(X)
    reference = fitted.model_.predict_proba(X)
    order = [list(fitted.model_.classes_).index(label) for label in HEAD_LABELS[head]]
    np.testing.assert_allclose(ours, reference[:, order], atol=1e-5)
    np.testing.assert_allclose(ours.sum(axis=1), 1.0, atol=1e-6)


def test_unknown_label_is_refused(matrix):
    X, records = matrix
    with pytest.raises(ValueError, match="Expected labels among"):
        LinearHead(("client", "executor")).fit(X, ["manager"] * len(records))


def test_too_few_examples_to_calibrate_still_predicts(matrix):
    X, _ = matrix
    y = ["client"] * (X.shape[0] - 1) + ["executor"]
    proba = LinearHead(("client", "executor")).fit(X, y).predict_proba(X[:3])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def _no_service_word(builder, items) -> sp.csr_matrix:
    """The domain column, written plainly: the weight where no word of the service occurs."""
    column = [0.0 if mentions_service(item.tokens) else 1.0 for item in items]
    return sp.csr_matrix(np.array(column, dtype=np.float32)[:, None] * builder.domain_weight)


def _named_caller(builder, items) -> sp.csr_matrix:
    """The caller columns, written plainly: the weight in the named side's column of a call note."""
    columns = np.zeros((len(items), len(SIDES)), dtype=np.float32)
    for row, item in enumerate(items):
        side = named_caller(item.tokens)
        if item.channel == "call_note" and side:
            columns[row, SIDES.index(side)] = builder.caller_weight
    return sp.csr_matrix(columns)


def _scikit_learns(builder, items) -> tuple:
    """scikit-learn's TfidfVectorizers with the builder's settings, fitted to the same items:
    the reference for the builder's own fitting and transforming."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    words = TfidfVectorizer(
        analyzer=lemma_ngrams, min_df=builder.word_min_df, sublinear_tf=True, dtype=np.float32
    )
    chars = TfidfVectorizer(
        analyzer="char_wb",
        preprocessor=lambda item: item.text,
        ngram_range=builder.char_ngram_range,
        min_df=builder.char_min_df,
        max_features=builder.char_max_features,
        sublinear_tf=True,
        dtype=np.float32,
    )
    return words.fit(items), chars.fit(items)


@pytest.mark.parametrize(
    "settings",
    [
        {},  # the defaults: under the character limit, every n-gram in 3 documents is kept
        {"char_max_features": 4000, "word_min_df": 1},  # the limit cuts, through ties
        {"char_ngram_range": (1, 3), "char_min_df": 1, "word_min_df": 5},
    ],
)
def test_fitted_vocabularies_are_scikit_learns(settings):
    records = load_corpus(CORPUS)[::4]
    items = prepare([r["text"] for r in records] + ["", "  ", "а"])
    builder = FeatureBuilder(**settings).fit(items)
    words, chars = _scikit_learns(builder, items)
    for ours, reference in ((builder.words_, words), (builder.chars_, chars)):
        assert ours.vocabulary_ == reference.vocabulary_
        np.testing.assert_array_equal(ours.idf_, reference.idf_)
        assert ours.idf_.dtype == reference.idf_.dtype
    assert builder.word_names_.tolist() == words.get_feature_names_out().tolist()


def test_fast_features_equal_scikit_learns():
    records = load_corpus(CORPUS)[::5]
    items = prepare(
        [r["text"] for r in records] + ["", "а", "ТЕСТ!!! 😡 ёжик"],
        [r["channel"] for r in records] + [None, "chat", "email"],
    )
    builder = FeatureBuilder().fit(items[:-3])
    words, chars = _scikit_learns(builder, items[:-3])
    ours = builder.transform(items)
    reference = sp.hstack(
        [
            words.transform(items),
            chars.transform(items) * builder.char_weight,
            builder._channels(items),
            _no_service_word(builder, items),
            _named_caller(builder, items),
        ],
        format="csr",
    )
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours.toarray(), reference.toarray(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "texts",
    [
        ["", "кот отравился", ""],  # a message without words first and last
        ["", " "],  # no words at all
        ["кот кот кот кот, кот!"],
    ],
)
def test_fast_features_equal_scikit_learns_at_the_edges(texts):
    records = load_corpus(CORPUS)[::7]
    fitted_to = prepare([r["text"] for r in records])
    builder = FeatureBuilder().fit(fitted_to)
    words, chars = _scikit_learns(builder, fitted_to)
    items = prepare(texts)
    reference = sp.hstack(
        [
            words.transform(items),
            chars.transform(items) * builder.char_weight,
            builder._channels(items),
            _no_service_word(builder, items),
            _named_caller(builder, items),
        ],
        format="csr",
    )
    ours = builder.transform(items)
    np.testing.assert_allclose(ours.toarray(), reference.toarray(), rtol=1e-5, atol=1e-6)


def test_heads_saved_with_transposed_weights_load_c_ordered(matrix):
    X, records = matrix
    head = LinearHead(HEAD_LABELS["urgency"]).fit(X, [r["urgency"] for r in records])
    expected = head.predict_proba(X)
    head.weights_ = np.asfortranarray(head.weights_)  # as files saved before
    loaded = pickle.loads(pickle.dumps(head))
    assert loaded.weights_.flags.c_contiguous
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)
