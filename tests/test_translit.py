"""Latin-script Russian read back into Cyrillic against the pymorphy3 dictionary."""

import pytest

from pettriage.classifier.translit import cyrillic, read_back


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("sobaka", "собака"),
        ("dyshit", "дышит"),
        ("delat", "делать"),  # a final soft sign left out
        ("ponedelnik", "понедельник"),  # …and one inside the word
        ("malchik", "мальчик"),
        ("bolnica", "больница"),
        ("voskresenye", "воскресенье"),  # «ye» after a soft sign
        ("nedelyu", "неделю"),
        ("eto", "это"),  # not «ето», which the dictionary knows as a distortion
        ("eti", "эти"),
        ("chto", "что"),
        # the service's own words, which the dictionary lacks, soft sign left out or not
        ("vygulshchik", "выгульщик"),
        ("vygul'shchica", "выгульщица"),
        ("vetskoruyu", "ветскорую"),  # not «вецкорую», the first spelling
        ("sittera", "ситтера"),
        # a soft sign left out far more often than the plain word is meant
        ("krov", "кровь"),
        ("byt", "быть"),
    ],
)
def test_a_word_is_read_as_the_dictionary_spells_it(word, expected):
    assert cyrillic(word) == (expected, True)


def test_a_word_of_no_spelling_stays_unknown():
    assert cyrillic("xqzt") == ("хкзт", False)  # the first spelling


def test_a_weekday_written_without_its_soft_sign_dates_the_event():
    text = "on umer v ponedelnik vecherom, ya hodila tuda s pyatnicy"
    assert read_back(text) == "он умер в понедельник вечером, я ходила туда с пятницы"


def test_a_date_written_in_latin_letters_dates_the_event():
    assert read_back("3 dnya nazad eto bylo") == "3 дня назад это было"


def test_english_stays_english():
    text = "the dog is not breathing, what do we do"
    assert read_back(text) == text
