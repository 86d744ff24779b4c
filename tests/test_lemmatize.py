import pytest

from classifier.lemmatize import NUMBER_TOKEN, analyze_many, lemma, lemmatize, tokenize


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


def test_unknown_words_are_flagged():
    known, typo = analyze_many(["отравилась атравилась"])[0]
    assert known.known and not typo.known
