"""The model-health figures: per-day counts from the store on SQLite and PostgreSQL, the PSI of
drift on distributions checked by hand, the reference saved with a trained model, and
GET /v1/health and /metrics through a real server."""

from __future__ import annotations

import math
import re
import shutil
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import insert

from pettriage.api import health as api_health
from pettriage.api.launcher import LiveServer
from pettriage.classifier import artifact, drift
from pettriage.classifier.labels import CATEGORIES, URGENCIES
from pettriage.config import Settings
from pettriage.store import health
from pettriage.store.db import make_engine, make_sessions, migrate
from pettriage.store.tables import Feedback, Prediction

from .servers import QUALITY, ROUTER, server_env

URGENCY_OF = {"death": "critical", "health_harm": "critical", "theft": "high", "no_show": "high"}


def stored(message_id, created_at, category="other", urgency=None, review=False, safety=False,
           text=None):  # fmt: skip
    """A row of `predictions` as the service stores it, with only what the figures read set."""
    return dict(
        message_id=message_id,
        channel="chat",
        text=text or f"сообщение {message_id}",
        is_hard=category != "other",
        category=category,
        urgency=urgency or URGENCY_OF.get(category, "normal"),
        reporter="client",
        needs_review=review,
        safety_fired=safety,
        decision={},
        model_version="1",
        created_at=created_at,
        review_priority=0.0,
    )


def said(message_id, verdict="correct", target="prediction", **more):
    """A row of `feedback` (`more`: its id, status, the row an undo takes back)."""
    return (
        dict(
            message_id=message_id,
            target=target,
            verdict=verdict,
            labels=None,
            previous={},
            annotator="Мария",
            created_at=datetime.now(UTC),
        )
        | {"status": "proposed", "undoes": None}
        | more
    )


def store(url: str, predictions: list[dict], feedback: list[dict]) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(insert(Prediction), predictions)
        for row in feedback:  # one by one: some name their id, the others do not
            connection.execute(insert(Feedback), row)
    engine.dispose()


# -- per-day figures, on both databases ----------------------------------------------------------
TODAY = date(2026, 12, 10)


def at(day: int, hour: int = 12, minute: int = 0, second: int = 0, tz=UTC) -> datetime:
    return datetime(2026, 12, day, hour, minute, second, tzinfo=tz)


# Four days asked for (7–10 December); the 8th holds nothing.
DAY_ROWS = [
    stored("m1", at(7, 0, 0, 0), "no_show", review=True),  # the first instant of the 7th
    stored("m2", at(7, 23, 59, 59), "other"),  # the last second of the 7th
    stored("m3", at(7, 15), "death", review=True, safety=True),
    # 01:30 in Moscow on the 8th is 22:30 UTC on the 7th: days are UTC days
    stored("m6", at(8, 1, 30, tz=ZoneInfo("Europe/Moscow")), "other", urgency="low"),
    stored("m4", at(9, 9), "health_harm", safety=True),
    stored("m1", at(9, 10), "no_show"),  # m1 classified again: a second row, counted again
    stored("m5", at(10, 8), "negative_review", urgency="low"),
    stored("early", at(6, 23, 59, 59), "death"),  # before the first day asked for
    stored("late", at(11, 0), "death"),  # after today
]
DAY_FEEDBACK = [
    said("m1"),  # corrected: both of m1's rows count as corrected
    said("m2", verdict="confirm"),  # a confirmation is not a correction
    said("m3", verdict="undo"),  # nor is any other verdict
    said("m4", target="annotated"),  # nor a correction of an annotated record of that name
    said("m5"),
    said("m5"),  # two corrections of one message: one corrected message
    said("m2", status="rejected"),  # a second person said the model was right
    said("m6", id=901),
    said("m6", verdict="undo", undoes=901, status="confirmed"),  # taken back by its author
]


def expected_day(day, messages, categories, urgencies, review, corrected, critical, overrides):
    return dict(
        day=date(2026, 12, day),
        messages=messages,
        categories={c: categories.get(c, 0) for c in CATEGORIES},
        urgencies={u: urgencies.get(u, 0) for u in URGENCIES},
        needs_review=review,
        corrected=corrected,
        critical=critical,
        safety_overrides=overrides,
    )


EXPECTED_DAYS = [
    expected_day(
        7,
        4,
        {"no_show": 1, "other": 2, "death": 1},
        {"high": 1, "normal": 1, "critical": 1, "low": 1},
        review=2,
        corrected=1,
        critical=1,
        overrides=1,
    ),
    expected_day(8, 0, {}, {}, review=0, corrected=0, critical=0, overrides=0),
    expected_day(
        9,
        2,
        {"health_harm": 1, "no_show": 1},
        {"critical": 1, "high": 1},
        review=0,
        corrected=1,
        critical=1,
        overrides=1,
    ),
    expected_day(
        10, 1, {"negative_review": 1}, {"low": 1}, review=0, corrected=1, critical=0, overrides=0
    ),
]


def test_daily_figures_are_counted_by_utc_day(database_url, tmp_path):
    url = Settings(home=tmp_path, database_url=database_url).db_url
    migrate(url, tmp_path)
    store(url, DAY_ROWS, DAY_FEEDBACK)
    engine = make_engine(url)
    with make_sessions(engine)() as session:
        days = health.daily(session, days=4, today=TODAY)
        since = at(9, 0)
        counts = health.category_counts(session, since)
        texts = health.recent_texts(session, since, limit=2)
    engine.dispose()
    assert [d.__dict__ for d in days] == EXPECTED_DAYS
    rates = [(d.needs_review_rate, d.corrections_rate) for d in days]
    assert rates == [(0.5, 0.25), (0.0, 0.0), (0.0, 0.5), (0.0, 1.0)]
    assert counts == {"health_harm": 1, "no_show": 1, "negative_review": 1, "death": 1}
    assert texts == ["сообщение late", "сообщение m5"]  # the latest two stored, newest first


@pytest.mark.parametrize("days", [0, -1, health.MAX_DAYS + 1])
def test_daily_refuses_a_range_out_of_bounds(days):
    with pytest.raises(ValueError, match=f"days must be from 1 to 366, got {days}"):
        health.daily(None, days=days)


# -- PSI, by hand --------------------------------------------------------------------------------
PSI_TABLE = [
    # (expected counts, actual counts, PSI worked out by hand)
    ([5, 3, 2], [5, 3, 2], 0.0),
    ([10, 30], [20, 60], 0.0),  # the same shares at another scale
    # shares .5 .3 .2 → .4 .4 .2: .1·ln(.5/.4) + .1·ln(.4/.3) = .022314 + .028768
    ([50, 30, 20], [40, 40, 20], 0.1 * math.log(5 / 4) + 0.1 * math.log(4 / 3)),
    # an empty bucket counts as EPSILON: .5·ln 2 + (.5 − 1e-4)·ln(.5/1e-4) = 4.604318
    ([1, 1], [1, 0], 0.5 * math.log(2) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)),
]


@pytest.mark.parametrize(("expected", "actual", "value"), PSI_TABLE)
def test_psi_of_known_distributions(expected, actual, value):
    assert drift.psi(expected, actual) == pytest.approx(value, abs=1e-12)
    assert drift.psi(expected, actual) == pytest.approx(drift.psi(actual, expected), abs=1e-12)


def test_psi_values_checked_by_hand():
    assert drift.psi([50, 30, 20], [40, 40, 20]) == pytest.approx(0.051083, abs=1e-6)
    assert drift.psi([1, 1], [1, 0]) == pytest.approx(4.604318, abs=1e-6)


@pytest.mark.parametrize(
    ("expected", "actual", "problem"),
    [([1, 2], [1], "as many buckets"), ([0, 0], [1, 1], "empty side"), ([1], [0], "empty side")],
)
def test_psi_refuses_what_it_cannot_compare(expected, actual, problem):
    with pytest.raises(ValueError, match=problem):
        drift.psi(expected, actual)


@pytest.mark.parametrize(
    ("value", "reading"),
    [(0.0, "stable"), (0.0999, "stable"), (0.1, "moderate"), (0.25, "moderate"),
     (0.2501, "significant"), (4.6, "significant")],
)  # fmt: skip
def test_reading_of_psi(value, reading):
    assert drift.reading(value) == reading


REFERENCE = drift.Reference(
    messages=10,
    categories={"no_show": 6, "other": 4},
    lemmas={"собака": 6, "кот": 2},
    lemma_tokens=10,  # two more lemmas beyond the top ones
)


def test_lemma_and_category_psi_use_the_references_buckets():
    # lemmas .6 .2 | other .2 → .3 .3 | .4 («попугай» is not a top lemma):
    # −.3·ln(.5) + .1·ln(1.5) + .2·ln 2 = .207944 + .040547 + .138629
    recent = {"собака": 3, "кот": 3, "попугай": 4}
    assert drift.lemma_psi(REFERENCE, recent) == pytest.approx(0.387120, abs=1e-6)
    # categories .6 .4 → .5 .5, the ten other categories empty on both sides (ε each: 0)
    value = 0.1 * math.log(0.5 / 0.4) - 0.1 * math.log(0.5 / 0.6)
    assert drift.category_psi(REFERENCE, {"no_show": 5, "other": 5}) == pytest.approx(value)


def test_lemmas_are_counted_as_the_model_reads_them():
    counts = drift.lemma_counts(["Собаку сбила машина!! 🐶", "собака 12:30"])
    assert counts["собака"] == 2 and counts["сбить"] == 1 and counts["машина"] == 1
    assert "🐶" not in counts and "12:30" not in counts and "!" not in counts


def test_reference_round_trip_and_refusals():
    assert drift.Reference.from_json(REFERENCE.as_json()) == REFERENCE
    with pytest.raises(ValueError, match="format_version=1, got 7"):
        drift.Reference.from_json(REFERENCE.as_json() | {"format_version": 7})
    with pytest.raises(ValueError, match="objects of counts"):
        drift.Reference.from_json(REFERENCE.as_json() | {"lemmas": {"собака": -1}})


# -- the reference saved with the model ----------------------------------------------------------
def saved_reference(model_path):
    return drift.Reference.read(artifact.reference_path(model_path))


def test_training_saves_the_reference_of_its_training_data(trained, tmp_path):
    reference = saved_reference(trained.model_path)
    meta = artifact.read_metadata(trained.model_path)
    assert reference is not None and reference.messages == meta["n_train"]
    assert sum(reference.categories.values()) == reference.messages
    assert len(reference.lemmas) == drift.TOP_LEMMAS and "собака" in reference.lemmas
    assert reference.lemma_tokens > sum(reference.lemmas.values())
    _, loaded = artifact.load(trained.model_path)
    assert loaded["reference"] == reference and "reference_problem" not in loaded

    # a model saved before references were (or with an unreadable one) still loads and serves
    old = tmp_path / "v1" / "model.npz"
    old.parent.mkdir()
    for source in (trained.model_path, artifact.sidecar_path(trained.model_path)):
        shutil.copy(source, old.parent / source.name)
    model, meta = artifact.load(old)
    assert meta["reference"] is None and model.version == trained.version
    artifact.reference_path(old).write_text("{not json", "utf-8")
    _, meta = artifact.load(old)
    assert meta["reference"] is None
    assert "is not a reference of training data" in meta["reference_problem"]


def test_the_reference_comes_with_a_version_fetched_from_the_registry(trained, settings, tmp_path):
    from pettriage.training import registry
    from pettriage.training.tracking import configure

    configure(settings)
    path = registry.ensure_local(tmp_path, trained.version)
    assert saved_reference(path) == saved_reference(trained.model_path)


# -- drift measured for the service --------------------------------------------------------------
def migrated(where):
    url = f"sqlite:///{where / 'drift.db'}"
    migrate(url, where)
    return url, make_engine(url)


@pytest.fixture(scope="module")
def quiet_sessions(tmp_path_factory):
    """A database in which nothing is ever stored."""
    _, engine = migrated(tmp_path_factory.mktemp("quiet"))
    yield make_sessions(engine)
    engine.dispose()


def serving(sessions, model=True, **meta):
    champion = SimpleNamespace(model=object() if model else None, meta=meta, version="9")
    return SimpleNamespace(champion=champion, sessions=sessions)


NULL_DRIFT = [
    (dict(model=False), "Модель не загружена"),
    (dict(model_version="9"), "модель v9 обучена до того, как с моделью стали сохранять эталон"),
    (
        dict(model_version="9", reference_problem="… is not a reference of training data"),
        "файл эталона модели v9 не читается",
    ),
    (dict(model_version="9", reference=REFERENCE), "За последние 7 дн. сообщений нет"),
]


@pytest.mark.parametrize(("meta", "note"), NULL_DRIFT)
def test_drift_is_null_with_the_reason(quiet_sessions, meta, note):
    figures = api_health.measure(serving(quiet_sessions, **meta), datetime.now(UTC))
    assert figures.category_psi is None and figures.lemma_psi is None
    assert note in figures.note


def test_drift_of_a_small_window_says_it_is_mostly_chance(tmp_path):
    url, engine = migrated(tmp_path)
    now = datetime.now(UTC)
    rows = [
        stored("q1", now - timedelta(days=1), "no_show", text="собака кот кот"),
        stored("q2", now - timedelta(days=2), "other", text="кот попугай"),
        stored("q3", now - timedelta(days=8), "death", text="собака"),  # outside the week
    ]
    store(url, rows, [])
    service = serving(make_sessions(engine), model_version="9", reference=REFERENCE)
    figures = api_health.measure(service, now)
    engine.dispose()
    # categories .6 .4 → .5 .5; lemmas .6 .2 | .2 → .2 .6 | .2
    expected = 0.1 * math.log(0.5 / 0.4) - 0.1 * math.log(0.5 / 0.6)
    assert figures.category_psi == round(expected, 4)
    assert figures.lemma_psi == round(0.4 * math.log(3) + 0.4 * math.log(3), 4)
    assert (figures.messages, figures.lemma_messages, figures.reference_messages) == (2, 2, 10)
    assert "Выборка мала" in figures.note


# -- GET /v1/health and /metrics through a real server -------------------------------------------
@pytest.fixture(scope="module")
def server(trained, settings, tmp_path_factory):
    where = tmp_path_factory.mktemp("health-api")
    url = f"sqlite:///{where / 'health.db'}"
    migrate(url, where)
    now = datetime.now(UTC)
    rows = [
        stored("a1", now, "no_show", review=True, text="Ситтер не пришла, собака весь день одна"),
        stored("a2", now, "death", safety=True, text="я у клиента, собака не дышит!!"),
        stored("a3", now - timedelta(days=2), "theft", text="пропали наушники после визита"),
        stored("a4", now - timedelta(days=10), "other", text="спасибо, всё отлично"),
    ]
    store(url, rows, [said("a1"), said("a3", verdict="confirm")])
    (where / "prometheus").mkdir()
    env = server_env(settings.home, url, PROMETHEUS_MULTIPROC_DIR=str(where / "prometheus"))
    live = LiveServer(env).start()
    yield SimpleNamespace(url=live.url, rows=rows, now=now)
    live.stop()


def test_health_answers_per_day_figures_and_drift(server, trained):
    answer = httpx.get(f"{server.url}/v1/health", headers=QUALITY)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    days = body["days"]
    today = server.now.date()
    assert [d["day"] for d in days] == [str(today - timedelta(days=29 - i)) for i in range(30)]
    by_day = {d["day"]: d for d in days}
    assert by_day[str(today)] | {"categories": 0, "urgencies": 0} == {
        "day": str(today),
        "messages": 2,
        "categories": 0,
        "urgencies": 0,
        "needs_review_rate": 0.5,
        "corrections_rate": 0.5,
        "critical": 1,
        "safety_overrides": 1,
    }
    assert by_day[str(today)]["categories"]["no_show"] == 1
    assert by_day[str(today)]["categories"]["death"] == 1
    assert by_day[str(today)]["urgencies"] == {"critical": 1, "high": 1, "normal": 0, "low": 0}
    two_days_ago = by_day[str(today - timedelta(days=2))]
    assert (two_days_ago["messages"], two_days_ago["corrections_rate"]) == (1, 0.0)
    assert by_day[str(today - timedelta(days=10))]["messages"] == 1
    assert sum(d["messages"] for d in days) == 4

    reference = saved_reference(trained.model_path)
    recent = [r for r in server.rows if r["created_at"] > server.now - timedelta(days=7)]
    counts: dict[str, int] = {}
    for r in recent:
        counts[r["category"]] = counts.get(r["category"], 0) + 1
    lemmas = drift.lemma_counts([r["text"] for r in recent])
    assert body["drift"] | {"computed_at": None, "note": None} == {
        "category_psi": round(drift.category_psi(reference, counts), 4),
        "lemma_psi": round(drift.lemma_psi(reference, lemmas), 4),
        "window_days": 7,
        "messages": 3,
        "lemma_messages": 3,
        "reference_messages": reference.messages,
        "model_version": trained.version,
        "computed_at": None,
        "thresholds": {"moderate": 0.1, "significant": 0.25},
        "note": None,
    }
    assert f"в обучении модели v{trained.version}: {reference.messages}" in body["drift"]["note"]

    # the same figures on /metrics, from the gauges of the multiprocess registry
    metrics = httpx.get(f"{server.url}/metrics").text
    for kind in ("category", "lemma"):
        found = re.search(rf'^complaints_drift_psi\{{kind="{kind}"\}} (\S+)$', metrics, re.M)
        assert found and float(found[1]) == body["drift"][f"{kind}_psi"], metrics
    assert re.search(r"^complaints_drift_window_messages 3\.0$", metrics, re.M)


@pytest.mark.parametrize(
    ("query", "field", "problem"),
    [
        ("days=0", "days", "greater than or equal to 1"),
        ("days=367", "days", "less than or equal to 366"),
        ("days=много", "days", "valid integer"),
        ("day=7", "day", "unknown query parameter; this endpoint takes: days"),
    ],
)
def test_a_bad_query_is_a_422_naming_it(server, query, field, problem):
    answer = httpx.get(f"{server.url}/v1/health?{query}", headers=QUALITY)
    assert answer.status_code == 422
    [detail] = answer.json()["detail"]
    assert detail["field"] == field and problem in detail["problem"]


def test_health_is_for_quality_staff(server):
    assert httpx.get(f"{server.url}/v1/health").status_code == 401
    refused = httpx.get(f"{server.url}/v1/health", headers=ROUTER)
    assert refused.status_code == 403 and "quality" in refused.json()["detail"]
    one_day = httpx.get(f"{server.url}/v1/health?days=1", headers=QUALITY).json()
    assert [d["day"] for d in one_day["days"]] == [str(server.now.date())]
