"""Database engine and schema migrations (Alembic), for SQLite by default and PostgreSQL."""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.orm import sessionmaker

from pettriage.config import Settings

from .jsonio import dumps_text

if TYPE_CHECKING:
    from alembic.config import Config

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
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str, lock_dir: Path, apart: bool = False) -> None:
    """Bring the schema to the newest version; workers starting together take turns.

    `apart` (a serving worker): a schema already at the newest version is read with one query,
    and otherwise Alembic upgrades it in a child process, so that the worker never imports
    Alembic (11 MB it would keep for its life, issue 16)."""
    if apart and schema_is_current(url):
        return
    lock_dir.mkdir(parents=True, exist_ok=True)
    with (lock_dir / ".migrate.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not apart:
            upgrade(url)
            return
        if schema_is_current(url):  # another worker migrated it while this one waited
            return
        # the URL goes by the environment: a password in it must not show in `ps`
        child = subprocess.run(
            [sys.executable, "-m", "pettriage.store.db"],
            env={**os.environ, _URL_VARIABLE: url},
            capture_output=True,
            text=True,
        )
        if child.returncode != 0:
            said = (child.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"migrating the database failed: {said}")


def upgrade(url: str) -> None:
    """Alembic's upgrade to the newest version, in this process."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")


_URL_VARIABLE = "PETTRIAGE_MIGRATE_URL"
_REVISION = re.compile(r"^(down_)?revision\s*=\s*(?:\"([^\"]*)\"|None)", re.MULTILINE)


@cache
def head_revision() -> str:
    """The newest migration: the revision no other names as its `down_revision` (read from the
    files, as Alembic does, without importing it; a test compares the two)."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for down, value in _REVISION.findall(path.read_text("utf-8")):
            if value:
                (parents if down else revisions).add(value)
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"expected one head among the migrations, found {sorted(heads)}")
    return heads.pop()


def schema_is_current(url: str) -> bool:
    """Whether the database's `alembic_version` names the newest migration."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return False
            versions = connection.execute(text("SELECT version_num FROM alembic_version"))
            return [row[0] for row in versions] == [head_revision()]
    except Exception:  # unreachable or unreadable: the upgrade says why
        return False
    finally:
        engine.dispose()


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


if __name__ == "__main__":  # the child process of `migrate`
    upgrade(os.environ[_URL_VARIABLE])
