"""The quality team's words on messages: corrections with a second person, confirmations, undo
and the journal (what to work on next — queue, audit, proposals, claims, search — and the
annotators' agreement are in `worklist`).

Words on a message are append-only: a later word supersedes an earlier one, an undo takes one
back, and the whole history stays (`GET /v1/feedback`). A correction that changes a label is
*proposed* until a second person confirms or rejects it (`POST /v1/feedback/{id}/review`); only
confirmed ones are exported to training (`complaints data export-corrections`). Opening an item
claims it for `claim_seconds`: another person's correction of it is a 409 until the lease ends.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import AfterValidator, BaseModel, Field

from pettriage.classifier.labels import consistency_errors
from pettriage.classifier.records import LABEL_FIELDS
from pettriage.config import Role
from pettriage.store import quality, queries, tables, worklist
from pettriage.store.quality import Refused
from pettriage.store.tables import MAX_ROW_ID

from . import examples
from .deps import SessionDep, requires
from .errors import refused, reject_unknown_query, responses
from .paging import Offset
from .schemas import Category, MessageId, Urgency

router = APIRouter(
    prefix="/v1",
    tags=["quality"],
    dependencies=[Depends(reject_unknown_query)],
    responses=responses(401, 403),
)
QUALITY = [requires(Role.quality)]


class LabelChange(BaseModel):
    category: Category | None = None
    is_hard: bool | None = None
    urgency: Urgency | None = None
    reporter: Literal["client", "executor"] | None = None


def _named(value: str) -> str:
    if not value.strip():
        raise ValueError("annotator must name who makes the correction or the claim")
    return value.strip()


# The name the journal shows for who did what; blank is no name.
Annotator = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_named)]


class Person(BaseModel):
    """Who asks: the name the journal shows."""

    annotator: Annotator
    comment: str | None = Field(None, max_length=2000)

    model_config = {
        "json_schema_extra": {"examples": [{"annotator": "Мария К.", "comment": "не туда нажала"}]}
    }


class FeedbackRequest(Person):
    message_id: MessageId
    target: Literal[tables.TARGETS] = Field(
        "prediction",
        description="`prediction`: a stored classification; `annotated`: a record of the "
        "audit list",
    )
    labels: LabelChange = LabelChange()
    verdict: Literal[tables.VERDICTS] | None = Field(
        None, description="default: `correct` when labels change something, else `confirm`"
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "message_id": "chat-58213",
                    "labels": {"category": "no_show", "is_hard": True, "urgency": "high"},
                    "annotator": "Мария К.",
                    "comment": "ситтер не пришёл вовсе, а не опоздал",
                }
            ]
        }
    }


class ReviewRequest(Person):
    verdict: Literal["confirm", "reject"] = Field(
        description="`confirm`: the correction is right and may go to training; `reject`: the "
        "labels it changed stand as they were"
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"annotator": "Олег Д.", "verdict": "confirm", "comment": "да, это невыход"}
            ]
        }
    }


def labels_of(row: tables.Prediction) -> dict[str, Any]:
    return {
        "category": row.category,
        "is_hard": row.is_hard,
        "urgency": row.urgency,
        "reporter": row.reporter,
    }


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def feedback_dict(
    row: tables.Feedback, text: str | None = None, undone_by: int | None = None
) -> dict[str, Any]:
    return {
        "feedback_id": row.id,
        "message_id": row.message_id,
        "target": row.target,
        "prediction_id": row.prediction_id,
        "verdict": row.verdict,
        "status": row.status,
        "labels": row.labels,
        "previous": row.previous,
        "annotator": row.annotator,
        "comment": row.comment,
        "created_at": row.created_at.isoformat(),
        "reviewer": row.reviewer,
        "reviewed_at": iso(row.reviewed_at),
        "review_comment": row.review_comment,
        "undoes": row.undoes,
        "undone_by": undone_by,
        **({"text": text} if text is not None else {}),
    }


def utc_now() -> datetime:
    return datetime.now(UTC)


@router.post(
    "/feedback",
    dependencies=QUALITY,
    responses=responses(404, 409) | examples.answer(examples.FEEDBACK_SAVED),
    summary="Correct or confirm a message's labels",
)
def feedback(body: FeedbackRequest, session: SessionDep) -> dict[str, Any]:
    """A correction that changes a label is `proposed` until a second person reviews it; a
    confirmation of the labels shown is `confirmed` at once. A 409 while someone else has the
    item claimed."""
    prediction_id = None
    if body.target == "prediction":
        row = queries.latest_prediction(session, body.message_id)
        if row is None:
            raise HTTPException(404, f"no prediction stored for message_id {body.message_id!r}")
        previous, prediction_id = labels_of(row), row.id
    else:
        item = worklist.audit_item(session, body.message_id)
        if item is None:
            raise HTTPException(
                404, f"record {body.message_id!r} is not in the audit list (complaints data audit)"
            )
        previous = {name: item.labels[name] for name in LABEL_FIELDS}
    now = utc_now()
    holder = worklist.held_by_another(session, body.target, body.message_id, body.annotator, now)
    if holder is not None:
        raise HTTPException(
            409,
            f"{body.message_id!r} is being worked on by {holder.annotator} until "
            f"{holder.expires_at.isoformat()}",
        )
    changes = body.labels.model_dump(exclude_none=True)
    labels = previous | changes
    problems = consistency_errors(labels["category"], labels["is_hard"], labels["urgency"])
    if problems:
        raise HTTPException(
            422,
            [
                {"field": "labels", "problem": f"the labels after the change break the guide: {p}"}
                for p in problems
            ],
        )
    verdict = body.verdict or ("correct" if labels != previous else "confirm")
    if verdict == "correct" and labels == previous:
        verdict = "confirm"
    if verdict == "confirm" and changes and labels != previous:
        raise HTTPException(
            422, [{"field": "verdict", "problem": "'confirm' cannot come with changed labels"}]
        )
    earlier = quality.word_in_force(session, body.target, body.message_id)
    row = quality.add_feedback(
        session,
        dict(
            message_id=body.message_id,
            target=body.target,
            prediction_id=prediction_id,
            verdict=verdict,
            status="proposed" if verdict == "correct" else "confirmed",
            labels=labels if verdict == "correct" else None,
            previous=previous,
            annotator=body.annotator,
            comment=body.comment,
            created_at=now,
        ),
    )
    worklist.release(session, body.target, body.message_id, body.annotator)
    return feedback_dict(row) | {"supersedes": [earlier.id] if earlier else []}


@router.post(
    "/feedback/{feedback_id}/review",
    dependencies=QUALITY,
    responses=responses(403, 404, 409) | examples.answer(examples.FEEDBACK_REVIEWED),
    summary="A second person confirms or rejects a proposed correction",
)
def review(
    feedback_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)],
    body: ReviewRequest,
    session: SessionDep,
) -> dict[str, Any]:
    """Not by the correction's author (403). Only a correction still in force and still
    proposed can be reviewed (409 otherwise, e.g. when another reviewer came first)."""
    try:
        row = quality.review(
            session, feedback_id, body.annotator, body.verdict, body.comment, utc_now()
        )
    except Refused as error:
        raise refused(error) from error
    return feedback_dict(row)


@router.post(
    "/feedback/{feedback_id}/undo",
    dependencies=QUALITY,
    responses=responses(403, 404, 409) | examples.answer(examples.FEEDBACK_UNDONE),
    summary="Take back one's own last word on a message",
)
def undo(
    feedback_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)], body: Person, session: SessionDep
) -> dict[str, Any]:
    """A new row (verdict `undo`) that restores the labels the word replaced; the message goes
    back to where it was. Only by its author (403), only while it is the last word on the
    message and no second person has reviewed it (409)."""
    try:
        row = quality.undo(session, feedback_id, body.annotator, body.comment, utc_now())
    except Refused as error:
        raise refused(error) from error
    return feedback_dict(row)


def _day(value: date | None, days: int = 0) -> datetime | None:
    return None if value is None else datetime.combine(value, time(), UTC) + timedelta(days=days)


@router.get(
    "/feedback",
    dependencies=QUALITY,
    responses=examples.answer(examples.FEEDBACK_LOG),
    summary="The journal: who said what, newest first",
)
def feedback_history(
    session: SessionDep,
    message_id: str | None = None,
    person: Annotated[
        str | None, Query(max_length=100, description="an author or a second person")
    ] = None,
    since: Annotated[date | None, Query(description="from this day (UTC) on")] = None,
    until: Annotated[date | None, Query(description="up to and including this day (UTC)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
    before: int | None = Query(
        None, ge=1, le=MAX_ROW_ID, description="feedback_id to page back from"
    ),
) -> dict[str, Any]:
    filters = quality.JournalFilters(
        person=person,
        message_id=message_id,
        since=_day(since),
        until=_day(until, days=1),
        before=before,
    )
    page = quality.journal(session, filters, limit, offset)
    texts = quality.texts_of(session, page.items)
    undone = quality.undone(session, page.items)
    return {
        "total": page.total,
        "offset": offset,
        "items": [feedback_dict(r, texts.get(r.id) or "", undone.get(r.id)) for r in page.items],
    }
