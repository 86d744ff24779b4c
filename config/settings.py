"""The one configuration object of the service, the command line and training: `Settings`.

It is built once where a program starts and passed down; nothing else in the project reads the
environment. Where a value comes from, strongest first:

1. arguments given to `Settings(...)` (tests, the training job that a worker starts);
2. environment variables: `COMPLAINTS_<NAME>` for every field below, and the customary
   `DATABASE_URL`, `MLFLOW_TRACKING_URI` and `PROMETHEUS_MULTIPROC_DIR`;
3. the YAML file named by `COMPLAINTS_CONFIG`, with the field names as keys (`api_keys`,
   `contacts`, …);
4. the defaults below.

Contacts of the senior managers and the API keys are configuration, never code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

CONFIG_VARIABLE = "COMPLAINTS_CONFIG"
PROMOTE_TOLERANCE = 0.02  # macro-F1 a head may lose in `promote`; about the spread of retraining


class Role(StrEnum):
    channel = "channel"  # chat and e-mail channels: classify
    router = "router"  # routers: read predictions
    quality = "quality"  # quality staff: feedback and review
    admin = "admin"  # models, and everything else


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


@dataclass(frozen=True)
class Paths:
    """Where the project keeps its data and models."""

    home: Path
    data: Path  # annotated JSONL files
    test_ids: Path  # the frozen test split, one id per line
    models: Path  # trained artifacts, git-ignored


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COMPLAINTS_", extra="ignore", frozen=True)

    home: Path = Field(default_factory=Path.cwd)
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "COMPLAINTS_DATABASE_URL")
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "COMPLAINTS_MLFLOW_TRACKING_URI"),
        description="an MLflow server or store; default: sqlite:///<home>/mlflow.db",
    )
    models_dir: Path | None = None  # default: <home>/models
    data_dir: Path | None = None  # the annotated corpus (default: <home>/data/annotated)
    test_ids: Path | None = None  # the frozen test split (default: data/splits/test_ids.txt)
    promote_tolerance: float = PROMOTE_TOLERANCE
    # Folds of every training's cross-validation, the first one included. Folds keep each writer
    # whole (a writer's phrasing is never on both sides); 0: one fold per writer, i.e.
    # leave-one-writer-out, which the review thresholds are then chosen on.
    train_folds: int = Field(0, ge=0)
    # How long opening an item on the review page keeps it for one person (a lease).
    claim_seconds: int = Field(300, ge=5, le=86_400)
    api_keys: dict[str, Role] = {}
    contacts: Contacts = Contacts()
    # The mailbox connector (`complaints mailbox`, api/mailbox.py): the IMAP server (port: 993
    # with ssl, 143 otherwise), the folders it reads, how often it looks again, how long one
    # server operation may take, the cap of its waits while the server is away, whether it sets
    # keywords, and where it moves messages: {"critical" | "high" | "normal" | "low" | "hard" |
    # "done" | "error": folder}, the urgency first, then "hard", then "done"; none: no move. The
    # password is a SecretStr: shown as '**********' wherever the settings are printed.
    imap_host: str | None = None
    imap_port: int | None = Field(None, gt=0, lt=65536)
    imap_security: Literal["ssl", "starttls", "plain"] = "ssl"
    # A CA certificate (PEM) trusted besides the system's: a company's own mail server.
    imap_ca_file: Path | None = None
    imap_user: str | None = None
    imap_password: SecretStr | None = None
    imap_folders: list[str] = Field(["INBOX"], min_length=1)
    imap_poll_seconds: float = Field(30.0, gt=0)
    imap_timeout_seconds: float = Field(30.0, gt=0)
    imap_backoff_max_seconds: float = Field(300.0, gt=0)
    imap_keywords: bool = True
    imap_move_to: dict[str, str] = {}
    # Bytes a request body may have, counted while it is read (413 above): every JSON body,
    # a batch (1,000 messages of up to 20,000 characters), a raw e-mail or its form upload.
    max_json_bytes: int = Field(1024 * 1024, gt=0)
    max_batch_bytes: int = Field(24 * 1024 * 1024, gt=0)
    max_email_bytes: int = 5 * 1024 * 1024
    refresh_seconds: float = 2.0  # how often a worker looks for a new champion
    # How often each worker asks the registry which version holds `champion`, and follows it
    # (fetched into this host's models/, checked against the registry's SHA-256, loaded, then
    # served): how a promotion or a rollback reaches every host. None: every 2 s when MLflow
    # is a server (`shared_registry`), never with a store on this machine (one host, where
    # `complaints promote` moves the local pointer itself); 0: never.
    registry_poll_seconds: float | None = Field(None, ge=0)
    request_timeout_seconds: float = 10.0  # a classification not ready by then is answered 503
    # Webhooks (`api.webhooks`): how often a worker looks for due events, how long one POST may
    # take, how long a claimed event is left to its worker (longer than a POST: a worker that
    # dies leaves its events to the others after that), the waits between attempts (doubling
    # from the first to the cap, each taken between half and all of it), the attempts before an
    # event is marked failed (30: 1.7 to 3.5 hours of trying), and how long delivered and failed
    # events stay in the log.
    webhook_poll_seconds: float = Field(1.0, gt=0)
    webhook_timeout_seconds: float = Field(10.0, gt=0)
    webhook_lease_seconds: float = Field(60.0, gt=0)
    webhook_backoff_seconds: float = Field(1.0, gt=0)
    webhook_backoff_max_seconds: float = Field(600.0, gt=0)
    webhook_max_attempts: int = Field(30, ge=1)
    webhook_retention_days: float = Field(30.0, gt=0)
    prometheus_multiproc_dir: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("PROMETHEUS_MULTIPROC_DIR", "COMPLAINTS_PROMETHEUS_DIR"),
    )

    @model_validator(mode="after")
    def _lease_outlasts_a_post(self) -> Settings:
        if self.webhook_lease_seconds <= self.webhook_timeout_seconds:
            raise ValueError(
                f"webhook_lease_seconds ({self.webhook_lease_seconds:g}) must be longer than "
                f"webhook_timeout_seconds ({self.webhook_timeout_seconds:g}): a lease shorter "
                "than a POST lets another worker send the same event while it is still in flight"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = [init_settings, env_settings]
        path = os.environ.get(CONFIG_VARIABLE)
        if path:
            if not Path(path).is_file():
                raise FileNotFoundError(
                    f"{CONFIG_VARIABLE}={path}: expected a YAML file of settings, found none"
                )
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)

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
        return Paths(
            home=self.home,
            data=self.data_dir or self.home / "data" / "annotated",
            test_ids=self.test_ids or self.home / "data" / "splits" / "test_ids.txt",
            models=self.models,
        )

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.home / 'mlflow.db'}"

    @property
    def registry_poll(self) -> float:
        """Seconds between a worker's looks at the registry's `champion`; 0: it never looks."""
        if self.registry_poll_seconds is not None:
            return self.registry_poll_seconds
        return 2.0 if self.shared_registry else 0.0

    @property
    def shared_registry(self) -> bool:
        """MLflow is a server (`http(s)://…`), which several hosts may share: its `champion` is
        what every host serves, and a host's models/ is only its cache. (A `sqlite:` or file
        store is one machine's, whoever names it: MLflow itself puts the URI in the
        environment of the processes it is used in.)"""
        return self.tracking_uri.startswith(("http://", "https://"))

    @property
    def own_tracking_store(self) -> bool:
        """MLflow is the embedded store in <home>, with artifacts in <home>/mlartifacts."""
        return self.mlflow_tracking_uri is None

    @property
    def open_mode(self) -> bool:
        """No keys configured: every caller is trusted, so only loopback callers are served."""
        return not self.api_keys
