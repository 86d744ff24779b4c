"""Shared fixtures: one model trained for the whole session on the real corpus, in a temporary
home with its own embedded MLflow store, so tests never touch the developer's models/ or mlflow.db.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import pickle
import shutil
import sqlite3
import sys
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from pettriage.config import Settings

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


# Tiers: `make test-fast` runs `-m unit`, `make test` runs everything. A test's tiers follow from
# the fixtures it uses (a test that trains by itself says `@pytest.mark.model`); a test in no
# other tier is a unit test.
TIERS = {
    "unit": "tables and small pieces: no trained model, no server, no browser (make test-fast)",
    "model": "needs a training run (the session's model, or its own)",
    "service": "the HTTP service, through TestClient or a live uvicorn",
    "browser": "a real headless Chromium driven by Playwright",
    "postgres": "the PostgreSQL server on 127.0.0.1:5432",
    "imap": "a Dovecot IMAP server of the test's own on loopback (make imap)",
    "compose": "deploy/compose.yaml checked by Debian's docker-compose (make compose)",
}
MODEL_FIXTURES = {"trained", "model", "home"}
SERVICE_FIXTURES = {"client", "sqlite_client", "database_url", "home", "no_model_home"}
BROWSER_FIXTURES = {"page", "chromium"}
IMAP_FIXTURES = {"dovecot", "tls_dovecot"}


def pytest_configure(config):
    for tier, what in TIERS.items():
        config.addinivalue_line("markers", f"{tier}: {what}")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by these markers
def pytest_collection_modifyitems(items):
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        for tier, needs in (
            ("model", MODEL_FIXTURES),
            ("service", SERVICE_FIXTURES),
            ("browser", BROWSER_FIXTURES),
            ("imap", IMAP_FIXTURES),
        ):
            if fixtures & needs:
                item.add_marker(tier)
        if "[postgresql" in item.nodeid:
            item.add_marker("postgres")
        if not any(item.get_closest_marker(name) for name in TIERS):
            item.add_marker("unit")
    items.sort(key=_rank)  # stable: each file keeps its own order


@pytest.fixture(autouse=True)
def mlflow_store_given_back():
    """Each test leaves the next one the MLflow store it found. `configure` points the process
    at a settings' store, and MLflow then also sets MLFLOW_TRACKING_URI, which every later
    `Settings()` reads: a test with a store of its own (a temporary home) had the next file's
    service look for its models there ("v1 is not a registered version")."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow = sys.modules.get("mlflow")
    uris = (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) if mlflow else None
    yield
    if uris is not None:
        mlflow.set_tracking_uri(uris[0])
        mlflow.set_registry_uri(uris[1])
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    """The configuration of the session: a temporary home with its own embedded MLflow store,
    so tests never touch the developer's models/ or mlflow.db; the real corpus and split."""
    home = tmp_path_factory.mktemp("home")
    return Settings(
        home=home,
        data_dir=CORPUS,
        test_ids=SPLIT,
        models_dir=home / "models",
        mlflow_tracking_uri=None,
        database_url=None,
        train_folds=3,  # to keep the suite quick
    )


@pytest.fixture(scope="session")
def trained(settings, request):
    """The result of one real `train` run. Under `pytest -n`, the first worker to need it trains
    and leaves a copy of its home; the others copy that home into their own instead of training
    the same model again (a minute of a core each)."""
    from pettriage.training.train import train

    if not hasattr(request.config, "workerinput"):
        return train(settings)
    shared = _figures_dir(request.config) / "trained-home"
    with _exclusive(shared.with_name("trained-home.lock")):
        if not (shared / RESULT).exists():
            result = train(settings)
            shutil.copytree(settings.home, shared)
            (shared / RESULT).write_bytes(pickle.dumps((str(settings.home), result)))
            return result
        trainer_home, result = pickle.loads((shared / RESULT).read_bytes())
        shutil.copytree(shared, settings.home, dirs_exist_ok=True)
    (settings.home / RESULT).unlink()
    _moved(settings.home, trainer_home, str(settings.home))
    from pettriage.training.tracking import configure

    configure(settings)  # as `train` leaves the trainer's process
    model_path = Path(str(result.model_path).replace(trainer_home, str(settings.home)))
    return dataclasses.replace(result, model_path=model_path)


RESULT = "trained.pickle"


@contextmanager
def _exclusive(lock: Path):
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)


def _moved(home: Path, old: str, new: str) -> None:
    """Rewrites every path under `old` to the same path under `new` in a copied home: in the text
    columns of its MLflow store (artifact locations, model versions' sources) and in the text
    files beside it (a logged model's `MLmodel`, which names its artifacts' first place)."""
    with closing(sqlite3.connect(home / "mlflow.db")) as db, db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for column in db.execute(f'PRAGMA table_info("{table}")').fetchall():
                name = column[1]
                db.execute(
                    f'UPDATE "{table}" SET "{name}" = replace("{name}", ?, ?) '
                    f'WHERE typeof("{name}") = \'text\' AND instr("{name}", ?) > 0',
                    (old, new, old),
                )
    for path in home.rglob("*"):
        if path.is_file() and (path.name == "MLmodel" or path.suffix in {".json", ".yaml"}):
            text = path.read_text("utf-8")
            if old in text:
                path.write_text(text.replace(old, new), "utf-8")


@pytest.fixture(scope="session")
def model(trained):
    from pettriage.classifier import load_classifier

    return load_classifier(trained.model_path)


@pytest.fixture
def cli(trained, settings, capsys):
    """`complaints …` in this process on the session's home: (exit code, stdout, stderr)."""
    from pettriage.cli import main

    def run(*args):
        code = main(list(args), settings)
        out, err = capsys.readouterr()
        return code, out, err

    return run


# -- the service through the real app, on SQLite and on PostgreSQL ------------------------------
@pytest.fixture
def home(trained, settings) -> Path:
    return settings.home


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

    from pettriage.api.main import create_app

    from .servers import settings_for

    app = create_app(settings_for(home, database_url))
    with TestClient(app, client=("127.0.0.1", 50000)) as c:
        yield c


@pytest.fixture
def sqlite_client(home, tmp_path):
    from fastapi.testclient import TestClient

    from pettriage.api.main import create_app

    from .servers import settings_for

    app = create_app(settings_for(home, f"sqlite:///{tmp_path / 'test.db'}"))
    with TestClient(app, client=("127.0.0.1", 50000)) as c:
        yield c


# -- a real headless browser for the review page -----------------------------------------------
# One browser per module: Playwright's sync API keeps an event loop running in this thread while
# it is open, and later tests that run their own loop (asyncio.run) must not meet it.
@pytest.fixture(scope="module")
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
    worker = getattr(session.config, "workerinput", None)
    if worker is not None and FIGURES:  # a worker of `pytest -n`: hand them to the controller
        (_figures_dir(session.config) / f"figures-{worker['workerid']}.txt").write_text(
            "\n".join(FIGURES) + "\n", "utf-8"
        )


# Figures that tests measure on the evaluation sets, printed at the end of `make test`.
FIGURES: list[str] = []


def _figures_dir(config) -> Path:
    """Where the workers of `pytest -n` leave their figures: the controller's base temporary
    directory, whose subdirectories are the workers' own."""
    base = config._tmp_path_factory.getbasetemp()
    return base.parent if hasattr(config, "workerinput") else base


def pytest_terminal_summary(terminalreporter, config):
    lines = list(FIGURES)
    for path in sorted(_figures_dir(config).glob("figures-*.txt")):
        lines += path.read_text("utf-8").splitlines()
    if lines:
        terminalreporter.section("figures on sets the model never trained on")
        for line in lines:
            terminalreporter.write_line(line)


# The files that take longest start first, so that with `pytest -n 2 --dist loadfile
# --no-loadscope-reorder` (`make test`) neither worker is left with a long one at the end while the
# other idles. Without `--no-loadscope-reorder`, pytest-xdist ≥ 3.7 orders files by their number
# of tests instead, and the longest (one test each) came last: 75 s of one worker idle.
# Ordered by their time on a quiet machine (session 30), longest first.
LONGEST_FIRST = (
    "test_quality_loop.py",
    "test_scale_out.py",
    "test_mailbox.py",
    "test_live_server.py",
    "test_models_page.py",
    "test_rescore.py",
    "test_review_page.py",
    "test_webhooks.py",
    "test_api.py",
)


def _rank(item) -> int:
    name = item.path.name
    return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)
