"""The rules that find an e-mail's new text, on the cases where cutting too much would cost a
complaint (the fixture set in test_email_fixtures covers the clients)."""

from __future__ import annotations

from pettriage.api.email_text import html_lines, new_text, plain_lines


def _plain(text: str, subject: str = "") -> str:
    return new_text(plain_lines(text), subject).text


def test_a_short_alarm_with_a_phone_keeps_every_line():
    text = "Собака не дышит\nЧто делать\n+7 916 555-21-48"
    assert _plain(text) == text


def test_a_signature_without_sign_off_goes_but_a_name_alone_stays():
    signed = (
        "Кот найден мёртвым на визите.\n\nОльга Миронова\nдиспетчер смены\nтел. +7 495 555-01-20"
    )
    assert _plain(signed) == "Кот найден мёртвым на визите."
    named = "Ситтер не пришёл, верните деньги.\nОльга"
    assert _plain(named) == named


def test_interleaved_answers_keep_every_new_line_and_no_quote():
    text = (
        "Отвечаю по пунктам.\n\n"
        '27.11.2025, 07:55, "Поддержка" <support@petsitter.example>:\n'
        "> 1. Когда это случилось?\n\n"
        "Вчера в 18:30, собака укусила меня за руку.\n\n"
        "> 2. Обращались ли к врачу?\n\n"
        "Да, в травмпункт.\n"
    )
    assert _plain(text) == (
        "Отвечаю по пунктам.\n\nВчера в 18:30, собака укусила меня за руку.\n\nДа, в травмпункт."
    )


def test_a_reply_header_wrapped_onto_two_lines_goes():
    text = (
        "Спасибо, всё хорошо.\n\nOn Thu, Nov 27, 2025 at 7:55 AM Служба поддержки <\n"
        "support@petsitter.example> wrote:\n\n> Как прошёл визит?\n"
    )
    assert _plain(text) == "Спасибо, всё хорошо."


def test_an_outlook_forward_is_told_from_a_reply_by_its_subject():
    body = (
        "Посмотрите, пожалуйста.\n\n________________________________\n"
        "От: Анна <anna@example.ru>\nОтправлено: 27 ноября 2025 г. 10:00\nТема: кот\n\n"
        "Ситтер разбил вазу и ничего не сказал.\n"
    )
    assert _plain(body, "Fw: кот") == (
        "Посмотрите, пожалуйста.\n\nСиттер разбил вазу и ничего не сказал."
    )
    assert _plain(body, "RE: кот") == "Посмотрите, пожалуйста."


def test_html_blockquotes_are_quotes_at_any_depth():
    html = (
        "<div>Новое: кошка <b>не ест</b> второй день.</div>"
        "<div class='gmail_quote'><div class='gmail_attr'>ср, 26 нояб. 2025 г. в 18:22, "
        "Поддержка &lt;support@petsitter.example&gt;:</div>"
        "<blockquote><div>Старое</div><blockquote>Ещё старее</blockquote></blockquote></div>"
    )
    assert [d for d, t in html_lines(html) if t] == [0, 0, 1, 2]
    assert new_text(html_lines(html)).text == "Новое: кошка не ест второй день."


def test_the_bats_initials_before_the_quote_mark_are_a_quote():
    text = (
        "Здравствуйте.\n\nВы писали 1 декабря 2025 г., 18:20:05:\n\n"
        "СП> Видели ли вы наушники?\n\nВидел, я их не трогал.\n"
    )
    assert _plain(text) == "Здравствуйте.\n\nВидел, я их не трогал."


def test_a_reply_header_with_the_address_in_brackets_goes():
    text = (
        "Пересылаю, разберитесь.\n\n-------- Пересылаемое сообщение --------\n"
        "20.11.2025, 09:47, Ольга (olga@example.ru):\nКому: Павел (pavel@example.ru);\n\n"
        "Выгульщик пришёл на три часа позже.\n"
    )
    assert _plain(text) == "Пересылаю, разберитесь.\n\nВыгульщик пришёл на три часа позже."


def test_a_full_name_and_short_lines_under_it_are_a_signature():
    text = "Опоздали в четвёртый раз.\n\nГаврилова Юлия Сергеевна\nврач-анестезиолог\nКлиника"
    assert _plain(text) == "Опоздали в четвёртый раз."
    alarm = "Кот не дышит\n\nПомогите Срочно\nпожалуйста"  # not a name: everything stays
    assert _plain(alarm) == alarm


def test_html_signature_blocks_and_preformatted_lines():
    html = (
        "<p>Деньги пришли, спасибо.</p>"
        "<pre class='moz-signature'>-- \nКсения Белоусова</pre>"
        "<pre>строка один\nстрока два</pre>"
    )
    assert new_text(html_lines(html)).text == "Деньги пришли, спасибо.\nстрока один\nстрока два"


def test_an_outlook_forward_without_a_separator_keeps_the_notes_last_line():
    body = (
        "Посмотрите, что пишет клиентка\nОт: Анна <anna@example.ru>\n"
        "Отправлено: 27 ноября 2025 г. 10:00\nТема: кот\n\nСиттер разбил вазу.\n"
    )
    assert _plain(body, "Fw: кот") == "Посмотрите, что пишет клиентка\n\nСиттер разбил вазу."
