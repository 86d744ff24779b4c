"""The review page in a real headless Chromium against a real server and a real SQLite file:
login by role, the queue with filters, one-click and keyboard relabeling, the audit list, the
journal of who changed what."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine

from pettriage.api.launcher import LiveServer
from pettriage.classifier.records import Message
from pettriage.store import queries
from pettriage.store.db import make_sessions, migrate
from pettriage.store.queries import prediction_row

from .browser import log_in, status
from .servers import QUALITY, server_env

# Real messages; their rows get forced priorities so the queue order is known.
SEEDED = [
    ("p-1", 4.0, "chat", "я у клиента, собака не дышит, что делать??"),
    ("p-2", 3.0, "email", "Кот после визита чихает второй день. Это нормально вообще?"),
    ("p-3", 2.1, "chat", "ситтер опоздала на час, кот орал, верните деньги"),
    ("p-4", 1.0, "call_note", "Клиентка звонила: всё понравилось, благодарит ситтера Олю."),
]


@pytest.fixture(scope="module")
def server(model, settings, tmp_path_factory):
    home = settings.home
    db = tmp_path_factory.mktemp("page") / "page.db"
    url = f"sqlite:///{db}"
    migrate(url, db.parent)
    decisions = model.map(Message(text, channel, mid) for mid, _, channel, text in SEEDED)
    now = datetime.now(UTC)
    rows = []
    for (mid, priority, channel, text), d in zip(SEEDED, decisions, strict=True):
        row = prediction_row(mid, channel, text, d, d.as_dict(), now)
        rows.append(
            row
            | {"review_priority": priority, "review_reason": row["review_reason"] or "spot_check"}
        )
    audit = [
        dict(
            record_id="rec-1",
            source="annotated",
            text="Ситтер забыла закрыть окно, кот сидел на карнизе, еле сняли.",
            channel="chat",
            labels={
                "category": "other",
                "is_hard": False,
                "urgency": "normal",
                "reporter": "client",
            },
            head="category",
            given="other",
            suggested="ignored_instructions",
            confidence=0.91,
            given_probability=0.03,
            decision=decisions[0].as_dict(),
            created_at=now,
        )
    ]
    engine = create_engine(url)
    with make_sessions(engine)() as session:
        queries.save(session, rows)
        queries.replace_audit(session, audit)
    engine.dispose()
    live = LiveServer(server_env(home, url)).start()
    yield live
    live.stop()


def feedback_of(server, message_id: str) -> list[dict]:
    answer = httpx.get(
        f"{server.url}/v1/feedback", params={"message_id": message_id}, headers=QUALITY
    )
    return answer.json()["items"]


def test_login_needs_a_quality_key(server, page):
    log_in(page, server.url, "k-router", "Пётр")
    expect(page.locator("#login-error")).to_contain_text("router")
    assert "нужна quality или admin" in page.text_content("#login-error")
    log_in(page, server.url, "wrong", "Пётр")
    expect(page.locator("#login-error")).to_contain_text("Ключ")
    assert page.is_hidden("#app")


def test_queue_relabel_by_click_and_by_keyboard(server, page):
    log_in(page, server.url, "k-quality", "Мария Тестова")
    page.wait_for_selector("[data-testid=card]")
    assert page.is_hidden("#models-tab")  # models are the admin's
    shown = page.eval_on_selector_all(
        "[data-testid=card]", "cs => cs.map(c => c.dataset.messageId)"
    )
    assert shown == ["p-1", "p-2", "p-3", "p-4"]

    # one click: the category of p-2, with is_hard and urgency made consistent by the page
    card = page.locator("[data-message-id=p-2]")
    card.locator("[data-testid=comment]").fill("болезнь после визита")
    card.locator("[data-testid=label-category-health_harm]").click()
    expect(status(page, "p-2")).to_have_text(re.compile("^Исправлено"))
    [saved] = feedback_of(server, "p-2")
    assert saved["annotator"] == "Мария Тестова" and saved["comment"] == "болезнь после визита"
    assert saved["labels"]["category"] == "health_harm" and saved["labels"]["is_hard"] is True
    assert saved["labels"]["urgency"] in ("critical", "high")
    assert "current" in card.locator("[data-testid=label-category-health_harm]").get_attribute(
        "class"
    )

    # keyboard: j to the third card, 7 = no_show (the 7th category), then c on the 4th
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.wait_for_selector("[data-message-id=p-3].selected")
    page.keyboard.press("7")
    expect(status(page, "p-3")).to_contain_text("№")
    [by_key] = feedback_of(server, "p-3")
    assert by_key["labels"]["category"] == "no_show"
    page.keyboard.press("j")
    page.keyboard.press("c")
    expect(status(page, "p-4")).to_have_text(re.compile("^Подтверждено"))
    assert feedback_of(server, "p-4")[0]["verdict"] == "confirm"

    # handled items leave the queue; the filter narrows it
    page.click("#refresh")
    expect(page.locator("[data-testid=card]")).to_have_count(1)
    page.select_option("#filter-channel", "email")
    page.wait_for_selector("text=Здесь пусто")


def test_audit_suggestion_accepted(server, page):
    log_in(page, server.url, "k-quality", "Ольга")
    page.wait_for_selector("#app:not([hidden])")
    page.click("[data-tab=audit]")
    card = page.locator("[data-message-id=rec-1]")
    card.wait_for()
    assert "Несоблюдение указаний" in card.text_content()
    card.locator("[data-testid=accept]").click()
    expect(status(page, "rec-1")).to_have_text(re.compile("^Исправлено"))
    [saved] = feedback_of(server, "rec-1")
    assert saved["target"] == "annotated" and saved["annotator"] == "Ольга"
    assert saved["labels"] == {
        "category": "ignored_instructions",
        "is_hard": False,  # conditionally hard: the page keeps what the record said
        "urgency": "normal",
        "reporter": "client",
    }


def test_journal_shows_who_changed_what(server, page):
    httpx.post(
        f"{server.url}/v1/feedback",
        headers=QUALITY,
        json={"message_id": "p-1", "verdict": "confirm", "annotator": "Журнал Тестов"},
    ).raise_for_status()
    log_in(page, server.url, "k-quality", "Мария Тестова")
    page.wait_for_selector("#app:not([hidden])")
    page.click("[data-tab=log]")
    row = page.locator("[data-testid=log-row]", has_text="Журнал Тестов")
    row.wait_for()
    assert "p-1" in row.text_content() and "подтверждение" in row.text_content()


def test_find_any_message_and_admin_sees_models(server, page):
    log_in(page, server.url, "k-admin", "Админ")
    page.wait_for_selector("#models-tab:not([hidden])")
    page.click("[data-tab=find]")
    page.fill("#find-id", "нет-такого")
    page.click("#find-button")
    expect(page.locator("#error")).to_contain_text("не найдено")
    page.fill("#find-id", "p-1")
    page.click("#find-button")
    page.locator("[data-message-id=p-1] [data-testid=safety]").wait_for()
    page.click("[data-tab=models]")
    page.wait_for_selector("#version-rows tr")
    assert "чемпион" in page.text_content("#version-rows")


def test_times_are_shown_in_the_browsers_zone(server, chromium):
    """Stored in UTC and sent with its zone, a time shows as the clock in Moscow reads it."""
    from zoneinfo import ZoneInfo

    saved = httpx.post(
        f"{server.url}/v1/feedback",
        headers=QUALITY,
        json={"message_id": "p-2", "verdict": "confirm", "annotator": "Часовой Пояс"},
    )
    created = datetime.fromisoformat(saved.json()["created_at"])
    assert created.utcoffset().total_seconds() == 0
    moscow = created.astimezone(ZoneInfo("Europe/Moscow")).strftime("%H:%M:%S")
    context = chromium.new_context(locale="ru-RU", timezone_id="Europe/Moscow")
    page = context.new_page()
    try:
        log_in(page, server.url, "k-quality", "Мария Тестова")
        page.wait_for_selector("#app:not([hidden])")
        page.click("[data-tab=log]")
        row = page.locator("[data-testid=log-row]", has_text="Часовой Пояс")
        row.wait_for()
        assert moscow in row.text_content(), (moscow, row.text_content())
    finally:
        context.close()
