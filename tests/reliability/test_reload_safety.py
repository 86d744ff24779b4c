"""(4) A refused reload cannot leave the service worse off.

Before: with one byte of the model file changed, reload refused, but answered 500 with an
absolute path, and `champion.json` had already been rewritten, so the next restart came up with
no model and answered 503 although the previous version was intact. Now the new version is
fetched, checked against the registry's SHA-256 and loaded whole before the pointer moves; a
refusal answers 409 with the reason and no path, and the pointer stays."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from pettriage.api.launcher import LiveServer
from pettriage.api.main import create_app
from pettriage.classifier import artifact
from pettriage.training import registry
from pettriage.training.tracking import CHAMPION_ALIAS, REGISTERED_MODEL

from ..servers import ADMIN, CHANNEL, classify, server_env, settings_for
from .tampering import (
    PAYLOADS,
    cut_a_head,
    invert_urgency,
    move_registry_champion,
    register_copy,
    replace_with_matching_sidecar,
    restore_champion,
)

MISMATCH = "v{v}'s model file does not match the SHA-256 recorded in the registry"


def flip_one_byte(path, marker) -> None:
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0xFF
    path.write_bytes(bytes(content))


# case: (the copy has its SHA-256 in the registry, what is done to its file, the reason given)
CASES = {
    "one byte changed": (True, flip_one_byte, MISMATCH),
    "arrays changed, sidecar to match": (True, lambda p, m: invert_urgency(p), MISMATCH),
    "a pickle, sidecar to match": (
        True,
        lambda p, m: replace_with_matching_sidecar(p, PAYLOADS["a pickle"](m)),
        MISMATCH,
    ),
    "no SHA-256 in the registry": (
        False,
        lambda p, m: None,
        "v{v} has no SHA-256 recorded in the registry (it was registered before model files "
        "were checked); retrain it with `complaints train`",
    ),
}


@pytest.fixture
def refused_champion(request, trained, settings, tmp_path):
    """The registry's champion moved to a copy of the session's champion whose file was
    changed as the case says; (version, reason, marker). Put back afterwards."""
    with_sha256, tamper, reason = CASES[request.param]
    version = register_copy(settings, trained.version, with_sha256)
    marker = tmp_path / "ran"
    tamper(registry.ensure_local(settings.models, version), marker)
    move_registry_champion(settings, version)
    yield version, reason.format(v=version), marker
    restore_champion(settings, trained.version)


@pytest.mark.parametrize("refused_champion", CASES, indirect=True)
def test_a_refused_reload_answers_409_and_a_restart_serves_the_previous_model(
    refused_champion, trained, settings, home, tmp_path
):
    _, reason, marker = refused_champion
    serving = trained.version
    pointer = settings.models / artifact.CHAMPION_FILE
    before = pointer.read_bytes()
    database = f"sqlite:///{tmp_path / 'test.db'}"
    with TestClient(create_app(settings_for(home, database))) as client:
        answer = client.post("/v1/admin/reload", headers=ADMIN)
        assert answer.status_code == 409, answer.text
        assert answer.json() == {"detail": f"{reason}; still serving v{serving}"}
        assert "/" not in answer.json()["detail"] and str(home) not in answer.text
        assert classify(client, "кот голодный").json()["model_version"] == serving
    assert pointer.read_bytes() == before
    with TestClient(create_app(settings_for(home, database))) as restarted:
        assert restarted.get("/v1/model", headers=CHANNEL).json()["version"] == serving
        assert classify(restarted, "кот голодный").json()["model_version"] == serving
    assert not marker.exists()


@pytest.mark.parametrize("refused_champion", ["one byte changed"], indirect=True)
def test_a_real_server_restarted_after_a_refused_reload_serves_the_previous_model(
    refused_champion, trained, home, tmp_path
):
    """The issue's own steps, with uvicorn stopped and started again."""
    _, reason, _ = refused_champion
    server = LiveServer(
        server_env(home, f"sqlite:///{tmp_path / 'live.db'}"), log=tmp_path / "server.log"
    ).start()
    try:
        answer = httpx.post(f"{server.url}/v1/admin/reload", headers=ADMIN, timeout=120)
        assert answer.status_code == 409
        assert answer.json()["detail"] == f"{reason}; still serving v{trained.version}"
    finally:
        server.stop()
    server.start()
    try:
        model = httpx.get(f"{server.url}/v1/model", headers=CHANNEL)
        assert model.status_code == 200 and model.json()["version"] == trained.version
        said = httpx.post(
            f"{server.url}/v1/classify",
            headers=CHANNEL,
            json={"text": "собака не дышит", "channel": "chat"},
        )
        assert said.status_code == 200 and said.json()["model_version"] == trained.version
    finally:
        server.stop()


@pytest.mark.parametrize("refused_champion", CASES, indirect=True)
def test_promote_and_rollback_never_point_at_a_refused_version(refused_champion, trained, settings):
    """`registry.set_champion`, under `complaints promote` and `rollback`, checks the file
    before it moves the alias or the local pointer."""
    version, _, marker = refused_champion
    client = MlflowClient()
    client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION_ALIAS, trained.version)
    pointer = settings.models / artifact.CHAMPION_FILE
    before = pointer.read_bytes()
    history = client.get_registered_model(REGISTERED_MODEL).tags.get(registry.HISTORY_TAG)
    with pytest.raises((artifact.ArtifactError, registry.RegistryRefusal)):
        registry.set_champion(client, settings, version, [trained.version, version])
    champion = client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION_ALIAS)
    assert str(champion.version) == trained.version
    assert client.get_registered_model(REGISTERED_MODEL).tags.get(registry.HISTORY_TAG) == history
    assert pointer.read_bytes() == before
    assert not marker.exists()


def test_a_model_that_cannot_classify_is_refused_before_it_is_served(
    trained, settings, home, tmp_path
):
    """Its file is intact and its SHA-256 is the registry's, but its first message fails: before,
    it was served and every request answered 500. The load classifies one message first."""
    version = register_copy(settings, trained.version, with_sha256=False)
    sha256 = cut_a_head(registry.ensure_local(settings.models, version))
    MlflowClient().set_model_version_tag(REGISTERED_MODEL, version, registry.SHA256_TAG, sha256)
    move_registry_champion(settings, version)
    try:
        with TestClient(create_app(settings_for(home, f"sqlite:///{tmp_path / 't.db'}"))) as client:
            answer = client.post("/v1/admin/reload", headers=ADMIN)
            assert answer.status_code == 409, answer.text
            assert answer.json() == {
                "detail": f"v{version}'s model could not classify a message (ValueError; the "
                f"service log has the details); still serving v{trained.version}"
            }
            said = classify(client, "кот голодный")
            assert said.status_code == 200 and said.json()["model_version"] == trained.version
    finally:
        restore_champion(settings, trained.version)
