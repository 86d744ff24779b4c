"""A real headless Chromium (Debian's, installed by `make browser`) driven by Playwright."""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path(os.environ.get("COMPLAINTS_CHROMIUM", "/usr/bin/chromium"))
# Without the networking flags Chromium keeps calling home, and this machine refuses it.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def log_in(page, base_url: str, key: str, name: str) -> None:
    page.goto(f"{base_url}/review")
    page.fill("#login-key", key)
    page.fill("#login-name", name)
    page.click("#login-button")
