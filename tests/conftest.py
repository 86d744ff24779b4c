"""Shared fixtures: one model trained for the whole session on the real corpus, in a temporary
home with its own embedded MLflow store, so tests never touch the developer's models/ or mlflow.db.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from classifier.config import Paths

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "data" / "annotated"
SPLIT = REPO / "data" / "splits" / "test_ids.txt"
CROSSCHECK = REPO.parent / "shared" / "crosscheck.jsonl"
# What every decision answers with (the CLI's JSON lines and the service's body).
DECISION_KEYS = {
    "is_hard",
    "category",
    "urgency",
    "reporter",
    "probabilities",
    "heads",
    "needs_review",
    "explanation",
    "safety",
    "model_version",
}


def pytest_addoption(parser):
    parser.addoption(
        "--update-answers",
        action="store_true",
        help="rewrite tests/data/answers.sha256.json from this model (see test_equivalence.py)",
    )


def pytest_configure(config):
    for tier, what in {
        "unit": "tables and small pieces, no training (make test-fast)",
        "model": "needs the session's trained model",
    }.items():
        config.addinivalue_line("markers", f"{tier}: {what}")


@pytest.fixture(scope="session")
def session_env(tmp_path_factory):
    """Environment variables pointing the project at a temporary home."""
    home = tmp_path_factory.mktemp("home")
    split = SPLIT if SPLIT.exists() else home / "test_ids.txt"
    env = {
        "COMPLAINTS_HOME": str(home),
        "COMPLAINTS_DATA_DIR": str(CORPUS),
        "COMPLAINTS_TEST_IDS": str(split),
        "COMPLAINTS_MODELS_DIR": str(home / "models"),
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    saved = {k: os.environ.get(k) for k in [*env, "MLFLOW_TRACKING_URI"]}
    os.environ.update(env)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def trained(session_env):
    """The result of one real `train` run (3 folds to keep the suite quick)."""
    from training.train import train

    return train(Paths.from_env(), folds=3)


@pytest.fixture(scope="session")
def model(trained):
    from classifier import load_classifier

    return load_classifier(trained.model_path)


# -- the service through the real app, on SQLite and on PostgreSQL ------------------------------
@pytest.fixture
def home(trained, session_env) -> Path:
    return Path(session_env["COMPLAINTS_HOME"])


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    from .servers import postgres_schema

    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
    else:
        with postgres_schema() as url:
            yield url


@pytest.fixture
def client(home, database_url):
    from fastapi.testclient import TestClient

    from api.main import create_app

    from .servers import settings_for

    app = create_app(settings_for(home, database_url))
    with TestClient(app, client=("127.0.0.1", 50000)) as c:
        yield c


@pytest.fixture
def sqlite_client(home, tmp_path):
    from fastapi.testclient import TestClient

    from api.main import create_app

    from .servers import settings_for

    app = create_app(settings_for(home, f"sqlite:///{tmp_path / 'test.db'}"))
    with TestClient(app, client=("127.0.0.1", 50000)) as c:
        yield c


# -- a real headless browser for the review page -----------------------------------------------
@pytest.fixture(scope="session")
def chromium():
    from .browser import ARGS, CHROMIUM

    if not CHROMIUM.exists():
        pytest.fail(f"no browser at {CHROMIUM}: run `make browser` (Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    from playwright.sync_api import expect

    context = chromium.new_context(locale="ru-RU", viewport={"width": 1200, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(15_000)
    expect.set_options(timeout=15_000)
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


# -- CI must not pass with the PostgreSQL tests skipped ------------------------------------------
_skipped_postgres: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped and "PostgreSQL" in str(report.longrepr):
        _skipped_postgres.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("CI") and _skipped_postgres:
        print(f"\nCI: {len(_skipped_postgres)} PostgreSQL tests were skipped; CI needs them run.")
        session.exitstatus = 1
