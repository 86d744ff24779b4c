"""A worker's thread that follows the registry's `champion` alias (hosts sharing an MLflow
server; see `champion`)."""

from __future__ import annotations

import logging
import threading

from . import metrics
from .champion import Champion, Refused

log = logging.getLogger("api")


class RegistryFollower:
    """A worker's thread that asks the registry every `seconds` which version is the champion
    and serves it (`Champion.follow_registry`), counting each change and each failed attempt
    in `complaints_model_reloads_total`. A registry that does not answer is logged and asked
    again at the next tick: the model served stays."""

    def __init__(self, champion: Champion, seconds: float):
        self.champion = champion
        self.seconds = seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="registry-follower", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def tick(self) -> None:
        before = self.champion.version
        try:
            now = self.champion.follow_registry()
        except Refused:  # logged where it was refused
            metrics.RELOADS.labels("failed").inc()
            return
        except Exception as error:  # the registry did not answer; ask again at the next tick
            log.warning(
                "could not ask the registry for its champion (%s: %s); %s",
                type(error).__name__,
                error,
                self.champion.serving(),
            )
            metrics.RELOADS.labels("failed").inc()
            return
        if now is not None:
            metrics.RELOADS.labels("ok").inc()
            log.info("followed the registry's champion: v%s → v%s", before, now)

    def _run(self) -> None:
        self.tick()  # at once: a host that starts with an empty models/ has nothing to serve
        while not self._stop.wait(self.seconds):
            self.tick()
