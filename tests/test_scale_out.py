"""Several hosts, one truth: a real MLflow tracking server (its backend store a PostgreSQL
database of the test's own, its artifacts served by it) as the registry, and two service hosts
— their own homes, ports and model caches — on one PostgreSQL store.

Training, promotion and rollback run as an operator runs them, with `complaints` in a process
of its own pointed at the server. Under load on both hosts, a promotion and then a rollback
must reach every worker of both within the bound the README states, with no failed request;
what one host stored is read through the other; and a host killed outright loses nothing it
had acknowledged.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient
from sqlalchemy import create_engine, text

from pettriage.api.launcher import LiveServer, free_port
from pettriage.classifier import artifact
from pettriage.config import Settings
from pettriage.training import registry_reads
from pettriage.training.registry import RegistryRefusal, expected_sha256
from pettriage.training.tracking import CHAMPION_ALIAS, REGISTERED_MODEL

from .conftest import FIGURES, SPLIT
from .servers import CHANNEL, KEYS, POSTGRES, ROUTER
from .test_models_page import small_corpus

pytestmark = [pytest.mark.service, pytest.mark.postgres, pytest.mark.model]

# MLflow's job runner (its own queue of GenAI jobs, seven processes) is not what we use it for.
SERVER_ENV = {
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
}
POLL_SECONDS = 0.5  # each worker's look at the registry; the bound below is this plus a load
BOUND_SECONDS = 20.0  # generous for a 2-core machine busy with the rest of the suite


@contextmanager
def postgres_database():
    """A database of the test's own on the machine's PostgreSQL, dropped afterwards. No server
    is a failure, not a skip: this is what the test is about."""
    admin_url = "postgresql+psycopg://" + POSTGRES.split("://", 1)[1]
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"scale_{uuid.uuid4().hex[:10]}"
    with engine.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with engine.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        engine.dispose()


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """`mlflow server` on loopback: backend store PostgreSQL, artifacts served by it."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    with postgres_database() as backend:
        log = (root / "server.log").open("wb")
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("mlflow")),
                "server",
                "--backend-store-uri",
                backend,
                "--artifacts-destination",
                str(root / "artifacts"),
                "--serve-artifacts",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            env=os.environ | SERVER_ENV,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_for(lambda: httpx.get(f"{url}/health", timeout=1).status_code == 200, 120)
            yield url
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, Path]:
    """The models page's small corpus (every 16th message and a quarter of the frozen test
    split: every category, writer and channel, trained in seconds) and the split."""
    home = tmp_path_factory.mktemp("corpus")
    small_corpus(home / "annotated")
    shutil.copy(SPLIT, home / "test_ids.txt")
    return home / "annotated", home / "test_ids.txt"


@pytest.fixture(scope="module")
def operator(mlflow_server, corpus, tmp_path_factory):
    """`complaints …` as an operator on a trainer machine runs it against the server."""
    home = tmp_path_factory.mktemp("trainer")
    env = os.environ | {
        "COMPLAINTS_HOME": str(home),
        "MLFLOW_TRACKING_URI": mlflow_server,
        "COMPLAINTS_DATA_DIR": str(corpus[0]),
        "COMPLAINTS_TEST_IDS": str(corpus[1]),
        "COMPLAINTS_TRAIN_FOLDS": "2",
    }

    def run(*args: str) -> str:
        done = subprocess.run(
            [str(Path(sys.executable).with_name("complaints")), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"complaints {' '.join(args)}:\n{done.stderr[-3000:]}"
        return done.stdout

    return run


@pytest.fixture(scope="module")
def versions(operator) -> tuple[str, str]:
    """v1, the first champion, and v2, registered and waiting for a promotion."""
    first = json.loads(operator("train", "--note", "first"))
    second = json.loads(operator("train", "--seed", "7", "--note", "second"))
    assert first["champion"] and not second["champion"]
    return first["version"], second["version"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with postgres_database() as url:
        yield url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(scope="module")
def hosts(mlflow_server, store, versions, tmp_path_factory):
    """Host A with two workers, host B with one: their own homes (empty models/ at start, so
    each fetches the champion from the server), one PostgreSQL store."""
    servers = []
    for name, workers in (("a", 2), ("b", 1)):
        home = tmp_path_factory.mktemp(f"host-{name}")
        env = {
            "COMPLAINTS_HOME": str(home),
            "DATABASE_URL": store,
            "MLFLOW_TRACKING_URI": mlflow_server,
            "COMPLAINTS_REGISTRY_POLL_SECONDS": str(POLL_SECONDS),
            "COMPLAINTS_API_KEYS": json.dumps(KEYS),
        }
        servers.append(LiveServer(env, workers=workers, log=home / "server.log"))
    try:
        with ThreadPoolExecutor(len(servers)) as pool:  # both at once, as hosts come up
            for started in [pool.submit(s.start, timeout=120) for s in servers]:
                started.result()  # each ready (/readyz), or its error raised here
        yield servers
    finally:
        for server in servers:
            server.stop()


def test_promote_and_rollback_reach_every_host_under_load(hosts, versions, operator, mlflow_server):
    first, second = versions
    for host in hosts:  # each fetched the champion from the registry into its empty cache
        _settled(host.url, first, BOUND_SECONDS)
    statuses: list[int | str] = []
    served: set[str] = set()
    stop = threading.Event()

    def load(url: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            while not stop.is_set():
                try:
                    r = http.post(
                        "/v1/classify",
                        headers=CHANNEL,
                        json={"text": "ситтер не пришёл, кот один второй день", "channel": "chat"},
                    )
                except httpx.HTTPError as error:
                    statuses.append(type(error).__name__)
                    continue
                statuses.append(r.status_code)
                if r.status_code == 200:
                    served.add(r.json()["model_version"])

    moved = AliasWatch(mlflow_server)
    threads = [threading.Thread(target=load, args=(h.url,)) for h in hosts for _ in range(2)]
    for thread in [*threads, moved]:
        thread.start()
    try:
        gate = operator("promote", second)
        assert "PROMOTE" in gate, gate
        promoted = [_settled(h.url, second, BOUND_SECONDS) - moved.at(second) for h in hosts]
        operator("rollback")
        rolled_back = [_settled(h.url, first, BOUND_SECONDS) - moved.at(first) for h in hosts]
    finally:
        stop.set()
        moved.stop.set()
        for thread in [*threads, moved]:
            thread.join()
    assert max(promoted + rolled_back) < BOUND_SECONDS, (promoted, rolled_back)
    failed = [s for s in statuses if s != 200]
    assert len(statuses) > 50 and not failed, (
        f"{len(failed)} of {len(statuses)} failed: {failed[:5]}"
    )
    assert served == {first, second}
    FIGURES.append(
        f"scale-out: 2 hosts (2+1 workers) on PostgreSQL and an MLflow server, "
        f"{len(statuses)} requests under load, 0 failed; every worker of both serving the "
        f"promoted version {max(promoted):.1f} s after the registry's alias moved, the "
        f"rolled-back one after {max(rolled_back):.1f} s (each worker polls every "
        f"{POLL_SECONDS} s)"
    )


def test_a_new_host_fetches_the_champion_instead_of_training_one(versions, mlflow_server, tmp_path):
    """`make serve` runs `complaints model ensure`: on a host of a shared registry with an
    empty models/, it fetches the champion (checked against the registry's SHA-256)."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("complaints")), "model", "ensure"],
        env=os.environ | {"COMPLAINTS_HOME": str(tmp_path), "MLFLOW_TRACKING_URI": mlflow_server},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    champion = MlflowClient(mlflow_server, mlflow_server).get_model_version_by_alias(
        REGISTERED_MODEL, CHAMPION_ALIAS
    )
    assert f"Fetched the registry's champion v{champion.version}" in done.stderr
    assert "training one" not in done.stderr
    assert artifact.champion_version(tmp_path / "models") == str(champion.version)


def test_a_worker_asks_the_registry_over_rest_what_mlflow_would_answer(
    versions, mlflow_server, tmp_path, monkeypatch
):
    """A serving worker asks the server over MLflow's REST API instead of importing its
    client (`registry_reads`): the same champion, the same SHA-256, the same refusals, and the
    champion's files through the server's artifact proxy when this host has none, with no
    child process holding MLflow's client."""

    def no_child(*question):
        raise AssertionError(f"a child process was asked {question}")

    monkeypatch.setattr(registry_reads, "_child", no_child)
    client = MlflowClient(mlflow_server, mlflow_server)
    champion = str(client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION_ALIAS).version)
    settings = Settings(home=tmp_path, mlflow_tracking_uri=mlflow_server)
    assert registry_reads.champion_now(settings) == champion
    for version in versions:
        assert registry_reads.recorded_sha256(settings, version) == expected_sha256(client, version)
    with pytest.raises(RegistryRefusal, match="v999 is not a registered version"):
        registry_reads.recorded_sha256(settings, "999")
    fetched = registry_reads.fetch_champion(settings)  # models/ is empty
    assert (fetched.version, fetched.sha256) == (champion, expected_sha256(client, champion))
    assert fetched.path == artifact.model_path(settings.models, champion)
    assert artifact.file_sha256(fetched.path) == fetched.sha256
    away = Settings(home=tmp_path, mlflow_tracking_uri=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(registry_reads.RegistryUnreachable, match="did not answer"):
        registry_reads.champion_now(away)


def test_what_one_host_stored_is_read_through_the_other(hosts):
    a, b = hosts
    message_id = f"chat-{uuid.uuid4().hex[:8]}"
    stored = httpx.post(
        f"{a.url}/v1/classify",
        headers=CHANNEL,
        json={
            "message_id": message_id,
            "text": "догситтер потерял ключи от квартиры",
            "channel": "chat",
        },
        timeout=30,
    )
    assert stored.status_code == 200 and stored.json()["stored"], stored.text
    read = httpx.get(f"{b.url}/v1/predictions/{message_id}", headers=ROUTER, timeout=30)
    assert read.status_code == 200, read.text
    assert read.json()["latest"]["category"] == stored.json()["category"]


def test_a_host_killed_outright_loses_nothing_it_acknowledged(hosts):
    """Host B (one process) is killed with SIGKILL while answering; every message it had
    answered as stored is read back through host A. Last in this file: B stays dead."""
    a, b = hosts
    acknowledged: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=b.url, timeout=10) as http:
            while not stop.is_set():
                message_id = f"chat-{uuid.uuid4().hex[:12]}"
                try:
                    r = http.post(
                        "/v1/classify",
                        headers=CHANNEL,
                        json={
                            "message_id": message_id,
                            "text": "выгульщик ударил собаку",
                            "channel": "chat",
                        },
                    )
                except httpx.HTTPError:
                    return  # the host is gone
                if r.status_code == 200 and r.json()["stored"]:
                    acknowledged.append(message_id)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for thread in threads:
        thread.start()
    _wait_for(lambda: len(acknowledged) >= 30, 60)
    b.process.kill()
    b.process.wait(timeout=30)
    stop.set()
    for thread in threads:
        thread.join()
    with httpx.Client(base_url=a.url, headers=ROUTER, timeout=30) as http:
        lost = [i for i in acknowledged if http.get(f"/v1/predictions/{i}").status_code != 200]
    assert len(acknowledged) >= 30 and not lost, f"{len(lost)} of {len(acknowledged)} lost"


class AliasWatch(threading.Thread):
    """When the registry's `champion` alias came to name each version, by asking it every
    50 ms: the moment a promotion or a rollback took effect, whoever moved it."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.client = MlflowClient(tracking_uri=url, registry_uri=url)
        self.stop = threading.Event()
        self.moments: list[tuple[str, float]] = []  # (version, since when), in order

    def run(self) -> None:
        while not self.stop.wait(0.05):
            version = self.client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION_ALIAS)
            if not self.moments or self.moments[-1][0] != str(version.version):
                self.moments.append((str(version.version), time.monotonic()))

    def at(self, version: str) -> float:
        """When the alias last came to name `version`."""
        return max(moment for named, moment in self.moments if named == version)


def _settled(url: str, version: str, deadline: float) -> float:
    """The moment (time.monotonic) from which 20 answers in a row of /v1/model named `version`,
    so every worker of the host has it whichever answers; fails after `deadline` s."""
    started = time.monotonic()
    in_a_row, first_seen = 0, started
    with httpx.Client(base_url=url, headers=CHANNEL, timeout=10) as http:
        while time.monotonic() - started < deadline:
            response = http.get("/v1/model")
            ok = response.status_code == 200 and response.json()["version"] == version
            in_a_row = in_a_row + 1 if ok else 0
            if in_a_row == 1:
                first_seen = time.monotonic()
            if in_a_row == 20:
                return first_seen
            time.sleep(0.02)
    raise AssertionError(f"{url} did not settle on v{version} within {deadline} s")


def _wait_for(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s")
