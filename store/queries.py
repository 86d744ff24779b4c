"""Reads and writes of the service's database: predictions (the quality team's are in `quality`).

Each function takes a session and commits what it writes; none raises an HTTP error (the
service's routes decide what a missing row means to a caller).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import insert, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from . import outbox
from .review_queue import priority
from .tables import MAX_ROW_ID, Prediction


@dataclass(frozen=True)
class Filters:
    """What a router asks for; None is "any". Times are bounds [from, to) on when the message
    was received (`received_*`, as the channel said) or stored (`created_*`)."""

    created_from: datetime | None = None
    created_to: datetime | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    is_hard: bool | None = None
    urgency: str | None = None
    category: str | None = None
    channel: str | None = None
    reporter: str | None = None
    needs_review: bool | None = None
    text: str | None = None  # a piece of the text, any letter case


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"p:{last_id}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    """The id a cursor stands for, or ValueError with what a cursor looks like."""
    try:
        kind, value = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
        if kind != "p":
            raise ValueError
        row_id = int(value)
        if not 0 <= row_id <= MAX_ROW_ID:
            raise ValueError
        return row_id
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError("cursor must be the next_cursor of an earlier answer") from error


def save(session: Session, rows: list[dict]) -> None:
    """Insert predictions given by attribute name, the whole batch in one INSERT and one commit.
    Through SQLAlchemy Core: the ORM's bulk path cost more per row than the insert itself.
    Their webhook events are queued in the same transaction: both are stored, or neither."""
    columns = _column_keys()
    # One INSERT binds the columns of the first row only: a key that only a later row has (an
    # e-mail's sender beside a chat message in one batch) would be dropped without a word, so
    # every row names every key of the batch, a missing one taking the column's default.
    keys = set().union(*rows)
    defaults = _column_defaults()
    session.connection().execute(
        insert(Prediction.__table__),
        [{columns[k]: row.get(k, defaults.get(k)) for k in keys} for row in rows],
    )
    outbox.add_events(session, rows)
    session.commit()


@cache
def _column_defaults() -> dict[str, object]:
    """Attribute name → the scalar default of its column, where it has one."""
    return {
        a.key: a.columns[0].default.arg
        for a in sa_inspect(Prediction).column_attrs
        if a.columns[0].default is not None and a.columns[0].default.is_scalar
    }


@cache
def _column_keys() -> dict[str, str]:
    """Attribute name → column key (`meta` is stored in the column `metadata`)."""
    return {a.key: a.columns[0].key for a in sa_inspect(Prediction).column_attrs}


def by_idempotency_key(session: Session, key: str) -> Prediction | None:
    return session.scalars(select(Prediction).where(Prediction.idempotency_key == key)).first()


def history(session: Session, message_id: str) -> list[Prediction]:
    query = select(Prediction).where(Prediction.message_id == message_id).order_by(Prediction.id)
    return list(session.scalars(query))


def page(session: Session, filters: Filters, limit: int, after: int = 0) -> list[Prediction]:
    """Predictions in the order they were made, oldest first, after the id of a cursor."""
    query = select(Prediction).where(Prediction.id > after)
    bounds = (
        (Prediction.created_at, filters.created_from, filters.created_to),
        (Prediction.received_at, filters.received_from, filters.received_to),
    )
    for column, start, end in bounds:
        if start is not None:
            query = query.where(column >= start)
        if end is not None:
            query = query.where(column < end)
    equal = (
        (Prediction.is_hard, filters.is_hard),
        (Prediction.urgency, filters.urgency),
        (Prediction.category, filters.category),
        (Prediction.channel, filters.channel),
        (Prediction.reporter, filters.reporter),
        (Prediction.needs_review, filters.needs_review),
    )
    for column, value in equal:
        if value is not None:
            query = query.where(column == value)
    if filters.text:
        query = query.where(Prediction.text.icontains(filters.text, autoescape=True))
    return list(session.scalars(query.order_by(Prediction.id).limit(limit)))


def latest_prediction(session: Session, message_id: str) -> Prediction | None:
    query = (
        select(Prediction)
        .where(Prediction.message_id == message_id)
        .order_by(Prediction.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def prediction_row(
    message_id: str,
    channel: str | None,
    text: str,
    decision,
    answer: dict,
    created_at: datetime,
    received_at: datetime | None = None,
    meta: dict | None = None,
) -> dict:
    """The stored row of one classification (`answer` is `decision.as_dict()`), scored for
    the review queue."""
    score, reason = priority(answer, message_id)
    return dict(
        message_id=message_id,
        channel=channel,
        text=text,
        is_hard=decision.is_hard,
        category=decision.category,
        urgency=decision.urgency,
        reporter=decision.reporter,
        needs_review=decision.needs_review,
        safety_fired=decision.safety_fired,
        decision=answer,
        model_version=decision.model_version,
        received_at=received_at,
        created_at=created_at,
        meta=meta,
        review_priority=score,
        review_reason=reason,
    )
