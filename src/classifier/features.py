"""Features computed once per message and shared by every head.

Blocks side by side: TF-IDF over lemma 1–2-grams (what was said), TF-IDF over character
2–5-grams inside word boundaries (robust to typos such as «атравилась»), the channel, and two
flags: no word of the service (`domain`), and who a call note names as the caller (`callers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain, pairwise, repeat

import numpy as np
import scipy.sparse as sp

from .callers import SIDES, named_caller
from .domain import mentions_service
from .labels import CHANNELS
from .lemmatize import Token, analyze_many
from .normalize import normalize
from .translit import read_back
from .vocabulary import FittedVocabulary, fit_vocabulary, terms_of


@dataclass(frozen=True, slots=True)
class Prepared:
    """A message after normalization and lemmatization: what every later stage reads."""

    text: str  # normalized; Latin-script Russian read back in Cyrillic (`translit`)
    tokens: tuple[Token, ...]
    channel: str | None
    transliterated: bool = False  # the text was written in Latin letters and read back

    @property
    def lemmas(self) -> tuple[str, ...]:
        return tuple(t.lemma for t in self.tokens)


def prepare(texts: list[str], channels: list[str | None] | None = None) -> list[Prepared]:
    """Normalize and lemmatize a batch; the single entry to the text path."""
    normalized = [normalize(t) for t in texts]
    read = [read_back(t) for t in normalized]
    channels = channels if channels is not None else [None] * len(texts)
    return [
        Prepared(text, tuple(tokens), channel, text is not before)
        for before, text, tokens, channel in zip(
            normalized, read, analyze_many(read), channels, strict=True
        )
    ]


def lemma_ngrams(item: Prepared) -> list[str]:
    """Lemma unigrams and bigrams: the n-grams of the word block."""
    words = item.lemmas
    return [*words, *(f"{a} {b}" for a, b in pairwise(words))]


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


def _numbered(documents) -> tuple[list[str], list[np.ndarray]]:
    """Each document's n-grams as numbers, in the order the n-grams are first seen: (the
    n-grams, one array of numbers per document)."""
    number: dict[str, int] = {}
    arrays = [
        np.array([number.setdefault(g, len(number)) for g in grams], dtype=np.int64)
        for grams in documents
    ]
    return list(number), arrays


def _tfidf(
    doc_of: np.ndarray, index: np.ndarray, n_docs: int, idf: np.ndarray, n_features: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sublinear TF × IDF with rows scaled to unit length (TfidfVectorizer's weighting), from
    one (document, feature) pair per occurrence, counted for the whole batch at once.

    Returns the (row, column, value) entries sorted by row, then column."""
    # 32-bit keys sort twice as fast (and indices are kept 32-bit from the start); the batch
    # decides whether they are wide enough.
    dtype = np.int32 if n_docs * n_features < np.iinfo(np.int32).max else np.int64
    keys = doc_of.astype(dtype, copy=False) * dtype(n_features) + index.astype(dtype, copy=False)
    keys, counts = np.unique(keys, return_counts=True)
    rows, columns = np.divmod(keys, n_features)
    data = (1.0 + np.log(counts)) * idf[columns]
    norms = np.sqrt(np.bincount(rows, weights=data**2, minlength=n_docs))[rows]
    data = data / np.where(norms > 0, norms, 1.0)
    return rows, columns, data.astype(np.float32)


def _side_by_side(n_docs: int, blocks: list[tuple], widths: list[int]) -> sp.csr_matrix:
    """Blocks of (row, column, value) entries, each sorted by row then column, as one CSR
    matrix with the blocks' columns side by side: what `sp.hstack` gives, without building a
    matrix per block (which cost more than the arithmetic for one message)."""
    offsets = np.cumsum([0, *widths[:-1]]).tolist()
    rows = np.concatenate([b[0] for b in blocks])
    columns = np.concatenate([b[1] + offset for b, offset in zip(blocks, offsets, strict=True)])
    data = np.concatenate([b[2] for b in blocks])
    order = np.argsort(rows, kind="stable")  # within a row, blocks stay in order
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_docs))])
    return sp.csr_matrix((data[order], columns[order], indptr), shape=(n_docs, sum(widths)))


def _flags(cells: list[tuple[int, int]], weight: float) -> tuple[np.ndarray, ...]:
    """(row, column, value) entries of a block of flags: `weight` in each (row, column) cell,
    `cells` in row order."""
    table = np.array(cells, dtype=np.int64).reshape(-1, 2)
    return table[:, 0], table[:, 1], np.full(len(table), weight, dtype=np.float32)


def _occurrences(lengths: list[int], index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(document number, feature index) of every occurrence found in the vocabulary, from the
    indices of all documents one after another (-1 for a miss) and each document's count."""
    doc_of = np.repeat(np.arange(len(lengths), dtype=np.int32), lengths)
    found = index >= 0
    return doc_of[found], index[found]


class FeatureBuilder:
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
        domain_weight: float = 1.0,
        caller_weight: float = 1.0,
    ):
        self.word_min_df = word_min_df
        self.char_ngram_range = char_ngram_range
        self.char_min_df = char_min_df
        self.char_max_features = char_max_features
        self.char_weight = char_weight
        self.channel_weight = channel_weight
        # One column, set when the message has no word of the service (`domain`): lets every
        # head learn that a complaint about a bank is not ours. 0: no such column.
        self.domain_weight = domain_weight
        # Two columns, for a call note whose first named person is an executor or a client
        # (`callers`): the reporter of a retold call. 0: no such columns.
        self.caller_weight = caller_weight

    def get_params(self) -> dict:
        """The constructor's parameters, as scikit-learn's estimators give them."""
        return {name: getattr(self, name) for name in PARAMS}

    def fit_transform(self, items: list[Prepared], y=None) -> sp.csr_matrix:
        return self.fit(items).transform(items)

    def fit(self, items: list[Prepared], y=None) -> FeatureBuilder:
        # The vocabularies TfidfVectorizer fits (tested equal), without cutting every word into
        # character n-grams again at each occurrence, and without importing scikit-learn.
        self.words_ = fit_vocabulary(*_numbered(map(lemma_ngrams, items)), self.word_min_df)
        texts = [item.text.split() for item in items]
        words = {word: None for text in texts for word in text}
        terms, grams = _numbered(_char_wb(word, self.char_ngram_range) for word in words)
        of_word = dict(zip(words, grams, strict=True))
        documents = [
            np.concatenate([of_word[w] for w in text] or [np.zeros(0, np.int64)]) for text in texts
        ]
        self.chars_ = fit_vocabulary(terms, documents, self.char_min_df, self.char_max_features)
        self.n_words_ = len(self.words_.vocabulary_)
        self.n_chars_ = len(self.chars_.vocabulary_)
        self.word_names_ = terms_of(self.words_.vocabulary_)
        return self

    def _channels(self, items: list[Prepared]) -> sp.csr_matrix:
        rows, columns, data = self._channel_entries(items)
        return sp.csr_matrix((data, (rows, columns)), shape=(len(items), len(CHANNELS)))

    def _channel_entries(self, items: list[Prepared]) -> tuple[np.ndarray, ...]:
        cells = [
            (r, CHANNELS.index(i.channel)) for r, i in enumerate(items) if i.channel in CHANNELS
        ]
        return _flags(cells, self.channel_weight)

    def transform(self, items: list[Prepared]) -> sp.csr_matrix:
        """The same matrix scikit-learn's vectorizers give (tested), built faster: every
        n-gram of the batch is looked up in one pass at C speed, character n-grams (which never
        cross a word boundary) once per distinct word, counting and weighting run on the whole
        batch at once, and the three blocks go into one matrix without a matrix of their own."""
        n = len(items)
        rows, columns, data = _tfidf(
            *self._char_occurrences(items), n, self.chars_.idf_, self.n_chars_
        )
        blocks = [
            _tfidf(*self._word_occurrences(items), n, self.words_.idf_, self.n_words_),
            (rows, columns, data * self.char_weight),
            self._channel_entries(items),
        ]
        widths = [self.n_words_, self.n_chars_, len(CHANNELS)]
        if self.domain_weight:
            blocks.append(self._domain_entries(items))
            widths.append(1)
        if self.caller_weight:
            blocks.append(self._caller_entries(items))
            widths.append(len(SIDES))
        return _side_by_side(n, blocks, widths)

    def _caller_entries(self, items: list[Prepared]) -> tuple[np.ndarray, ...]:
        sides = [named_caller(i.tokens) if i.channel == "call_note" else None for i in items]
        return _flags([(r, SIDES.index(s)) for r, s in enumerate(sides) if s], self.caller_weight)

    def _domain_entries(self, items: list[Prepared]) -> tuple[np.ndarray, ...]:
        cells = [(r, 0) for r, i in enumerate(items) if not mentions_service(i.tokens)]
        return _flags(cells, self.domain_weight)

    def _word_occurrences(self, items: list[Prepared]) -> tuple[np.ndarray, np.ndarray]:
        get, grams, lengths = self.words_.vocabulary_.get, [], []
        for item in items:
            words = item.lemmas
            bigrams = list(map(" ".join, pairwise(words)))
            grams += words
            grams += bigrams
            lengths.append(len(words) + len(bigrams))
        index = np.fromiter(map(get, grams, repeat(-1)), dtype=np.int32, count=len(grams))
        return _occurrences(lengths, index)

    def _char_occurrences(self, items: list[Prepared]) -> tuple[np.ndarray, np.ndarray]:
        texts = [item.text.split() for item in items]
        words = list(chain.from_iterable(texts))
        cache = self.__dict__.setdefault("_word_cache", {})
        if len(cache) > WORD_CACHE_SIZE:
            cache.clear()
        # This batch's own table, so that another thread clearing the cache does no harm.
        table = {word: cache.get(word) for word in set(words)}
        vocabulary = self.chars_.vocabulary_
        for word, found in table.items():
            if found is None:
                grams = _char_wb(word, self.char_ngram_range)
                found = np.fromiter(map(vocabulary.get, grams, repeat(-1)), dtype=np.int32)
                table[word] = cache[word] = found[found >= 0]
        per_word = list(map(table.__getitem__, words))
        counts = np.fromiter(map(len, per_word), dtype=np.int64, count=len(per_word))
        word_ends = np.concatenate([[0], np.cumsum(counts)])
        doc_ends = word_ends[np.cumsum([len(t) for t in texts], dtype=np.int64)]
        index = np.concatenate(per_word) if per_word else np.zeros(0, dtype=np.int32)
        # The cached indices hold only n-grams in the vocabulary: nothing to filter out.
        return np.repeat(np.arange(len(items), dtype=np.int32), np.diff(doc_ends, prepend=0)), index

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_word_cache"}

    # -- persistence as plain data (see artifact.py): nothing here needs pickle to be read back
    def fitted_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """(JSON-able values, arrays): everything `transform` and the explanations read."""
        params = self.get_params() | {"char_ngram_range": list(self.char_ngram_range)}
        arrays = {
            "word_terms": terms_of(self.words_.vocabulary_),
            "word_idf": np.asarray(self.words_.idf_),
            "char_terms": terms_of(self.chars_.vocabulary_),
            "char_idf": np.asarray(self.chars_.idf_),
        }
        return {"params": params}, arrays

    @classmethod
    def from_fitted_state(cls, state: dict, arrays: dict[str, np.ndarray]) -> FeatureBuilder:
        """The fitted builder again, from plain data."""
        # files from before the domain and caller columns
        params = {"domain_weight": 0.0, "caller_weight": 0.0} | state["params"]
        builder = cls(**params | {"char_ngram_range": tuple(params["char_ngram_range"])})
        builder.words_ = FittedVocabulary.from_terms(arrays["word_terms"], arrays["word_idf"])
        builder.chars_ = FittedVocabulary.from_terms(arrays["char_terms"], arrays["char_idf"])
        builder.n_words_ = len(builder.words_.vocabulary_)
        builder.n_chars_ = len(builder.chars_.vocabulary_)
        builder.word_names_ = arrays["word_terms"]
        return builder


PARAMS = ("word_min_df", "char_ngram_range", "char_min_df", "char_max_features")
PARAMS += ("char_weight", "channel_weight", "domain_weight", "caller_weight")
