"""The service: what the routes do, built once per worker in the app's lifespan.

All classification work — one message, a `/batch` request, an e-mail — goes through
`TriageService.classify`, which runs in the worker's one batcher thread (`batcher`), with the
champion of that moment, stores every decision and says what the procedure requires now. Routes
only turn HTTP into calls of this object, and its errors (`NoModel`, `EmailError`,
`TextTooLong`) into HTTP answers.

Longer than 300 lines because it is one service: its start (the store, the champion, the
registry's follower), classification and storage, e-mail intake and reload share its state.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from pettriage.classifier.labels import HEAD_LABELS
from pettriage.classifier.records import MAX_TEXT_CHARS, Message
from pettriage.classifier.safety import SafetyRules
from pettriage.config import Settings
from pettriage.store import queries
from pettriage.store.db import make_engine, make_sessions, migrate, reachable

from . import metrics
from .actions import actions_for
from .batcher import Batcher
from .champion import Champion
from .email_intake import IncomingEmail, parse
from .follower import RegistryFollower
from .idempotency import Intake, KeyReused, Once, intake_columns, replay, request_hash
from .schemas import ClassifyRequest

log = logging.getLogger("api")


class NoModel(Exception):
    """No model is loaded yet."""

    def __str__(self) -> str:
        return "no model loaded yet; train one with `complaints train`"


class Overdue(Exception):
    """A classification was not ready within the request deadline."""

    def __init__(self, seconds: float):
        super().__init__(
            f"the classification was not ready within {seconds:g} s; the service is overloaded. "
            "Try again: a message classified twice is stored twice, never lost."
        )


class TextTooLong(ValueError):
    """An e-mail's new text is over the limit of a message."""


@dataclass(frozen=True)
class Email:
    """A classified e-mail: the answer, and what was read from the e-mail."""

    answer: dict
    email: IncomingEmail
    replayed: bool = False


NOT_SERVING = "the service answers 503 until a model is trained and reloaded"


class TriageService:
    def __init__(self, settings: Settings, engine: Engine, sessions: sessionmaker):
        self.settings = settings
        self.engine = engine
        self.sessions = sessions
        self.champion = Champion(settings, SafetyRules.load())
        self.batcher: Batcher[ClassifyRequest, dict] = Batcher(self._work)
        self._settled = None
        self.follower: RegistryFollower | None = None

    @classmethod
    def start(cls, settings: Settings) -> TriageService:
        """Migrate the database, connect, and load the champion if there is one. A worker that
        follows the registry asks it at once, in its thread: a new host with an empty models/
        fetches the champion, and is ready (/readyz) once it serves it."""
        migrate(settings.db_url, settings.home, apart=True)
        engine = make_engine(settings.db_url)
        service = cls(settings, engine, make_sessions(engine))
        follows = settings.registry_poll > 0
        try:
            service.champion.load_at_start()
        except Exception as error:  # no model yet, or one that does not load: answer 503
            then = "the registry's champion is fetched next" if follows else NOT_SERVING
            log.log(logging.WARNING if follows else logging.ERROR, "%s; %s", error, then)
        if follows:
            service.follower = RegistryFollower(service.champion, settings.registry_poll)
            service.follower.start()
        service._settled = service.champion.model
        _settle_heap()
        return service

    async def close(self) -> None:
        if self.follower is not None:
            await run_in_threadpool(self.follower.stop)
        await run_in_threadpool(self.champion.close)
        await self.batcher.close()
        self.engine.dispose()

    # -- classification ---------------------------------------------------------------------
    async def classify(self, requests: list[ClassifyRequest]) -> list[dict]:
        """Answers in the order of `requests`, each stored (or `"stored": false`); `Overdue`
        when they are not ready within the request deadline."""
        timeout = self.settings.request_timeout_seconds
        try:
            return await asyncio.wait_for(self.batcher.submit(requests), timeout)
        except TimeoutError as error:
            metrics.OVERDUE.inc(len(requests))
            raise Overdue(timeout) from error

    async def classify_once(self, request: ClassifyRequest, key: str) -> Once:
        """Classify a request sent under an idempotency key once: a repeat gets the stored
        answer (`KeyReused` when the key was used for a different request)."""
        intake = request._intake or Intake()
        asked = request_hash(request) if intake.request_hash is None else intake.request_hash
        request._intake = Intake(key, asked, intake.sender, intake.subject)
        row = await run_in_threadpool(self._stored_under, key)
        if row is None:
            (answer,) = await self.classify([request])
            if answer["stored"]:
                return Once(answer, False)
            # Not stored: a twin sent at the same moment was stored first, or the store failed.
            row = await run_in_threadpool(self._stored_under, key)
            if row is None:
                return Once(answer, False)
        if row.request_hash != asked:
            raise KeyReused(key, row.message_id)
        return Once(replay(row), True)

    def _stored_under(self, key: str):
        with self.sessions() as session:
            return queries.by_idempotency_key(session, key)

    async def classify_email(self, raw: bytes, message_id: str | None = None) -> Email:
        """An e-mail is classified once: its Message-ID (or, without one, its bytes) is its
        key, its Date the time it was received, its sender and subject are stored."""
        email = parse(raw)
        if len(email.text) > MAX_TEXT_CHARS:
            raise TextTooLong(
                f"the e-mail's new text is {len(email.text)} characters long; "
                f"the limit is {MAX_TEXT_CHARS}"
            )
        metadata = {"subject": email.subject, "sender_name": email.sender_name}
        if email.message_id:
            metadata["email_message_id"] = email.message_id
        if email.forwarded_from:
            metadata["forwarded_from"] = email.forwarded_from
        request = ClassifyRequest(
            message_id=message_id or email.stored_id,
            text=email.text,
            channel="email",
            received_at=email.date,
            metadata=metadata,
        )
        asked = hashlib.sha256(
            json.dumps(
                [request.message_id, email.sender_address, email.subject, email.text]
            ).encode()
        ).hexdigest()
        request._intake = Intake(None, asked, email.sender_address or None, email.subject)
        once = await self.classify_once(request, email.key)
        return Email(once.answer, email, once.replayed)

    def _work(self, requests: list[ClassifyRequest]) -> list[dict]:
        """The batcher thread's work: one model for the whole batch, even if a reload lands
        meanwhile."""
        champion = self.champion
        champion.maybe_refresh()
        model = champion.model
        if model is None:
            raise NoModel
        if model is not self._settled:
            self._settled = model
            _settle_heap(replaced=True)
        with self.sessions() as session:
            return self._classify_and_store(requests, model, session)

    def _classify_and_store(self, requests: list[ClassifyRequest], model, session) -> list[dict]:
        """A failed store does not lose the answer: it is counted in /metrics and logged.
        Answers have the shape of `schemas.Classification` and are sent as they are:
        validating them again cost a millisecond."""
        ids = [r.message_id or f"gen-{uuid.uuid4().hex}" for r in requests]
        messages = (
            Message(r.text, r.channel, i, r.received_at) for r, i in zip(requests, ids, strict=True)
        )
        decisions = model.map(messages)
        metrics.count_decisions(decisions)
        answers = [d.as_dict() for d in decisions]
        contacts = self.settings.contacts
        pairs = zip(requests, decisions, strict=True)
        actions = [actions_for(d, r.channel, contacts) for r, d in pairs]
        now = datetime.now(UTC)
        rows = [
            queries.prediction_row(i, r.channel, r.text, d, a, now, r.received_at, r.metadata)
            | intake_columns(r._intake, act)
            for r, i, d, a, act in zip(requests, ids, decisions, answers, actions, strict=True)
        ]
        stored = _store(session, rows)
        return [
            a
            | {"message_id": i, "stored": ok, "actions": act}
            | ({"input_warnings": r.warnings} if r.warnings else {})
            for r, i, a, act, ok in zip(requests, ids, answers, actions, stored, strict=True)
        ]

    # -- the model and the health of the worker ---------------------------------------------
    def model_info(self) -> dict:
        champion = self.champion
        if champion.model is None:
            raise NoModel
        meta = champion.meta
        return {
            "version": champion.version,
            "mlflow_run_id": meta.get("run_id"),
            "created_at": meta.get("created_at"),
            "metrics": meta.get("metrics", {}),
            "data_hash": meta.get("data_hash"),
            "labels": {name: list(labels) for name, labels in HEAD_LABELS.items()},
            "review_thresholds": meta.get("review_thresholds"),
            "safety_rules": champion.rules.source,
        }

    def readiness(self) -> dict:
        checks = {
            "model_loaded": self.champion.model is not None,
            "database": reachable(self.engine),
        }
        return {"ready": all(checks.values()), **checks, "model_version": self.champion.version}

    def reload(self) -> tuple[str | None, str]:
        """(version before, version now) after loading what the registry's alias names. A
        version that fails its checks raises `champion.Refused` and changes nothing: this
        worker, the others and the next start keep the model served before."""
        from .champion import Refused

        before = self.champion.version
        try:
            version = self.champion.reload_from_registry()
        except Exception as error:
            metrics.RELOADS.labels("failed").inc()
            if not isinstance(error, Refused):  # a refusal is logged where it is decided
                log.exception("reload failed; still serving v%s", before)
            raise
        metrics.RELOADS.labels("ok").inc()
        return before, version


def _store(session, rows: list[dict]) -> list[bool]:
    """Whether each row was stored: the batch in one INSERT and one commit, and when that fails,
    row by row, so that a row the database refuses loses only itself, never its neighbours.
    Refusals are counted in /metrics and logged without the rows' contents."""
    try:
        queries.save(session, rows)
        return [True] * len(rows)
    except Exception as error:
        session.rollback()
        if len(rows) > 1:
            log.warning(
                "a batch of %d rows was refused (%s); storing them one by one",
                len(rows),
                type(error).__name__,
            )
    stored = []
    for row in rows:
        try:
            queries.save(session, [row])
            stored.append(True)
        except Exception as error:
            session.rollback()
            stored.append(False)
            metrics.STORE_FAILURES.inc()
            log.error(
                "could not store the classification of %s (%s); answered anyway",
                row["message_id"],
                type(error).__name__,
            )
    return stored


def _settle_heap(replaced: bool = False) -> None:
    """Move what is alive now (the model, the libraries) out of the garbage collector's sight:
    a full collection walked all of it and stopped the worker for 300-400 ms, which queued a
    hundred requests behind it. When a reload `replaced` the model, what the last freeze kept
    out of sight is looked at again first: the old model may be garbage now, and a frozen cycle
    is never collected. (Not at start: there, another app's frozen heap — in the tests — is
    not ours to walk.)"""
    if replaced:
        gc.unfreeze()
    gc.collect()
    gc.freeze()
