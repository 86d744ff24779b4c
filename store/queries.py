"""Reads and writes of the service's database: predictions, corrections, the review queue.

Each function takes a session and commits what it writes; none raises an HTTP error (the
service's routes decide what a missing row means to a caller).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import delete, exists, insert, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, aliased

from . import outbox
from .review_queue import priority
from .tables import MAX_ROW_ID, AuditItem, Feedback, Prediction


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
    session.connection().execute(
        insert(Prediction.__table__), [{columns[k]: v for k, v in row.items()} for row in rows]
    )
    outbox.add_events(session, rows)
    session.commit()


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


@dataclass(frozen=True)
class QueueFilters:
    category: str | None = None
    urgency: str | None = None
    channel: str | None = None


def latest_prediction(session: Session, message_id: str) -> Prediction | None:
    query = (
        select(Prediction)
        .where(Prediction.message_id == message_id)
        .order_by(Prediction.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def _handled(target: str, message_id_column):
    return exists().where(Feedback.target == target, Feedback.message_id == message_id_column)


def review_queue(session: Session, filters: QueueFilters, limit: int) -> list[Prediction]:
    """The latest prediction of each message with a review priority that no one has handled,
    most valuable first, oldest first within a priority."""
    newer = aliased(Prediction)
    query = select(Prediction).where(
        Prediction.review_priority > 0,
        ~exists().where(newer.message_id == Prediction.message_id, newer.id > Prediction.id),
        ~_handled("prediction", Prediction.message_id),
    )
    if filters.category:
        query = query.where(Prediction.category == filters.category)
    if filters.urgency:
        query = query.where(Prediction.urgency == filters.urgency)
    if filters.channel:
        query = query.where(Prediction.channel == filters.channel)
    query = query.order_by(Prediction.review_priority.desc(), Prediction.id).limit(limit)
    return list(session.scalars(query))


def audit_list(session: Session, filters: QueueFilters, limit: int) -> list[AuditItem]:
    """Audit items no one has confirmed or rejected yet, the most confident suggestion first."""
    query = select(AuditItem).where(~_handled("annotated", AuditItem.record_id))
    if filters.category:
        query = query.where(
            (AuditItem.labels["category"].as_string() == filters.category)
            | ((AuditItem.head == "category") & (AuditItem.suggested == filters.category))
        )
    if filters.urgency:
        query = query.where(AuditItem.labels["urgency"].as_string() == filters.urgency)
    if filters.channel:
        query = query.where(AuditItem.channel == filters.channel)
    query = query.order_by(AuditItem.confidence.desc(), AuditItem.id).limit(limit)
    return list(session.scalars(query))


def audit_item(session: Session, record_id: str) -> AuditItem | None:
    query = select(AuditItem).where(AuditItem.record_id == record_id).order_by(AuditItem.id)
    return session.scalars(query.limit(1)).first()


def replace_audit(session: Session, rows: list[dict]) -> None:
    session.execute(delete(AuditItem))
    if rows:
        session.execute(insert(AuditItem), rows)
    session.commit()


def add_feedback(session: Session, row: dict) -> Feedback:
    feedback = Feedback(**row)
    session.add(feedback)
    session.commit()
    return feedback


def feedback_log(
    session: Session, limit: int, message_id: str | None = None, before: int | None = None
) -> list[Feedback]:
    """Who changed what, newest first."""
    query = select(Feedback)
    if message_id is not None:
        query = query.where(Feedback.message_id == message_id)
    if before is not None:
        query = query.where(Feedback.id < before)
    return list(session.scalars(query.order_by(Feedback.id.desc()).limit(limit)))


def corrections_in_force(session: Session) -> list[Feedback]:
    """The latest word on each message, where that word is a correction, oldest first."""
    newer = aliased(Feedback)
    query = select(Feedback).where(
        ~exists().where(
            newer.target == Feedback.target,
            newer.message_id == Feedback.message_id,
            newer.id > Feedback.id,
        ),
        Feedback.verdict == "correct",
    )
    return list(session.scalars(query.order_by(Feedback.id)))


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
