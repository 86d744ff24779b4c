"""What the quality team works on next: the review queue, the audit list, the claims that keep
two people off one item, and full-text search over the messages.

Each function takes a session and commits what it writes; a claim held by someone else is
`Refused("conflict")`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import delete, exists, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from .quality import Page, Refused, handled, paged
from .tables import AuditItem, Claim, Prediction


@dataclass(frozen=True)
class QueueFilters:
    category: str | None = None
    urgency: str | None = None
    channel: str | None = None


# -- the queue and the audit list ----------------------------------------------------------------
def review_queue(session: Session, filters: QueueFilters, limit: int, offset: int = 0) -> Page:
    """The latest prediction of each message with a review priority that no one has handled,
    most valuable first, oldest first within a priority."""
    newer = aliased(Prediction)
    query = select(Prediction).where(
        Prediction.review_priority > 0,
        ~exists().where(newer.message_id == Prediction.message_id, newer.id > Prediction.id),
        ~handled("prediction", Prediction.message_id),
    )
    if filters.category:
        query = query.where(Prediction.category == filters.category)
    if filters.urgency:
        query = query.where(Prediction.urgency == filters.urgency)
    if filters.channel:
        query = query.where(Prediction.channel == filters.channel)
    query = query.order_by(Prediction.review_priority.desc(), Prediction.id)
    return paged(session, query, limit, offset)


def audit_list(session: Session, filters: QueueFilters, limit: int, offset: int = 0) -> Page:
    """Audit items no one has handled yet, the most confident suggestion first."""
    query = select(AuditItem).where(~handled("annotated", AuditItem.record_id))
    if filters.category:
        query = query.where(
            (AuditItem.labels["category"].as_string() == filters.category)
            | ((AuditItem.head == "category") & (AuditItem.suggested == filters.category))
        )
    if filters.urgency:
        query = query.where(AuditItem.labels["urgency"].as_string() == filters.urgency)
    if filters.channel:
        query = query.where(AuditItem.channel == filters.channel)
    query = query.order_by(AuditItem.confidence.desc(), AuditItem.id)
    return paged(session, query, limit, offset)


def audit_item(session: Session, record_id: str) -> AuditItem | None:
    query = select(AuditItem).where(AuditItem.record_id == record_id).order_by(AuditItem.id)
    return session.scalars(query.limit(1)).first()


def replace_audit(session: Session, rows: list[dict]) -> None:
    session.execute(delete(AuditItem))
    if rows:
        session.execute(insert(AuditItem), rows)
    session.commit()


# -- claims --------------------------------------------------------------------------------------
def live_claims(session: Session, target: str, message_ids: list[str], now: datetime) -> dict:
    """message_id → the unexpired Claim on it."""
    if not message_ids:
        return {}
    query = select(Claim).where(
        Claim.target == target, Claim.message_id.in_(message_ids), Claim.expires_at > now
    )
    return {claim.message_id: claim for claim in session.scalars(query)}


def claim(
    session: Session, target: str, message_id: str, annotator: str, now: datetime, seconds: int
) -> Claim:
    """Take (or renew) the lease on an item; `Refused("conflict")` while another person holds an
    unexpired one. Safe against a race: the row's key lets one of two inserts in."""
    values = dict(annotator=annotator, claimed_at=now, expires_at=now + timedelta(seconds=seconds))
    key = (Claim.target == target, Claim.message_id == message_id)
    taken_over = session.execute(
        update(Claim)
        .where(*key, or_(Claim.annotator == annotator, Claim.expires_at <= now))
        .values(**values)
    )
    if taken_over.rowcount == 0:
        try:
            session.execute(insert(Claim).values(target=target, message_id=message_id, **values))
        except IntegrityError:
            session.rollback()
            holder = session.scalars(select(Claim).where(*key)).first()
            raise Refused(
                "conflict",
                f"{message_id!r} is being worked on by {holder.annotator} "
                f"until {holder.expires_at.isoformat()}",
            ) from None
    session.commit()
    return session.scalars(select(Claim).where(*key)).one()


def release(session: Session, target: str, message_id: str, annotator: str) -> bool:
    done = session.execute(
        delete(Claim).where(
            Claim.target == target, Claim.message_id == message_id, Claim.annotator == annotator
        )
    )
    session.commit()
    return done.rowcount > 0


def held_by_another(
    session: Session, target: str, message_id: str, annotator: str, now: datetime
) -> Claim | None:
    claim_row = live_claims(session, target, [message_id], now).get(message_id)
    return claim_row if claim_row and claim_row.annotator != annotator else None


# -- search --------------------------------------------------------------------------------------
WORD = re.compile(r"\w+")
SHORTEST_PREFIX = 4  # a shorter stem ("кот") as a prefix would find "который" too


@cache
def _stemmer():
    import snowballstemmer

    return snowballstemmer.stemmer("russian")


def fts5_query(words: str) -> str | None:
    """The words as an FTS5 query: every word must occur, in any of its forms. SQLite has no
    Russian stemmer, so each word becomes a prefix of its Snowball stem ("собаку" → собак*)."""
    terms = []
    for word in WORD.findall(words.lower().replace("ё", "е")):
        stem = _stemmer().stemWord(word)
        terms.append(f'"{stem}"*' if len(stem) >= SHORTEST_PREFIX else f'"{word}"')
    return " AND ".join(terms) or None


def search(session: Session, words: str, limit: int, offset: int = 0) -> Page:
    """The latest prediction of each message whose text has all the words (in any form), or
    whose id is exactly `words`; newest first."""
    newer = aliased(Prediction)
    latest = ~exists().where(newer.message_id == Prediction.message_id, newer.id > Prediction.id)
    matches = [Prediction.message_id == words.strip()]
    if session.get_bind().dialect.name == "sqlite":
        fts = fts5_query(words)
        if fts:
            index = select(text("rowid")).select_from(text("predictions_fts"))
            matches.append(
                Prediction.id.in_(
                    index.where(text("predictions_fts MATCH :fts").bindparams(fts=fts))
                )
            )
    else:
        matches.append(
            func.to_tsvector(text("'russian'"), Prediction.text).op("@@")(
                func.plainto_tsquery(text("'russian'"), words)
            )
        )
    query = select(Prediction).where(latest, or_(*matches)).order_by(Prediction.id.desc())
    return paged(session, query, limit, offset)
