"""The tables of the service's database (SQLAlchemy), migrated by Alembic (`migrations/`).

Every classification is stored (who asked what, what we answered, with which model, when);
re-classifying a message id adds a row. Corrections are append-only rows of `feedback`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Index, Integer, String, Text
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
UNDO = "undo"  # the verdict of a row that takes back an earlier one (`Feedback.undoes`)
# A correction is proposed until a second person confirms or rejects it; a confirmation of the
# labels shown, and an undo, are in force at once.
STATUSES = ("proposed", "confirmed", "rejected")


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
    status: Mapped[str] = mapped_column(String(12), server_default="proposed", index=True)
    reviewer: Mapped[str | None] = mapped_column(String(100))  # the second person
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_comment: Mapped[str | None] = mapped_column(Text)
    # the row an undo takes back; unique: two undos of one row cannot both land
    undoes: Mapped[int | None] = mapped_column(ID, index=True, unique=True)


Index("ix_feedback_annotator", Feedback.annotator)


class Claim(Base):
    """Who works on an item until when: a lease that another person respects and that anyone
    may take over once it has expired."""

    __tablename__ = "claims"

    target: Mapped[str] = mapped_column(String(20), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    annotator: Mapped[str] = mapped_column(String(100))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


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


class MailboxState(Base):
    """Where the mailbox connector stopped in one folder (`api.mailbox`)."""

    __tablename__ = "mailbox_state"

    mailbox: Mapped[str] = mapped_column(String(300), primary_key=True)  # user@host/folder
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


WEBHOOK_EVENTS = ("critical", "hard", "decision")  # urgency critical, is_hard, every decision
DELIVERY_STATES = ("pending", "delivered", "failed")


class Webhook(Base):
    """A subscription of a router: where to POST which events, and the secret they are signed
    with (kept to sign, never shown after it was created)."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list] = mapped_column(JSON)  # some of WEBHOOK_EVENTS
    secret: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # paused: no events, no sending
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookDelivery(Base):
    """One event for one subscription: the outbox row written with its prediction, and the log
    of its delivery. A worker claims a due row by writing its token and a lease; a worker that
    dies leaves the row to whoever finds the lease expired."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), index=True, unique=True)  # on every attempt
    webhook_id: Mapped[int] = mapped_column(ID, index=True)
    type: Mapped[str] = mapped_column(String(20))  # one of WEBHOOK_EVENTS
    message_id: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)  # the JSON sent, byte for byte, on every attempt
    status: Mapped[str] = mapped_column(String(12))  # one of DELIVERY_STATES
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claim: Mapped[str | None] = mapped_column(String(32))  # the token of the worker sending it
    last_status: Mapped[int | None] = mapped_column(Integer)  # the receiver's HTTP status
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)
