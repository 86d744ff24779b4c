"""E-mails as they arrive (RFC 822): decode, pick the text, drop quoted replies and signatures.

The standard library decodes charsets (UTF-8, KOI8-R, windows-1251…) and transfer encodings,
inscriptis turns HTML into text, and mail-parser-reply cuts quoted replies and signatures; we
teach it the Russian forms («пишет:», «От:», «-----Исходное сообщение-----», «С уважением»,
«Отправлено с iPhone») through its language table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.utils import parseaddr

from inscriptis import get_text
from mailparser_reply import EmailReplyParser
from mailparser_reply.constants import MAIL_LANGUAGES, QUOTED_MATCH_INCLUDE


class EmailError(ValueError):
    """The upload is not a usable e-mail; the text says what was expected."""


RUSSIAN = {
    # «12 марта 2024 г., в 10:00, Иван <ivan@example.ru> пишет:»; «Вт, 12 мар. … написал(а):»
    "wrote_header": r"^(" + QUOTED_MATCH_INCLUDE + r".{0,200}?(?:пишет|писал|написал|написала"
    r"|написал\(а\))\s?:)$",
    "from_header": r"((?:(?:^|\n|\n" + QUOTED_MATCH_INCLUDE + r")[* ]*(?:От|Отправлено|Кому|Тема"
    r"|Дата|Копия|Отправитель):[ *]*(?:\s{,2}).*){2,}(?:\n.*){,1})",
    "disclaimers": [r"Конфиденциально:", r"Внимание: (?:это|данное) (?:письмо|сообщение)"],
    "signatures": [
        r"С уважением",
        r"С наилучшими пожеланиями",
        r"Всего (?:доброго|хорошего)",
        r"Хорошего дня",
    ],
    "sent_from": r"Отправлено (?:с|из) (?:моего )?(?:iPhone|iPad|Android|Samsung|мобильного|"
    r"Яндекс|Mail)|Sent from my",
}
# Outlook and The Bat! separate the quoted letter with a line of their own.
_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(?:Исходное|Пересылаемое|Пересланное|Original) (?:сообщение|письмо|Message)"
    r"\s*-{2,}\s*$",
    re.IGNORECASE | re.MULTILINE,
)


_SENT_FROM = re.compile(r"\n\s*(?:" + RUSSIAN["sent_from"] + r").*\s*$", re.IGNORECASE)


def _parser() -> EmailReplyParser:
    MAIL_LANGUAGES.setdefault("ru", RUSSIAN)  # the library's own extension point
    return EmailReplyParser(languages=["ru", "en"])


@dataclass(frozen=True)
class IncomingEmail:
    sender_name: str
    sender_address: str
    subject: str
    text: str  # only the new text, the part that is classified
    full_text: str  # the whole decoded body


def body_text(message) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        raise EmailError("expected a text/plain or text/html part in the e-mail, found none")
    try:
        content = part.get_content()
    except (LookupError, UnicodeDecodeError) as error:
        raise EmailError(f"could not decode the e-mail body ({error})") from error
    if part.get_content_type() == "text/html":
        content = get_text(content)
    return content.replace("\r\n", "\n").strip()


def new_text(body: str) -> str:
    """The text above quoted replies and the signature."""
    body = _SEPARATOR.split(body, maxsplit=1)[0]
    replies = _parser().read(body).replies
    latest = replies[0].body if replies else ""  # without headers, signature and disclaimer
    latest = _SENT_FROM.sub("", latest)  # a bare «Отправлено с iPhone» with no sign-off before it
    return latest.strip() or body.strip()


def parse(raw: bytes) -> IncomingEmail:
    if not raw.strip():
        raise EmailError("expected a raw RFC 822 e-mail, got an empty body")
    message = message_from_bytes(raw, policy=policy.default)
    if not message.keys():
        raise EmailError("expected a raw RFC 822 e-mail with headers (From, Subject…), got none")
    body = body_text(message)
    text = new_text(body)
    if not text:
        raise EmailError("the e-mail has no text to classify")
    name, address = parseaddr(str(message.get("From", "")))
    return IncomingEmail(name, address, str(message.get("Subject", "")), text, body)
