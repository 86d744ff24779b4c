"""The tables the code describes are the tables the migrations make: several migrations were
written side by side, and a column or an index that only one of them knows would surface as a
500 on the first database that was migrated rather than created."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from pettriage.store.db import migrate
from pettriage.store.tables import Base


def _described(name, type_, parent_names) -> bool:
    """The search index is the one thing the code does not describe as a table: SQLite's FTS5
    virtual table (and the tables FTS5 keeps for it), PostgreSQL's expression index."""
    return not (name or "").startswith(("predictions_fts", "ix_predictions_text_fts"))


def _differences(url: str, lock_dir, apart: bool = False) -> list:
    migrate(url, lock_dir, apart=apart)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_name": _described}
            )
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def test_migrations_make_the_tables_of_the_code_on_sqlite(tmp_path):
    assert _differences(f"sqlite:///{tmp_path / 'migrated.db'}", tmp_path) == []


def test_a_worker_migrates_in_a_child_and_never_imports_alembic(tmp_path):
    """A serving worker (`apart=True`) upgrades a new database in a child process, and reads a
    current one with one query: Alembic stays out of its memory (issue 16)."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'worker.db'}"
    worker = (
        "import sys; from pathlib import Path; from pettriage.store.db import migrate; "
        "migrate(sys.argv[1], Path(sys.argv[2]), apart=True); print('alembic' in sys.modules)"
    )
    for _ in range(2):  # a new database, then the same one at the newest version
        run = subprocess.run(
            [sys.executable, "-c", worker, url, str(tmp_path)], capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == "False"
    assert _differences(url, tmp_path) == []


def test_the_newest_migration_is_read_as_alembic_reads_it():
    from alembic.script import ScriptDirectory

    from pettriage.store.db import alembic_config, head_revision

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert head_revision() == script.get_current_head()


def test_a_migration_that_fails_in_the_child_says_why(tmp_path):
    with pytest.raises(RuntimeError, match=r"migrating the database failed: .+"):
        migrate(f"sqlite:///{tmp_path / 'missing' / 'x.db'}", tmp_path, apart=True)


@pytest.mark.postgres
def test_migrations_make_the_tables_of_the_code_on_postgresql(tmp_path):
    from .servers import postgres_schema

    with postgres_schema() as url:
        assert _differences(url, tmp_path) == []


@pytest.mark.postgres
def test_hosts_starting_together_on_one_postgresql_take_turns_migrating(tmp_path):
    """Two hosts (their own homes, so no shared lock file) migrate a new database at the same
    moment: both start, the schema is made once. Without PostgreSQL's advisory lock the second
    failed with a duplicate `alembic_version` table."""
    import subprocess
    import sys

    from .servers import postgres_schema

    migrate_in = "import sys; from pathlib import Path; from pettriage.store.db import migrate; "
    migrate_in += "migrate(sys.argv[1], Path(sys.argv[2]))"
    with postgres_schema() as url:
        hosts = [
            subprocess.Popen(
                [sys.executable, "-c", migrate_in, url, str(tmp_path / name)],
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in ("host-a", "host-b", "host-c")
        ]
        failures = [h.communicate(timeout=120)[1] for h in hosts if h.wait(timeout=120)]
        assert not failures, failures[0][-2000:]
        assert _differences(url, tmp_path) == []
