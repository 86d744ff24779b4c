"""Logging that never writes a phone number or an e-mail address.

A contact can sit anywhere in a record: in the message, in an argument (a message id in the
path of an access-log line, an exception's text), in the traceback (a failed INSERT prints its
statement) or in the stack. Each is masked where it lies, so formatters still get what they
expect: uvicorn's access formatter unpacks exactly five arguments, and collapsing them into the
message made it fail (`--- Logging error ---`, the unmasked path printed in the report).
Paths and query strings arrive percent-encoded (`%2B7916…`, `%40`, `+` for a space), so a text
is also read decoded.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import unquote

from pettriage.classifier.normalize import mask_emails, mask_phones

# Arguments that cannot hold a contact, and that `%d`/`%f` need as they are.
_PLAIN = (int, float, bool, type(None))
_TRACEBACK = logging.Formatter()  # renders an exception as every standard formatter would


def _masked(text: str) -> str:
    return mask_phones(mask_emails(text))


def mask(text: str) -> str:
    """`text` with its phones and e-mails masked, also when percent-encoded or when a form
    encoded its spaces as `+`; unchanged (and not decoded) when it holds none."""
    masked = _masked(text)
    if "%" in text:
        decoded = unquote(text)
        if _masked(decoded) != decoded:
            masked = _masked(decoded)
    if "+" in masked:
        spaced = masked.replace("+", " ")
        if _masked(spaced) != spaced:
            masked = _masked(spaced)
    return masked


def _argument(value: object) -> object:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, _PLAIN):
        return value
    try:
        shown = str(value)  # an exception or another object formatted with %s
    except Exception:
        return value
    masked = mask(shown)
    return value if masked == shown else masked


def mask_record(record: logging.LogRecord) -> None:
    """Mask `record` in place: message, arguments (keeping their tuple or mapping shape),
    the formatted exception and the stack."""
    if isinstance(record.msg, str):
        # With arguments the message is a format string: decoding `%2B` there would break it.
        record.msg = mask(record.msg) if not record.args else _masked(record.msg)
    if isinstance(record.args, Mapping):
        record.args = {k: _argument(v) for k, v in record.args.items()}
    elif isinstance(record.args, tuple):
        record.args = tuple(_argument(a) for a in record.args)
    if record.exc_info and not record.exc_text:
        record.exc_text = _TRACEBACK.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask(record.exc_text)
        # Formatters print exc_text when it is set; without exc_info none can print the raw one.
        record.exc_info = None
    if record.stack_info:
        record.stack_info = mask(record.stack_info)


class MaskContacts(logging.Filter):
    """The same masking as a filter, for handlers configured elsewhere (`dictConfig`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


def install() -> None:
    """Mask every record of the process when it is made, whichever logger makes it and
    whichever handler prints it (uvicorn's, a library's own, or logging's last resort)."""
    make = logging.getLogRecordFactory()
    if getattr(make, "masks_contacts", False):
        return

    def make_masked(*args, **kwargs) -> logging.LogRecord:
        record = make(*args, **kwargs)
        mask_record(record)
        return record

    make_masked.masks_contacts = True
    logging.setLogRecordFactory(make_masked)
