"""What the quality team works on next: the review queue, the audit list, the proposals that
wait for a second person, search, the claims that keep two people off one item (opening an
item claims it for `claim_seconds`), and how well the annotators agree."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from pettriage.config import Role
from pettriage.store import quality, tables, worklist
from pettriage.store.quality import Page, Refused

from . import examples
from .deps import SessionDep, SettingsDep, requires
from .errors import Error, reject_unknown_query, responses
from .paging import Offset
from .review import Annotator, feedback_dict, iso, labels_of, utc_now
from .schemas import Category, Channel, MessageId, Urgency

router = APIRouter(
    prefix="/v1",
    tags=["quality"],
    dependencies=[Depends(reject_unknown_query)],
    responses=responses(401, 403),
)
QUALITY = [requires(Role.quality)]
ANY_ROLE = requires(Role.channel, Role.router, Role.quality)


class ClaimRequest(BaseModel):
    message_id: MessageId
    target: Literal[tables.TARGETS] = "prediction"
    annotator: Annotator

    model_config = {
        "json_schema_extra": {"examples": [{"message_id": "chat-58214", "annotator": "Мария К."}]}
    }


class ClaimTaken(Error):
    claimed_by: str = Field(description="who holds the item")
    expires_at: datetime = Field(description="when their lease ends, UTC")


def _claim_dict(claim: tables.Claim | None) -> dict[str, Any]:
    if claim is None:
        return {"claimed_by": None, "claimed_until": None}
    return {"claimed_by": claim.annotator, "claimed_until": claim.expires_at.isoformat()}


def _filters(
    category: Category | None = None,
    urgency: Urgency | None = None,
    channel: Channel | None = None,
) -> worklist.QueueFilters:
    return worklist.QueueFilters(category=category, urgency=urgency, channel=channel)


Filters = Annotated[worklist.QueueFilters, Depends(_filters)]  # ?category=&urgency=&channel=


def _prediction_item(row: tables.Prediction, claim: tables.Claim | None) -> dict[str, Any]:
    return {
        "message_id": row.message_id,
        "prediction_id": row.id,
        "channel": row.channel,
        "text": row.text,
        "sender": row.sender,
        "subject": row.subject,
        "received_at": iso(row.received_at),
        "created_at": row.created_at.isoformat(),
        "model_version": row.model_version,
        "priority": row.review_priority,
        "reason": row.review_reason,
        "labels": labels_of(row),
        "decision": row.decision,
        "actions": row.actions,
        **_claim_dict(claim),
    }


def _prediction_page(session, page: Page, offset: int) -> dict[str, Any]:
    claims = worklist.live_claims(
        session, "prediction", [r.message_id for r in page.items], utc_now()
    )
    return {
        "total": page.total,
        "offset": offset,
        "items": [_prediction_item(r, claims.get(r.message_id)) for r in page.items],
    }


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
    offset: Offset = 0,
) -> dict[str, Any]:
    """`total` counts the whole queue; items claimed by someone carry `claimed_by`."""
    return _prediction_page(session, worklist.review_queue(session, filters, limit, offset), offset)


@router.get(
    "/search",
    dependencies=QUALITY,
    responses=examples.answer(examples.REVIEW_QUEUE),
    summary="Messages whose text has all the words, in any of their forms; or by message_id",
)
def search(
    session: SessionDep,
    q: Annotated[str, Query(min_length=1, max_length=200, description="words, or a message_id")],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Full-text search of the latest prediction of each message: PostgreSQL's Russian
    configuration, or SQLite FTS5 with the words' Snowball stems; newest first."""
    return _prediction_page(session, worklist.search(session, q, limit, offset), offset)


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
    offset: Offset = 0,
) -> dict[str, Any]:
    page = worklist.audit_list(session, filters, limit, offset)
    claims = worklist.live_claims(
        session, "annotated", [r.record_id for r in page.items], utc_now()
    )
    return {
        "total": page.total,
        "offset": offset,
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
                **_claim_dict(claims.get(r.record_id)),
            }
            for r in page.items
        ],
    }


@router.post(
    "/claims",
    dependencies=QUALITY,
    responses={409: {"model": ClaimTaken, "description": "someone else holds the item"}}
    | examples.answer(examples.CLAIM),
    summary="Claim an item for a few minutes (or renew one's own claim)",
)
def claim(body: ClaimRequest, session: SessionDep, settings: SettingsDep):
    """A lease of `claim_seconds`: another person sees the item as taken, and their correction
    of it is a 409 until the lease ends or is released."""
    now = utc_now()
    try:
        row = worklist.claim(
            session,
            body.target,
            body.message_id,
            body.annotator,
            now,
            settings.claim_seconds,
        )
    except Refused as error:
        holder = worklist.live_claims(session, body.target, [body.message_id], now)
        taken = holder.get(body.message_id)
        return JSONResponse(
            status_code=409,
            content={
                "detail": str(error),
                "claimed_by": taken.annotator if taken else None,
                "expires_at": iso(taken.expires_at) if taken else None,
            },
        )
    return {"message_id": row.message_id, "target": row.target} | _claim_dict(row)


@router.delete(
    "/claims/{target}/{message_id}",
    dependencies=QUALITY,
    status_code=204,
    summary="Give an item back before the lease ends",
)
def release(
    target: Literal[tables.TARGETS],
    message_id: str,
    session: SessionDep,
    annotator: Annotated[str, Query(min_length=1, max_length=100)],
) -> None:
    worklist.release(session, target, message_id, annotator.strip())


@router.get(
    "/proposals",
    dependencies=QUALITY,
    responses=examples.answer(examples.PROPOSALS),
    summary="Corrections that wait for a second person, oldest first",
)
def proposals(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    page = quality.proposals(session, limit, offset)
    texts = quality.texts_of(session, page.items)
    return {
        "total": page.total,
        "offset": offset,
        "items": [feedback_dict(r, texts.get(r.id) or "") for r in page.items],
    }


@router.get(
    "/agreement",
    dependencies=QUALITY,
    responses=examples.answer(examples.AGREEMENT),
    summary="Agreement between annotators: Cohen's kappa per head, overall and per person",
)
def agreement(session: SessionDep) -> dict[str, Any]:
    """Over the corrections a second person has reviewed: the author's labels against the
    second person's (a confirmation agrees, a rejection holds the labels as they were)."""
    return quality.agreement(session)


@router.get(
    "/whoami",
    responses=examples.answer(examples.WHOAMI),
    summary="The role of the key sent, for the review page's login",
)
def whoami(role: Annotated[Role, ANY_ROLE]) -> dict[str, str]:
    return {"role": role.value}
