"""The classification, reading and health endpoints: HTTP in, a call of the service, HTTP out.

HTTP errors are raised here (and in the other route modules) only; the work is in `service`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from pettriage.config import Role
from pettriage.store import queries
from pettriage.store.tables import Prediction

from . import metrics
from .deps import ServiceDep, SessionDep, SettingsDep, requires
from .email_intake import EmailError
from .jsonio import FastJSONResponse
from .schemas import (
    BatchAnswer,
    BatchRequest,
    Category,
    Classification,
    ClassifyRequest,
    EmailAnswer,
    MessageHistory,
    MessageId,
    PredictionPage,
    StoredPrediction,
    Urgency,
)
from .service import TextTooLong

router = APIRouter()
v1 = APIRouter(prefix="/v1")


@v1.post(
    "/classify",
    response_model=Classification,
    summary="Classify one message",
    dependencies=[requires(Role.channel)],
)
async def classify(body: ClassifyRequest, service: ServiceDep) -> Response:
    (answer,) = await service.classify([body])
    return FastJSONResponse(answer)


@v1.post(
    "/classify/batch",
    response_model=BatchAnswer,
    summary="Classify up to 1,000 messages",
    dependencies=[requires(Role.channel)],
)
async def classify_batch(body: BatchRequest, service: ServiceDep) -> Response:
    return FastJSONResponse({"results": await service.classify(body.messages)})


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
    request: Request, service: ServiceDep, message_id: MessageId | None = None
) -> EmailAnswer:
    raw = await _email_bytes(request)
    try:
        result = await service.classify_email(raw, message_id)
    except EmailError as error:
        raise HTTPException(422, str(error)) from error
    except TextTooLong as error:
        raise HTTPException(413, str(error)) from error
    email = result.email
    return EmailAnswer(
        **result.answer,
        subject=email.subject,
        sender={"name": email.sender_name, "address": email.sender_address},
        classified_text=email.text,
    )


async def _email_bytes(request: Request) -> bytes:
    """The raw e-mail: the body, or the form field `file`. Its size is bounded while it is
    read, the whole form counted (`limits.LimitBodies`, COMPLAINTS_MAX_EMAIL_BYTES)."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise HTTPException(422, "expected the .eml file in the form field 'file'")
        return await upload.read()
    return await request.body()


def _stored(row: Prediction) -> StoredPrediction:
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
    rows = queries.history(session, message_id)
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
        after = queries.decode_cursor(cursor) if cursor else 0
    except ValueError as error:
        raise HTTPException(422, str(error)) from error
    filters = queries.Filters(since=since, is_hard=is_hard, urgency=urgency, category=category)
    rows = queries.page(session, filters, limit, after)
    more = len(rows) == limit
    return PredictionPage(
        items=[_stored(r) for r in rows],
        next_cursor=queries.encode_cursor(rows[-1].id) if more else None,
    )


@v1.get(
    "/model",
    summary="The model being served",
    dependencies=[requires(Role.channel, Role.router, Role.quality)],
)
def model_info(service: ServiceDep) -> dict:
    return service.model_info()


@v1.post(
    "/admin/reload",
    summary="Load the model the registry alias `champion` points to",
    dependencies=[requires(Role.admin)],
)
async def reload(service: ServiceDep) -> dict:
    """409 when the registry's champion fails its checks (the detail says why, and that the
    served model stays); no answer names a file."""
    from .champion import Refused

    before = service.champion.version
    try:
        before, version = await run_in_threadpool(service.reload)
    except Refused as error:
        raise HTTPException(409, str(error)) from error
    except Exception as error:
        raise HTTPException(
            500,
            f"reload failed ({type(error).__name__}; the service log has the details); "
            f"still serving v{before}",
        ) from error
    return {"previous_version": before, "version": version}


@router.get("/healthz", summary="The process is up")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="Model loaded and database reachable")
def readyz(service: ServiceDep) -> JSONResponse:
    checks = service.readiness()
    return JSONResponse(checks, status_code=200 if checks["ready"] else 503)


@router.get("/metrics", summary="Prometheus metrics")
def prometheus(settings: SettingsDep) -> Response:
    body, content_type = metrics.render(settings.prometheus_multiproc_dir)
    return Response(body, media_type=content_type)


router.include_router(v1)
