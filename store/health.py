"""Figures of the model's health from the stored predictions: per UTC day, and the recent
traffic its drift is measured on (`classifier.drift`).

Everything is counted by the database: one GROUP BY over the days asked for, never the rows
themselves in Python. A day is the UTC calendar day of `created_at` (when we stored the
prediction), computed by an expression each database understands (`utc_day`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import String, case, exists, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.functions import FunctionElement

from pettriage.classifier.labels import CATEGORIES, URGENCIES

from .tables import Feedback, Prediction

MAX_DAYS = 366


@dataclass(frozen=True)
class Day:
    """One UTC day of stored predictions (rows: a message classified twice counts twice)."""

    day: date
    messages: int
    categories: dict[str, int]  # every category, 0 where none
    urgencies: dict[str, int]  # every urgency, 0 where none
    needs_review: int
    corrected: int  # messages with at least one correction ('correct') of their prediction
    critical: int
    safety_overrides: int

    @property
    def needs_review_rate(self) -> float:
        return self.needs_review / self.messages if self.messages else 0.0

    @property
    def corrections_rate(self) -> float:
        return self.corrected / self.messages if self.messages else 0.0


class utc_day(FunctionElement):  # lower case: read in a query like SQL's own functions
    """The UTC calendar day of a stored time, as text `YYYY-MM-DD`, on SQLite and PostgreSQL."""

    type = String()
    inherit_cache = True


@compiles(utc_day, "sqlite")
def _sqlite_day(element, compiler, **kw) -> str:
    # `UTCDateTime` stores UTC as 'YYYY-MM-DD HH:MM:SS.ffffff'; date() keeps the day.
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_day, "postgresql")
def _postgresql_day(element, compiler, **kw) -> str:
    # A timestamptz's day depends on the session's TimeZone unless the zone is named.
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


@compiles(utc_day)
def _other_day(element, compiler, **kw) -> str:
    raise NotImplementedError(
        f"utc_day is written for SQLite and PostgreSQL, not {compiler.dialect.name}; "
        "add a @compiles rule for it in store/health.py"
    )


def _corrected():
    """Whether the prediction's message has a correction of the prediction on record: only
    `correct` verdicts count (a confirmation, or any other verdict, is not a correction), and
    neither one its author took back nor one a second person rejected."""
    undo = aliased(Feedback)
    return exists().where(
        Feedback.message_id == Prediction.message_id,
        Feedback.target == "prediction",
        Feedback.verdict == "correct",
        Feedback.status != "rejected",
        ~exists().where(undo.undoes == Feedback.id),
    )


def _ones(condition):
    return func.sum(case((condition, 1), else_=0))


def daily(session: Session, days: int = 30, today: date | None = None) -> list[Day]:
    """The last `days` UTC days up to `today` (default: today in UTC), oldest first, every day
    present (zeros where nothing was stored)."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be from 1 to {MAX_DAYS}, got {days}")
    today = today or datetime.now(UTC).date()
    first = today - timedelta(days=days - 1)
    day = utc_day(Prediction.created_at)
    query = (
        select(
            day,
            Prediction.category,
            Prediction.urgency,
            func.count(),
            _ones(Prediction.needs_review),
            _ones(_corrected()),
            _ones(Prediction.safety_fired),
        )
        .where(
            Prediction.created_at >= datetime.combine(first, time(), UTC),
            Prediction.created_at < datetime.combine(today + timedelta(days=1), time(), UTC),
        )
        .group_by(day, Prediction.category, Prediction.urgency)
    )
    totals = {first + timedelta(days=i): _Totals() for i in range(days)}
    for stored_day, category, urgency, count, review, corrected, overrides in session.execute(
        query
    ):
        totals[date.fromisoformat(stored_day)].add(
            category, urgency, count, review, corrected, overrides
        )
    return [t.day(d) for d, t in totals.items()]


class _Totals:
    """The groups of one day (category × urgency) added up."""

    def __init__(self):
        self.categories = dict.fromkeys(CATEGORIES, 0)
        self.urgencies = dict.fromkeys(URGENCIES, 0)
        self.messages = self.needs_review = self.corrected = self.overrides = 0

    def add(self, category, urgency, count, review, corrected, overrides) -> None:
        self.categories[category] = self.categories.get(category, 0) + count
        self.urgencies[urgency] = self.urgencies.get(urgency, 0) + count
        self.messages += count
        self.needs_review += int(review or 0)
        self.corrected += int(corrected or 0)
        self.overrides += int(overrides or 0)

    def day(self, day: date) -> Day:
        return Day(
            day=day,
            messages=self.messages,
            categories=self.categories,
            urgencies=self.urgencies,
            needs_review=self.needs_review,
            corrected=self.corrected,
            critical=self.urgencies.get("critical", 0),
            safety_overrides=self.overrides,
        )


def category_counts(session: Session, since: datetime) -> dict[str, int]:
    """Predictions per category stored since a moment."""
    query = (
        select(Prediction.category, func.count())
        .where(Prediction.created_at >= since)
        .group_by(Prediction.category)
    )
    return {category: count for category, count in session.execute(query)}


def recent_texts(session: Session, since: datetime, limit: int) -> list[str]:
    """The texts of the latest `limit` predictions stored since a moment, newest first."""
    query = (
        select(Prediction.text)
        .where(Prediction.created_at >= since)
        .order_by(Prediction.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))
