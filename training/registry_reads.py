"""What a serving worker asks the registry, without MLflow's client in the worker.

A worker asks three things: which version holds `champion`, the SHA-256 training recorded for
a version, and the version's files when its host has none. MLflow's client, with the pandas and
pyarrow it imports, would be a third of a worker's memory (about 130 MB) and a second and a
half of its start, for answers of a few bytes. So:

- with a tracking server (`http(s)://`), they are asked over MLflow's REST API, which is its
  public contract (`registered-models/alias`, `model-versions/get`, `runs/get`, and the files
  through the server's artifact proxy), with the credentials MLflow's own client reads from the
  environment; the champion is asked every `registry_poll` seconds by every worker, so this
  path stays a single small request;
- with a database store (the embedded SQLite file by default), whose tables are MLflow's own
  business, and for files kept in a store the server does not proxy, a short-lived child
  process asks MLflow's client (`python -m pettriage.training.registry_reads`): at start and on
  a reload only.

Answers and refusals are those of `registry`: None for no champion, `RegistryRefusal` for a
version the registry cannot vouch for, and `RegistryUnreachable` when it does not answer.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from pettriage.classifier import artifact
from pettriage.config import Settings

from .registry import (
    NO_CHAMPION,
    RUN_SHA256_TAG,
    SHA256_TAG,
    Fetched,
    RegistryRefusal,
    place_fetched,
    recorded_of,
)
from .tracking import CHAMPION_ALIAS, REGISTERED_MODEL

REST_TIMEOUT = 10.0  # seconds, per request
CHILD_TIMEOUT = 300.0  # seconds: MLflow's import, and a model's files from an artifact store
REFUSED = 3  # the child's exit status for a `RegistryRefusal`, its reason as JSON on stdout
# MLflow answers these for a missing model, version or alias (404 or 400).
MISSING = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


class RegistryUnreachable(RuntimeError):
    """The registry (or the child asking it) did not answer; the message says how."""


def champion_now(settings: Settings) -> str | None:
    """The version the registry's alias names now, None when there is none."""
    if _served(settings):
        found = _rest(
            settings,
            "registered-models/alias",
            {"name": REGISTERED_MODEL, "alias": CHAMPION_ALIAS},
        )
        return None if found is None else str(found["model_version"]["version"])
    return _child(settings, "champion")["version"]


def recorded_sha256(settings: Settings, version: str) -> str:
    """The SHA-256 training recorded for `version` (`registry.expected_sha256`)."""
    if _served(settings):
        found = _rest(
            settings, "model-versions/get", {"name": REGISTERED_MODEL, "version": version}
        )
        if found is None:
            raise RegistryRefusal(f"v{version} is not a registered version")
        model_version = found["model_version"]
        run_id = model_version.get("run_id")
        run = _rest(settings, "runs/get", {"run_id": run_id}) if run_id else None
        on_run = _tags(run["run"].get("data", {})).get(RUN_SHA256_TAG) if run else None
        return recorded_of(version, _tags(model_version).get(SHA256_TAG), on_run)
    return _child(settings, "sha256", version)["sha256"]


def fetch_champion(settings: Settings) -> Fetched:
    """The champion's version, its file on this disk and its recorded SHA-256. With a server
    and the file already here, no child is started."""
    if _served(settings):
        version = champion_now(settings)
        if version is None:
            raise RegistryRefusal(NO_CHAMPION)
        path = artifact.model_path(settings.models, version)
        if path.exists() or _fetched_over_rest(settings, version, path):
            return Fetched(version, path, recorded_sha256(settings, version))
    found = _child(settings, "fetch")
    return Fetched(found["version"], Path(found["path"]), found["sha256"])


# -- over HTTP ------------------------------------------------------------------------------------
def _served(settings: Settings) -> bool:
    return settings.tracking_uri.startswith(("http://", "https://"))


def _rest(settings: Settings, endpoint: str, params: dict[str, str]) -> dict | None:
    """MLflow's answer to GET /api/2.0/mlflow/<endpoint>, or None when what was asked for does
    not exist."""
    import httpx

    url = f"{settings.tracking_uri.rstrip('/')}/api/2.0/mlflow/{endpoint}"
    try:
        answer = httpx.get(url, params=params, timeout=REST_TIMEOUT, **_credentials())
    except httpx.HTTPError as error:
        said = f"the registry did not answer ({type(error).__name__})"
        raise RegistryUnreachable(said) from error
    if answer.status_code == 200:
        return answer.json()
    try:
        code = answer.json().get("error_code")
    except ValueError:
        code = None
    if answer.status_code in (400, 404) and code in MISSING:
        return None
    raise RegistryUnreachable(f"the registry answered {answer.status_code} ({code or 'no code'})")


def _fetched_over_rest(settings: Settings, version: str, path: Path) -> bool:
    """Fetch the version's files through the server's artifact proxy (`mlflow server
    --serve-artifacts`, MLflow's default): False, and nothing fetched, when its artifacts are
    kept elsewhere (an object store the worker would need MLflow's client to reach). The
    files are checked when loaded, as any fetched file is (`artifact.load`)."""
    import httpx

    found = _rest(
        settings, "model-versions/get-download-uri", {"name": REGISTERED_MODEL, "version": version}
    )
    where = urlsplit((found or {}).get("artifact_uri", ""))
    if where.scheme != "mlflow-artifacts":
        return False
    server = urlsplit(settings.tracking_uri)
    base = f"{server.scheme}://{where.netloc or server.netloc}/api/2.0/mlflow-artifacts/artifacts"
    folder = f"{base}/{where.path.strip('/')}/artifacts"  # the logged model's own artifacts
    names = [
        artifact.sidecar_path(path).name,
        artifact.REFERENCE_FILE,
        path.name,
    ]
    with tempfile.TemporaryDirectory(prefix="fetch-") as scratch:
        for name in names:
            target = Path(scratch) / name
            try:
                with httpx.stream(
                    "GET", f"{folder}/{name}", timeout=CHILD_TIMEOUT, **_credentials()
                ) as answer:
                    if answer.status_code == 404 and name == artifact.REFERENCE_FILE:
                        continue  # versions trained before drift was recorded have none
                    if answer.status_code != 200:
                        said = f"the registry's artifacts answered {answer.status_code} for {name}"
                        raise RegistryUnreachable(said)
                    with target.open("wb") as out:
                        for chunk in answer.iter_bytes():
                            out.write(chunk)
            except httpx.HTTPError as error:
                said = f"the registry's artifacts did not answer ({type(error).__name__})"
                raise RegistryUnreachable(said) from error
        place_fetched(path, Path(scratch))
    return True


def _credentials() -> dict:
    """What MLflow's client would send and trust, from the variables it reads."""
    given: dict = {}
    user, password = (
        os.environ.get("MLFLOW_TRACKING_USERNAME"),
        os.environ.get("MLFLOW_TRACKING_PASSWORD"),
    )
    if user and password:
        given["auth"] = (user, password)
    if token := os.environ.get("MLFLOW_TRACKING_TOKEN"):
        given["headers"] = {"Authorization": f"Bearer {token}"}
    if os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
        given["verify"] = False
    elif cert := os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH"):
        given["verify"] = cert
    return given


def _tags(entity: dict) -> dict[str, str]:
    return {t["key"]: t.get("value", "") for t in entity.get("tags", [])}


# -- in a child process ---------------------------------------------------------------------------
def _child(settings: Settings, *question: str) -> dict:
    command = [
        sys.executable,
        "-m",
        __name__,
        "--tracking-uri",
        settings.tracking_uri,
        "--models",
        str(settings.models),
        *question,
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as error:
        said = f"the registry did not answer in {CHILD_TIMEOUT:.0f} s"
        raise RegistryUnreachable(said) from error
    if done.returncode == REFUSED:  # its reason is on stdout: MLflow may log on stderr
        raise RegistryRefusal(json.loads(done.stdout)["refusal"])
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["no message"]
        raise RegistryUnreachable(f"asking the registry failed: {last[0]}")
    return json.loads(done.stdout)


def _answer(tracking_uri: str, models: Path, question: list[str]) -> dict:
    from . import registry
    from .tracking import point_at

    point_at(tracking_uri)
    if question == ["champion"]:
        return {"version": registry.champion_at(tracking_uri)}
    if len(question) == 2 and question[0] == "sha256":
        return {"sha256": registry.expected_sha256(registry.client(), question[1])}
    if question != ["fetch"]:
        raise ValueError(f"expected champion, sha256 VERSION or fetch; got {' '.join(question)}")
    fetched = registry.fetched_champion(registry.client(), models)
    return {"version": fetched.version, "path": str(fetched.path), "sha256": fetched.sha256}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="one answer of the registry, as JSON")
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--models", type=Path, required=True)
    parser.add_argument("question", nargs="+", help="champion | sha256 VERSION | fetch")
    args = parser.parse_args(argv)
    try:
        print(json.dumps(_answer(args.tracking_uri, args.models, args.question)))
    except RegistryRefusal as refusal:
        print(json.dumps({"refusal": str(refusal)}))
        return REFUSED
    return 0


if __name__ == "__main__":
    sys.exit(main())
