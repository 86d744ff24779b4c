"""The text of an e-mail that a person wrote now: without the quoted history, the reply headers,
the signature, the disclaimer and the "sent from" line — and, for a forward, the forwarded letter
together with the forwarder's note, without the wrapper.

It reads what the mail clients Russian users have actually write (Gmail, Yandex Mail, Mail.ru,
Outlook, Apple Mail, Thunderbird; their Russian and English forms), in plain text and in HTML.
HTML is first turned into lines with the depth of quotation each line is at (`>` in plain text,
`<blockquote>` in HTML), so that both are read by one set of rules:

1. a forward marker («---------- Пересылаемое сообщение ---------», "Begin forwarded message:",
   Outlook's header block under a subject «Fwd:/Fw:/Пересл.:») splits the note from the
   forwarded letter; the letter's own header lines go, and it is read again by these rules;
2. in a reply, quoted lines go wherever they are (above, below, between the new lines), with the
   line that introduced them («ср, 26 нояб. 2025 г. в 18:22, Имя <x@y>:», "On … wrote:»,
   «27.11.2025 07:55, Имя пишет:»…); an unquoted history under a separator or a header block
   (Outlook, The Bat!) is cut with everything below it;
3. the signature («-- », «С уважением», "Best regards"), a disclaimer and «Отправлено с iPhone»
   end the new text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pettriage.classifier.lemmatize import morph

from .email_lines import html_lines, plain_lines

__all__ = ["NewText", "html_lines", "new_text", "plain_lines"]

# -- what the clients write --------------------------------------------------------------------
_HEADER = re.compile(
    r"^\s*[*_]*(От кого|От|From|Отправлено|Отправитель|Sent|Кому|To|Тема|Subject|Дата|Date"
    r"|Копия|Cc|Reply-To)[*_]*\s*:[*_]*\s*(.*)$",
    re.IGNORECASE,
)
_FROM_HEADER = re.compile(r"^\s*[*_]*(От кого|От|From|Отправитель)[*_]*\s*:", re.IGNORECASE)
# «---------- Пересылаемое сообщение ---------», "-------- Forwarded Message --------"
_FORWARD_LINE = re.compile(
    r"^\s*-{2,}\s*(Пересылаемое сообщение|Пересланное сообщение|Переадресованное сообщение"
    r"|Forwarded message)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_FORWARD_INTRO = re.compile(
    r"^\s*(Начало переадресованного сообщения|Начало пересылаемого сообщения"
    r"|Begin forwarded message)\s*:\s*$",
    re.IGNORECASE,
)
_FORWARD_END = re.compile(
    r"^\s*-{2,}\s*(Конец пересылаемого сообщения|End (of )?forwarded message)\s*-{2,}\s*$",
    re.IGNORECASE,
)
# Outlook and The Bat! put the earlier letter under a line of their own.
_SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(Исходное сообщение|Original Message|Оригинальное сообщение)\s*-{2,}"
    r"|_{20,})\s*$",
    re.IGNORECASE,
)
_FORWARD_SUBJECT = re.compile(r"^\s*(Fwd?|Пересл|Переслано|ПЕРЕСЛ|Перенаправлено)\s*\.?:", re.I)
# The line that introduces a quotation: a date or a time, someone, and «пишет/написал/wrote»
# or the address and a colon.
_TIME = r"(\d{1,2}:\d{2}|\d{4})"
_ATTRIBUTION = re.compile(
    r"^(?=.*" + _TIME + r").*("
    r"(пишет|писал|писала|писали|написал|написала|написали|написал\(а\)|wrote|schrieb)\s*:"
    r"|<[^<>@\s]+@[^<>\s]+>\s*:|\([^()@\s]+@[^()\s]+\)\s*:"
    r"|(вы писали|you wrote)\b.*:"
    r"|\s(от|from)\s.+:"
    r")\s*$",
    re.IGNORECASE,
)
_SIGN_OFF = re.compile(
    r"^\s*(-{2,}|—|_{2,})\s*$"
    r"|^\s*(С уважением|С наилучшими пожеланиями|Всего (доброго|хорошего)|С благодарностью"
    r"|Best regards|Kind regards|Regards|Best wishes|Warm regards|Cheers|Sincerely)\b.{0,40}$",
    re.IGNORECASE,
)
_SENT_FROM = re.compile(
    r"^\s*(Отправлено (с|из)\b|Sent (from|with) (my|the)?\b|Get Outlook for|Скачайте Outlook"
    r"|Получено с помощью|Отправлено из мобильной)",
    re.IGNORECASE,
)
_DISCLAIMER = re.compile(
    r"^\s*(Конфиденциально|КОНФИДЕНЦИАЛЬН|CONFIDENTIAL|Disclaimer|Внимание\s*:"
    r"|(Это|Данное|Настоящее) (электронное )?(письмо|сообщение)(?=.{0,80}"
    r"(конфиденциальн|предназначен|содерж|вложени|адресат))"
    r"|Информация,? (содержащаяся|изложенная) в"
    r"|This (e-?mail|message|communication)(?=.{0,80}(confidential|intended))"
    r"|(Сообщение|Письмо) проверено|Проверено антивирусом|Антивирус)",
    re.IGNORECASE,
)


# A signature with no sign-off: a name, then short lines with a title, a company or a phone.
_NAME = re.compile(r"^\s*(([А-ЯЁA-Z][а-яёa-z]+(-[А-ЯЁA-Z][а-яёa-z]+)?|[А-ЯЁA-Z]\.\s?)\s*){1,3}\s*$")
_SIGNATURE_LINE = re.compile(
    r"(\+7|\b8)[\s(-]*\d{3}|\bтел\b|\b(ООО|ОАО|АО|ЗАО|ПАО|ИП|LLC|Ltd|Inc|GmbH)\b|@|www\.|https?://"
    r"|менеджер|директор|начальник|руководител|специалист|помощни|ассистент|диспетчер"
    r"|администратор|бухгалтер|отдел|служб|департамент|наставник|куратор|координатор"
    r"|оператор|сотрудник|представитель|юрист|инженер|аналитик"
    r"|manager|director|assistant|head of|coordinator|supervisor|officer",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class NewText:
    text: str
    forwarded_from: str | None = None  # the From line of a forwarded letter


def new_text(lines: list[tuple[int, str]], subject: str = "") -> NewText:
    """The new text of a body read into (depth, text) lines."""
    forward = _forward_at(lines, subject)
    if forward is None:
        return NewText(_reply(lines))
    note_end, letter_start, marker_depth = forward
    note = _reply(lines[:note_end])
    letter, author = _forwarded_letter(lines[letter_start:], marker_depth)
    inner = new_text(letter)  # a forward of a forward, or a letter with its own quotes
    parts = [p for p in (note, inner.text) if p]
    return NewText("\n\n".join(parts), author or inner.forwarded_from)


def _forward_at(lines: list[tuple[int, str]], subject: str) -> tuple[int, int, int] | None:
    """Where the note ends, where the forwarded letter starts, and the depth of its marker."""
    forwarded = bool(_FORWARD_SUBJECT.match(subject or ""))
    for i, (depth, text) in enumerate(lines):
        if _FORWARD_LINE.match(text) or _FORWARD_INTRO.match(text):
            return i, i + 1, depth
        # Outlook forwards like it replies: a separator line or a header block, told apart by
        # the subject only. A header block is the letter's own first lines.
        if forwarded and depth == 0:
            if _SEPARATOR.match(text):
                return i, i + 1, depth
            if _header_block_at(lines, i):
                return i, i, depth
    return None


def _header_block_at(lines: list[tuple[int, str]], i: int) -> bool:
    """Two header lines or more from line i on, the first a From."""
    if not _FROM_HEADER.match(lines[i][1]):
        return False
    following = [t for _, t in lines[i + 1 : i + 6] if t.strip()]
    return bool(following) and bool(_HEADER.match(following[0]))


def _forwarded_letter(
    lines: list[tuple[int, str]], marker_depth: int
) -> tuple[list[tuple[int, str]], str | None]:
    """The forwarded letter's lines, unquoted to the marker's level, without its headers."""
    content_depth = next((d for d, t in lines if t.strip()), marker_depth)
    shift = max(content_depth, marker_depth)
    body = [(max(d - shift, 0), t) for d, t in lines if d >= content_depth]
    author = None
    i = 0
    while i < len(body):
        text = body[i][1]
        if not text.strip():
            i += 1
            continue
        header = _HEADER.match(text)
        if header:
            if author is None and _FROM_HEADER.match(text):
                author = header[2].strip() or None
            i += 1
            continue
        if _ATTRIBUTION.match(text) and i < 4:  # Yandex: «24.11.2025, 22:51, "Имя" <x@y>:»
            i += 1
            continue
        break
    letter = body[i:]
    for j, (_, text) in enumerate(letter):
        if _FORWARD_END.match(text):
            letter = letter[:j]
            break
    return letter, author


def _reply(lines: list[tuple[int, str]]) -> str:
    """The lines at depth 0 that are not a reply header, up to the signature or an unquoted
    history."""
    kept: list[str] = []
    i = 0
    while i < len(lines):
        depth, text = lines[i]
        if depth > 0:
            i += 1
            continue
        if _SEPARATOR.match(text) or _header_block_at(lines, i):
            break  # an unquoted history (Outlook, The Bat!) runs to the end
        attribution = _attribution(lines, i)
        if attribution:
            after = next((d for d, t in lines[i + attribution :] if t.strip()), 0)
            if after == 0:
                break  # its quotation is unquoted: the history runs to the end
            i += attribution
            continue
        if _SENT_FROM.match(text):
            i += 1
            continue
        if _SIGN_OFF.match(text) or _DISCLAIMER.match(text):
            break
        kept.append(text)
        i += 1
    return _tidy(_without_signature(kept))


def _without_signature(lines: list[str]) -> list[str]:
    """The lines without a trailing signature that has no sign-off: a name line followed only by
    short lines — at least one a title, a company or a phone, or, after a full name that the
    dictionary knows as one («Гаврилова Юлия Сергеевна»), any. A name alone stays (it costs
    nothing), and so does anything the person wrote after it."""
    for start in range(len(lines) - 1, 0, -1):
        line = lines[start]
        if not _NAME.match(line):
            if len(line) > 70 or line.rstrip().endswith((".", "!", "?")):
                break  # a sentence: what is above it is no signature's
            continue
        tail = [t for t in lines[start + 1 :] if t.strip()]
        marked = any(_SIGNATURE_LINE.search(t) for t in tail) or _full_name(line)
        if tail and len(tail) <= 6 and marked and any(t.strip() for t in lines[:start]):
            return lines[:start]
    return lines


def _full_name(line: str) -> bool:
    """Two or three words, each a first name, a surname or a patronymic by the dictionary."""
    words = line.split()
    if not 2 <= len(words) <= 3:
        return False
    analyzer = morph()
    return all(
        any({"Name", "Surn", "Patr"} & parse.tag.grammemes for parse in analyzer.parse(word))
        for word in words
    )


def _attribution(lines: list[tuple[int, str]], i: int) -> int:
    """How many lines, from i, make a reply header (clients wrap a long one onto two)."""
    depth, text = lines[i]
    if not text.strip():
        return 0
    if _ATTRIBUTION.match(text):
        return 1
    if i + 1 < len(lines) and lines[i + 1][0] == depth:
        second = lines[i + 1][1]
        if _ATTRIBUTION.match(second) or text.rstrip().endswith((".", "!", "?")):
            return 0  # the header is the next line alone, or this line is a sentence
        joined = f"{text} {second}".strip()
        if len(joined) < 300 and _ATTRIBUTION.match(joined):
            return 2
    return 0


def _tidy(lines: list[str]) -> str:
    text = "\n".join(line.rstrip() for line in lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
