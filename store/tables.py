"""The tables of the service's database (SQLAlchemy), migrated by Alembic (`migrations/`).

Every classification is stored (who asked what, what we answered, with which model, when);
re-classifying a message id adds a row. Corrections are append-only rows of `feedback`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER keys only
MAX_ROW_ID = 2**63 - 1  # what both databases hold in a key; a larger number names no row


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
