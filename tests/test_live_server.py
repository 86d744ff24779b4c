"""A real uvicorn server: reload under load, and a restart that keeps every prediction."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient

from pettriage.api.launcher import LiveServer
from pettriage.classifier import artifact
from pettriage.training.tracking import CHAMPION_ALIAS, REGISTERED_MODEL

from .servers import server_env

CHANNEL, ADMIN = {"X-API-Key": "k-channel"}, {"X-API-Key": "k-admin"}
ROUTER = {"X-API-Key": "k-router"}


@pytest.fixture
def second_version(trained, settings):
    """A second registered version made champion in the registry only (not yet served);
    the champion is put back afterwards for the other tests. What it answers does not matter
    here, only that it is another version: an eighth of the corpus trains it in seconds."""
    from pettriage.classifier.dataset import load_corpus
    from pettriage.training.train import train

    records = load_corpus(settings.paths.data)[::8]
    result = train(settings, folds=2, records=records, note="second version for the reload test")
    client = MlflowClient()
    client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION_ALIAS, result.version)
    yield result.version
    client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION_ALIAS, trained.version)
    artifact.set_champion(settings.models, trained.version)


def test_reload_under_load_drops_no_request(home, tmp_path, second_version):
    env = server_env(home, f"sqlite:///{tmp_path / 'live.db'}", COMPLAINTS_REFRESH_SECONDS="0.2")
    server = LiveServer(env, workers=2, log=tmp_path / "server.log").start()
    statuses, versions, stop = [], set(), threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            while not stop.is_set():
                r = http.post(
                    "/v1/classify",
                    headers=CHANNEL,
                    json={"text": "ситтер опоздал на час, верните деньги", "channel": "chat"},
                )
                statuses.append(r.status_code)
                if r.status_code == 200:
                    versions.add(r.json()["model_version"])

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        reloaded = httpx.post(f"{server.url}/v1/admin/reload", headers=ADMIN, timeout=120)
        assert reloaded.status_code == 200, reloaded.text
        assert reloaded.json() == {"previous_version": "1", "version": second_version}
        # Both workers follow the new champion within a moment: the other worker looks at the
        # pointer every 0.2 s and then loads the model (seconds on a busy 2-core machine),
        # answering with the old one meanwhile. Once it has followed, it never goes back.
        assert _settles_on(server.url, second_version, deadline=30.0)
    finally:
        stop.set()
        for t in threads:
            t.join()
        server.stop()
    assert len(statuses) > 20 and set(statuses) == {200}
    assert versions == {"1", second_version}


def test_a_serving_worker_holds_no_mlflow_client_or_scikit_learn(home, tmp_path, trained):
    """Loading the champion, checking it against the registry's SHA-256 and classifying leave
    MLflow's client (and the pandas and pyarrow it imports) and scikit-learn out of a worker's
    memory: they were a third of it. MLflow is pure Python, so what shows in the worker's
    memory map is the compiled libraries it brings. lxml waits for the first HTML e-mail."""
    env = server_env(home, f"sqlite:///{tmp_path / 'lean.db'}")
    server = LiveServer(env, workers=1, log=tmp_path / "server.log").start()
    try:
        answer = httpx.post(
            f"{server.url}/v1/classify",
            headers=CHANNEL,
            json={"text": "Собака не дышит, ситтер не отвечает", "channel": "chat"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["model_version"] == trained.version
        maps = Path(f"/proc/{server.process.pid}/maps").read_text()
    finally:
        server.stop()
    assert "/site-packages/scipy/" in maps  # the map is the worker's, with its libraries
    heavy = ("pandas", "pyarrow", "sklearn", "matplotlib", "lxml")
    assert {name for name in heavy if f"/{name}/" in maps} == set()


def _settles_on(url: str, version: str, deadline: float) -> bool:
    """True once 20 answers in a row from /v1/model name `version`, before `deadline` s."""
    in_a_row, give_up = 0, time.monotonic() + deadline
    while time.monotonic() < give_up:
        served = httpx.get(f"{url}/v1/model", headers=CHANNEL).json()["version"]
        in_a_row = in_a_row + 1 if served == version else 0
        if in_a_row == 20:
            return True
        time.sleep(0.05)
    return False


def test_restart_keeps_every_prediction(home, tmp_path):
    env = server_env(home, f"sqlite:///{tmp_path / 'restart.db'}")
    server = LiveServer(env, log=tmp_path / "server.log").start()
    try:
        for i in range(15):
            r = httpx.post(
                f"{server.url}/v1/classify",
                headers=CHANNEL,
                json={
                    "message_id": f"r-{i}",
                    "text": f"кот голодный, визит {i}",
                    "channel": "chat",
                },
            )
            assert r.status_code == 200 and r.json()["stored"]
    finally:
        server.stop()
    server.start()
    try:
        page = httpx.get(
            f"{server.url}/v1/predictions", params={"limit": 100}, headers=ROUTER
        ).json()
        assert [p["message_id"] for p in page["items"]] == [f"r-{i}" for i in range(15)]
    finally:
        server.stop()
