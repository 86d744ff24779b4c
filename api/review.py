"""The quality team's endpoints: corrections, the review queue and the audit list.

Corrections are append-only: a later word on a message supersedes an earlier one, and the
whole history stays (`GET /v1/feedback`). `complaints data export-corrections` turns the
corrections in force into annotated records.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field, field_validator

from pettriage.classifier.labels import consistency_errors
from pettriage.classifier.records import LABEL_FIELDS
from pettriage.config import Role
from pettriage.store import queries, tables
from pettriage.store.tables import MAX_ROW_ID

from . import examples
from .deps import SessionDep, requires
from .errors import reject_unknown_query, responses
from .schemas import Category, Channel, MessageId, Urgency

router = APIRouter(
    prefix="/v1",
    tags=["quality"],
    dependencies=[Depends(reject_unknown_query)],
    responses=responses(401, 403),
)
QUALITY = [requires(Role.quality)]
ANY_ROLE = requires(Role.channel, Role.router, Role.quality)


class LabelChange(BaseModel):
    category: Category | None = None
    is_hard: bool | None = None
    urgency: Urgency | None = None
    reporter: Literal["client", "executor"] | None = None


class FeedbackRequest(BaseModel):
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
    annotator: str = Field(min_length=1, max_length=100)
    comment: str | None = Field(None, max_length=2000)

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

    @field_validator("annotator")
    @classmethod
    def named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("annotator must name who makes the correction")
        return value.strip()


def _labels_of(row: tables.Prediction) -> dict[str, Any]:
    return {
        "category": row.category,
        "is_hard": row.is_hard,
        "urgency": row.urgency,
        "reporter": row.reporter,
    }


def feedback_dict(row: tables.Feedback) -> dict[str, Any]:
    return {
        "feedback_id": row.id,
        "message_id": row.message_id,
        "target": row.target,
        "prediction_id": row.prediction_id,
        "verdict": row.verdict,
        "labels": row.labels,
        "previous": row.previous,
        "annotator": row.annotator,
        "comment": row.comment,
        "created_at": row.created_at.isoformat(),
    }


@router.post(
    "/feedback",
    dependencies=QUALITY,
    responses=responses(404) | examples.answer(examples.FEEDBACK_SAVED),
    summary="Correct or confirm a message's labels",
)
def feedback(body: FeedbackRequest, session: SessionDep) -> dict[str, Any]:
    prediction_id = None
    if body.target == "prediction":
        row = queries.latest_prediction(session, body.message_id)
        if row is None:
            raise HTTPException(404, f"no prediction stored for message_id {body.message_id!r}")
        previous, prediction_id = _labels_of(row), row.id
    else:
        item = queries.audit_item(session, body.message_id)
        if item is None:
            raise HTTPException(
                404, f"record {body.message_id!r} is not in the audit list (complaints data audit)"
            )
        previous = {name: item.labels[name] for name in LABEL_FIELDS}
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
    earlier = queries.feedback_log(session, 1000, message_id=body.message_id)
    row = queries.add_feedback(
        session,
        dict(
            message_id=body.message_id,
            target=body.target,
            prediction_id=prediction_id,
            verdict=verdict,
            labels=labels if verdict == "correct" else None,
            previous=previous,
            annotator=body.annotator,
            comment=body.comment,
            created_at=datetime.now(UTC),
        ),
    )
    return feedback_dict(row) | {"supersedes": [f.id for f in earlier if f.target == body.target]}


@router.get(
    "/feedback",
    dependencies=QUALITY,
    responses=examples.answer(examples.FEEDBACK_LOG),
    summary="Who changed what, newest first",
)
def feedback_history(
    session: SessionDep,
    message_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: int | None = Query(
        None, ge=1, le=MAX_ROW_ID, description="feedback_id to page back from"
    ),
) -> dict[str, Any]:
    rows = queries.feedback_log(session, limit, message_id=message_id, before=before)
    return {"items": [feedback_dict(r) for r in rows]}


def _filters(
    category: Category | None = None,
    urgency: Urgency | None = None,
    channel: Channel | None = None,
) -> queries.QueueFilters:
    return queries.QueueFilters(category=category, urgency=urgency, channel=channel)


Filters = Annotated[queries.QueueFilters, Depends(_filters)]  # ?category=&urgency=&channel=


@router.get(
    "/review-queue",
    dependencies=QUALITY,
    responses=examples.answer(examples.REVIEW_QUEUE),
    summary="Predictions that most need a human, most valuable first; each until handled",
)
def review_queue(
    session: SessionDep,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    rows = queries.review_queue(session, filters, limit)
    return {
        "items": [
            {
                "message_id": r.message_id,
                "prediction_id": r.id,
                "channel": r.channel,
                "text": r.text,
                "created_at": r.created_at.isoformat(),
                "model_version": r.model_version,
                "priority": r.review_priority,
                "reason": r.review_reason,
                "labels": _labels_of(r),
                "decision": r.decision,
            }
            for r in rows
        ]
    }


@router.get(
    "/audit",
    dependencies=QUALITY,
    responses=examples.answer(examples.AUDIT),
    summary="Annotated records whose label disagrees with out-of-fold predictions",
)
def audit(
    session: SessionDep,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    rows = queries.audit_list(session, filters, limit)
    return {
        "items": [
            {
                "message_id": r.record_id,
                "source": r.source,
                "channel": r.channel,
                "text": r.text,
                "labels": r.labels,
                "head": r.head,
                "given": r.given,
                "suggested": r.suggested,
                "confidence": r.confidence,
                "given_probability": r.given_probability,
                "decision": r.decision,
            }
            for r in rows
        ]
    }


@router.get(
    "/whoami",
    responses=examples.answer(examples.WHOAMI),
    summary="The role of the key sent, for the review page's login",
)
def whoami(role: Annotated[Role, ANY_ROLE]) -> dict[str, str]:
    return {"role": role.value}
