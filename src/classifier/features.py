"""Features computed once per message and shared by every head.

Three blocks side by side: TF-IDF over lemma 1–2-grams (what was said), TF-IDF over character
2–5-grams inside word boundaries (robust to typos such as «атравилась»), and the channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer

from .labels import CHANNELS
from .lemmatize import Token, analyze_many
from .normalize import normalize


@dataclass(frozen=True, slots=True)
class Prepared:
    """A message after normalization and lemmatization: what every later stage reads."""

    text: str  # normalized
    tokens: tuple[Token, ...]
    channel: str | None

    @property
    def lemmas(self) -> tuple[str, ...]:
        return tuple(t.lemma for t in self.tokens)


def prepare(texts: list[str], channels: list[str | None] | None = None) -> list[Prepared]:
    """Normalize and lemmatize a batch; the single entry to the text path."""
    normalized = [normalize(t) for t in texts]
    channels = channels if channels is not None else [None] * len(texts)
    return [
        Prepared(text, tuple(tokens), channel)
        for text, tokens, channel in zip(
            normalized, analyze_many(normalized), channels, strict=True
        )
    ]


def lemma_ngrams(item: Prepared) -> list[str]:
    """Lemma unigrams and bigrams; a module-level function so the vectorizer pickles."""
    words = item.lemmas
    return [*words, *(f"{a} {b}" for a, b in pairwise(words))]


def _text_of(item: Prepared) -> str:
    return item.text


WORD_CACHE_SIZE = 200_000


def _char_wb(word: str, ngram_range: tuple[int, int]) -> list[str]:
    """Character n-grams of one word padded with spaces, as scikit-learn's "char_wb" makes them."""
    padded = f" {word} "
    grams = []
    for n in range(ngram_range[0], ngram_range[1] + 1):
        grams += [padded[i : i + n] for i in range(max(1, len(padded) - n + 1))]
        if len(padded) <= n:  # the whole word was one n-gram: longer ones would repeat it
            break
    return grams


def _tfidf(
    doc_of: np.ndarray, index: np.ndarray, n_docs: int, idf: np.ndarray, n_features: int
) -> sp.csr_matrix:
    """Sublinear TF × IDF with rows scaled to unit length (TfidfVectorizer's weighting), from
    one (document, feature) pair per occurrence, counted for the whole batch at once."""
    keys, counts = np.unique(doc_of * n_features + index, return_counts=True)
    rows, columns = np.divmod(keys, n_features)
    data = (1.0 + np.log(counts)) * idf[columns]
    norms = np.sqrt(np.bincount(rows, weights=data**2, minlength=n_docs))[rows]
    data = data / np.where(norms > 0, norms, 1.0)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_docs))])
    return sp.csr_matrix((data.astype(np.float32), columns, indptr), shape=(n_docs, n_features))


def _occurrences(per_doc: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(document number, feature index) of every occurrence, from per-document index arrays."""
    lengths = [len(a) for a in per_doc]
    doc_of = np.repeat(np.arange(len(per_doc)), lengths)
    index = np.concatenate(per_doc) if per_doc else np.zeros(0, dtype=np.int64)
    return doc_of, index.astype(np.int64)


class FeatureBuilder(TransformerMixin, BaseEstimator):
    """Lemma n-grams + character n-grams + channel, as one sparse matrix.

    Takes a list of `Prepared`. The column ranges of each block are kept so that explanations
    can read the lemma block alone.
    """

    def __init__(
        self,
        word_min_df: int = 2,
        char_ngram_range: tuple[int, int] = (2, 5),
        char_min_df: int = 3,
        char_max_features: int | None = 150_000,
        char_weight: float = 1.0,
        channel_weight: float = 0.5,
    ):
        self.word_min_df = word_min_df
        self.char_ngram_range = char_ngram_range
        self.char_min_df = char_min_df
        self.char_max_features = char_max_features
        self.char_weight = char_weight
        self.channel_weight = channel_weight

    def fit(self, items: list[Prepared], y=None) -> FeatureBuilder:
        self.words_ = TfidfVectorizer(
            analyzer=lemma_ngrams, min_df=self.word_min_df, sublinear_tf=True, dtype=np.float32
        ).fit(items)
        self.chars_ = TfidfVectorizer(
            analyzer="char_wb",
            preprocessor=_text_of,
            ngram_range=self.char_ngram_range,
            min_df=self.char_min_df,
            max_features=self.char_max_features,
            sublinear_tf=True,
            dtype=np.float32,
        ).fit(items)
        # The cut-off vocabulary is only for introspection and would triple the file size.
        self.words_.stop_words_ = self.chars_.stop_words_ = None
        self.n_words_ = len(self.words_.vocabulary_)
        self.n_chars_ = len(self.chars_.vocabulary_)
        self.word_names_ = self.words_.get_feature_names_out()
        return self

    def _channels(self, items: list[Prepared]) -> sp.csr_matrix:
        rows, cols = [], []
        for row, item in enumerate(items):
            if item.channel in CHANNELS:
                rows.append(row)
                cols.append(CHANNELS.index(item.channel))
        data = np.full(len(rows), self.channel_weight, dtype=np.float32)
        return sp.csr_matrix((data, (rows, cols)), shape=(len(items), len(CHANNELS)))

    def transform(self, items: list[Prepared]) -> sp.csr_matrix:
        """The same matrix scikit-learn's vectorizers give (tested), built faster: character
        n-grams never cross a word boundary, so each distinct word's n-grams are looked up once
        and cached, and counting and weighting run on the whole batch at once."""
        vocabulary = self.words_.vocabulary_
        words = [
            np.array(
                [i for g in lemma_ngrams(item) if (i := vocabulary.get(g)) is not None],
                dtype=np.int64,
            )
            for item in items
        ]
        chars = [self._char_indices(item.text) for item in items]
        blocks = [
            _tfidf(*_occurrences(words), len(items), self.words_.idf_, self.n_words_),
            _tfidf(*_occurrences(chars), len(items), self.chars_.idf_, self.n_chars_)
            * self.char_weight,
            self._channels(items),
        ]
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    def _char_indices(self, text: str) -> np.ndarray:
        parts = [self._word_chars(word) for word in text.split()]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def _word_chars(self, word: str) -> np.ndarray:
        """Vocabulary indices of a word's character n-grams, one per occurrence (cached)."""
        cache = self.__dict__.setdefault("_word_cache", {})
        found = cache.get(word)
        if found is None:
            vocabulary = self.chars_.vocabulary_
            found = np.array(
                [
                    i
                    for g in _char_wb(word, self.char_ngram_range)
                    if (i := vocabulary.get(g)) is not None
                ],
                dtype=np.int64,
            )
            if len(cache) > WORD_CACHE_SIZE:
                cache.clear()
            cache[word] = found
        return found

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_word_cache"}
