"""The tables of the service's database (SQLAlchemy), migrated by Alembic (`migrations/`).

Every classification is stored (who asked what, what we answered, with which model, when);
re-classifying a message id adds a row. Corrections are append-only rows of `feedback`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER keys only
MAX_ROW_ID = 2**63 - 1  # what both databases hold in a key; a larger number names no row


class UTCDateTime(TypeDecorator):
    """A moment in time, stored in UTC and read back with its time zone on every database.

    SQLite keeps no zone: an aware time was stored as its local clock reading and read back
    naive, so 09:15+03:00 came back as 09:15 with no zone, and a browser in Moscow showed it three
    hours off. Here every time is turned into UTC before it is written (a naive one is taken as
    UTC already) and marked UTC when it is read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Prediction(Base):
    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(200), index=True)
    channel: Mapped[str | None] = mapped_column(String(20), index=True)
    text: Mapped[str] = mapped_column(Text)
    is_hard: Mapped[bool] = mapped_column(Boolean, index=True)
    category: Mapped[str] = mapped_column(String(40), index=True)
    urgency: Mapped[str] = mapped_column(String(20), index=True)
    reporter: Mapped[str] = mapped_column(String(20))
    needs_review: Mapped[bool] = mapped_column(Boolean)
    safety_fired: Mapped[bool] = mapped_column(Boolean)
    decision: Mapped[dict] = mapped_column(JSON)
    model_version: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    meta: Mapped[dict | None] = mapped_column("metadata", JSON)
    review_priority: Mapped[float] = mapped_column(Float, default=0.0, index=True)
    review_reason: Mapped[str | None] = mapped_column(String(40))
    sender: Mapped[str | None] = mapped_column(String(320))  # an e-mail's From address
    subject: Mapped[str | None] = mapped_column(Text)
    # The key a repeated request is recognised by (`email:<Message-ID>`, `key:<header>`) and a
    # hash of what was asked under it: the same key with another request is refused.
    idempotency_key: Mapped[str | None] = mapped_column(String(300), index=True, unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(64))
    actions: Mapped[list | None] = mapped_column(JSON)


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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

