"""Requests that must be classified once: an e-mail (its Message-ID is its key) and a request
sent with an `Idempotency-Key`. A key names one stored prediction; a repeat of the same request
gets that prediction's answer back, and the same key with another request is refused."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from .schemas import ClassifyRequest

KEY_HEADER = (
    "a key of the caller's choice: a request repeated with the same key and the same body gets "
    "the stored answer (header `Idempotent-Replayed: true`) and stores nothing new; the same key "
    "with another body is a 409"
)


class KeyReused(Exception):
    """An idempotency key that names a stored prediction of a different request."""

    def __init__(self, key: str, message_id: str):
        super().__init__(
            f"this idempotency key was used before for another request (message_id "
            f"{message_id!r}); a repeat must send the same message, or use a new key"
        )


@dataclass(frozen=True)
class Intake:
    """What is stored beside a request besides its text: the key a repeat is recognised by
    (`email:<Message-ID>`, `key:<Idempotency-Key>`), a hash of what was asked under it, and an
    e-mail's sender and subject."""

    key: str | None = None
    request_hash: str | None = None
    sender: str | None = None
    subject: str | None = None


@dataclass(frozen=True)
class Once:
    """The answer to a keyed request, and whether it is the stored answer of an earlier one."""

    answer: dict
    replayed: bool


def request_hash(request: ClassifyRequest) -> str:
    asked = request.model_dump(mode="json")
    return hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()


def replay(row) -> dict:
    """The answer a stored prediction was given."""
    return row.decision | {
        "message_id": row.message_id,
        "stored": True,
        "actions": row.actions or [],
    }


def intake_columns(intake: Intake | None, actions: list[dict]) -> dict:
    columns = {"actions": actions}
    if intake is not None:
        columns |= {
            "idempotency_key": intake.key,
            "request_hash": intake.request_hash,
            "sender": intake.sender,
            "subject": intake.subject,
        }
    return columns
