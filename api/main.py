"""The HTTP service: `uvicorn pettriage.api.main:app` (see `make serve`).

The app is composed here: settings (read once), the service built in the lifespan hook (the
database migrated, the champion loaded), the routers, the error handlers, the middleware.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from pettriage.config import Settings

from . import (
    admin,
    health,
    limits,
    logs,
    metrics,
    pages,
    review,
    webhook_admin,
    webhooks,
    worklist,
)
from .routes import router
from .service import NoModel, Overdue, TriageService

log = logging.getLogger("api")

DESCRIPTION = """
Сортировка входящих сообщений сервиса передержки и выгула: сложный ли это кейс, какая из
одиннадцати категорий, насколько срочно, кто сообщил — и что делать прямо сейчас.

Ключ передаётся в заголовке `X-API-Key`; роли: `channel` (классификация), `router` (чтение
предсказаний), `quality` (правки разметки, очередь разбора, страница `/review`), `admin`
(выгрузка правок, обучение, продвижение и откат модели, перезагрузка).
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        logs.install()
        app.state.service = TriageService.start(settings)
        if settings.open_mode:
            log.warning(
                "No API keys configured (COMPLAINTS_API_KEYS): the service is OPEN and "
                "serves loopback callers only."
            )
        deliverer = webhooks.Deliverer(settings, app.state.service.sessions)
        deliverer.start()
        app.state.drift = health.DriftMonitor(app.state.service)
        app.state.drift.start()
        yield
        await app.state.drift.stop()
        await deliverer.stop()
        await app.state.service.close()

    # /docs and /redoc from assets of a package, served by us: they work with no internet.
    app = FastAPIOffline(
        title="Complaint triage",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        static_url="/docs-assets",
    )
    app.state.settings = settings

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        # Name the field and what was expected; never echo a 20,000-character text back.
        problems = [_problem(e) for e in error.errors()]
        return JSONResponse({"detail": problems}, status_code=422)

    @app.exception_handler(NoModel)
    async def no_model(request: Request, error: NoModel) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=503)

    @app.exception_handler(Overdue)
    async def overdue(request: Request, error: Overdue) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=503, headers={"Retry-After": "1"})

    app.include_router(router)
    app.include_router(review.router)
    app.include_router(worklist.router)
    app.include_router(health.router)
    app.include_router(admin.router)
    app.include_router(webhook_admin.router)
    app.include_router(pages.router)
    app.mount("/review/static", pages.static_files, name="review-static")
    app.add_middleware(limits.LimitBodies, limits=limits.from_settings(settings))
    app.add_middleware(metrics.Measure)  # outermost: it counts the 413s of LimitBodies too
    return app


def _problem(error: dict) -> dict:
    if error["type"] == "json_invalid":
        where = error["loc"][-1]
        return {
            "field": "body",
            "problem": f"invalid JSON at character {where}: "
            f"{error.get('ctx', {}).get('error', error['msg'])}",
        }
    field = ".".join(str(p) for p in error["loc"][1:]) or "body"
    return {"field": field, "problem": error["msg"]}


def __getattr__(name: str):
    # `uvicorn pettriage.api.main:app` builds the app on first access, not at import.
    if name == "app":
        return create_app()
    raise AttributeError(name)
