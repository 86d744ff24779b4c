"""The HTTP endpoints. HTTP errors are raised here only; the work is in `classify_and_store`."""

from __future__ import annotations

import gc
import logging
import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from classifier.decision import Decision
from classifier.labels import HEAD_LABELS
from classifier.records import MAX_TEXT_CHARS, Message

from . import metrics, review_queue, storage
from .actions import actions_for
from .batcher import Batcher
from .db import reachable
from .deps import NO_MODEL, ChampionDep, SessionDep, SettingsDep, requires
from .email_intake import EmailError, parse
from .jsonio import FastJSONResponse
from .schemas import (
    BatchAnswer,
    BatchRequest,
    Category,
    Classification,
    ClassifyRequest,
    EmailAnswer,
    MessageHistory,
    PredictionPage,
    StoredPrediction,
    Urgency,
)
from .settings import Role

log = logging.getLogger("api")
router = APIRouter()
v1 = APIRouter(prefix="/v1")


def classify_and_store(
    requests: list[ClassifyRequest], champion, session: Session, settings
) -> list[dict]:
    """Classify a batch, store every decision, and say what to do; a failed store does not
    lose the answer (it is counted in /metrics and logged). Answers have the shape of
    `Classification` and are sent as they are: validating them again cost a millisecond."""
    model = champion.model  # one model for the whole batch, even if a reload lands meanwhile
    ids = [r.message_id or f"gen-{uuid.uuid4().hex}" for r in requests]
    decisions = model.map(Message(r.text, r.channel, i) for r, i in zip(requests, ids, strict=True))
    metrics.count_decisions(decisions)
    answers = [d.as_dict() for d in decisions]
    now = datetime.now(UTC)
    stored = True
    try:
        storage.save(
            session,
            [
                prediction_row(i, r.channel, r.text, d, a, now, r.received_at, r.metadata)
                for r, i, d, a in zip(requests, ids, decisions, answers, strict=True)
            ],
        )
    except Exception:
        session.rollback()
        stored = False
        metrics.STORE_FAILURES.inc(len(requests))
        log.exception("could not store %d classifications; answering anyway", len(requests))
    return [
        a
        | {
            "message_id": i,
            "stored": stored,
            "actions": actions_for(d, r.channel, settings.contacts),
        }
        for r, i, d, a in zip(requests, ids, decisions, answers, strict=True)
    ]


def prediction_row(
    message_id: str,
    channel: str | None,
    text: str,
    decision: Decision,
    answer: dict,
    created_at: datetime,
    received_at: datetime | None = None,
    meta: dict | None = None,
) -> dict:
    """The stored row of one classification (`answer` is `decision.as_dict()`), scored for
    the review queue."""
    score, reason = review_queue.priority(answer, message_id)
    return dict(
        message_id=message_id,
        channel=channel,
        text=text,
        is_hard=decision.is_hard,
        category=decision.category,
        urgency=decision.urgency,
        reporter=decision.reporter,
        needs_review=decision.needs_review,
        safety_fired=bool(decision.safety.get("fired")),
        decision=answer,
        model_version=decision.model_version,
        received_at=received_at,
        created_at=created_at,
        meta=meta,
        review_priority=score,
        review_reason=reason,
    )


class NoModel(Exception):
    """No model is loaded yet."""


def singles_batcher(state) -> Batcher[ClassifyRequest, dict]:
    """What `POST /v1/classify` waits on: the requests waiting at one moment are classified and
    stored together in the batcher's thread (see `api.batcher`), with the champion of that
    moment. `state` is the app's state, with the champion, sessions and settings."""
    champion = state.champion
    settled = champion.model
    _settle_heap()

    def work(requests: list[ClassifyRequest]) -> list[dict]:
        nonlocal settled
        champion.maybe_refresh()
        if champion.model is None:
            raise NoModel
        if champion.model is not settled:  # another worker reloaded: settle the new model too
            settled = champion.model
            _settle_heap()
        with state.sessions() as session:
            return classify_and_store(requests, champion, session, state.settings)

    return Batcher(work)


def _settle_heap() -> None:
    """Move what is alive now (the model, the libraries) out of the garbage collector's sight:
    a full collection walked all of it and stopped the worker for 300-400 ms, which queued a
    hundred requests behind it."""
    gc.collect()
    gc.freeze()


@v1.post(
    "/classify",
    response_model=Classification,
    summary="Classify one message",
    dependencies=[requires(Role.channel)],
)
async def classify(body: ClassifyRequest, request: Request) -> Response:
    try:
        answer = await request.app.state.singles(body)
    except NoModel as error:
        raise HTTPException(503, NO_MODEL) from error
    return FastJSONResponse(answer)


@v1.post(
    "/classify/batch",
    response_model=BatchAnswer,
    summary="Classify up to 1,000 messages",
    dependencies=[requires(Role.channel)],
)
def classify_batch(
    body: BatchRequest, champion: ChampionDep, session: SessionDep, settings: SettingsDep
) -> JSONResponse:
    results = classify_and_store(body.messages, champion, session, settings)
    return FastJSONResponse({"results": results})


@v1.post(
    "/classify/email",
    response_model=EmailAnswer,
    dependencies=[requires(Role.channel)],
    summary="Classify a raw e-mail (RFC 822): the body, or an .eml file in the field `file`",
    openapi_extra={
        "requestBody": {
            "content": {
                "message/rfc822": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            }
        }
    },
)
async def classify_email(
    request: Request,
    champion: ChampionDep,
    session: SessionDep,
    settings: SettingsDep,
    message_id: str | None = None,
) -> EmailAnswer:
    raw = await _email_bytes(request, settings.max_email_bytes)
    try:
        email = parse(raw)
    except EmailError as error:
        raise HTTPException(422, str(error)) from error
    if len(email.text) > MAX_TEXT_CHARS:
        raise HTTPException(
            413,
            f"the e-mail's new text is {len(email.text)} characters long; "
            f"the limit is {MAX_TEXT_CHARS}",
        )
    request_body = ClassifyRequest(
        message_id=message_id, text=email.text, channel="email", metadata={"subject": email.subject}
    )
    answer = await run_in_threadpool(
        classify_and_store, [request_body], champion, session, settings
    )
    return EmailAnswer(
        **answer[0],
        subject=email.subject,
        sender={"name": email.sender_name, "address": email.sender_address},
        classified_text=email.text,
    )


async def _email_bytes(request: Request, limit: int) -> bytes:
    declared = int(request.headers.get("content-length") or 0)
    if declared > limit + 64 * 1024:
        raise HTTPException(413, f"the e-mail is {declared} bytes; the limit is {limit} bytes")
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise HTTPException(422, "expected the .eml file in the form field 'file'")
        raw = await upload.read(limit + 1)
    else:
        raw = await request.body()
    if len(raw) > limit:
        raise HTTPException(413, f"the e-mail is larger than the limit of {limit} bytes")
    return raw


def _stored(row: storage.Prediction) -> StoredPrediction:
    return StoredPrediction(
        id=row.id,
        message_id=row.message_id,
        channel=row.channel,
        text=row.text,
        is_hard=row.is_hard,
        category=row.category,
        urgency=row.urgency,
        decision=row.decision,
        model_version=row.model_version,
        received_at=row.received_at,
        created_at=row.created_at,
        metadata=row.meta,
    )


@v1.get(
    "/predictions/{message_id}",
    response_model=MessageHistory,
    dependencies=[requires(Role.router, Role.quality)],
    summary="Every classification of one message, newest last",
)
def prediction(message_id: str, session: SessionDep) -> MessageHistory:
    rows = storage.history(session, message_id)
    if not rows:
        raise HTTPException(404, f"no prediction stored for message_id {message_id!r}")
    return MessageHistory(
        message_id=message_id, latest=_stored(rows[-1]), history=[_stored(r) for r in rows]
    )


@v1.get(
    "/predictions",
    response_model=PredictionPage,
    dependencies=[requires(Role.router, Role.quality)],
    summary="Predictions in the order they were made; follow next_cursor for more",
)
def predictions(
    session: SessionDep,
    since: datetime | None = None,
    is_hard: bool | None = None,
    urgency: Urgency | None = None,
    category: Category | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> PredictionPage:
    try:
        after = storage.decode_cursor(cursor) if cursor else 0
    except ValueError as error:
        raise HTTPException(422, str(error)) from error
    filters = storage.Filters(since=since, is_hard=is_hard, urgency=urgency, category=category)
    rows = storage.page(session, filters, limit, after)
    more = len(rows) == limit
    return PredictionPage(
        items=[_stored(r) for r in rows],
        next_cursor=storage.encode_cursor(rows[-1].id) if more else None,
    )


@v1.get(
    "/model",
    summary="The model being served",
    dependencies=[requires(Role.channel, Role.router, Role.quality)],
)
def model_info(champion: ChampionDep) -> dict:
    meta = champion.meta
    return {
        "version": champion.version,
        "mlflow_run_id": meta.get("run_id"),
        "created_at": meta.get("created_at"),
        "metrics": meta.get("metrics", {}),
        "data_hash": meta.get("data_hash"),
        "labels": {name: list(labels) for name, labels in HEAD_LABELS.items()},
        "review_thresholds": meta.get("review_thresholds"),
        "safety_rules": champion.model.safety.source if champion.model.safety else None,
    }


@v1.post(
    "/admin/reload",
    summary="Load the model the registry alias `champion` points to",
    dependencies=[requires(Role.admin)],
)
async def reload(request: Request) -> dict:
    champion = request.app.state.champion
    before = champion.version
    try:
        version = await run_in_threadpool(champion.reload_from_registry)
    except Exception as error:
        metrics.RELOADS.labels("failed").inc()
        log.exception("reload failed")
        raise HTTPException(500, f"reload failed, still serving v{before}: {error}") from error
    metrics.RELOADS.labels("ok").inc()
    return {"previous_version": before, "version": version}


@router.get("/healthz", summary="The process is up")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="Model loaded and database reachable")
def readyz(request: Request) -> JSONResponse:
    champion = request.app.state.champion
    checks = {
        "model_loaded": champion.model is not None,
        "database": reachable(request.app.state.engine),
    }
    ready = all(checks.values())
    return JSONResponse(
        {"ready": ready, **checks, "model_version": champion.version},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", summary="Prometheus metrics")
def prometheus() -> Response:
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)


router.include_router(v1)
