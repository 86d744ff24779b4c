"""The review page for quality staff: plain HTML, CSS and JavaScript, no build step.

The page holds no secrets: staff log in with their `quality` (or `admin`) API key, which the
page keeps in a variable only (never in sessionStorage or localStorage, where any script of the
origin could read it later: a reload asks for it again) and sends to the same JSON API as every
other client. The page and its files are served with a Content-Security-Policy that allows
scripts and styles from this origin only (the labels travel in a JSON data block, which is not
script) and no framing, so injected markup cannot run and another site cannot overlay it.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
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
from pettriage.classifier.rulebook import read_rules

STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; base-uri 'none'; form-action 'self'; "
    "object-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
router = APIRouter(include_in_schema=False)


class _SecuredFiles(StaticFiles):
    def file_response(self, *args, **kwargs) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(SECURITY_HEADERS)
        return response


static_files = _SecuredFiles(directory=STATIC)


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
        "rule_titles": {rule.id: rule.title_ru for rule in read_rules()[0]},
    }
    html = (STATIC / "review.html").read_text("utf-8")
    return html.replace("__LABELS__", json.dumps(labels, ensure_ascii=False).replace("</", "<\\/"))


@router.get("/review", response_class=HTMLResponse)
def review_page() -> HTMLResponse:
    return HTMLResponse(_page(), headers={"Cache-Control": "no-store", **SECURITY_HEADERS})
