"""The model being served, swapped whole on reload so that a request in flight keeps its model.

Workers share nothing but the local champion pointer (models/champion.json): a reload in one
worker rewrites it, and the other workers notice within `refresh_seconds` and load it too.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from classifier import artifact
from classifier.model import ComplaintClassifier
from classifier.safety import SafetyRules

log = logging.getLogger("api")


class Champion:
    def __init__(self, models_dir: Path, home: Path, refresh_seconds: float = 2.0):
        self.models_dir = models_dir
        self.home = home
        self.refresh_seconds = refresh_seconds
        self.model: ComplaintClassifier | None = None
        self.meta: dict = {}
        self._rules = SafetyRules.load()
        self._lock = threading.Lock()
        self._checked = 0.0

    @property
    def version(self) -> str | None:
        return self.model.version if self.model else None

    def load_local(self) -> str:
        """Load the version the local pointer names."""
        model, meta = artifact.load_champion(self.models_dir)
        model.safety = self._rules
        with self._lock:
            self.model, self.meta = model, meta
            self._checked = time.monotonic()
        log.info("serving model v%s", model.version)
        return model.version

    def maybe_refresh(self) -> None:
        """Follow a champion changed by another worker; cheap enough to call per request."""
        now = time.monotonic()
        if now - self._checked < self.refresh_seconds:
            return
        self._checked = now
        version = artifact.champion_version(self.models_dir)
        if version is not None and version != self.version:
            try:
                self.load_local()
            except artifact.ArtifactError:
                log.exception(
                    "could not follow the champion to v%s; still serving v%s", version, self.version
                )

    def reload_from_registry(self) -> str:
        """Load what the registry alias `champion` points to, fetching it if not on disk."""
        from mlflow import MlflowClient

        from training.registry import ensure_local
        from training.tracking import CHAMPION_ALIAS, REGISTERED_MODEL, configure

        configure(self.home)
        version = str(
            MlflowClient().get_model_version_by_alias(REGISTERED_MODEL, CHAMPION_ALIAS).version
        )
        ensure_local(self.models_dir, version)
        artifact.set_champion(self.models_dir, version)
        return self.load_local()
