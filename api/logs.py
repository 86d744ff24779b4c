"""Logging that never writes a phone number or an e-mail address."""

from __future__ import annotations

import logging

from pettriage.classifier.normalize import mask_emails, mask_phones


class MaskContacts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_phones(mask_emails(message))
        if masked != message:
            record.msg, record.args = masked, ()
        return True


def install() -> None:
    mask = MaskContacts()
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access", "api"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskContacts) for f in logger.filters):
            logger.addFilter(mask)
        for handler in logger.handlers:
            if not any(isinstance(f, MaskContacts) for f in handler.filters):
                handler.addFilter(mask)
