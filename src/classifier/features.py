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


def _count(indices: list[int | None]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for index in indices:
        if index is not None:
            counts[index] = counts.get(index, 0) + 1
    return counts


def _tfidf(rows: list[dict[int, int]], idf: np.ndarray, n_features: int) -> sp.csr_matrix:
    """Sublinear TF × IDF, rows scaled to unit length: TfidfVectorizer's weighting."""
    indptr = np.cumsum([0, *(len(r) for r in rows)])
    indices = np.fromiter((i for r in rows for i in sorted(r)), dtype=np.int64, count=indptr[-1])
    counts = np.fromiter(
        (r[i] for r in rows for i in sorted(r)), dtype=np.float64, count=indptr[-1]
    )
    data = (1.0 + np.log(counts)) * idf[indices]
    row_of = np.repeat(np.arange(len(rows)), np.diff(indptr))
    norms = np.sqrt(np.bincount(row_of, weights=data**2, minlength=len(rows)))[row_of]
    data = data / np.where(norms > 0, norms, 1.0)
    return sp.csr_matrix((data.astype(np.float32), indices, indptr), shape=(len(rows), n_features))


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
        n-grams never cross a word boundary, so each distinct word is counted once and cached,
        and the TF-IDF weighting is applied to all rows at once."""
        vocabulary = self.words_.vocabulary_
        words = [_count([vocabulary.get(g) for g in lemma_ngrams(item)]) for item in items]
        chars = [self._char_counts(item.text) for item in items]
        blocks = [
            _tfidf(words, self.words_.idf_, self.n_words_),
            _tfidf(chars, self.chars_.idf_, self.n_chars_) * self.char_weight,
            self._channels(items),
        ]
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    def _char_counts(self, text: str) -> dict[int, int]:
        counts: dict[int, int] = {}
        for word in text.split():
            for index, n in self._word_chars(word):
                counts[index] = counts.get(index, 0) + n
        return counts

    def _word_chars(self, word: str) -> tuple[tuple[int, int], ...]:
        cache = self.__dict__.setdefault("_word_cache", {})
        found = cache.get(word)
        if found is None:
            vocabulary = self.chars_.vocabulary_
            counts = _count([vocabulary.get(g) for g in _char_wb(word, self.char_ngram_range)])
            found = tuple(counts.items())
            if len(cache) > WORD_CACHE_SIZE:
                cache.clear()
            cache[word] = found
        return found

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_word_cache"}
