"""Phrases of lemmas found in a message's tokens, tolerant of one typo in long words.

The matching primitives of the safety rules (`safety`): a phrase matches its lemmas in order,
within one sentence, with at most `gap` other words between them. Words of five letters or more
also match with one typo («атравилась», «кравь») when they are not dictionary words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

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
    def by_deletion(self) -> dict[str, tuple[tuple[str, str], ...]]:
        """Built at the first unknown word, not with the rules: it is a fifth of a cold start,
        and a message of dictionary words never needs it. Tuples, not sets: 80,000 keys, mostly
        of one entry, take 16 MB as tuples and took 35 as sets."""
        by_deletion: dict[str, tuple[tuple[str, str], ...]] = {}
        for lemma in self.lemmas:
            if len(lemma) < FUZZY_MIN_LENGTH:
                continue
            for form in word_forms(lemma):
                entry = (form, lemma)
                for key in {form, *_deletions(form)}:
                    entries = by_deletion.get(key, ())
                    if entry not in entries:
                        by_deletion[key] = (*entries, entry)
        return by_deletion

    # Bounded: a service meets new unknown words (typos, names, Latin script) for as long as it
    # runs, and an unbounded cache of them only grew.
    @lru_cache(maxsize=LOOKUP_CACHE_SIZE)  # noqa: B019 - one lexicon per rules file
    def lookup(self, word: str) -> frozenset[str]:
        """Lemmas that have a form within one edit of `word`."""
        found = set()
        if len(word) >= FUZZY_MIN_LENGTH - 1:
            for key in {word, *_deletions(word)}:
                found |= {
                    lemma
                    for form, lemma in self.by_deletion.get(key, ())
                    if abs(len(form) - len(word)) <= 1 and _same_start(form, word)
                }
        return frozenset(found)


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
