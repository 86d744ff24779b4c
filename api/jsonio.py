"""JSON answers of the service, rendered by orjson (`store.jsonio.dumps`)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from pettriage.store.jsonio import dumps

__all__ = ["FastJSONResponse", "dumps"]


class FastJSONResponse(JSONResponse):
    """Starlette's JSONResponse, rendered by orjson."""

    def render(self, content: Any) -> bytes:
        return dumps(content)
