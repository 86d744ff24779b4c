"""E-mails as they arrive (RFC 822): decode, pick the text, keep only what was written now.

The standard library decodes charsets (UTF-8, KOI8-R, windows-1251…) and transfer encodings;
`email_text` finds the new text (replies, forwards, signatures) in the plain or HTML body.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.utils import parseaddr, parsedate_to_datetime

from . import email_text


class EmailError(ValueError):
    """The upload is not a usable e-mail; the text says what was expected."""


# What a stored message id may hold (`schemas.MESSAGE_ID_PATTERN`); a Message-ID is most often
# within it, and is otherwise kept in the metadata beside an id derived from it.
_STORABLE_ID = re.compile(r"[A-Za-z0-9._:@+=~-]{1,200}")


@dataclass(frozen=True)
class IncomingEmail:
    sender_name: str
    sender_address: str
    subject: str
    text: str  # only the new text, the part that is classified
    full_text: str  # the whole decoded body
    message_id: str | None = None  # the Message-ID header, without its angle brackets
    date: datetime | None = None  # the Date header; naive dates are read as UTC
    digest: str = ""  # SHA-256 of the raw bytes
    forwarded_from: str | None = None  # the author of a forwarded letter, as its header says

    @property
    def key(self) -> str:
        """What a repeat of this e-mail is recognised by."""
        if self.message_id:
            return f"email:{self.message_id}"[:300]
        return f"email-sha256:{self.digest}"

    @property
    def stored_id(self) -> str:
        """The message id it is stored under: its Message-ID where that fits a message id."""
        if self.message_id and _STORABLE_ID.fullmatch(self.message_id):
            return self.message_id
        return "email-" + hashlib.sha256(self.key.encode()).hexdigest()[:40]


def body_lines(message) -> list[tuple[int, str]]:
    """The body as (quote depth, text) lines: the HTML part where there is one (its
    blockquotes say what is quoted), else the plain text (its `>` marks)."""
    part = message.get_body(preferencelist=("html", "plain"))
    if part is None:
        raise EmailError("expected a text/plain or text/html part in the e-mail, found none")
    try:
        content = part.get_content()
    except (LookupError, UnicodeDecodeError) as error:
        raise EmailError(f"could not decode the e-mail body ({error})") from error
    if part.get_content_type() == "text/html":
        lines = email_text.html_lines(content)
        if any(text for _, text in lines):
            return lines
        plain = message.get_body(preferencelist=("plain",))
        content = plain.get_content() if plain is not None else ""
    return email_text.plain_lines(content)


def parse(raw: bytes) -> IncomingEmail:
    if not raw.strip():
        raise EmailError("expected a raw RFC 822 e-mail, got an empty body")
    message = message_from_bytes(raw, policy=policy.default)
    if not message.keys():
        raise EmailError("expected a raw RFC 822 e-mail with headers (From, Subject…), got none")
    lines = body_lines(message)
    subject = str(message.get("Subject", "") or "")
    found = email_text.new_text(lines, subject)
    body = "\n".join(("> " * depth) + text for depth, text in lines).strip()
    text = found.text or body
    if not text.strip():
        raise EmailError("the e-mail has no text to classify")
    name, address = parseaddr(str(message.get("From", "")))
    return IncomingEmail(
        name,
        address,
        subject,
        text,
        body,
        forwarded_from=found.forwarded_from,
        message_id=_message_id(message),
        date=_date(message),
        digest=hashlib.sha256(raw).hexdigest(),
    )


def _message_id(message) -> str | None:
    value = str(message.get("Message-ID", "") or "").strip()
    return value.strip("<>").strip() or None


def _date(message) -> datetime | None:
    """The Date header, or None when it is missing or unreadable (the message is still
    classified: a bad Date is the sender's client's fault, not the complaint's)."""
    try:
        value = parsedate_to_datetime(str(message.get("Date", "") or ""))
    except (TypeError, ValueError, IndexError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
