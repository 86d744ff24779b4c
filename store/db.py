"""Database engine and schema migrations (Alembic), for SQLite by default and PostgreSQL."""

from __future__ import annotations

import fcntl
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import sessionmaker

from pettriage.config import Settings

from .jsonio import dumps_text

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    # hide_parameters: an error's text never carries the values of a statement (a message's
    # text, with whatever phone or e-mail it holds, would reach the log).
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=dumps_text,
            hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(connection, _record) -> None:
            # WAL lets several workers read while one writes; the busy timeout makes writers wait
            # for each other instead of failing.
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            # SQLite's own lower() folds only ASCII; a search for «Собака» must find «собака».
            connection.create_function("lower", 1, _lower, deterministic=True)

        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        json_serializer=dumps_text,
        hide_parameters=True,
    )


def _lower(value):
    return value.lower() if isinstance(value, str) else value


def make_sessions(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str, lock_dir: Path) -> None:
    """Bring the schema to the newest version; workers starting together take turns."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    with (lock_dir / ".migrate.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        command.upgrade(alembic_config(url), "head")


def reachable(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def open_sessions(settings: Settings) -> sessionmaker:
    """A session factory on the configured database, its schema migrated first."""
    migrate(settings.db_url, settings.home)
    return make_sessions(make_engine(settings.db_url))
