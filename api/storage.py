"""Every classification is stored: who asked what, what we answered, with which model, when.

Re-classifying a message id adds a row; the history of a message is all its rows in order.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    insert,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

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
    """Insert predictions given as column values (a bulk insert: no ORM objects to track)."""
    session.execute(insert(Prediction), rows)
    session.commit()


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
