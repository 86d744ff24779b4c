"""Byte limits on request bodies, enforced while a body is read, as plain ASGI middleware.

A declared `Content-Length` above the limit is answered 413 before a byte of the body is read;
a chunked body is counted chunk by chunk and cut with 413 as soon as it passes the limit, so
a worker never holds more than the limit (a chunked 60 MB e-mail used to be read whole before
its 413, and a 50 MB JSON body was stored). The 413 closes the connection, so the client stops
sending instead of the server reading the rest only to throw it away.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from starlette.exceptions import HTTPException

from pettriage.config import Settings


@dataclass(frozen=True)
class BodyLimits:
    """Bytes a request body may have: `default`, or the limit of its path in `paths`."""

    default: int
    paths: dict[str, int] = field(default_factory=dict)

    def of(self, path: str) -> int:
        return self.paths.get(path, self.default)


class BodyTooLarge(HTTPException):
    """Raised from `receive` while the app reads the body. An HTTPException, so the route's
    body parsing lets it through (FastAPI turns other errors there into a 400) and the app
    answers it as JSON like every other error."""

    def __init__(self, path: str, limit: int, declared: int | None = None):
        said = f" (Content-Length: {declared})" if declared is not None else ""
        super().__init__(413, f"the body is over the limit of {limit} bytes for {path}{said}")


class LimitBodies:
    """Answers 413 to a request whose body passes the limit of its path."""

    def __init__(self, app, limits: BodyLimits):
        self.app = app
        self.limits = limits

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        limit = self.limits.of(path)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            return await _refuse(send, BodyTooLarge(path, limit, declared))
        read = 0
        started = False

        async def counted_receive():
            nonlocal read
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > limit:
                    raise BodyTooLarge(path, limit)
            return message

        async def closing_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if read > limit:  # the rest of the body is still coming: hang up after this
                    message = message | {"headers": [*message["headers"], _CLOSE]}
            await send(message)

        try:
            await self.app(scope, counted_receive, closing_send)
        except BodyTooLarge as error:
            if started:
                raise
            await _refuse(send, error)


_CLOSE = (b"connection", b"close")


def _content_length(scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server itself refuses a malformed length
    return None


async def _refuse(send, error: BodyTooLarge) -> None:
    body = orjson.dumps({"detail": error.detail})
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                _CLOSE,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def from_settings(settings: Settings) -> BodyLimits:
    """JSON bodies share one limit; a batch and an e-mail have their own."""
    return BodyLimits(
        default=settings.max_json_bytes,
        paths={
            "/v1/classify/batch": settings.max_batch_bytes,
            "/v1/classify/email": settings.max_email_bytes,
        },
    )
