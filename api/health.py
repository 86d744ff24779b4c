"""The model-health tab: per-day figures of the stored predictions and the drift of recent
messages from the serving model's training data (`GET /v1/health`), and the drift gauges of
/metrics.

Per-day figures are counted by the database on each request (`store.health`). Drift needs the
recent texts lemmatized, so each worker keeps its last figures for `REFRESH_SECONDS` and
refreshes them in the background on that beat, which also keeps the gauges current without
computing anything on a scrape.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from pettriage.classifier import drift
from pettriage.classifier.labels import CATEGORIES
from pettriage.config import Role
from pettriage.store import health as store_health

from . import examples, metrics
from .deps import SessionDep, requires
from .errors import reject_unknown_query, responses
from .service import TriageService

log = logging.getLogger("api")

WINDOW_DAYS = 7  # recent: stored in the last week
SAMPLE = 2_000  # latest texts of the window lemmatized for the lemma PSI (about a second)
FEW = 100  # below this many messages in the window the figures are mostly chance
REFRESH_SECONDS = 300.0
FIRST_REFRESH_AFTER = 30.0  # once the worker has settled (and a short-lived one never does)


class HealthDay(BaseModel):
    day: date = Field(description="a UTC calendar day")
    messages: int = Field(description="predictions stored that day")
    categories: dict[str, int] = Field(description="predictions per category, every category")
    urgencies: dict[str, int] = Field(description="predictions per urgency, every urgency")
    needs_review_rate: float = Field(description="share with `needs_review`")
    corrections_rate: float = Field(
        description="share whose message has a correction (`verdict` correct) of its prediction"
    )
    critical: int = Field(description="predictions with urgency critical")
    safety_overrides: int = Field(description="predictions where a safety rule fired")


class Drift(BaseModel):
    category_psi: float | None = Field(
        description="PSI of the window's predicted categories against the training labels; "
        "<0.1 stable, 0.1–0.25 moderate shift, >0.25 significant shift; null: see `note`"
    )
    lemma_psi: float | None = Field(
        description=f"PSI of the window's lemma frequencies (the latest {SAMPLE} texts) against "
        "the training texts', over their top lemmas and one bucket for the rest"
    )
    window_days: int
    messages: int = Field(description="predictions stored in the window")
    lemma_messages: int = Field(description="texts lemmatized for `lemma_psi`")
    reference_messages: int | None = Field(description="training records of the serving model")
    model_version: str | None
    computed_at: datetime = Field(description=f"figures are kept up to {REFRESH_SECONDS:g} s")
    thresholds: dict[str, float] = Field(
        description="where a moderate and a significant shift start"
    )
    note: str = Field(description="how to read the figures, or why they are null (in Russian)")


class Health(BaseModel):
    days: list[HealthDay]
    drift: Drift


# -- drift, measured and kept per worker ---------------------------------------------------------
def measure(service: TriageService, now: datetime) -> Drift:
    """Drift of the last `WINDOW_DAYS` against the reference saved with the serving model."""
    model = service.champion.model  # follows a champion another worker moved
    meta = service.champion.meta if model is not None else {}
    version, reference = meta.get("model_version"), meta.get("reference")
    since = now - timedelta(days=WINDOW_DAYS)
    with service.sessions() as session:
        counts = store_health.category_counts(session, since)
        texts = store_health.recent_texts(session, since, SAMPLE) if reference and counts else []
    messages = sum(counts.values())
    figures = dict(
        category_psi=None,
        lemma_psi=None,
        window_days=WINDOW_DAYS,
        messages=messages,
        lemma_messages=len(texts),
        reference_messages=reference.messages if reference else None,
        model_version=version,
        computed_at=now,
        thresholds={"moderate": drift.MODERATE, "significant": drift.SIGNIFICANT},
    )
    if model is None:
        return Drift(**figures, note="Модель не загружена: дрейф не с чем сравнивать.")
    if reference is None:
        why = (
            f"файл эталона модели v{version} не читается"
            if meta.get("reference_problem")
            else f"модель v{version} обучена до того, как с моделью стали сохранять эталон "
            "обучающих данных (reference.json)"
        )
        return Drift(**figures, note=f"Дрейф не посчитан: {why}; его даст новое обучение.")
    if not messages:
        return Drift(**figures, note=f"За последние {WINDOW_DAYS} дн. сообщений нет.")
    lemmas = drift.lemma_counts(texts)
    figures["category_psi"] = round(drift.category_psi(reference, counts), 4)
    if sum(lemmas.values()):
        figures["lemma_psi"] = round(drift.lemma_psi(reference, lemmas), 4)
    return Drift(**figures, note=_note(reference, version, messages, len(texts)))


def _note(reference: drift.Reference, version: str, messages: int, sampled: int) -> str:
    note = (
        f"Сообщений за {WINDOW_DAYS} дн.: {messages}"
        + (f" (слова — по последним {sampled})" if sampled < messages else "")
        + f"; в обучении модели v{version}: {reference.messages}."
    )
    if messages < FEW:
        buckets = len(set(reference.categories) | set(CATEGORIES))
        noise = f"{drift.chance(buckets, messages, reference.messages):.2f}".replace(".", ",")
        note += (
            f" Выборка мала: даже без всякого сдвига случай даёт PSI категорий около {noise}, "
            "читайте с осторожностью."
        )
    return note


class DriftMonitor:
    """This worker's latest drift figures: measured when older than `every` seconds or made
    for another model version, and set on the /metrics gauges each time."""

    def __init__(
        self,
        service: TriageService,
        every: float = REFRESH_SECONDS,
        first_after: float = FIRST_REFRESH_AFTER,
    ):
        self.service = service
        self.every = every
        self.first_after = first_after
        self._figures: Drift | None = None
        self._measured = 0.0
        self._lock = threading.Lock()  # one measurement at a time; the others wait for it
        self._task: asyncio.Task | None = None

    def figures(self) -> Drift:
        with self._lock:
            kept = self._figures
            serving = self.service.champion.version
            if kept is None or kept.model_version != serving or self._stale():
                kept = self._figures = measure(self.service, datetime.now(UTC))
                self._measured = time.monotonic()
                _set_gauges(kept)
            return kept

    def _stale(self) -> bool:
        return time.monotonic() - self._measured >= self.every

    def start(self) -> None:
        self._task = asyncio.create_task(self._refresh())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _refresh(self) -> None:
        await asyncio.sleep(self.first_after)
        while True:
            try:
                await run_in_threadpool(self.figures)
            except Exception:  # the database away for a moment: try again on the next beat
                log.exception("could not measure drift; trying again in %g s", self.every)
            await asyncio.sleep(self.every)


def _set_gauges(figures: Drift) -> None:
    for kind, value in (("category", figures.category_psi), ("lemma", figures.lemma_psi)):
        metrics.DRIFT.labels(kind).set(math.nan if value is None else value)
    metrics.DRIFT_MESSAGES.set(figures.messages)


async def get_monitor(request: Request) -> DriftMonitor:
    return request.app.state.drift


MonitorDep = Annotated[DriftMonitor, Depends(get_monitor)]


# -- the route -----------------------------------------------------------------------------------
router = APIRouter(
    prefix="/v1",
    tags=["quality"],
    dependencies=[Depends(reject_unknown_query)],
    responses=responses(401, 403),
)

EXAMPLE = {
    "days": [
        {
            "day": "2026-12-01",
            "messages": 214,
            "categories": {"death": 0, "health_harm": 9, "no_show": 14, "other": 121},
            "urgencies": {"critical": 3, "high": 41, "normal": 150, "low": 20},
            "needs_review_rate": 0.1822,
            "corrections_rate": 0.0561,
            "critical": 3,
            "safety_overrides": 2,
        }
    ],
    "drift": {
        "category_psi": 0.0712,
        "lemma_psi": 0.1345,
        "window_days": WINDOW_DAYS,
        "messages": 1480,
        "lemma_messages": 1480,
        "reference_messages": 5214,
        "model_version": "4",
        "computed_at": "2026-12-01T09:30:00Z",
        "thresholds": {"moderate": drift.MODERATE, "significant": drift.SIGNIFICANT},
        "note": "Сообщений за 7 дн.: 1480; в обучении модели v4: 5214.",
    },
}


@router.get(
    "/health",
    dependencies=[requires(Role.quality)],
    response_model=Health,
    responses=examples.answer(EXAMPLE),
    summary="The model's health: per-day figures and drift from its training data",
)
def health(
    session: SessionDep,
    monitor: MonitorDep,
    days: Annotated[
        int,
        Query(
            ge=1,
            le=store_health.MAX_DAYS,
            description="how many UTC days, up to today, oldest first",
        ),
    ] = 30,
) -> Health:
    rows = store_health.daily(session, days)
    return Health(
        days=[
            HealthDay(
                day=d.day,
                messages=d.messages,
                categories=d.categories,
                urgencies=d.urgencies,
                needs_review_rate=round(d.needs_review_rate, 4),
                corrections_rate=round(d.corrections_rate, 4),
                critical=d.critical,
                safety_overrides=d.safety_overrides,
            )
            for d in rows
        ],
        drift=monitor.figures(),
    )
