"""The quality team's words on messages: corrections with their second person, confirmations,
undo, the journal and agreement (what to work on next — the queue, the audit list, claims and
search — is in `worklist`).

Every word of a person on a message is a `Feedback` row, and none is ever rewritten except by
its review (status, reviewer). The word *in force* on a message is its latest *live* row: not an
undo, and not taken back by one. A message with a live row is handled and leaves the queue; a
correction in force reaches training only once a second person has confirmed it.

Each function takes a session and commits what it writes; none raises an HTTP error: refusals
are `Refused` with a kind the service turns into its status code.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from .tables import UNDO, AuditItem, Feedback, Prediction

HEADS = ("category", "is_hard", "urgency", "reporter")


class Refused(Exception):
    """A request the data forbids; `kind` is `not_found`, `forbidden` or `conflict`."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass
class Page:
    items: list
    total: int


def paged(session: Session, query, limit: int, offset: int) -> Page:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return Page(list(session.scalars(query.limit(limit).offset(offset))), total or 0)


# -- words in force -------------------------------------------------------------------------------
def _live(row):
    """`row` (a Feedback alias) is a word that counts: not an undo, not undone."""
    undo = aliased(Feedback)
    return and_(row.verdict != UNDO, ~exists().where(undo.undoes == row.id))


def handled(target: str, message_id_column):
    word = aliased(Feedback)
    return exists().where(word.target == target, word.message_id == message_id_column, _live(word))


def _in_force():
    """Live rows with no later live row on the same message."""
    newer = aliased(Feedback)
    return and_(
        _live(Feedback),
        ~exists().where(
            newer.target == Feedback.target,
            newer.message_id == Feedback.message_id,
            newer.id > Feedback.id,
            _live(newer),
        ),
    )


def word_in_force(session: Session, target: str, message_id: str) -> Feedback | None:
    query = select(Feedback).where(
        Feedback.target == target, Feedback.message_id == message_id, _in_force()
    )
    return session.scalars(query).first()


def corrections_in_force(session: Session) -> list[Feedback]:
    """Corrections in force that a second person confirmed: what training may take."""
    query = select(Feedback).where(
        _in_force(), Feedback.verdict == "correct", Feedback.status == "confirmed"
    )
    return list(session.scalars(query.order_by(Feedback.id)))


def proposals(session: Session, limit: int = 50, offset: int = 0) -> Page:
    """Corrections in force that wait for a second person, oldest first."""
    query = select(Feedback).where(
        _in_force(), Feedback.verdict == "correct", Feedback.status == "proposed"
    )
    return paged(session, query.order_by(Feedback.id), limit, offset)


# -- words: corrections, reviews, undo -----------------------------------------------------------
def add_feedback(session: Session, row: dict) -> Feedback:
    feedback = Feedback(**row)
    session.add(feedback)
    session.commit()
    return feedback


def review(
    session: Session,
    feedback_id: int,
    reviewer: str,
    verdict: str,
    comment: str | None,
    now: datetime,
) -> Feedback:
    """A second person confirms or rejects a proposed correction. Rejected, the labels it
    changed stand as they were."""
    row = session.get(Feedback, feedback_id)
    if row is None or row.verdict == UNDO:
        raise Refused("not_found", f"no correction №{feedback_id}")
    if row.verdict != "correct":
        raise Refused("conflict", f"№{feedback_id} confirms the labels shown: nothing to review")
    if row.annotator == reviewer:
        raise Refused(
            "forbidden", f"№{feedback_id} is {reviewer}'s own proposal: a second person reviews it"
        )
    in_force = word_in_force(session, row.target, row.message_id)
    if in_force is None or in_force.id != row.id:
        later = f"№{in_force.id}" if in_force else "an undo"
        raise Refused("conflict", f"№{feedback_id} is no longer in force: {later} came after it")
    status = "confirmed" if verdict == "confirm" else "rejected"
    done = session.execute(
        update(Feedback)
        .where(Feedback.id == feedback_id, Feedback.status == "proposed")
        .values(status=status, reviewer=reviewer, reviewed_at=now, review_comment=comment)
    )
    session.commit()
    session.refresh(row)
    if done.rowcount == 0:
        raise Refused("conflict", f"№{feedback_id} was already {row.status} by {row.reviewer}")
    return row


def undo(
    session: Session, feedback_id: int, annotator: str, comment: str | None, now: datetime
) -> Feedback:
    """Take back one's own last word on a message with a new row that restores the labels it
    replaced; the message is as it was before (back in its queue, if it came from one)."""
    row = session.get(Feedback, feedback_id)
    if row is None or row.verdict == UNDO:
        raise Refused("not_found", f"no correction or confirmation №{feedback_id}")
    if row.annotator != annotator:
        raise Refused(
            "forbidden", f"№{feedback_id} is {row.annotator}'s: only its author undoes it"
        )
    if row.reviewer is not None:
        raise Refused(
            "conflict",
            f"№{feedback_id} was already {row.status} by {row.reviewer}: "
            "propose a new correction instead",
        )
    in_force = word_in_force(session, row.target, row.message_id)
    if in_force is None or in_force.id != row.id:
        raise Refused("conflict", f"№{feedback_id} is not the last word on {row.message_id!r}")
    restored = dict(
        message_id=row.message_id,
        target=row.target,
        prediction_id=row.prediction_id,
        verdict=UNDO,
        labels=row.previous,
        previous=row.labels or row.previous,
        annotator=annotator,
        comment=comment,
        created_at=now,
        status="confirmed",
        undoes=row.id,
    )
    try:
        return add_feedback(session, restored)
    except IntegrityError:  # two undos of one row raced: the unique `undoes` let one in
        session.rollback()
        raise Refused("conflict", f"№{feedback_id} was already undone") from None


# -- the journal ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class JournalFilters:
    person: str | None = None  # the author or the second person
    message_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before: int | None = None  # a feedback id to page back from


def journal(session: Session, filters: JournalFilters, limit: int, offset: int = 0) -> Page:
    """Who said what, newest first."""
    query = select(Feedback)
    if filters.person:
        query = query.where(
            or_(Feedback.annotator == filters.person, Feedback.reviewer == filters.person)
        )
    if filters.message_id:
        query = query.where(Feedback.message_id == filters.message_id)
    if filters.since:
        query = query.where(Feedback.created_at >= filters.since)
    if filters.until:
        query = query.where(Feedback.created_at < filters.until)
    if filters.before:
        query = query.where(Feedback.id < filters.before)
    return paged(session, query.order_by(Feedback.id.desc()), limit, offset)


def undone(session: Session, rows: list[Feedback]) -> dict[int, int]:
    """feedback id → the id of the undo that took it back, for those of `rows` taken back."""
    ids = [r.id for r in rows]
    query = select(Feedback.undoes, Feedback.id).where(Feedback.undoes.in_(ids))
    return dict(session.execute(query).all()) if ids else {}


def texts_of(session: Session, rows: list[Feedback]) -> dict[int, str]:
    """feedback id → the text of the message it is about."""
    predictions = {r.prediction_id for r in rows if r.prediction_id is not None}
    records = {r.message_id for r in rows if r.target == "annotated"}
    by_prediction = dict(
        session.execute(
            select(Prediction.id, Prediction.text).where(Prediction.id.in_(predictions))
        ).all()
    )
    by_record = dict(
        session.execute(
            select(AuditItem.record_id, AuditItem.text).where(AuditItem.record_id.in_(records))
        ).all()
    )
    return {
        r.id: by_prediction.get(r.prediction_id)
        if r.target == "prediction"
        else by_record.get(r.message_id)
        for r in rows
    }


# -- agreement -----------------------------------------------------------------------------------
def agreement(session: Session) -> dict:
    """Cohen's kappa per head between the author of a correction and its second person, over the
    corrections reviewed so far: a confirmation agrees with the author's labels, a rejection
    holds the labels the correction changed. Overall, and per person over the pairs they were in.
    Kappa is None where it is undefined (every answer the same one value); `agreement` is the
    plain share of pairs that agree."""
    from sklearn.metrics import cohen_kappa_score

    query = select(Feedback).where(
        _live(Feedback), Feedback.verdict == "correct", Feedback.reviewer.is_not(None)
    )
    pairs = []
    for row in session.scalars(query.order_by(Feedback.id)):
        second = row.labels if row.status == "confirmed" else row.previous
        pairs.append((row.annotator, row.reviewer, row.labels, second))

    def kappas(chosen: list) -> dict:
        heads = {}
        for head in HEADS:
            first = [str(p[2][head]) for p in chosen]
            second = [str(p[3][head]) for p in chosen]
            same = sum(a == b for a, b in zip(first, second, strict=True))
            kappa = None
            if len(set(first) | set(second)) > 1:  # one value throughout: kappa is undefined
                kappa = round(float(cohen_kappa_score(first, second)), 4)
            heads[head] = {
                "kappa": kappa,
                "agreement": round(same / len(chosen), 4) if chosen else None,
            }
        return {"pairs": len(chosen), "heads": heads}

    people = defaultdict(list)
    for pair in pairs:
        people[pair[0]].append(pair)
        people[pair[1]].append(pair)
    return {
        "overall": kappas(pairs),
        "people": {name: kappas(chosen) for name, chosen in sorted(people.items())},
    }
