"""Dependencies of the routes: settings, the service, a database session, the caller's role."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session

from pettriage.config import Role, Settings

from .service import TriageService

API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False)


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_service(request: Request) -> TriageService:
    return request.app.state.service


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.service.sessions() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServiceDep = Annotated[TriageService, Depends(get_service)]
SessionDep = Annotated[Session, Depends(get_session)]


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def requires(*roles: Role):
    """A dependency that lets through keys of these roles (admin always)."""
    allowed = {*roles, Role.admin}

    # async: it does no I/O, and a plain `def` would cost a hop to the threadpool per request.
    async def check(request: Request, key: Annotated[str | None, Security(API_KEY)] = None) -> Role:
        host = request.client.host if request.client else None
        return authorize(request.app.state.settings, host, key, allowed)

    return Depends(check)


def authorize(settings: Settings, host: str | None, key: str | None, allowed: set[Role]) -> Role:
    """The caller's role if it may call an endpoint open to `allowed`, else the HTTP error."""
    if settings.open_mode:
        if not _is_loopback(host):
            raise HTTPException(
                403,
                "no API keys are configured, so only loopback callers "
                "are served; configure COMPLAINTS_API_KEYS",
            )
        return Role.admin
    if not key:
        raise HTTPException(
            401,
            "missing API key: send it in the X-API-Key header",
            headers={"WWW-Authenticate": "APIKey"},
        )
    role = settings.api_keys.get(key)
    if role is None:
        raise HTTPException(401, "unknown API key", headers={"WWW-Authenticate": "APIKey"})
    if role not in allowed:
        needed = ", ".join(sorted(r.value for r in allowed))
        raise HTTPException(
            403, f"this key has role '{role.value}'; this endpoint needs one of: {needed}"
        )
    return role
