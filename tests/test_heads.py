import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from pettriage.classifier.callers import SIDES, named_caller
from pettriage.classifier.dataset import load_corpus
from pettriage.classifier.domain import mentions_service
from pettriage.classifier.features import FeatureBuilder, prepare
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


def test_fast_features_equal_scikit_learns():
    records = load_corpus(CORPUS)[::5]
    items = prepare(
        [r["text"] for r in records] + ["", "а", "ТЕСТ!!! 😡 ёжик"],
        [r["channel"] for r in records] + [None, "chat", "email"],
    )
    builder = FeatureBuilder().fit(items[:-3])
    ours = builder.transform(items)
    reference = sp.hstack(
        [
            builder.words_.transform(items),
            builder.chars_.transform(items) * builder.char_weight,
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
    builder = FeatureBuilder().fit(prepare([r["text"] for r in records]))
    items = prepare(texts)
    reference = sp.hstack(
        [
            builder.words_.transform(items),
            builder.chars_.transform(items) * builder.char_weight,
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
