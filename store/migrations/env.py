"""Alembic environment: the URL comes from the service's settings (see api/db.py)."""

from alembic import context
from sqlalchemy import create_engine, text

from pettriage.store.tables import Base

config = context.config
target_metadata = Base.metadata


# Hosts that start together on one PostgreSQL database take turns: the first migrates, the
# others wait for its commit and then find the schema at head. (Workers of one host also take
# turns through a lock file, store/db.py; on SQLite that is all there is.)
MIGRATION_LOCK = 0x70657474  # any constant of our own: pg_advisory_xact_lock's key


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
            context.run_migrations()
    engine.dispose()


run_migrations_online()
