"""Phrases of lemmas found in a message's tokens, tolerant of one typo in long words.

The matching primitives of the safety rules (`safety`): a phrase matches its lemmas in order,
within one sentence, with at most `gap` other words between them. Words of five letters or more
also match with one typo («атравилась», «кравь») when they are not dictionary words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np

from .lemmatize import Token, analyze_word
from .normalize import fold_yo

FUZZY_MIN_LENGTH = 5
LOOKUP_CACHE_SIZE = 100_000  # unknown words whose nearby trigger words are kept
# A typo rarely changes the first letter, except between vowels people confuse («атравилась»).
_CONFUSED_FIRST = ({"а", "о"}, {"е", "и"}, {"е", "э"})


@dataclass(frozen=True, slots=True)
class Phrase:
    lemmas: tuple[str, ...]
    # The phrase must end its clause (written with a final `$`): «кота больше нет $» is not «у
    # кота больше нет корма».
    at_end: bool = False
    needs: frozenset[str] = field(init=False)  # its words as a set: skipped at once if absent

    def __post_init__(self) -> None:
        object.__setattr__(self, "needs", frozenset(self.lemmas))

    @property
    def text(self) -> str:
        return " ".join(self.lemmas) + (" $" if self.at_end else "")


@dataclass(frozen=True, slots=True)
class Match:
    phrase: Phrase
    positions: tuple[int, ...]  # token indices in the message
    words: tuple[str, ...]  # the words as written (normalized)


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class FuzzyLexicon:
    """Typo-tolerant lookup of trigger words: one edit away from any inflected form.

    An unknown word such as «судароги» gets a useless guessed lemma from pymorphy3, so it is
    compared with the inflected forms of the trigger lemmas («судороги» → «судорога») instead.
    """

    def __init__(self, lemmas: set[str]):
        self.lemmas = frozenset(lemmas)

    @cached_property
    def by_deletion(self) -> _DeletionIndex:
        """Built at the first unknown word, not with the rules: it is a fifth of a cold start,
        and a message of dictionary words never needs it."""
        return _DeletionIndex(
            (form, lemma)
            for lemma in self.lemmas
            if len(lemma) >= FUZZY_MIN_LENGTH
            for form in word_forms(lemma)
        )

    # Bounded: a service meets new unknown words (typos, names, Latin script) for as long as it
    # runs, and an unbounded cache of them only grew.
    @lru_cache(maxsize=LOOKUP_CACHE_SIZE)  # noqa: B019 - one lexicon per rules file
    def lookup(self, word: str) -> frozenset[str]:
        """Lemmas that have a form within one edit of `word`."""
        if len(word) < FUZZY_MIN_LENGTH - 1:
            return frozenset()
        return frozenset(
            lemma
            for form, lemma in self.by_deletion.near(word)
            if abs(len(form) - len(word)) <= 1 and _same_start(form, word)
        )


class _DeletionIndex:
    """(form, lemma) entries by each form and its one-letter deletions (symmetric deletion).

    108,000 keys as a dict of tuples took 18 MB of every worker (issue 16); here they are a
    sorted array of their hashes beside an array of entry numbers (1.3 MB, 4 MB with the
    entries' 11,000 forms), and a key found by its hash is checked against the entry's own
    deletions, so a collision finds nothing."""

    def __init__(self, entries):
        self.entries = tuple(dict.fromkeys(entries))
        keys = [(form, *_deletions(form)) for form, _ in self.entries]
        count = sum(map(len, keys))
        hashes = np.fromiter((hash(k) for ks in keys for k in ks), np.int64, count)
        owners = np.repeat(np.arange(len(keys), dtype=np.int32), [len(ks) for ks in keys])
        order = np.argsort(hashes, kind="stable")
        self.hashes, self.owners = hashes[order], owners[order]

    def near(self, word: str) -> list[tuple[str, str]]:
        """The entries that share a key with `word` (itself or one of its one-letter
        deletions): within one edit of it. All keys are looked up in one pass."""
        keys = list({word, *_deletions(word)})
        wanted = np.fromiter(map(hash, keys), np.int64, len(keys))
        starts = np.searchsorted(self.hashes, wanted, side="left").tolist()
        ends = np.searchsorted(self.hashes, wanted, side="right").tolist()
        found = []
        for key, start, end in zip(keys, starts, ends, strict=True):
            for number in self.owners[start:end].tolist() if end > start else ():
                form, lemma = self.entries[number]
                if key == form or (len(key) == len(form) - 1 and key in _deletions(form)):
                    found.append((form, lemma))
        return found


def word_forms(lemma: str) -> set[str]:
    """Every inflected form of a dictionary word (just the word itself when it is unknown)."""
    from .lemmatize import morph

    forms = {lemma}
    for parse in morph().parse(lemma)[:1]:
        forms |= {fold_yo(f.word) for f in parse.lexeme}
    return forms


def _same_start(a: str, b: str) -> bool:
    return a[0] == b[0] or any({a[0], b[0]} <= pair for pair in _CONFUSED_FIRST)


def _token_matches(lexicon: FuzzyLexicon, token: Token, lemma: str, any_reading: bool) -> bool:
    """Exact on the lemma or the word as written; one edit away only for unknown words.

    Inside a phrase of several words any reading of an ambiguous word counts («валит дым»:
    валить), since its neighbours disambiguate; a single-word trigger takes the first reading
    only («кому» is not «кома»). Dictionary words are never typos: «отправить» is not «отравить».
    """
    if lemma == token.text:
        return True
    if not token.known:  # its lemma and readings are pymorphy3's guesses («бимом»: бить)
        # …but a phrase word outside the dictionary too («в телеграме»: телеграм) was guessed
        # the same way when the rules were loaded, and its guess is the only lemma it has
        return lemma in lexicon.lookup(token.text) or (
            lemma == token.lemma and not analyze_word(lemma)[1]
        )
    return lemma == token.lemma or (any_reading and lemma in token.readings)


def find_phrase(
    tokens: Sequence[Token],
    phrase: Phrase,
    lexicon: FuzzyLexicon,
    gap: int,
    present: frozenset[str] | None = None,
) -> list[Match]:
    """Every match of `phrase` in order, within one sentence, at most `gap` words apart.

    `present` (every word the message could match, see `SafetyRules.words_in`) skips at once
    the phrases that cannot match: most of them, for most messages."""
    if present is not None and not phrase.needs <= present:
        return []
    matches = []
    first, rest = phrase.lemmas[0], phrase.lemmas[1:]
    any_reading = bool(rest)
    for start, token in enumerate(tokens):
        if not _token_matches(lexicon, token, first, any_reading):
            continue
        positions = [start]
        for lemma in rest:
            last = positions[-1]
            window = range(last + 1, min(last + gap + 2, len(tokens)))
            nxt = next(
                (
                    j
                    for j in window
                    if tokens[j].sentence == tokens[last].sentence
                    and _token_matches(lexicon, tokens[j], lemma, any_reading)
                ),
                None,
            )
            if nxt is None:
                break
            positions.append(nxt)
        else:
            end = positions[-1]
            if (
                phrase.at_end
                and end + 1 < len(tokens)
                and tokens[end + 1].clause == tokens[end].clause
            ):
                continue
            words = tuple(tokens[p].text for p in positions)
            matches.append(Match(phrase, tuple(positions), words))
    return matches
