"""`POST /v1/classify` without FastAPI's routing and dependency layers, for well-formed requests.

Per request, the layers between uvicorn and the endpoint (route matching over every route,
exception and exit-stack middleware, dependency solving, building a Request) cost more CPU than
the model does for a message in a batch. This middleware answers the plain case itself: a JSON
body that validates as `ClassifyRequest`, from a caller whose key the same `authorize` lets in,
with a model loaded. It classifies through the same batcher and sends the same answer.
Everything else (no key, a wrong role, broken JSON, an empty text, no model, another content
type) is handed to the app untouched, body included, so the errors stay exactly as the route
and its dependencies give them.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException
from pydantic import ValidationError

from .deps import authorize
from .jsonio import dumps
from .routes import NoModel
from .schemas import ClassifyRequest
from .settings import Role

PATH = "/v1/classify"
ALLOWED = {Role.channel, Role.admin}
JSON_HEADERS = [(b"content-type", b"application/json")]


@dataclass(frozen=True)
class RouteLabel:
    """What `metrics.Measure` reads of the route that answered."""

    path: str


class ClassifyFastPath:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            return await self.app(scope, receive, send)
        body, receive = await _read_body(receive)
        state = scope["app"].state
        request = _plain_request(scope, body, state)
        if request is None:
            return await self.app(scope, receive, send)
        try:
            answer = await state.singles(request)
        except NoModel:  # gone since we looked: let the route say so
            return await self.app(scope, receive, send)
        scope["route"] = RouteLabel(PATH)
        content = dumps(answer)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(content)).encode()), *JSON_HEADERS],
            }
        )
        await send({"type": "http.response.body", "body": content})


def _plain_request(scope, body: bytes, state) -> ClassifyRequest | None:
    """The request if it is the plain case; None for anything the route should answer."""
    content_type = key = None
    for name, value in scope["headers"]:
        if name == b"content-type":
            if content_type is not None:
                return None
            content_type = value
        elif name == b"x-api-key":
            if key is not None:
                return None
            key = value
    if content_type is None or content_type.split(b";")[0].strip().lower() != b"application/json":
        return None
    if state.champion.model is None:
        return None
    client = scope.get("client")
    try:
        authorize(
            state.settings,
            client[0] if client else None,
            key.decode("latin-1") if key is not None else None,
            ALLOWED,
        )
        return ClassifyRequest.model_validate_json(body)
    except (HTTPException, ValidationError):
        return None


async def _read_body(receive):
    """The whole body, and a `receive` that gives it again to whoever reads next."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":  # the client left: let the app see it
            return b"", _replay([message], receive)
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    return body, _replay([{"type": "http.request", "body": body, "more_body": False}], receive)


def _replay(messages: list[dict], receive):
    async def replayed():
        return messages.pop(0) if messages else await receive()

    return replayed
