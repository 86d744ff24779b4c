"""Input and annotated record shapes, and their validation.

Validation returns readable problems rather than raising on the first, so a batch job can report
every bad line and go on with the good ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .labels import CATEGORIES, CHANNELS, REPORTERS, URGENCIES, consistency_errors

MAX_TEXT_CHARS = 20_000
LABEL_FIELDS = ("category", "is_hard", "urgency", "reporter")


@dataclass(frozen=True, slots=True)
class Message:
    """One message to classify."""

    text: str
    channel: str | None = None
    id: str | None = None
    # When the message reached us: "yesterday" and "2 ноября" are read against it (safety rules,
    # README "When did it happen"). None means now.
    received_at: datetime | None = None


class InvalidInput(ValueError):
    """A message or record that does not have the expected shape; the text says what to fix."""


def parse_received_at(value: object) -> datetime | None:
    """An ISO 8601 time with a timezone, or None; `InvalidInput` says what was expected."""
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidInput(f"'received_at' must be {OPTIONAL_FIELDS['received_at']}; got {value!r}")
    return moment


def message_from_dict(data: object) -> Message:
    """A `Message` from a decoded JSON object, or `InvalidInput` naming the field and the rule."""
    if not isinstance(data, dict):
        raise InvalidInput(f"expected a JSON object with a 'text' field, got {type(data).__name__}")
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("field 'text' must be a non-empty string")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInput(
            f"field 'text' is {len(text)} characters long; the limit is {MAX_TEXT_CHARS}"
        )
    channel = data.get("channel")
    if channel is not None and channel not in CHANNELS:
        raise InvalidInput(f"field 'channel' must be one of {', '.join(CHANNELS)}; got {channel!r}")
    message_id = data.get("id")
    if message_id is not None and not isinstance(message_id, str | int):
        raise InvalidInput("field 'id' must be a string")
    return Message(
        text=text,
        channel=channel,
        id=None if message_id is None else str(message_id),
        received_at=parse_received_at(data.get("received_at")),
    )


# An annotated record without `received_at` is read as received at this moment, not at the
# moment a figure is computed: «в среду» or «12.07» would otherwise be today on one day and earlier
# on another, and the same model on the same data would score differently from day to day.
UNDATED_RECORD_RECEIVED_AT = datetime(2026, 12, 7, 12, 0, tzinfo=timezone(timedelta(hours=3)))


def record_received_at(record: dict) -> datetime:
    """When an annotated record is taken to have arrived: its own time, or the fixed one above."""
    return parse_received_at(record.get("received_at")) or UNDATED_RECORD_RECEIVED_AT


def message_of(record: dict) -> Message:
    """The message of an annotated record, as the model reads it."""
    return Message(record["text"], record["channel"], record["id"], record_received_at(record))


_ALLOWED = {
    "channel": CHANNELS,
    "reporter": REPORTERS,
    "category": CATEGORIES,
    "urgency": URGENCIES,
}
REQUIRED_FIELDS = ("id", "text", "channel", "reporter", "category", "is_hard", "urgency")


# Fields a record may carry besides the guide's, and what each must hold.
OPTIONAL_FIELDS = {
    "writer": "a non-empty string: who wrote the record (one name per independent writer)",
    "received_at": "an ISO 8601 time with a timezone, e.g. 2026-10-14T09:41:00+03:00",
    "in_domain": "true or false: is the message about this service at all",
    "pair": "a non-empty string naming the minimal pair the record belongs to",
}


def _optional_problems(record: dict) -> list[str]:
    problems = []
    for name in ("writer", "pair"):
        if name in record and (not isinstance(record[name], str) or not record[name].strip()):
            problems.append(f"{name!r} must be {OPTIONAL_FIELDS[name]}")
    if "in_domain" in record and not isinstance(record["in_domain"], bool):
        problems.append(f"'in_domain' must be true or false; got {record['in_domain']!r}")
    if "received_at" in record:
        try:
            parse_received_at(record["received_at"])
        except InvalidInput as error:
            problems.append(str(error))
    return problems


def record_problems(record: object) -> list[str]:
    """What is wrong with one annotated record by the guide's schema; empty when it is valid."""
    if not isinstance(record, dict):
        return [f"expected a JSON object, got {type(record).__name__}"]
    problems = [f"missing field {name!r}" for name in REQUIRED_FIELDS if name not in record]
    if problems:
        return problems
    if not isinstance(record["id"], str) or not record["id"]:
        problems.append("'id' must be a non-empty string")
    if not isinstance(record["text"], str) or not record["text"].strip():
        problems.append("'text' must be a non-empty string")
    for name, allowed in _ALLOWED.items():
        if record[name] not in allowed:
            problems.append(f"{name!r} must be one of {', '.join(allowed)}; got {record[name]!r}")
    if not isinstance(record["is_hard"], bool):
        problems.append(f"'is_hard' must be true or false; got {record['is_hard']!r}")
    if not problems:
        problems += consistency_errors(record["category"], record["is_hard"], record["urgency"])
    return problems + _optional_problems(record)


def head_labels_of(records) -> dict[str, list[str]]:
    """Each head's labels for annotated records, as the heads name them (`is_hard`: "true")."""
    return {
        "is_hard": [str(r["is_hard"]).lower() for r in records],
        "category": [r["category"] for r in records],
        "urgency": [r["urgency"] for r in records],
        "reporter": [r["reporter"] for r in records],
    }
