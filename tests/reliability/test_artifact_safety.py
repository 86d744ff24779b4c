"""(5) A model file cannot run code, and the registry's SHA-256 decides which file is served.

Before: the model was a joblib pickle whose SHA-256 lived in a sidecar beside it, so whoever
could write `models/` or the artifact store replaced both, and a crafted pickle ran in the
server at reload, at start-up or when a worker followed the champion pointer. Now the file is
an npz of plain arrays read with `allow_pickle=False`, and the service checks it against the
SHA-256 that training recorded in the registry before reading it."""

from __future__ import annotations

import logging
import pickle
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from pettriage.api.main import create_app
from pettriage.classifier import Message, artifact, load_classifier
from pettriage.classifier.dataset import load_corpus
from pettriage.classifier.model import ComplaintClassifier
from pettriage.training import registry, registry_reads
from pettriage.training.tracking import REGISTERED_MODEL

from ..conftest import CORPUS, SPLIT
from ..servers import CHANNEL, classify, settings_for
from .tampering import (
    PAYLOADS,
    invert_urgency,
    point_local_champion_at,
    register_copy,
    replace_with_matching_sidecar,
    restore_champion,
)

TAMPERS = {
    "inverted urgency weights": lambda path, marker: invert_urgency(path),
    **{
        name: lambda path, marker, make=make: replace_with_matching_sidecar(path, make(marker))
        for name, make in PAYLOADS.items()
    },
}
REGISTRY_MISMATCH = "does not match the SHA-256 recorded in the registry"


@pytest.fixture(scope="module")
def small_model():
    return ComplaintClassifier.fit(load_corpus(CORPUS)[::8]).with_version("7")


@pytest.fixture
def copy_of_champion(trained, settings):
    """A registry version of its own with the champion's files, on this disk; afterwards the
    alias and the local pointer are the session champion's again."""
    version = register_copy(settings, trained.version)
    yield version, registry.ensure_local(settings.models, version)
    restore_champion(settings, trained.version)


def _test_split_messages() -> list[Message]:
    test_ids = set(SPLIT.read_text().split())
    records = [r for r in load_corpus(CORPUS) if r["id"] in test_ids]
    return [Message(r["text"], r["channel"], r["id"]) for r in records]


# -- (d) the format round trip --------------------------------------------------------------------
@pytest.mark.model  # one of the two asks for the session's model by name
@pytest.mark.parametrize("source", ["fitted in this process", "loaded from the session's file"])
def test_round_trip_gives_identical_answers(source, request, tmp_path):
    original = request.getfixturevalue("small_model" if "fitted" in source else "model")
    path = tmp_path / "model.npz"
    artifact.save(original, path)
    loaded, _ = artifact.load(path, original.rules)  # the rules are kept beside the file
    messages = _test_split_messages()
    assert [d.as_dict() for d in loaded.map(messages)] == [
        d.as_dict() for d in original.map(messages)
    ]
    with np.load(path, allow_pickle=False) as archive:  # every entry is plain data
        assert all(archive[name].dtype.kind in "fiuU" for name in archive.files)


# -- (b) a file that runs code when unpickled is refused unread -----------------------------------
@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_planted_payloads_do_run_when_unpickled(payload, tmp_path):
    """The files of the next test are live: read the old way, they run their code."""
    marker, path = tmp_path / "ran", tmp_path / "payload"
    path.write_bytes(PAYLOADS[payload](marker))
    if payload == "a pickle":
        pickle.loads(path.read_bytes())
    else:
        np.load(path, allow_pickle=True)["state"]
    assert marker.exists()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_model_file_that_runs_code_is_refused_unread(payload, small_model, tmp_path):
    marker, path = tmp_path / "ran", tmp_path / "m" / "model.npz"
    artifact.save(small_model, path)
    replace_with_matching_sidecar(path, PAYLOADS[payload](marker))
    for load in (artifact.load, load_classifier):
        with pytest.raises(artifact.ArtifactError, match=r"not a numpy \.npz archive of plain"):
            load(path)
    assert not marker.exists()


# -- (a) a valid model changed along with its sidecar: the registry's SHA-256 wins ----------------
def test_a_tampered_model_with_a_matching_sidecar_is_refused_against_the_registry(
    copy_of_champion, settings
):
    version, path = copy_of_champion
    expected = registry.recorded_sha256(settings, version)
    original, _ = artifact.load(path, None, expected)
    invert_urgency(path)
    # The sidecar alone accepts it, and it answers otherwise: the attack is live.
    tampered, _ = artifact.load(path)
    message = [Message("собака не дышит, лежит без движения", "chat")]
    assert tampered.map(message)[0].probabilities != original.map(message)[0].probabilities
    with pytest.raises(artifact.ArtifactError, match=REGISTRY_MISMATCH) as refused:
        artifact.load(path, None, expected)
    assert refused.value.reason == REGISTRY_MISMATCH


def test_training_records_the_sha256_in_the_run_and_the_version(trained, settings):
    sha256 = artifact.file_sha256(trained.model_path)
    client = MlflowClient(settings.tracking_uri, settings.tracking_uri)
    assert client.get_run(trained.run_id).data.tags[registry.RUN_SHA256_TAG] == sha256
    tags = client.get_model_version(REGISTERED_MODEL, trained.version).tags
    assert tags[registry.SHA256_TAG] == sha256
    assert registry.recorded_sha256(settings, trained.version) == sha256


def test_a_worker_reads_the_embedded_registry_through_a_child_process(trained, settings):
    """The embedded store is asked by a child process that holds MLflow's client
    (`registry_reads`): the same SHA-256 and champion, and a refusal whose reason is the
    registry's own sentence, never the child's log lines."""
    sha256 = artifact.file_sha256(trained.model_path)
    assert registry_reads.recorded_sha256(settings, trained.version) == sha256
    assert registry_reads.champion_now(settings) == registry.champion_at(settings.tracking_uri)
    with pytest.raises(registry.RegistryRefusal) as refused:
        registry_reads.recorded_sha256(settings, "999")
    assert str(refused.value) == "v999 is not a registered version"


@pytest.mark.parametrize("tamper", TAMPERS)
def test_the_service_does_not_start_on_a_tampered_champion(
    tamper, copy_of_champion, settings, home, tmp_path, caplog
):
    version, path = copy_of_champion
    marker = tmp_path / "ran"
    TAMPERS[tamper](path, marker)
    point_local_champion_at(settings, version)
    app = create_app(settings_for(home, f"sqlite:///{tmp_path / 'test.db'}"))
    with caplog.at_level(logging.ERROR, "api"), TestClient(app) as client:
        assert client.get("/readyz").json()["model_loaded"] is False
        assert classify(client, "кот голодный").status_code == 503
    assert f"v{version}'s model file {REGISTRY_MISMATCH}" in caplog.text
    assert not marker.exists()


@pytest.mark.parametrize("tamper", TAMPERS)
def test_a_worker_does_not_follow_the_pointer_to_a_tampered_model(
    tamper, copy_of_champion, trained, settings, home, tmp_path, caplog
):
    version, path = copy_of_champion
    serving, marker = trained.version, tmp_path / "ran"
    app = create_app(settings_for(home, f"sqlite:///{tmp_path / 'test.db'}", refresh_seconds=0))
    with caplog.at_level(logging.ERROR, "api"), TestClient(app) as client:
        assert classify(client, "кот голодный").json()["model_version"] == serving
        TAMPERS[tamper](path, marker)
        point_local_champion_at(settings, version)  # as a reload in another worker would
        # The moved pointer is followed in a thread of its own; the served model answers
        # meanwhile, and after the refusal too.
        give_up = time.monotonic() + 120
        while REGISTRY_MISMATCH not in caplog.text and time.monotonic() < give_up:
            answer = classify(client, "кот голодный")
            assert answer.status_code == 200 and answer.json()["model_version"] == serving
            time.sleep(0.05)
        for _ in range(3):
            answer = classify(client, "кот голодный")
            assert answer.status_code == 200 and answer.json()["model_version"] == serving
        assert client.get("/v1/model", headers=CHANNEL).json()["version"] == serving
    refusals = [r.getMessage() for r in caplog.records if REGISTRY_MISMATCH in r.getMessage()]
    assert len(refusals) == 1  # refused once, not on every batch
    assert f"v{version}'s model file {REGISTRY_MISMATCH}; still serving v{serving}" in refusals[0]
    assert not marker.exists()
