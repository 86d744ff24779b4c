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
        blocks = [self.words_.transform(items), self.chars_.transform(items) * self.char_weight]
        blocks.append(self._channels(items))
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    @property
    def word_slice(self) -> slice:
        """Columns of the lemma block, the part explanations are read from."""
        return slice(0, self.n_words_)
