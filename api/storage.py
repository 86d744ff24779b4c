"""Every classification is stored: who asked what, what we answered, with which model, when.

Re-classifying a message id adds a row; the history of a message is all its rows in order.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    delete,
    exists,
    insert,
    select,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, aliased, mapped_column

ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER keys only


class Base(DeclarativeBase):
    pass


class Prediction(Base):
    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(200), index=True)
    channel: Mapped[str | None] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    is_hard: Mapped[bool] = mapped_column(Boolean, index=True)
    category: Mapped[str] = mapped_column(String(40), index=True)
    urgency: Mapped[str] = mapped_column(String(20), index=True)
    reporter: Mapped[str] = mapped_column(String(20))
    needs_review: Mapped[bool] = mapped_column(Boolean)
    safety_fired: Mapped[bool] = mapped_column(Boolean)
    decision: Mapped[dict] = mapped_column(JSON)
    model_version: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    meta: Mapped[dict | None] = mapped_column("metadata", JSON)
    review_priority: Mapped[float] = mapped_column(Float, default=0.0)
    review_reason: Mapped[str | None] = mapped_column(String(40))


@dataclass(frozen=True)
class Filters:
    since: datetime | None = None
    is_hard: bool | None = None
    urgency: str | None = None
    category: str | None = None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"p:{last_id}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    """The id a cursor stands for, or ValueError with what a cursor looks like."""
    try:
        kind, value = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
        if kind != "p":
            raise ValueError
        return int(value)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError("cursor must be the next_cursor of an earlier answer") from error


def save(session: Session, rows: list[dict]) -> None:
    """Insert predictions given by attribute name, the whole batch in one INSERT and one commit.
    Through SQLAlchemy Core: the ORM's bulk path cost more per row than the insert itself."""
    columns = _column_keys()
    session.connection().execute(
        insert(Prediction.__table__), [{columns[k]: v for k, v in row.items()} for row in rows]
    )
    session.commit()


@cache
def _column_keys() -> dict[str, str]:
    """Attribute name → column key (`meta` is stored in the column `metadata`)."""
    return {a.key: a.columns[0].key for a in sa_inspect(Prediction).column_attrs}


def history(session: Session, message_id: str) -> list[Prediction]:
    query = select(Prediction).where(Prediction.message_id == message_id).order_by(Prediction.id)
    return list(session.scalars(query))


def page(session: Session, filters: Filters, limit: int, after: int = 0) -> list[Prediction]:
    """Predictions in the order they were made, oldest first, after the id of a cursor."""
    query = select(Prediction).where(Prediction.id > after)
    if filters.since is not None:
        query = query.where(Prediction.created_at >= filters.since)
    if filters.is_hard is not None:
        query = query.where(Prediction.is_hard == filters.is_hard)
    if filters.urgency is not None:
        query = query.where(Prediction.urgency == filters.urgency)
    if filters.category is not None:
        query = query.where(Prediction.category == filters.category)
    return list(session.scalars(query.order_by(Prediction.id).limit(limit)))


# --- The quality loop: corrections (append-only) and the audit list ---------------------------

TARGETS = ("prediction", "annotated")  # a stored prediction, or a record of data/annotated/
VERDICTS = ("correct", "confirm")  # new labels, or "the labels shown are right"


class Feedback(Base):
    """One word of a quality person on one message; later rows supersede earlier ones."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(200), index=True)
    target: Mapped[str] = mapped_column(String(20))
    prediction_id: Mapped[int | None] = mapped_column(ID)
    verdict: Mapped[str] = mapped_column(String(20))
    labels: Mapped[dict | None] = mapped_column(JSON)  # all four labels after the correction
    previous: Mapped[dict] = mapped_column(JSON)  # the labels shown when it was made
    annotator: Mapped[str] = mapped_column(String(100))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class AuditItem(Base):
    """An annotated record whose label disagrees with out-of-fold predictions (derived data:
    each `complaints data audit --store` replaces the list)."""

    __tablename__ = "audit_items"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(String(200), index=True)
    source: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(String(20))
    labels: Mapped[dict] = mapped_column(JSON)
    head: Mapped[str] = mapped_column(String(20))
    given: Mapped[str] = mapped_column(String(40))
    suggested: Mapped[str] = mapped_column(String(40))
    confidence: Mapped[float] = mapped_column(Float)
    given_probability: Mapped[float] = mapped_column(Float)
    decision: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


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
