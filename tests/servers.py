"""Test helpers: API keys and settings, a PostgreSQL schema of our own, and a real uvicorn
server in a subprocess."""

from __future__ import annotations

import json
import os
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from pettriage.config import Contact, Contacts, Settings

POSTGRES = os.environ.get("COMPLAINTS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
KEYS = {"k-channel": "channel", "k-router": "router", "k-quality": "quality", "k-admin": "admin"}
CHANNEL, ROUTER, QUALITY, ADMIN = ({"X-API-Key": k} for k in KEYS)
CONTACTS = Contacts(
    on_call=Contact(name="Дежурный", phone="+7 900 000-00-01"),
    client_side=Contact(name="По клиентам", phone="+7 900 000-00-02"),
    executor_side=Contact(name="По исполнителям", phone="+7 900 000-00-03"),
    hard_case_form="https://forms.example.invalid/hard",
    senior_chat="#senior",
)


def settings_for(home: Path, database_url: str, **kw) -> Settings:
    return Settings(
        home=home,
        models_dir=home / "models",
        database_url=database_url,
        api_keys=kw.pop("api_keys", KEYS),
        contacts=CONTACTS,
        **kw,
    )


def classify(client, text, channel="chat", **extra):
    return client.post(
        "/v1/classify", json={"text": text, "channel": channel, **extra}, headers=CHANNEL
    )


@contextmanager
def postgres_schema():
    """A fresh schema in the test database, dropped afterwards; skips when no server answers."""
    url = "postgresql+psycopg://" + POSTGRES.split("://", 1)[1]
    engine = create_engine(url)
    try:
        with engine.connect():
            pass
    except Exception as error:
        engine.dispose()
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES} ({type(error).__name__})")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def server_env(home: Path, database_url: str, **extra: str) -> dict[str, str]:
    return {
        "COMPLAINTS_HOME": str(home),
        "COMPLAINTS_MODELS_DIR": str(home / "models"),
        "DATABASE_URL": database_url,
        "COMPLAINTS_API_KEYS": json.dumps(KEYS),
        **extra,
    }
