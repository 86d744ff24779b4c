"""The model being served, swapped whole on reload so that a request in flight keeps its model.

Workers of one host share the local champion pointer (models/champion.json): a reload in one
worker rewrites it, and the other workers notice within `refresh_seconds` and load it too.
Hosts share the registry: with `registry_poll` set (the default when MLflow is a server), each
worker also asks the registry every so many seconds which version holds `champion`, and follows
a promotion or a rollback made anywhere (`RegistryFollower`), fetching the version into its
host's models/ — the host's cache — when it is not there yet.
The safety rules are read once at start and given to every model this process loads.

Every load — at start, on reload, following another worker — checks the file against the
SHA-256 the registry recorded at training before reading it (`models/` and the artifact store
can be written by others; the registry's tags cannot be reached from there). A version that
fails is `Refused`: the served model stays, and a reload moves the pointer only after the new
version has loaded, so a refusal leaves the other workers and the next start as they were.
The registry is asked through `registry_reads`, which keeps MLflow's client out of the worker.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from pettriage.classifier import artifact
from pettriage.classifier.model import ComplaintClassifier
from pettriage.classifier.safety import SafetyRules
from pettriage.config import Settings

log = logging.getLogger("api")


RETRY_SECONDS = 60.0  # before a version or a pointer that failed to load is tried again


class Refused(Exception):
    """A version this worker will not serve. The message says which, why, and what is served
    instead, and names no file: it is sent in HTTP answers (the log has the paths)."""


class Champion:
    def __init__(self, settings: Settings, rules: SafetyRules):
        self.settings = settings
        self.models_dir = settings.models
        self.refresh_seconds = settings.refresh_seconds
        self.follows_registry = settings.registry_poll > 0
        self.rules = rules
        self._model: ComplaintClassifier | None = None
        self.meta: dict = {}
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()
        self._checked = 0.0
        # A pointer file refused as it is, and when: tried again once it is written again, or
        # after RETRY_SECONDS (the registry may have been away, and each try asks it).
        self._refused_pointer: tuple[tuple[int, int], float] | None = None
        self._following: threading.Thread | None = None
        self._failed_version: tuple[str, float] | None = None  # the registry's, and when

    @property
    def model(self) -> ComplaintClassifier | None:
        """The model to serve now. Reading it first looks whether another worker moved the
        champion (at most once per `refresh_seconds`), also in a worker that has had no
        traffic since the move; a moved champion is loaded in the background and served once
        it has loaded and passed its checks, the previous model answering until then."""
        self.maybe_refresh()
        return self._model

    @property
    def version(self) -> str | None:
        """The version served at this moment, without looking for a newer one."""
        return self._model.version if self._model else None

    def load_local(self) -> str:
        """Load the version the local pointer names, checked against the registry."""
        version = artifact.champion_version(self.models_dir)
        if version is None:
            raise Refused(
                "no champion model on this disk; train one with `complaints train`; "
                + self.serving()
            )
        path = artifact.model_path(self.models_dir, version)
        model, meta = self._load(version, path, self._recorded_sha256(version))
        self._serve(model, meta)
        return model.version

    def maybe_refresh(self) -> None:
        """Follow a champion changed by another worker; cheap enough to call per batch: the
        pointer is looked at here, and a moved one is loaded in a thread of its own, off the
        requests' path (asking the registry for its SHA-256 takes seconds with the embedded
        store, see `registry_reads`). A pointer that was refused is tried again once it is
        written again, or after `RETRY_SECONDS`. A worker that follows the registry
        (`registry_poll`) leaves this to its `RegistryFollower`: the registry names what every
        worker of every host serves."""
        if self.follows_registry:
            return
        now = time.monotonic()
        if now - self._checked < self.refresh_seconds:
            return
        if not self._refreshing.acquire(blocking=False):  # another thread is at it
            return
        following = False
        try:
            self._checked = now
            if (stamp := self._moved_pointer()) is not None:
                following = True
                self._following = threading.Thread(
                    target=self._follow, args=(stamp,), name="champion-follow", daemon=True
                )
                self._following.start()
        finally:
            if not following:
                self._refreshing.release()

    def load_at_start(self) -> None:
        """`load_local` when the worker starts; a pointer refused now is tried again as one
        refused when followed."""
        stamp = _stamp(self.models_dir / artifact.CHAMPION_FILE)
        try:
            self.load_local()
        except Refused:
            if stamp is not None:
                self._refused_pointer = (stamp, time.monotonic())
            raise

    def close(self, timeout: float = 60.0) -> None:
        """Wait for a load in the follower's thread to end, so none outlives the service."""
        if self._following is not None:
            self._following.join(timeout)

    def _refused(self, stamp: tuple[int, int]) -> bool:
        refused = self._refused_pointer
        return (
            refused is not None
            and refused[0] == stamp
            and time.monotonic() - refused[1] < RETRY_SECONDS
        )

    def _moved_pointer(self) -> tuple[int, int] | None:
        """The pointer's stamp when it names another version than the one served and was not
        refused as it is."""
        stamp = _stamp(self.models_dir / artifact.CHAMPION_FILE)  # before reading it
        if stamp is None or self._refused(stamp):
            return None
        try:
            version = artifact.champion_version(self.models_dir)
        except (OSError, ValueError, KeyError, TypeError) as error:  # not a pointer we wrote
            log.error("unreadable champion pointer (%r); %s", error, self.serving())
            self._refused_pointer = (stamp, time.monotonic())
            return None
        if version is None or version == self.version:
            return None
        return stamp

    def _follow(self, stamp: tuple[int, int]) -> None:
        """Load and serve what the pointer names (`load_local`), in the follower's thread."""
        try:
            self.load_local()
        except Refused:  # logged where it was refused
            self._refused_pointer = (stamp, time.monotonic())
        except (OSError, ValueError, KeyError, TypeError) as error:  # rewritten meanwhile
            log.error("unreadable champion pointer (%r); %s", error, self.serving())
            self._refused_pointer = (stamp, time.monotonic())
        except Exception:
            log.exception("following the champion pointer failed; %s", self.serving())
        finally:
            self._refreshing.release()

    def follow_registry(self) -> str | None:
        """Serve the version the registry's `champion` names if it is not the one served: the
        version now served when it changed, else None. A version that failed is tried again
        only after `RETRY_SECONDS` (or once the alias moves), so a bad version does not make
        every worker fetch it every few seconds. Raises what `reload_from_registry` raises."""
        from pettriage.training import registry_reads as registry

        wanted = registry.champion_now(self.settings)
        if wanted is None or wanted == self.version:
            return None
        failed = self._failed_version
        if failed and failed[0] == wanted and time.monotonic() - failed[1] < RETRY_SECONDS:
            return None
        try:
            return self.reload_from_registry()
        except Exception:
            self._failed_version = (wanted, time.monotonic())
            raise

    def reload_from_registry(self) -> str:
        """Serve what the registry alias `champion` names: fetched, loaded whole with the
        registry's SHA-256, and only then named by the local pointer and served."""
        from pettriage.training import registry_reads as registry

        try:
            fetched = registry.fetch_champion(self.settings)
        except registry.RegistryRefusal as error:
            raise self._refuse(str(error), error) from error
        except Exception as error:  # the registry or its artifact store did not answer
            log.exception("could not fetch the registry's champion")
            raise self._refuse(
                f"the registry's champion could not be fetched ({type(error).__name__}; the "
                "service log has the details)",
                error,
            ) from error
        model, meta = self._load(fetched.version, fetched.path, fetched.sha256)
        try:
            artifact.set_champion(self.models_dir, fetched.version, fetched.sha256)
        except artifact.ArtifactError as error:  # changed between loading and pointing
            raise self._refuse(f"v{fetched.version}'s model file {error.reason}", error) from error
        self._serve(model, meta)
        return model.version

    # -- the steps ------------------------------------------------------------------------------
    def _recorded_sha256(self, version: str) -> str:
        from pettriage.training import registry_reads as registry

        try:
            return registry.recorded_sha256(self.settings, version)
        except registry.RegistryRefusal as error:
            raise self._refuse(str(error), error) from error
        except Exception as error:
            log.exception("could not ask the registry for v%s's SHA-256", version)
            raise self._refuse(
                f"the registry could not be asked for v{version}'s SHA-256 "
                f"({type(error).__name__}; the service log has the details)",
                error,
            ) from error

    def _load(self, version: str, path: Path, sha256: str) -> tuple[ComplaintClassifier, dict]:
        try:
            model, meta = artifact.load(path, self.rules, sha256)
        except artifact.ArtifactError as error:
            raise self._refuse(f"v{version}'s model file {error.reason}", error) from error
        try:  # the first message also proves the model can classify before it is served
            return model.warm_up(), meta
        except Exception as error:
            raise self._refuse(
                f"v{version}'s model could not classify a message ({type(error).__name__}; the "
                "service log has the details)",
                error,
            ) from error

    def _refuse(self, reason: str, cause: Exception) -> Refused:
        refused = Refused(f"{reason}; {self.serving()}")
        log.error("%s (%s)", refused, cause)
        return refused

    def serving(self) -> str:
        """What this worker serves, as the end of a log line or a refusal."""
        return f"still serving v{self.version}" if self._model else "no model is served"

    def _serve(self, model: ComplaintClassifier, meta: dict) -> None:
        with self._lock:
            self._model, self.meta = model, meta
            self._checked = time.monotonic()
        log.info("serving model v%s", model.version)


def _stamp(pointer: Path) -> tuple[int, int] | None:
    """What changes whenever the pointer is written (it is replaced by a rename each time)."""
    try:
        status = os.stat(pointer)
    except FileNotFoundError:
        return None
    return status.st_ino, status.st_mtime_ns
