"""The classification, reading and health endpoints: HTTP in, a call of the service, HTTP out.

HTTP errors are raised here (and in the other route modules) only; the work is in `service`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime
from starlette.datastructures import UploadFile

from pettriage.config import Role
from pettriage.store import queries
from pettriage.store.tables import Prediction

from . import examples, metrics, paging
from .deps import ServiceDep, SessionDep, SettingsDep, requires
from .email_intake import EmailError
from .errors import invalid, reject_unknown_query, responses
from .idempotency import KEY_HEADER, KeyReused
from .jsonio import FastJSONResponse
from .schemas import (
    BatchAnswer,
    BatchRequest,
    Category,
    Channel,
    Classification,
    ClassifyRequest,
    EmailAnswer,
    MessageHistory,
    MessageId,
    PredictionPage,
    Reporter,
    StoredPrediction,
    Urgency,
)
from .service import TextTooLong

router = APIRouter()
v1 = APIRouter(
    prefix="/v1",
    dependencies=[Depends(reject_unknown_query)],
    responses=responses(401, 403),
)


@v1.post(
    "/classify",
    response_model=Classification,
    responses=responses(409, 413, 503),
    summary="Classify one message",
    dependencies=[requires(Role.channel)],
)
async def classify(
    body: ClassifyRequest,
    service: ServiceDep,
    idempotency_key: Annotated[
        str | None,
        Header(min_length=1, max_length=200, description=KEY_HEADER),
    ] = None,
) -> Response:
    if idempotency_key is None:
        (answer,) = await service.classify([body])
        return FastJSONResponse(answer)
    try:
        once = await service.classify_once(body, f"key:{idempotency_key}")
    except KeyReused as error:
        raise HTTPException(409, str(error)) from error
    return FastJSONResponse(once.answer, headers=_replayed(once.replayed))


def _replayed(replayed: bool) -> dict[str, str]:
    return {"Idempotent-Replayed": "true" if replayed else "false"}


@v1.post(
    "/classify/batch",
    response_model=BatchAnswer,
    responses=responses(413, 503),
    summary="Classify up to 1,000 messages",
    dependencies=[requires(Role.channel)],
)
async def classify_batch(body: BatchRequest, service: ServiceDep) -> Response:
    return FastJSONResponse({"results": await service.classify(body.messages)})


@v1.post(
    "/classify/email",
    response_model=EmailAnswer,
    responses=responses(409, 413, 503),
    dependencies=[requires(Role.channel)],
    summary="Classify a raw e-mail (RFC 822): the body, or an .eml file in the field `file`",
    openapi_extra={
        "requestBody": {
            "content": {
                "message/rfc822": {
                    "schema": {"type": "string", "format": "binary"},
                    "example": examples.EMAIL,
                },
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
    request: Request, response: Response, service: ServiceDep, message_id: MessageId | None = None
) -> EmailAnswer:
    """An e-mail is classified once: sent again (the same Message-ID, or without one the same
    bytes), it gets the stored answer with `Idempotent-Replayed: true`."""
    raw = await _email_bytes(request)
    try:
        result = await service.classify_email(raw, message_id)
    except EmailError as error:
        raise invalid("body", str(error)) from error
    except TextTooLong as error:
        raise HTTPException(413, str(error)) from error
    except KeyReused as error:
        raise HTTPException(409, str(error)) from error
    response.headers.update(_replayed(result.replayed))
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
            raise invalid("file", "expected the .eml file in the form field 'file'")
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
        reporter=row.reporter,
        needs_review=row.needs_review,
        sender=row.sender,
        subject=row.subject,
        actions=row.actions,
        decision=row.decision,
        model_version=row.model_version,
        received_at=row.received_at,
        created_at=row.created_at,
        metadata=row.meta,
    )


@v1.get(
    "/predictions/{message_id}",
    response_model=MessageHistory,
    responses=responses(404),
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
    is_hard: bool | None = None,
    urgency: Urgency | None = None,
    category: Category | None = None,
    channel: Channel | None = None,
    reporter: Reporter | None = None,
    needs_review: bool | None = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="a piece of the text")
    ] = None,
    received_from: Annotated[
        AwareDatetime | None, Query(description=examples.RECEIVED_FROM)
    ] = None,
    received_to: Annotated[AwareDatetime | None, Query(description="received before")] = None,
    created_from: Annotated[AwareDatetime | None, Query(description="stored at or after")] = None,
    created_to: Annotated[AwareDatetime | None, Query(description="stored before")] = None,
    since: Annotated[
        AwareDatetime | None, Query(description="the same as created_from", deprecated=True)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> PredictionPage:
    """Every filter is optional and they combine with AND; a parameter not listed here is a
    422, never silently ignored. Times need a time zone (`2026-11-25T09:00:00+03:00`)."""
    filters = queries.Filters(
        created_from=created_from or since,
        created_to=created_to,
        received_from=received_from,
        received_to=received_to,
        is_hard=is_hard,
        urgency=urgency,
        category=category,
        channel=channel,
        reporter=reporter,
        needs_review=needs_review,
        text=q,
    )
    rows = queries.page(session, filters, limit, paging.after(cursor))
    return PredictionPage(
        items=[_stored(r) for r in rows],
        next_cursor=paging.next_cursor(rows, limit),
    )


@v1.get(
    "/model",
    responses=responses(503) | examples.answer(examples.MODEL),
    summary="The model being served",
    dependencies=[requires(Role.channel, Role.router, Role.quality)],
)
def model_info(service: ServiceDep) -> dict:
    return service.model_info()


@v1.post(
    "/admin/reload",
    summary="Load the model the registry alias `champion` points to",
    responses=responses(409) | examples.answer(examples.RELOAD),
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
