"""Webhook subscriptions (admin) and the log of their deliveries (admin, router).

A subscription is a URL, the events it wants and a secret the events are signed with; the
secret is shown once, in the answer that creates the subscription. Delivery is `webhooks`'s.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from pettriage.config import Role
from pettriage.store import outbox
from pettriage.store.tables import MAX_ROW_ID, Webhook, WebhookDelivery

from . import paging
from .deps import SessionDep, requires
from .errors import reject_unknown_query, responses

router = APIRouter(
    prefix="/v1/admin/webhooks",
    tags=["webhooks"],
    dependencies=[Depends(reject_unknown_query)],
    responses=responses(401, 403),
)
ADMIN = [requires(Role.admin)]

Event = Literal["critical", "hard", "decision"]
Status = Literal["pending", "delivered", "failed"]
_HOOK = {
    "id": 1,
    "url": "https://router.example.com/triage",
    "events": ["critical", "hard"],
    "active": True,
    "created_at": "2026-12-07T09:15:00Z",
}
_DELIVERY = {
    "event_id": "e06d294a-24a9-4799-a0f1-d6a90fd913b8",
    "webhook_id": 1,
    "type": "critical",
    "message_id": "chat-58213",
    "status": "pending",
    "attempts": 3,
    "last_status": 503,
    "last_error": "HTTP 503",
    "next_attempt_at": "2026-12-07T09:15:09Z",
    "created_at": "2026-12-07T09:15:02Z",
    "last_attempt_at": "2026-12-07T09:15:05Z",
    "delivered_at": None,
}
WebhookId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


class WebhookRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"url": "https://router.example.com/triage", "events": ["critical"]}]
        },
    )

    url: str = Field(max_length=2000, description="where events are POSTed: http:// or https://")
    events: list[Event] = Field(
        min_length=1,
        description="`critical` (urgency critical), `hard` (a hard case), `decision` (every "
        "decision); a decision raises one event of each type it matches",
    )
    secret: str | None = Field(
        None,
        min_length=16,
        max_length=200,
        description="the key of the signatures; generated when not given. Shown only in this "
        "answer, never again",
    )

    @field_validator("url")
    @classmethod
    def http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"expected an http:// or https:// URL with a host, like "
                f"https://router.example.com/triage; got {url[:100]!r}"
            )
        return url

    @field_validator("events")
    @classmethod
    def once_each(cls, events: list[str]) -> list[str]:
        return list(dict.fromkeys(events))


class WebhookState(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"active": False}]})

    active: bool = Field(description="false pauses: no events are queued, queued ones wait")


class WebhookAnswer(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_HOOK]})

    id: int
    url: str
    events: list[Event]
    active: bool
    created_at: datetime


class CreatedWebhook(WebhookAnswer):
    model_config = ConfigDict(json_schema_extra={"examples": [_HOOK | {"secret": "whsec_Jx2…"}]})

    secret: str = Field(description="shown this once: keep it to check the signatures")


class WebhookList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_HOOK]}]})

    items: list[WebhookAnswer]


class DeliveryAnswer(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_DELIVERY]})

    event_id: str
    webhook_id: int
    type: Event
    message_id: str
    status: Status
    attempts: int
    last_status: int | None = Field(description="the receiver's HTTP status at the last attempt")
    last_error: str | None
    next_attempt_at: datetime | None = Field(description="while pending")
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None


class DeliveryPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_DELIVERY], "next_cursor": "cDox"}]}
    )

    items: list[DeliveryAnswer]
    next_cursor: str | None


class Requeued(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"requeued": 2}]})

    requeued: int


def _webhook(row: Webhook) -> WebhookAnswer:
    return WebhookAnswer(
        id=row.id, url=row.url, events=row.events, active=row.active, created_at=row.created_at
    )


def _delivery(row: WebhookDelivery) -> DeliveryAnswer:
    return DeliveryAnswer(
        event_id=row.event_id,
        webhook_id=row.webhook_id,
        type=row.type,
        message_id=row.message_id,
        status=row.status,
        attempts=row.attempts,
        last_status=row.last_status,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
        created_at=row.created_at,
        last_attempt_at=row.last_attempt_at,
        delivered_at=row.delivered_at,
    )


@router.post("", dependencies=ADMIN, status_code=201, summary="Subscribe a URL to events (admin)")
def create(body: WebhookRequest, session: SessionDep) -> CreatedWebhook:
    secret = body.secret or f"whsec_{secrets.token_urlsafe(32)}"
    row = outbox.add_webhook(session, body.url, body.events, secret)
    return CreatedWebhook(**_webhook(row).model_dump(), secret=secret)


@router.get("", dependencies=ADMIN, summary="The subscriptions, without their secrets")
def listing(session: SessionDep) -> WebhookList:
    return WebhookList(items=[_webhook(w) for w in outbox.webhooks(session)])


@router.get(
    "/deliveries",
    dependencies=[requires(Role.router)],
    summary="The delivery log, oldest first; follow next_cursor for more",
)
def deliveries(
    session: SessionDep,
    webhook_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> DeliveryPage:
    filters = outbox.DeliveryFilters(webhook_id=webhook_id, status=status)
    rows = outbox.deliveries(session, filters, limit, paging.after(cursor))
    return DeliveryPage(
        items=[_delivery(r) for r in rows],
        next_cursor=paging.next_cursor(rows, limit),
    )


@router.post(
    "/deliveries/{event_id}/redeliver",
    dependencies=ADMIN,
    responses=responses(404),
    summary="Send an event again, now, with a fresh set of attempts",
)
def redeliver(event_id: str, session: SessionDep) -> DeliveryAnswer:
    row = outbox.redeliver(session, event_id)
    if row is None:
        raise HTTPException(404, f"no webhook event {event_id!r}")
    return _delivery(row)


@router.patch(
    "/{webhook_id}",
    dependencies=ADMIN,
    responses=responses(404),
    summary="Pause or resume a subscription",
)
def pause_or_resume(
    webhook_id: WebhookId, body: WebhookState, session: SessionDep
) -> WebhookAnswer:
    row = outbox.set_active(session, webhook_id, body.active)
    if row is None:
        raise HTTPException(404, f"no webhook {webhook_id}")
    return _webhook(row)


@router.delete(
    "/{webhook_id}",
    dependencies=ADMIN,
    status_code=204,
    responses=responses(404),
    summary="Unsubscribe, with its log",
)
def remove(webhook_id: WebhookId, session: SessionDep) -> Response:
    if not outbox.delete_webhook(session, webhook_id):
        raise HTTPException(404, f"no webhook {webhook_id}")
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/redeliver-failed",
    dependencies=ADMIN,
    summary="Queue again every failed event of a subscription",
)
def redeliver_failed(webhook_id: WebhookId, session: SessionDep) -> Requeued:
    return Requeued(requeued=outbox.redeliver_failed(session, webhook_id))
