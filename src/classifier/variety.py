"""How varied the corpus is, per writer and in all: near-duplicates, shared openings, lemmas.

A corpus written from templates shows itself in near-identical texts and in many messages opening
the same way; a rich one in many distinct lemmas per thousand tokens. The data check fails on the
first two and reports all three, for every writer and for the whole corpus.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from .lemmatize import lemmatize_many, tokenize
from .normalize import normalize

NEAR_DUPLICATE_JACCARD = 0.8
# A salutation is not an opening: letters begin «Добрый день» as a rule, and counting it made
# two e-mails that share nothing but the greeting look templated. These are skipped (in this
# order, repeatedly) before the first three words are taken.
GREETINGS = (
    ("добрый", "день"),
    ("добрый", "вечер"),
    ("доброе", "утро"),
    ("добрый", "утро"),
    ("здравствуйте",),
    ("здравствуй",),
    ("привет",),
    ("приветствую",),
    ("уважаемая", "служба", "поддержки"),
    ("уважаемая", "поддержка"),
    ("уважаемые", "коллеги"),
    ("уважаемые",),
    ("уважаемая",),
    ("уважаемый",),
    ("hello",),
    ("hi",),
    ("dear",),
)


def _shingles():
    """Character 5-gram sets. scikit-learn is imported here, not with the module: the service
    imports this module (through the corpus loader) and scikit-learn with pandas and pyarrow
    behind it were 170 MB of every worker."""
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(analyzer="char", ngram_range=(5, 5), binary=True, lowercase=False)


def near_duplicates(texts: list[str], threshold: float = NEAR_DUPLICATE_JACCARD):
    """Index pairs whose character 5-gram shingle sets have Jaccard ≥ threshold."""
    shingles = _shingles()
    X = shingles.fit_transform(texts).astype(np.float32)
    sizes = np.asarray(X.sum(axis=1)).ravel()
    shared = (X @ X.T).tocoo()
    pairs = []
    for i, j, inter in zip(shared.row, shared.col, shared.data, strict=True):
        if i < j and inter / max(sizes[i] + sizes[j] - inter, 1) >= threshold:
            pairs.append((int(i), int(j), float(inter / (sizes[i] + sizes[j] - inter))))
    return pairs


def near_duplicates_between(
    new: list[str], texts: list[str], threshold: float = NEAR_DUPLICATE_JACCARD
) -> list[tuple[int, int, float]]:
    """(i, j, Jaccard) for each text `new[i]` that nearly repeats `texts[j]`: the same measure
    as `near_duplicates`, for a few new texts against a corpus."""
    if not new or not texts:
        return []
    shingles = _shingles()
    try:
        X = shingles.fit_transform(new + texts).astype(np.float32)
    except ValueError:  # every text shorter than a shingle
        return []
    A, B = X[: len(new)], X[len(new) :]
    size_a, size_b = np.asarray(A.sum(axis=1)).ravel(), np.asarray(B.sum(axis=1)).ravel()
    shared = (A @ B.T).tocoo()
    pairs = []
    for i, j, inter in zip(shared.row, shared.col, shared.data, strict=True):
        jaccard = inter / max(size_a[i] + size_b[j] - inter, 1)
        if jaccard >= threshold:
            pairs.append((int(i), int(j), float(jaccard)))
    return pairs


def first_words(text: str, n: int = 3) -> tuple[str, ...] | None:
    """The first n words of a normalized text after its salutation; emoji and rating stars are
    not words."""
    words = [t for t in tokenize(text) if any(ch.isalnum() for ch in t)]
    greeted = True
    while greeted:
        greeted = False
        for greeting in GREETINGS:
            if tuple(words[: len(greeting)]) == greeting:
                words, greeted = words[len(greeting) :], True
    return tuple(words[:n]) if len(words) >= n else None


# The shared-opening share grows with the corpus: among more messages, more ordinary openings
# («ситтер не пришел») meet one of their own by chance. The check reads it among this many
# messages drawn at random, the corpus's size when the limit was set, so that it judges how
# the messages are written and not how many there are.
OPENING_SAMPLE = 3000
OPENING_DRAWS = 20


def _shared_share(firsts: list[tuple[str, ...] | None]) -> float:
    openings = Counter(o for o in firsts if o)
    return sum(1 for o in firsts if o and openings[o] > 1) / max(len(firsts), 1)


def shared_opening_sampled(firsts: list[tuple[str, ...] | None]) -> float:
    """The shared-opening share among `OPENING_SAMPLE` messages, the mean of `OPENING_DRAWS`
    seeded draws (the plain share for a smaller corpus)."""
    if len(firsts) <= OPENING_SAMPLE:
        return _shared_share(firsts)
    rng = np.random.default_rng(0)
    draws = [
        _shared_share([firsts[i] for i in rng.choice(len(firsts), OPENING_SAMPLE, replace=False)])
        for _ in range(OPENING_DRAWS)
    ]
    return float(np.mean(draws))


def variety_figures(texts: list[str]) -> dict[str, float]:
    """Distinct lemmas per 1,000 tokens, and the share of messages sharing a 3-word opening with
    another: in all, and among `OPENING_SAMPLE` drawn at random (what the data check limits)."""
    normalized = [normalize(t) for t in texts]
    lemmas = lemmatize_many(normalized)
    tokens = sum(len(words) for words in lemmas)
    firsts = [first_words(t) for t in normalized]
    return {
        "distinct_lemmas_per_1000_tokens": 1000
        * len({w for ws in lemmas for w in ws})
        / max(tokens, 1),
        "shared_opening_share": _shared_share(firsts),
        "shared_opening_sampled": shared_opening_sampled(firsts),
        "tokens": float(tokens),
    }


def figures_by_writer(writers: list[str], texts: list[str], near: list[tuple[int, int, float]]):
    """Per writer: records, distinct lemmas per 1,000 tokens, the share of its messages that
    share their opening with another of its own, and its near-duplicate pairs."""
    by_writer: dict[str, list[int]] = {}
    for i, writer in enumerate(writers):
        by_writer.setdefault(writer, []).append(i)
    pairs = Counter(writers[i] for i, j, _ in near if writers[i] == writers[j])
    return {
        writer: {"records": len(rows), **variety_figures([texts[i] for i in rows])}
        | {"near_duplicate_pairs": pairs[writer]}
        for writer, rows in sorted(by_writer.items())
    }
