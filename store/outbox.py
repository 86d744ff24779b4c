"""Webhooks in the database: the routers' subscriptions, and the outbox of their events.

An event is written by `add_events` in the transaction that stores its prediction (`queries.save`),
so a stored prediction always has its events and a refused one has none. Delivery (`api.webhooks`)
claims due rows with a lease: the claim is one conditional UPDATE, so two workers — or two hosts
on one PostgreSQL — never both hold a row, and a worker that dies mid-delivery leaves its rows
to whoever finds the lease expired. The row stays as the log of its delivery.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.orm import Session

from .jsonio import dumps_text
from .tables import Webhook, WebhookDelivery

MAX_ERROR_CHARS = 300
# Read by every save: through Core on the table, 15 µs, where the ORM's select took 85 µs.
_webhooks = Webhook.__table__.c
ACTIVE = select(_webhooks.id, _webhooks.events).where(_webhooks.active.is_(True))


@dataclass(frozen=True)
class Claimed:
    """A due event that one worker holds until `lease_until`, with where and how to send it."""

    id: int
    event_id: str
    type: str
    body: str
    attempts: int  # made before this one
    url: str
    secret: str
    claim: str  # the token of the claim that took it


@dataclass(frozen=True)
class DeliveryFilters:
    webhook_id: int | None = None
    status: str | None = None


# -- subscriptions ------------------------------------------------------------------------------
def add_webhook(session: Session, url: str, events: list[str], secret: str) -> Webhook:
    webhook = Webhook(
        url=url, events=events, secret=secret, active=True, created_at=datetime.now(UTC)
    )
    session.add(webhook)
    session.commit()
    return webhook


def webhooks(session: Session) -> list[Webhook]:
    return list(session.scalars(select(Webhook).order_by(Webhook.id)))


def set_active(session: Session, webhook_id: int, active: bool) -> Webhook | None:
    """Pause (no events are written for it, and its queued ones wait) or resume."""
    webhook = session.get(Webhook, webhook_id)
    if webhook is not None:
        webhook.active = active
        session.commit()
    return webhook


def delete_webhook(session: Session, webhook_id: int) -> bool:
    """Remove a subscription with its events, delivered or not."""
    gone = session.execute(delete(Webhook).where(Webhook.id == webhook_id)).rowcount
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id))
    session.commit()
    return bool(gone)


# -- events, written with their predictions ----------------------------------------------------
def event_types(row: dict) -> list[str]:
    """The events a stored prediction (a row of `queries.prediction_row`) raises."""
    types = ["decision"]
    if row["urgency"] == "critical":
        types.append("critical")
    if row["is_hard"]:
        types.append("hard")
    return types


def add_events(session: Session, rows: list[dict]) -> int:
    """Queue the events of `rows` for every active subscription that wants them, in the
    session's transaction (the caller commits); how many were queued."""
    subscriptions = session.connection().execute(ACTIVE).all()
    if not subscriptions:
        return 0
    now = datetime.now(UTC)
    queued = []
    for row in rows:
        prediction = _announced(row)
        for event_type in event_types(row):
            for webhook_id, wanted in subscriptions:
                if event_type in wanted:
                    queued.append(_event(webhook_id, event_type, prediction, now))
    if queued:
        session.connection().execute(insert(WebhookDelivery.__table__), queued)
    return len(queued)


def _event(webhook_id: int, event_type: str, prediction: dict, now: datetime) -> dict:
    event_id = str(uuid.uuid4())
    body = {
        "event_id": event_id,
        "type": event_type,
        "created_at": now.isoformat(),
        "prediction": prediction,
    }
    return dict(
        event_id=event_id,
        webhook_id=webhook_id,
        type=event_type,
        message_id=prediction["message_id"],
        body=dumps_text(body),
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )


def _announced(row: dict) -> dict:
    """What an event says of its prediction: the answer's labels and what to do, without the
    text (a receiver reads it at `/v1/predictions/{message_id}` with its key) or the long parts
    of the answer (probabilities of every label, the words behind the category)."""
    answer = row.get("decision") or {}
    received = row.get("received_at")
    return {
        "message_id": row["message_id"],
        "channel": row["channel"],
        "received_at": received.isoformat() if received else None,
        "classified_at": _utc(row["created_at"]).isoformat(),
        "is_hard": row["is_hard"],
        "category": row["category"],
        "urgency": row["urgency"],
        "reporter": row["reporter"],
        "heads": answer.get("heads", {}),
        "needs_review": row["needs_review"],
        "review_reasons": answer.get("review_reasons", []),
        "safety": answer.get("safety", {"fired": row["safety_fired"]}),
        "in_domain": answer.get("in_domain"),
        "actions": row.get("actions") or [],
        "model_version": row["model_version"],
    }


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# -- delivery -----------------------------------------------------------------------------------
def _free(now: datetime):
    """Pending, due, and held by no live lease."""
    return (
        (WebhookDelivery.status == "pending")
        & (WebhookDelivery.next_attempt_at <= now)
        & or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until <= now)
    )


def claim(session: Session, limit: int, lease: timedelta) -> list[Claimed]:
    """Take up to `limit` due events of active subscriptions, oldest due first, for `lease`.

    The candidates are read first (on PostgreSQL `FOR UPDATE SKIP LOCKED`, so two claims pass
    each other by), then taken by one UPDATE that repeats the conditions: on SQLite the UPDATE
    holds the write lock while it checks them, on PostgreSQL a row taken meanwhile is checked
    again and skipped. Only the rows that carry this claim's token come back."""
    now = datetime.now(UTC)
    due = (
        select(WebhookDelivery.id)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(_free(now), Webhook.active.is_(True))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    )
    ids = list(session.scalars(due))
    if not ids:
        session.rollback()
        return []
    token = uuid.uuid4().hex
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(ids), _free(now))
        .values(lease_until=now + lease, claim=token)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    taken = session.execute(
        select(WebhookDelivery, Webhook.url, Webhook.secret)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(WebhookDelivery.id.in_(ids), WebhookDelivery.claim == token)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
    ).all()
    session.rollback()  # end the read; nothing to write
    return [
        Claimed(d.id, d.event_id, d.type, d.body, d.attempts, url, secret, token)
        for d, url, secret in taken
    ]


def delivered(session: Session, event: Claimed, status: int) -> None:
    """The receiver said 2xx. Recorded whoever holds the row now: it arrived."""
    now = datetime.now(UTC)
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == event.id)
        .values(
            status="delivered",
            attempts=WebhookDelivery.attempts + 1,
            last_status=status,
            last_error=None,
            last_attempt_at=now,
            delivered_at=now,
            lease_until=None,
            claim=None,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()


def attempt_failed(
    session: Session,
    event: Claimed,
    status: int | None,
    error: str,
    retry_at: datetime | None,
) -> None:
    """An attempt that did not reach a 2xx: due again at `retry_at`, or `failed` without one.
    Recorded only while this claim still holds the row (a worker that outlived its lease
    leaves the row to the one that took it over)."""
    values = dict(
        attempts=event.attempts + 1,
        last_status=status,
        last_error=error[:MAX_ERROR_CHARS],
        last_attempt_at=datetime.now(UTC),
        lease_until=None,
        claim=None,
    )
    values |= {"next_attempt_at": retry_at} if retry_at else {"status": "failed"}
    session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == event.id,
            WebhookDelivery.claim == event.claim,
            WebhookDelivery.status == "pending",
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def release(session: Session, events: list[Claimed]) -> None:
    """Give back events whose sending was interrupted (the worker is stopping): due at once for
    the other workers, or this one when it starts again."""
    for event in events:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == event.id, WebhookDelivery.claim == event.claim)
            .values(lease_until=None, claim=None)
            .execution_options(synchronize_session=False)
        )
    session.commit()


# -- the log ------------------------------------------------------------------------------------
def deliveries(
    session: Session, filters: DeliveryFilters, limit: int, after: int = 0
) -> list[WebhookDelivery]:
    """Events in the order they were made, oldest first, after the id of a cursor."""
    query = select(WebhookDelivery).where(WebhookDelivery.id > after)
    if filters.webhook_id is not None:
        query = query.where(WebhookDelivery.webhook_id == filters.webhook_id)
    if filters.status is not None:
        query = query.where(WebhookDelivery.status == filters.status)
    return list(session.scalars(query.order_by(WebhookDelivery.id).limit(limit)))


def redeliver(session: Session, event_id: str) -> WebhookDelivery | None:
    """Send an event again (a failed one, or a delivered one a receiver lost), now and with a
    fresh set of attempts; a pending one is only made due now."""
    event = session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.event_id == event_id)
    ).first()
    if event is None:
        return None
    event.next_attempt_at = datetime.now(UTC)
    if event.status != "pending":
        event.status, event.attempts = "pending", 0
        event.lease_until = event.claim = None
    session.commit()
    return event


def redeliver_failed(session: Session, webhook_id: int) -> int:
    """Queue again every failed event of a subscription; how many."""
    count = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return count


def purge(session: Session, before: datetime) -> int:
    """Forget delivered and failed events made before `before`; pending ones stay."""
    count = session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.status != "pending", WebhookDelivery.created_at < before
        )
    ).rowcount
    session.commit()
    return count
