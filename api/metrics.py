"""Prometheus metrics. With several workers set PROMETHEUS_MULTIPROC_DIR (`make serve` does)."""

from __future__ import annotations

import time
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter("complaints_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "complaints_request_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
PREDICTIONS = Counter("complaints_predictions_total", "Decisions made", ["category", "urgency"])
OVERRIDES = Counter("complaints_safety_overrides_total", "Safety rules fired", ["rule"])
STORE_FAILURES = Counter("complaints_store_failures_total", "Classifications not stored")
OVERDUE = Counter("complaints_overdue_total", "Classifications not ready within the deadline")
RELOADS = Counter("complaints_model_reloads_total", "Models loaded after start", ["outcome"])
WEBHOOKS = Counter(
    "complaints_webhook_deliveries_total",
    "Webhook delivery attempts: delivered, retry (to be tried again), failed (given up)",
    ["outcome"],
)
# Drift of recent messages from the serving model's training data, refreshed every few minutes
# by each worker (api/health.py), never per scrape. Every worker computes the same figures from
# the same database, so the latest value set by a live worker is the one to show.
DRIFT = Gauge(
    "complaints_drift_psi",
    "PSI of the last days' messages against the training data, by kind (category, lemma); "
    "NaN when it cannot be computed. <0.1 stable, 0.1-0.25 moderate, >0.25 significant",
    ["kind"],
    multiprocess_mode="livemostrecent",
)
DRIFT_MESSAGES = Gauge(
    "complaints_drift_window_messages",
    "Messages stored in the drift window",
    multiprocess_mode="livemostrecent",
)


def render(multiprocess_dir: Path | None = None) -> tuple[bytes, str]:
    """The metrics of this process, or of all workers when they share `multiprocess_dir`
    (PROMETHEUS_MULTIPROC_DIR, which prometheus_client itself also reads)."""
    if multiprocess_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def count_decisions(decisions) -> None:
    for d in decisions:
        PREDICTIONS.labels(d.category, d.urgency).inc()
        if d.override is not None:
            OVERRIDES.labels(d.override.rule).inc()


class Measure:
    """Counts requests and times them, as plain ASGI middleware (Starlette's BaseHTTPMiddleware
    costs about a millisecond a request)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def send_and_note(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("route")
            path = route.path if route else "unmatched"
            REQUESTS.labels(scope["method"], path, status).inc()
            LATENCY.labels(path).observe(time.perf_counter() - started)
