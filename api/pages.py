"""The review page for quality staff: plain HTML, CSS and JavaScript, no build step.

The page holds no secrets: staff log in with their `quality` (or `admin`) API key, which the
browser keeps for the tab only and sends to the same JSON API as every other client.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from pettriage.classifier.labels import (
    ALWAYS_HARD,
    CATEGORIES,
    CATEGORY_NAMES_RU,
    CHANNELS,
    HEAD_LABELS,
    REPORTERS,
    URGENCIES,
)

STATIC = Path(__file__).parent / "static"
router = APIRouter(include_in_schema=False)
static_files = StaticFiles(directory=STATIC)


@cache
def _page() -> str:
    # The guide's label sets, from the one module that defines them, so the page cannot drift.
    labels = {
        "categories": list(CATEGORIES),
        "category_names": CATEGORY_NAMES_RU,
        "always_hard": sorted(ALWAYS_HARD),
        "urgencies": list(URGENCIES),
        "reporters": list(REPORTERS),
        "channels": list(CHANNELS),
        "heads": {name: list(values) for name, values in HEAD_LABELS.items()},
    }
    html = (STATIC / "review.html").read_text("utf-8")
    return html.replace("__LABELS__", json.dumps(labels, ensure_ascii=False).replace("</", "<\\/"))


@router.get("/review", response_class=HTMLResponse)
def review_page() -> HTMLResponse:
    return HTMLResponse(_page(), headers={"Cache-Control": "no-store"})
