"""The service's configuration: one `Settings` object, read from the environment.

Contacts of the senior managers and the API keys are configuration, never code: set
COMPLAINTS_CONTACTS and COMPLAINTS_API_KEYS (JSON), or put them in the file named by
COMPLAINTS_CONFIG (YAML with the same keys in lower case).
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import AliasChoices, BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from classifier.config import Paths


class Role(StrEnum):
    channel = "channel"  # chat and e-mail channels: classify
    router = "router"  # routers: read predictions
    quality = "quality"  # quality staff: feedback and review
    admin = "admin"  # reload models, and everything else


class Contact(BaseModel):
    name: str
    phone: str = ""
    chat: str = ""


NOT_SET = "не настроено: укажите в COMPLAINTS_CONTACTS"


class Contacts(BaseModel):
    on_call: Contact = Contact(name="дежурный старший менеджер", phone=NOT_SET)
    client_side: Contact = Contact(name="старший менеджер по клиентам", phone=NOT_SET)
    executor_side: Contact = Contact(name="старший менеджер по исполнителям", phone=NOT_SET)
    hard_case_form: str = NOT_SET
    senior_chat: str = NOT_SET


def _config_file() -> dict:
    path = os.environ.get("COMPLAINTS_CONFIG")
    if not path:
        return {}
    data = yaml.safe_load(Path(path).read_text("utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"COMPLAINTS_CONFIG {path}: expected a mapping of settings")
    return data


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COMPLAINTS_", extra="ignore")

    home: Path = Field(default_factory=Path.cwd)
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "COMPLAINTS_DATABASE_URL")
    )
    models_dir: Path | None = None
    data_dir: Path | None = None  # the annotated corpus (default: data/annotated)
    test_ids: Path | None = None  # the frozen test split (default: data/splits/test_ids.txt)
    promote_tolerance: float = 0.02  # macro-F1 a head may lose in `promote`
    train_folds: int = 5  # cross-validation folds of a training started from the page
    api_keys: dict[str, Role] = {}
    contacts: Contacts = Contacts()
    max_email_bytes: int = 5 * 1024 * 1024
    refresh_seconds: float = 2.0  # how often a worker looks for a new champion

    @classmethod
    def load(cls, **overrides) -> Settings:
        return cls(**(_config_file() | overrides))

    @property
    def db_url(self) -> str:
        url = self.database_url or f"sqlite:///{self.home / 'complaints.db'}"
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url

    @property
    def models(self) -> Path:
        return self.models_dir or self.home / "models"

    @property
    def paths(self) -> Paths:
        """The same places `complaints` uses, for the admin actions run by the service."""
        return Paths(
            home=self.home,
            data=self.data_dir or self.home / "data" / "annotated",
            test_ids=self.test_ids or self.home / "data" / "splits" / "test_ids.txt",
            models=self.models,
        )

    @property
    def open_mode(self) -> bool:
        """No keys configured: every caller is trusted, so only loopback callers are served."""
        return not self.api_keys
