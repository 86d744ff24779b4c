"""The model-health tab of the review page in a real headless Chromium against a real server:
the charts are drawn from the figures stored, the drift figures are shown with their reading,
and the chart library is served by us under the page's Content-Security-Policy."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from pettriage.api.launcher import LiveServer
from pettriage.classifier.labels import CATEGORY_NAMES_RU
from pettriage.store.db import migrate

from .browser import log_in
from .servers import QUALITY, server_env
from .test_health import said, store, stored

VENDOR = Path(__file__).resolve().parents[1] / "api" / "static" / "vendor"


@pytest.fixture(scope="module")
def server(trained, settings, tmp_path_factory):
    where = tmp_path_factory.mktemp("health-page")
    url = f"sqlite:///{where / 'page.db'}"
    migrate(url, where)
    now = datetime.now(UTC)
    rows = [
        stored("h1", now, "no_show", review=True, text="ситтер не пришла, кот голодный"),
        stored("h2", now, "death", safety=True, text="собака не дышит, что делать"),
        stored("h3", now, "other", urgency="low", text="спасибо за прогулку"),
        stored("h4", now - timedelta(days=3), "theft", review=True, text="пропали серьги"),
        stored("h5", now - timedelta(days=3), "health_harm", safety=True, text="кот хромает"),
    ]
    store(url, rows, [said("h1"), said("h4"), said("h5", verdict="confirm")])
    live = LiveServer(server_env(settings.home, url)).start()
    yield live
    live.stop()


def charts(page) -> dict:
    """Each chart's labels and datasets, read from its Chart.js instance."""
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll("#health canvas")].map((c) => {
             const chart = Chart.getChart(c);
             return [c.id, { labels: chart.data.labels, datasets: Object.fromEntries(
               chart.data.datasets.map((d) => [d.label, d.data])) }];
           }))"""
    )


def painted(page, canvas_id: str) -> int:
    """Pixels of a canvas that are not transparent: a blank canvas has none."""
    return page.evaluate(
        """(id) => { const c = document.getElementById(id);
             const pixels = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
             let n = 0;
             for (let i = 3; i < pixels.length; i += 4) if (pixels[i]) n++;
             return n; }""",
        canvas_id,
    )


def test_the_tab_draws_the_stored_figures(server, page):
    page.add_init_script(
        "window.__violations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    log_in(page, server.url, "k-quality", "Мария Тестова")
    page.wait_for_selector("#app:not([hidden])")
    page.click("[data-tab=health]")
    page.wait_for_selector("#health[data-state=drawn]")
    assert page.is_hidden("#list") and page.is_visible("#health")

    drawn = charts(page)
    messages = drawn["chart-messages"]
    assert len(messages["labels"]) == 30
    today, three_days_ago = datetime.now(UTC).date(), datetime.now(UTC).date() - timedelta(days=3)
    assert messages["labels"][-1].startswith(f"{today.day} ")  # «10 дек.»
    assert re.fullmatch(r"\d{1,2} [а-я]+\.?", messages["labels"][-1])
    assert messages["datasets"]["Сообщений"] == [0] * 26 + [2, 0, 0, 3]

    categories = drawn["chart-categories"]["datasets"]
    assert set(categories) == set(CATEGORY_NAMES_RU.values())
    last, earlier = -1, -4
    expected = {"no_show": (1, 0), "death": (1, 0), "other": (1, 0), "theft": (0, 1)}
    expected |= {"health_harm": (0, 1)}
    for code, (on_last, on_earlier) in expected.items():
        data = categories[CATEGORY_NAMES_RU[code]]
        assert (data[last], data[earlier]) == (on_last, on_earlier), code
    assert sum(sum(data) for data in categories.values()) == 5

    urgencies = drawn["chart-urgencies"]["datasets"]
    names = ["критичная", "высокая", "обычная", "низкая"]
    assert list(urgencies) == names
    assert [urgencies[u][last] for u in names] == [1, 1, 0, 1]
    assert [urgencies[u][earlier] for u in ("критичная", "высокая")] == [1, 1]

    review, corrected = drawn["chart-rates"]["datasets"].values()
    assert review[last] == pytest.approx(1 / 3, abs=1e-4)
    assert corrected[last] == pytest.approx(1 / 3, abs=1e-4)
    assert (review[earlier], corrected[earlier]) == (0.5, 0.5)
    critical = drawn["chart-critical"]["datasets"]
    assert (critical["Критичных"][last], critical["Критичных"][earlier]) == (1, 1)
    assert sum(critical["Сработали правила безопасности"]) == 2

    for canvas in drawn:
        assert painted(page, canvas) > 1000, f"{canvas} is blank"

    # the drift figures, as the API gave them, with their reading in words
    api = httpx.get(f"{server.url}/v1/health", headers=QUALITY).json()["drift"]
    words = {"stable": "стабильно", "moderate": "умеренный сдвиг", "significant": "заметный сдвиг"}
    for kind in ("category", "lemma"):
        shown = page.locator(f"[data-testid=drift-{kind}]")
        assert float(shown.get_attribute("data-psi")) == api[f"{kind}_psi"]
        assert words[shown.get_attribute("data-reading")] in shown.text_content()
        assert _as_the_page_writes(api[f"{kind}_psi"]) in shown.text_content()
    note = page.text_content("[data-testid=drift-note]")
    assert "Сообщений за 7 дн.: 5" in note and "Выборка мала" in note
    status = page.text_content("[data-testid=health-status]")
    assert "сообщений 5" in status and str(today.year) in status
    assert page.evaluate("window.__violations") == []

    # another period redraws every chart for it
    page.select_option("#health-days", "7")
    page.wait_for_selector("#health[data-state=drawn][data-days='7']")
    week = charts(page)["chart-messages"]["datasets"]["Сообщений"]
    assert week == [0, 0, 0, 2, 0, 0, 3]
    assert three_days_ago.day == int(charts(page)["chart-messages"]["labels"][3].split()[0])


def test_the_chart_library_is_ours_and_served_under_the_policy(server):
    answer = httpx.get(f"{server.url}/review/static/vendor/chart.umd.min.js")
    assert answer.status_code == 200
    assert answer.content == (VENDOR / "chart.umd.min.js").read_bytes()
    assert answer.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert answer.headers["content-security-policy"].startswith("default-src 'self'")
    assert answer.headers["x-content-type-options"] == "nosniff"
    html = httpx.get(f"{server.url}/review").text
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert scripts[-2:] == ["/review/static/vendor/chart.umd.min.js", "/review/static/health.js"]
    assert all(s.startswith("/review/static/") for s in scripts)  # nothing from a CDN
    assert (VENDOR / "chart.js.LICENSE.md").read_text().startswith("The MIT License")


def _as_the_page_writes(value: float) -> str:
    """A figure as the page's Intl.NumberFormat("ru-RU", 3 digits) writes it: ICU rounds the
    number's shortest decimal form half up (2.4955 -> «2,496»), where Python's `:.3f` rounds the
    binary value (2.4954999… -> "2.495")."""
    from decimal import ROUND_HALF_UP, Decimal

    rounded = Decimal(repr(value)).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
    return str(rounded).replace(".", ",")
