"""Tokens from spaCy's blank Russian tokenizer, lemmas from pymorphy3 behind a cache.

spaCy's own pymorphy3 lemmatizer needs POS tags that `spacy.blank("ru")` does not produce, and
without them it leaves ambiguous words as they are, so pymorphy3 is called directly here.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import NamedTuple

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


@cache
def _tokenizer():
    import spacy

    return spacy.blank("ru").tokenizer


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
    from importlib import resources

    import yaml

    text = resources.files("classifier.data").joinpath("lexicon.yaml").read_text("utf-8")
    return {str(k): str(v) for k, v in (yaml.safe_load(text) or {}).items()}


@lru_cache(maxsize=200_000)
def analyze_word(word: str) -> tuple[str, bool, bool, frozenset[str]]:
    """(normal form, is it a dictionary word, is it an imperative, every possible normal form)
    of one lower-cased word.

    Numbers fold to one token; emoji, symbols and times such as "9:30" stay as they are.
    """
    if word in _PLACEHOLDERS:
        return word, True, False, frozenset({word})
    if word.isdigit():
        return NUMBER_TOKEN, True, False, frozenset({NUMBER_TOKEN})
    if not any(ch.isalpha() for ch in word):
        return word, True, False, frozenset({word})
    if word in lexicon():
        return lexicon()[word], True, False, frozenset({lexicon()[word]})
    analyzer = morph()
    parses = analyzer.parse(word)
    normal = parses[0].normal_form.replace("ё", "е")
    readings = frozenset(p.normal_form.replace("ё", "е") for p in parses)
    return normal, analyzer.word_is_known(word), "impr" in parses[0].tag, readings


def lemma(word: str) -> str:
    return analyze_word(word)[0]


_OPENING_QUOTES, _CLOSING_QUOTES, _STRAIGHT_QUOTES = "«„“", "»”", '"'


def _tokens(doc) -> list[Token]:
    tokens, sentence, quoted = [], 0, False
    for t in doc:
        if t.is_punct or t.is_space:
            if "\n" in t.text or ";" in t.text or not t.text.strip(".!?…"):
                sentence += 1 if tokens and tokens[-1].sentence == sentence else 0
                quoted = False  # an unclosed quote ends with its sentence
            if any(ch in _OPENING_QUOTES for ch in t.text):
                quoted = True
            elif any(ch in _CLOSING_QUOTES for ch in t.text):
                quoted = False
            elif _STRAIGHT_QUOTES in t.text:
                quoted = not quoted
            continue
        normal, known, imperative, readings = analyze_word(t.text)
        tokens.append(Token(t.text, normal, sentence, known, imperative, readings, quoted))
    return tokens


def analyze_many(texts: list[str]) -> list[list[Token]]:
    """Tokens with lemmas and sentence numbers for a batch of normalized texts."""
    return [_tokens(doc) for doc in _tokenizer().pipe(texts)]


def tokenize(text: str) -> list[str]:
    """Word and emoji tokens of a normalized text, punctuation dropped."""
    return [t.text for t in _tokens(_tokenizer()(text))]


def lemmatize(text: str) -> list[str]:
    return [t.lemma for t in _tokens(_tokenizer()(text))]


def lemmatize_many(texts: list[str]) -> list[list[str]]:
    return [[t.lemma for t in tokens] for tokens in analyze_many(texts)]
