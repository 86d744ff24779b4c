"""Webhook delivery: each worker's loop that sends the outbox's due events (`store.outbox`).

Every `webhook_poll_seconds` a worker claims due events of active subscriptions with a lease,
POSTs each (signed, bounded in time, several at once) and records the outcome: any 2xx is
delivered; anything else is tried again after a doubling, jittered wait up to a cap, and marked
`failed` after `webhook_max_attempts`. At least once: a worker that dies mid-POST leaves its
events to the next worker whose claim finds the lease expired, so a receiver may see an event
twice, always with the same `X-Triage-Event-Id` and the same body.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import sessionmaker

from pettriage.config import Settings
from pettriage.store import outbox
from pettriage.store.outbox import Claimed

from . import metrics

log = logging.getLogger("api.webhooks")

IN_FLIGHT = 16  # POSTs a worker has open at once: a slow receiver holds one slot, not the loop
PURGE_EVERY = 3600.0  # seconds between two clean-ups of the log by one worker
PURGE_AFTER_START = 60.0  # the first one, once the worker has settled
USER_AGENT = "pettriage-webhooks/1"


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: the receiver's status, if it answered, and what went wrong."""

    status: int | None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """`X-Triage-Signature`: HMAC-SHA256 of `"<t>."` and the body, keyed by the secret; the
    time is signed too, so a receiver can refuse an old message replayed."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def backoff(attempts: int, first: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after `attempts` failed attempts: `first`, doubled each time up to `cap`,
    taken between half and all of it, so that events that failed together (a receiver down)
    do not all come back at the same moment."""
    full = min(cap, first * 2 ** min(attempts - 1, 62))
    return full / 2 + (rng or random).uniform(0, full / 2)


async def post(client: httpx.AsyncClient, event: Claimed, timeout: float) -> Outcome:
    """One attempt, within `timeout` seconds in all (connecting, sending, the answer's
    headers); the answer's body is never read."""
    body = event.body.encode()
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "x-triage-event-id": event.event_id,
        "x-triage-event": event.type,
        "x-triage-signature": sign(event.secret, body, int(time.time())),
    }
    try:
        async with asyncio.timeout(timeout):
            request = client.build_request("POST", event.url, content=body, headers=headers)
            response = await client.send(request, stream=True)
            await response.aclose()
    except TimeoutError:
        return Outcome(None, f"no answer within {timeout:g} s")
    except Exception as error:  # refused, reset, a bad address: all worth another attempt
        return Outcome(None, f"{type(error).__name__}: {error}" if str(error) else repr(error))
    if 200 <= response.status_code < 300:
        return Outcome(response.status_code)
    return Outcome(response.status_code, f"HTTP {response.status_code}")


class Deliverer:
    """The delivery loop of one worker, started and stopped by the app's lifespan."""

    def __init__(self, settings: Settings, sessions: sessionmaker):
        self.settings = settings
        self.sessions = sessions
        self._sending: dict[asyncio.Task, Claimed] = {}
        self._loop: asyncio.Task | None = None
        self._client: httpx.AsyncClient | None = None
        self._next_purge = time.monotonic() + PURGE_AFTER_START

    def start(self) -> None:
        timeout = self.settings.webhook_timeout_seconds
        # No redirects (a 3xx is not a delivery), no proxies from the environment.
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False)
        self._loop = asyncio.create_task(self._run(), name="webhooks")

    async def stop(self) -> None:
        """Stop sending; events interrupted mid-POST are given back, due at once."""
        interrupted = [event for task, event in self._sending.items() if not task.done()]
        tasks = [t for t in (self._loop, *self._sending) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if interrupted:
            try:
                await run_in_threadpool(self._with_session, outbox.release, interrupted)
            except Exception:  # their leases expire by themselves
                log.exception("could not give back %d webhook events", len(interrupted))
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        poll, full = self.settings.webhook_poll_seconds, False
        while True:
            # A round every poll, or as soon as a slot frees when the last one filled them all
            # (more may be due). The first waits too: a worker starting touches no database yet.
            if full:
                await asyncio.wait(
                    list(self._sending), timeout=poll, return_when=asyncio.FIRST_COMPLETED
                )
            else:
                await asyncio.sleep(poll)
            free = IN_FLIGHT - len(self._sending)
            claimed: list[Claimed] = []
            if free > 0:
                try:
                    claimed = await run_in_threadpool(self._claim, free)
                except Exception as error:  # the database busy or away: next round
                    log.warning("could not claim webhook events (%s)", type(error).__name__)
            for event in claimed:
                task = asyncio.create_task(self._deliver(event))
                self._sending[task] = event
                task.add_done_callback(self._sending.pop)
            full = bool(self._sending) and len(claimed) == free
            await self._maybe_purge()

    def _claim(self, limit: int) -> list[Claimed]:
        lease = timedelta(seconds=self.settings.webhook_lease_seconds)
        return self._with_session(outbox.claim, limit, lease)

    async def _deliver(self, event: Claimed) -> None:
        outcome = await post(self._client, event, self.settings.webhook_timeout_seconds)
        try:
            await run_in_threadpool(self._record, event, outcome)
        except Exception:  # the lease expires and another attempt is made: at least once
            log.exception("could not record the delivery of event %s", event.event_id)

    def _record(self, event: Claimed, outcome: Outcome) -> None:
        settings = self.settings
        if outcome.delivered:
            metrics.WEBHOOKS.labels("delivered").inc()
            self._with_session(outbox.delivered, event, outcome.status)
            return
        attempts = event.attempts + 1
        if attempts >= settings.webhook_max_attempts:
            retry_at = None
            metrics.WEBHOOKS.labels("failed").inc()
            log.warning(
                "webhook event %s failed %d times (%s); given up, an admin can redeliver it",
                event.event_id,
                attempts,
                outcome.error,
            )
        else:
            wait = backoff(
                attempts, settings.webhook_backoff_seconds, settings.webhook_backoff_max_seconds
            )
            retry_at = datetime.now(UTC) + timedelta(seconds=wait)
            metrics.WEBHOOKS.labels("retry").inc()
        self._with_session(outbox.attempt_failed, event, outcome.status, outcome.error, retry_at)

    async def _maybe_purge(self) -> None:
        if time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + PURGE_EVERY
        before = datetime.now(UTC) - timedelta(days=self.settings.webhook_retention_days)
        try:
            await run_in_threadpool(self._with_session, outbox.purge, before)
        except Exception as error:  # tried again in an hour
            log.warning("could not purge the webhook log (%s)", type(error).__name__)

    def _with_session(self, query, *args):
        with self.sessions() as session:
            return query(session, *args)
