import pytest

from classifier.normalize import (
    fold_repeats,
    fold_yo,
    mask_emails,
    mask_phones,
    mask_urls,
    normalize,
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
