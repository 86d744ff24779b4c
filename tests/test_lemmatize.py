import json
import subprocess
import sys
from pathlib import Path

import pytest

from pettriage.classifier import spacy_tables
from pettriage.classifier.data import read
from pettriage.classifier.lemmatize import (
    _PIECES,
    NUMBER_TOKEN,
    _items,
    _plain_span,
    analyze,
    analyze_many,
    analyze_whole,
    analyze_word,
    lemma,
    lemmatize,
    tokenize,
)
from pettriage.classifier.model import WARM_UP_TEXT
from pettriage.classifier.normalize import normalize
from pettriage.classifier.spacy_tables import tokenizer as _tokenizer
from pettriage.classifier.translit import read_back


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("собаку", "собака"),
        ("сбила", "сбить"),
        ("кошки", "кошка"),
        ("дышал", "дышать"),
        ("отравилась", "отравиться"),
        ("выгульщика", "выгульщик"),
        ("ёжика", "ежик"),  # ё folded in lemmas too
        ("ситтер", "ситтер"),  # the service's own words: data/lexicon.yaml
        ("ситтерша", "ситтер"),
        ("ситтера", "ситтер"),
        ("2024", NUMBER_TOKEN),
        ("😡", "😡"),
        ("phonetoken", "phonetoken"),
        # the past of «найти», «прийти», not the imperative of «наслать», «прислать»
        ("нашли", "найти"),
        ("пришли", "прийти"),
        ("выпали", "выпасть"),
        ("пришлите", "прислать"),  # an imperative only
    ],
)
def test_lemma(word, expected):
    assert lemma(word) == expected


def test_tokens_drop_punctuation_keep_emoji():
    assert tokenize("кот, собака!!! 🐶") == ["кот", "собака", "🐶"]


def test_lemmatize_sentence():
    assert lemmatize("машина сбила собаку") == ["машина", "сбить", "собака"]


def test_sentences_are_numbered():
    tokens = analyze_many(["кот отравился. что делать?\nуже едем"])[0]
    assert [(t.text, t.sentence) for t in tokens] == [
        ("кот", 0),
        ("отравился", 0),
        ("что", 1),
        ("делать", 1),
        ("уже", 2),
        ("едем", 2),
    ]


def test_an_abbreviations_period_ends_no_sentence():
    """Staff notes write «кл.» and «исп.»; the note about a client goes on after them."""
    tokens = analyze("Звонила кл. Мещерякова: кот умер. Исп. Мирон на месте")
    assert [(t.text, t.sentence) for t in tokens] == [
        ("Звонила", 0),
        ("кл", 0),
        ("Мещерякова", 0),
        ("кот", 0),
        ("умер", 0),
        ("Исп", 1),
        ("Мирон", 1),
        ("на", 1),
        ("месте", 1),
    ]


def test_a_hyphen_inside_a_word_is_no_clause_break():
    """«кто-то», «из-за» are one word to a reader; a dash between words still parts clauses."""
    tokens = analyze("кто-то ходит - а из-за двери")
    assert [(t.text, t.clause) for t in tokens] == [
        ("кто", 0),
        ("то", 0),
        ("ходит", 0),
        ("а", 1),
        ("из", 1),
        ("за", 1),
        ("двери", 1),
    ]


def test_a_past_plural_is_read_as_the_past():
    (found,) = analyze("нашли")
    assert found.tense == "past" and not found.imperative


def test_unknown_words_are_flagged():
    known, typo = analyze_many(["отравилась атравилась"])[0]
    assert known.known and not typo.known


@pytest.mark.parametrize(
    "text",
    [
        "кот отравился. что делать?\nуже едем",
        "оплатила всё, в т.ч. прогулку",  # a special case of two spans: spaCy joins them
        "д-р мед. наук сказал",
        "спасибо : ) и ещё :) и (-:",
        "  в начале пробелы",
        "два  пробела\tтаб и\u00a0неразрывный",
        "строка\n\nещё\n",
        '«кот умер» — "шутка"; ну и т.д.',
        "9:30 12 😡🐶 urltoken ёжик",
        "",
        " ",
        "кот. г. руб. ул. т.е. Вт, вт. ясно!",  # special cases keep the mark
        "кто-то из-за двери - а кот-2 -нет по-моему",  # a hyphen inside a word or between
        "слово; слово: ½ ² ⅻ x² а́ кот_",  # letters only as str.isalpha() has them
    ],
)
def test_tokens_by_span_equal_spacy_on_the_whole_text(text):
    assert analyze(text) == analyze_whole(text)


def test_a_special_case_across_spans_stays_one_token():
    assert "в т.ч." in tokenize("оплатила всё, в т.ч. прогулку")


def test_a_letter_without_a_unicode_name_is_an_unknown_word():
    # Found by schemathesis: pymorphy3 asked unicodedata for the name of «𘴈» and crashed.
    assert analyze_word("𘴈") == ("𘴈", False, False, frozenset({"𘴈"}), "")


REPO = Path(__file__).resolve().parents[1]
TEXTS = [
    *sorted((REPO / "data" / "annotated").glob("*.jsonl")),
    *sorted((REPO / "data" / "challenge").glob("*.jsonl")),
    *sorted((REPO.parent / "shared" / "external").glob("*.jsonl")),
    REPO.parent / "shared" / "crosscheck.jsonl",
]


def test_the_stored_tokenizer_tables_are_the_installed_spacys():
    """The special cases and straddling pairs read without spaCy are spaCy's own; when this fails
    after a spaCy upgrade, write the file again (see `spacy_tables`)."""
    stored = json.loads(read(spacy_tables.FILE))
    assert stored == spacy_tables.computed(), "run: " + spacy_tables.__doc__.split("`python")[-1]
    assert len(stored["special_cases"]) > 500 and len(stored["straddling_pairs"]) > 10


@pytest.mark.parametrize(
    ("text", "imports_spacy"),
    [
        ("Ситтер не пришла, собака весь день одна и не встаёт, что делать?", False),
        ("Визит в 18:00 отменён, т.е. перенесён", True),  # a time and a special case: spaCy
        # the service's warm-up message must wake spaCy, or the first such request waits for it
        (WARM_UP_TEXT, True),
    ],
)
def test_a_message_of_plain_words_is_read_without_importing_spacy(text, imports_spacy):
    """In a fresh interpreter: spaCy is imported at the first span that is not plain, and the
    tokens are the same either way (against spaCy on the whole text)."""
    code = (
        "import sys, json\n"
        "from pettriage.classifier.lemmatize import analyze, analyze_whole\n"
        f"tokens = analyze({text!r})\n"
        "print(json.dumps(['spacy' in sys.modules, tokens == analyze_whole(" + repr(text) + ")]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imported, same = json.loads(done.stdout.splitlines()[-1])
    assert same
    assert imported is imports_spacy


def test_loading_the_safety_rules_does_not_import_spacy():
    """The rules file's hyphenated phrases («что-то») are cut without spaCy: importing it at
    load made a one-message cold start 0.8 s slower."""
    code = (
        "import sys\n"
        "from pettriage.classifier.safety import SafetyRules\n"
        "SafetyRules.load()\n"
        "print('spacy' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split()[-1] == "False"


def test_plain_spans_are_read_as_spacy_splits_them():
    """Every span the shortcut reads, in every text the project has (and the external ones,
    read here and never stored), comes out as spaCy's tokenizer makes it."""
    texts = [json.loads(line)["text"] for path in TEXTS for line in path.open() if line.strip()]
    read_texts = [read_back(normalize(text)) for text in texts]
    pieces = {piece for text in read_texts for piece in _PIECES.findall(text)}
    read = {piece: found for piece in pieces if (found := _plain_span(piece)) is not None}
    assert len(read) > 20_000  # most spans take the shortcut
    differ = [
        piece
        for piece, found in read.items()
        if found.items != _items(doc := _tokenizer()(piece))
        or (found.first, found.last) != (doc[0].text, doc[-1].text)
    ]
    assert differ == []
