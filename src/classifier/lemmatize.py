"""Tokens from spaCy's blank Russian tokenizer, lemmas from pymorphy3 behind a cache.

spaCy's own pymorphy3 lemmatizer needs POS tags that `spacy.blank("ru")` does not produce, and
without them it leaves ambiguous words as they are, so pymorphy3 is called directly here.

spaCy tokenizes each whitespace-delimited span on its own (and caches it), but building a `Doc`
and reading its tokens from Python cost more than everything else per message. So each span's
tokens, already analysed, are kept here by span text, and a message is assembled from its spans.
The result is the tokenization spaCy gives the whole text (tested): the only thing spaCy looks at
across spans is a special case of several tokens («в т.ч.», «: )»), and a message in which two
neighbouring spans could start one is tokenized whole. A new span that is a word with at most
one mark after it («собака», «дышит,») is split here without spaCy (`_plain_span`), and spaCy is
imported only at the first span that is not (`spacy_tables`).
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import NamedTuple

from .normalize import fold_yo
from .spacy_tables import tables, tokenizer

NUMBER_TOKEN = "numtoken"
_PLACEHOLDERS = frozenset({"urltoken", "emailtoken", "phonetoken"})


class Token(NamedTuple):
    """One word of a message; a named tuple because a message makes dozens of them and a
    frozen dataclass is several times slower to build."""

    text: str  # as in the normalized message
    lemma: str
    sentence: int  # index of the sentence (or line) the token is in
    known: bool = True  # in the dictionary; unknown words may be typos
    imperative: bool = False  # «умри», «сдохни» curse, they do not report
    readings: frozenset[str] = frozenset()  # every possible lemma («валит»: валить, валита)
    quoted: bool = False  # inside «…» or "…": someone else's words, a review, irony
    clause: int = 0  # index of the clause: commas, dashes, «а»/«но» and sentence ends part them
    tense: str = ""  # a verb's tense by pymorphy3: "past", "pres", "futr"; "" for other words


@cache
def morph():
    try:
        import pymorphy3
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "pymorphy3 is not installed. Install the project (`make install`) or "
            "`pip install 'pymorphy3[fast]' pymorphy3-dicts-ru`."
        ) from error
    return pymorphy3.MorphAnalyzer(lang="ru")


@cache
def lexicon() -> dict[str, str]:
    """Forms of the service's own words that pymorphy3 guesses wrong (data/lexicon.yaml)."""
    from .data import load_yaml, read

    return {str(k): str(v) for k, v in (load_yaml(read("lexicon.yaml")) or {}).items()}


@lru_cache(maxsize=200_000)
def analyze_word(word: str) -> tuple[str, bool, bool, frozenset[str], str]:
    """(normal form, is it a dictionary word, is it an imperative, every possible normal form,
    its tense if it is a verb)
    of one lower-cased word.

    Numbers fold to one token; emoji, symbols and times such as "9:30" stay as they are.
    """
    if word in _PLACEHOLDERS:
        return word, True, False, frozenset({word}), ""
    if word.isdigit():
        return NUMBER_TOKEN, True, False, frozenset({NUMBER_TOKEN}), ""
    if not any(ch.isalpha() for ch in word):
        return word, True, False, frozenset({word}), ""
    if word in lexicon():
        return lexicon()[word], True, False, frozenset({lexicon()[word]}), ""
    analyzer = morph()
    try:
        parses = analyzer.parse(word)
    except ValueError:  # pymorphy3 asks for the Unicode name of a letter that has none («𘴈»)
        return word, False, False, frozenset({word}), ""
    first = parses[0]
    if "impr" in first.tag:
        # «нашли», «пришли», «зашли»: pymorphy3 puts the imperative of «наслать», «прислать»
        # first; to a support desk they are nearly always the past of «найти», «прийти»
        first = next((p for p in parses if "VERB" in p.tag and p.tag.tense == "past"), first)
    normal = fold_yo(first.normal_form)
    readings = frozenset(fold_yo(p.normal_form) for p in parses)
    tag = first.tag
    tense = tag.tense or "" if "VERB" in tag else ""
    return normal, analyzer.word_is_known(word), "impr" in tag, readings, tense


def lemma(word: str) -> str:
    return analyze_word(word)[0]


_OPENING_QUOTES, _CLOSING_QUOTES, _STRAIGHT_QUOTES = "«„“", "»”", '"'
# What a punctuation or space token does to the sentence count and the quotation state.
_ENDS_SENTENCE, _OPENS_QUOTE, _CLOSES_QUOTE, _TOGGLES_QUOTE, _ENDS_CLAUSE = 1, 2, 4, 8, 16
_PERIOD = 32  # a bare «.», which after an abbreviation ends nothing
# Abbreviations of staff notes and addresses whose period does not end a sentence: «Кл. Юлия
# звонит», «исп. Мирон сообщает», «Ул. Широкая, Д. 5». spaCy keeps a few («г.», «руб.», «ул.»
# in lower case) whole; these it cuts from their period, at least when capitalised.
ABBREVIATIONS = frozenset(
    {"кл", "исп", "ул", "пр", "д", "кв", "тел", "им", "напр", "ст", "м", "вет", "пер", "корп"}
)
_CLAUSE_MARKS = frozenset(",:;—–-()")
# Words that open a clause of their own even without a comma before them (speech-to-text).
CLAUSE_OPENERS = frozenset({"а", "но", "однако", "зато", "хотя"})
SPAN_CACHE_SIZE = 200_000
_new = tuple.__new__  # builds a Token without the named tuple's Python-level __new__


def _punctuation(text: str) -> int:
    effect = 0
    if "\n" in text or ";" in text or not text.strip(".!?…"):
        effect |= _ENDS_SENTENCE | _ENDS_CLAUSE | (_PERIOD if text == "." else 0)
    elif any(ch in _CLAUSE_MARKS for ch in text):
        effect |= _ENDS_CLAUSE
    if any(ch in _OPENING_QUOTES for ch in text):
        effect |= _OPENS_QUOTE
    elif any(ch in _CLOSING_QUOTES for ch in text):
        effect |= _CLOSES_QUOTE
    elif _STRAIGHT_QUOTES in text:
        effect |= _TOGGLES_QUOTE
    return effect


def _items(doc) -> list:
    """Per spaCy token, a word's (text, *analyze_word) or a punctuation token's effect; tokens
    without an effect (spaces, most punctuation) are left out."""
    items = []
    for t in doc:
        if t.is_punct or t.is_space:
            if _joins_a_word(doc, t):
                continue  # «кто-то», «из-за»: one word to a reader, not a clause break
            effect = _punctuation(t.text)
            if effect:
                items.append(effect)
        else:
            items.append((t.text, *analyze_word(t.text)))
    return items


def _joins_a_word(doc, t) -> bool:
    """A hyphen with letters right before and after it, no space between."""
    i = t.i
    return (
        t.text == "-"
        and 0 < i < len(doc) - 1
        and not doc[i - 1].whitespace_
        and not t.whitespace_
        and doc[i - 1].is_alpha
        and doc[i + 1].is_alpha
    )


def _assemble(items) -> list[Token]:
    tokens, sentence, clause, quoted = [], 0, 0, False
    for item in items:
        if item.__class__ is int:
            if item & _PERIOD and tokens and tokens[-1].text.lower() in ABBREVIATIONS:
                continue  # «Кл. Юлия звонит»: one sentence
            if item & _ENDS_CLAUSE:
                clause += 1 if tokens and tokens[-1].clause == clause else 0
            if item & _ENDS_SENTENCE:
                sentence += 1 if tokens and tokens[-1].sentence == sentence else 0
                quoted = False  # an unclosed quote ends with its sentence
            if item & _OPENS_QUOTE:
                quoted = True
            elif item & _CLOSES_QUOTE:
                quoted = False
            elif item & _TOGGLES_QUOTE:
                quoted = not quoted
            continue
        text, normal, known, imperative, readings, tense = item
        if text in CLAUSE_OPENERS and tokens and tokens[-1].clause == clause:
            clause += 1
        tokens.append(
            _new(
                Token,
                (text, normal, sentence, known, imperative, readings, quoted, clause, tense),
            )
        )
    return tokens


class _Span(NamedTuple):
    items: list  # see `_items`
    first: str  # its first and last token as spaCy splits it
    last: str


# The pieces spaCy tokenizes one by one: runs of non-space characters, a leading run of spaces,
# and other runs of spaces less the single space that separates two words.
_PIECES = re.compile(r"\S+|^\s+|(?<=\S )\s+|(?<=\S)[^ \S]\s*")
_spans: dict[str, _Span] = {}


# A word of letters with at most one mark of punctuation after it: most new spans of a message.
_PLAIN = re.compile(r"([^\W\d_]+)([,.!?:;]?)")


def _plain_span(text: str) -> _Span | None:
    """A span spaCy would split into the word and its mark, read without building a `Doc`.

    spaCy's affix rules split nothing inside a run of letters, and cut one final mark off it;
    only a special case («г.», «руб.», «кот.») keeps them together. Checked against spaCy on
    every span of the corpus and of the external texts (tests/test_lemmatize.py). Building the
    `Doc` was most of the time of a new span, and each one grew spaCy's vocabulary for good.
    """
    plain = _PLAIN.fullmatch(text)
    if plain is None or not plain[1].isalpha() or text in tables()[0]:
        return None
    word, mark = plain[1], plain[2]
    items = [(word, *analyze_word(word))]
    if mark and (effect := _punctuation(mark)):
        items.append(effect)
    return _Span(items, word, mark or word)


def _span(text: str) -> _Span:
    found = _plain_span(text)
    if found is None:
        doc = tokenizer()(text)
        found = _Span(_items(doc), doc[0].text, doc[-1].text)
    if len(_spans) >= SPAN_CACHE_SIZE:
        _spans.clear()
    _spans[text] = found
    return found


def analyze(text: str) -> list[Token]:
    """Tokens with lemmas and sentence numbers of one normalized text."""
    pairs, spans = tables()[1], _spans
    items, last = [], None
    for piece in _PIECES.findall(text):
        span = spans.get(piece) or _span(piece)
        if (last, span.first) in pairs:
            return analyze_whole(text)
        items += span.items
        last = span.last
    return _assemble(items)


def analyze_whole(text: str) -> list[Token]:
    """`analyze` with spaCy tokenizing the whole text: the reference the tests compare with."""
    return _assemble(_items(tokenizer()(text)))


def analyze_many(texts: list[str]) -> list[list[Token]]:
    """Tokens with lemmas and sentence numbers for a batch of normalized texts."""
    return [analyze(text) for text in texts]


def tokenize(text: str) -> list[str]:
    """Word and emoji tokens of a normalized text, punctuation dropped."""
    return [t.text for t in analyze(text)]


def lemmatize(text: str) -> list[str]:
    return [t.lemma for t in analyze(text)]


def lemmatize_many(texts: list[str]) -> list[list[str]]:
    return [[t.lemma for t in tokens] for tokens in analyze_many(texts)]
