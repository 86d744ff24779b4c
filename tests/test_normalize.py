import re

import pytest

from pettriage.classifier import normalize as module
from pettriage.classifier.normalize import (
    fold_repeats,
    fold_yo,
    mask_emails,
    mask_phones,
    mask_urls,
    normalize,
    squeeze_spaces,
)


@pytest.mark.parametrize(
    ("function", "text", "expected"),
    [
        (fold_yo, "ёжик щёлкнул", "ежик щелкнул"),
        (mask_urls, "фото тут https://example.ru/a?b=1 смотрите", "фото тут  urltoken  смотрите"),
        (mask_urls, "www.example.ru", " urltoken "),
        (mask_emails, "пишите на anna.test@example.ru", "пишите на  emailtoken "),
        (mask_phones, "звоните +7 900 000-12-34", "звоните  phonetoken "),
        (mask_phones, "8(900)0001234 или 89000001234", " phonetoken  или  phonetoken "),
        (mask_phones, "заказ 123456 на 10:30", "заказ 123456 на 10:30"),
        (fold_repeats, "ааааааа!!!!!!", "ааа!!!"),
        (fold_repeats, "ссылка", "ссылка"),
    ],
)
def test_steps(function, text, expected):
    assert function(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("СОБАКА НЕ ДЫШИТ!!!!!!", "собака не дышит!!!"),
        ("Ёлка  и   ёж", "елка и еж"),
        ("Ｆｕｌｌｗｉｄｔｈ", "fullwidth"),  # NFKC
        ("строка\n\n\nвторая", "строка\nвторая"),  # line breaks kept: they end sentences
        ("кот 😿 плачет", "кот 😿 плачет"),  # emoji kept
        ("пишите: a@b.ru, +79000001234", "пишите: emailtoken , phonetoken"),
    ],
)
def test_normalize(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "смотрите WwW.Example.ru и HTTPS://x.ru/a",  # the URL pattern ignores case
        "адрес: wWw.site.ru",
        "звоните 8 900 000 12 34 или +7(900)000-12-34",
        "ааааа ооо!!!! ...... ))))",
        "кот\t\tи  пёс\u00a0\u00a0спят \n\n  а  \r\n  ",
        "a@b.c и x.y+z@mail-ru.com",
        "без ничего особенного",
        "88888888888 и +7",
    ],
)
def test_steps_skip_only_what_their_pattern_cannot_match(text):
    """Each step first checks for what its pattern needs; the answer is the pattern's alone."""
    m = module
    assert mask_urls(text) == m._URL.sub(m.URL_TOKEN, text)
    assert mask_emails(text) == m._EMAIL.sub(m.EMAIL_TOKEN, text)
    assert mask_phones(text) == m._PHONE.sub(m.PHONE_TOKEN, text)
    assert fold_repeats(text) == m._REPEAT.sub(r"\1\1\1", text)
    squeezed = re.sub(r"\s*\n\s*", "\n", re.sub(r"[^\S\n]+", " ", text)).strip()
    assert squeeze_spaces(text) == squeezed
