"""The model being served, swapped whole on reload so that a request in flight keeps its model.

Workers share nothing but the local champion pointer (models/champion.json): a reload in one
worker rewrites it, and the other workers notice within `refresh_seconds` and load it too.
The safety rules are read once at start and given to every model this process loads.
"""

from __future__ import annotations

import logging
import threading
import time

from pettriage.classifier import artifact
from pettriage.classifier.model import ComplaintClassifier
from pettriage.classifier.safety import SafetyRules
from pettriage.config import Settings

log = logging.getLogger("api")


class Champion:
    def __init__(self, settings: Settings, rules: SafetyRules):
        self.settings = settings
        self.models_dir = settings.models
        self.refresh_seconds = settings.refresh_seconds
        self.rules = rules
        self.model: ComplaintClassifier | None = None
        self.meta: dict = {}
        self._lock = threading.Lock()
        self._checked = 0.0

    @property
    def version(self) -> str | None:
        return self.model.version if self.model else None

    def load_local(self) -> str:
        """Load the version the local pointer names."""
        model, meta = artifact.load_champion(self.models_dir, self.rules)
        with self._lock:
            self.model, self.meta = model, meta
            self._checked = time.monotonic()
        log.info("serving model v%s", model.version)
        return model.version

    def maybe_refresh(self) -> None:
        """Follow a champion changed by another worker; cheap enough to call per batch."""
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
        from pettriage.training.registry import fetch_champion

        fetch_champion(self.settings)
        return self.load_local()
