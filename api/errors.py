"""The error answers of the API, one shape each, as the OpenAPI contract documents them.

- 422: `{"detail": [{"field": …, "problem": …}, …]}`: which field, and what was expected;
- every other error: `{"detail": "what went wrong and what to do"}`.

Unknown query parameters are refused here too: a router that misspells a filter gets a 422
naming it, not every prediction.
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from pydantic import BaseModel, Field


class Problem(BaseModel):
    field: str = Field(description="the field, parameter or part of the request at fault")
    problem: str = Field(description="what was expected")


class Invalid(BaseModel):
    detail: list[Problem]

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "detail": [
                        {
                            "field": "channel",
                            "problem": "Input should be 'chat', 'email', 'call_note' or 'review'",
                        }
                    ]
                }
            ]
        }
    }


class Error(BaseModel):
    detail: str = Field(description="what went wrong, and what to do about it")


def refused(error: Exception) -> HTTPException:
    """The answer to a store's `Refused`: 404, 403 or 409 by its kind, with its words."""
    return HTTPException({"not_found": 404, "forbidden": 403}.get(error.kind, 409), str(error))


def invalid(field: str, problem: str) -> HTTPException:
    """A 422 in the shape the validation errors have."""
    return HTTPException(422, [{"field": field, "problem": problem}])


_WHY = {
    401: "no API key, or an unknown one (header `X-API-Key`)",
    403: "the key's role may not call this endpoint",
    404: "nothing stored under that name",
    409: "the request conflicts with what is stored (the detail says what)",
    413: "the body or the text is over its limit",
    503: "no model loaded yet, or the service is overloaded (see Retry-After)",
}


def responses(*codes: int) -> dict[int, dict]:
    """The documented error answers of a route: 422 always, and the codes given."""
    documented: dict[int, dict] = {
        422: {"model": Invalid, "description": "a field, parameter or body is not as expected"}
    }
    for code in codes:
        documented[code] = {"model": Error, "description": _WHY[code]}
    return documented


async def reject_unknown_query(request: Request) -> None:
    """A 422 for a query parameter the route does not declare."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not request.query_params:
        return
    known = _query_names(dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        expected = ", ".join(sorted(known)) or "none"
        raise HTTPException(
            422,
            [
                {
                    "field": name,
                    "problem": f"unknown query parameter; this endpoint takes: {expected}",
                }
                for name in unknown
            ],
        )


def _query_names(dependant) -> set[str]:
    """The query parameters of a route and of everything it depends on."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names
