import json
from pathlib import Path

import pytest

from pettriage.classifier import artifact
from pettriage.classifier.dataset import load_corpus
from pettriage.classifier.model import ComplaintClassifier

from .conftest import CORPUS


@pytest.fixture(scope="module")
def small_model():
    records = load_corpus(CORPUS)[::8]  # every eighth record: enough for every label, fast
    model = ComplaintClassifier.fit(records)
    model.version = "7"
    return model


@pytest.fixture
def saved(tmp_path, small_model):
    path = tmp_path / "m" / "model.npz"
    artifact.save(small_model, path, run_id="abc", data_hash="h")
    return path


def test_round_trip_keeps_metadata_and_predictions(saved, small_model):
    loaded, meta = artifact.load(saved)
    assert meta["model_version"] == "7" and meta["run_id"] == "abc" and meta["data_hash"] == "h"
    assert meta["labels"]["category"][0] == "death"
    assert set(meta["libraries"]) >= {"scikit-learn", "numpy", "pymorphy3", "spacy"}
    assert meta["format_version"] == 2 and meta["features"]["params"]["char_ngram_range"] == [2, 5]
    assert len(meta["sha256"]) == 64
    text = "ситтер не пришла, ждали весь день, верните деньги"
    assert loaded(text).probabilities == small_model(text).probabilities


def test_corrupted_file_is_refused(saved):
    saved.write_bytes(saved.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(artifact.ArtifactError, match="corrupted: SHA-256"):
        artifact.load(saved)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"format_version": 99}, "Expected model format_version=2, got 99"),
        ({"format_version": 1}, "format_version=1, a pickle, .* Retrain with `complaints train`"),
        ({"labels": {"category": ["x"]}}, "label sets .* differ"),
    ],
)
def test_mismatched_metadata_is_refused(saved, change, fragment):
    side = artifact.sidecar_path(saved)
    meta = json.loads(side.read_text()) | change
    side.write_text(json.dumps(meta))
    with pytest.raises(artifact.ArtifactError, match=fragment):
        artifact.load(saved)


def test_missing_model_says_how_to_fix(tmp_path):
    with pytest.raises(artifact.ArtifactError, match="complaints train"):
        artifact.load(tmp_path / "nothing.npz")


def test_format_1_folder_is_told_to_retrain(tmp_path):
    # What `complaints train` left before format 2: a pickle and its sidecar.
    folder = artifact.model_path(tmp_path, "1").parent
    folder.mkdir(parents=True)
    (folder / "model.joblib").write_bytes(b"not read")
    (folder / "model.json").write_text(json.dumps({"format_version": 1, "sha256": "0" * 64}))
    for attempt in (
        lambda: artifact.load(artifact.model_path(tmp_path, "1")),
        lambda: artifact.load(folder / "model.joblib"),
        lambda: artifact.set_champion(tmp_path, "1"),
    ):
        with pytest.raises(artifact.ArtifactError, match="format_version=1, a pickle") as error:
            attempt()
        assert error.value.reason.startswith("was saved in format 1")


def test_a_serving_worker_imports_no_training_library(home, tmp_path):
    """scikit-learn, imported through the registry's corpus loader, metrics and split, was
    120 MB of every worker's 540 MB peak. (pandas and pyarrow stay: MLflow's client imports
    them, and the worker asks the registry for the champion's SHA-256.)"""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from fastapi.testclient import TestClient\n"
        "from pettriage.api.main import create_app\n"
        "from tests.servers import classify, settings_for\n"
        f"settings = settings_for(Path({str(home)!r}), 'sqlite:///{tmp_path / 'w.db'}')\n"
        "with TestClient(create_app(settings)) as client:\n"
        "    assert classify(client, 'кот не дышит').status_code == 200\n"
        "heavy = {'sklearn', 'matplotlib', 'cleanlab'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr


def test_champion_pointer(tmp_path, small_model):
    assert artifact.champion_version(tmp_path) is None
    with pytest.raises(artifact.ArtifactError, match="No champion"):
        artifact.load_champion(tmp_path)
    artifact.save(small_model, artifact.model_path(tmp_path, "7"))
    artifact.set_champion(tmp_path, "7")
    model, meta = artifact.load_champion(tmp_path)
    assert model.version == "7"
    assert artifact.champion_version(tmp_path) == "7" and meta["model_version"] == "7"
    with pytest.raises(artifact.ArtifactError):
        artifact.set_champion(tmp_path, "8")  # no such version saved


def test_loading_and_classifying_import_no_training_library(saved):
    """A cold start is numpy, scipy, pymorphy3, spaCy's tokenizer and one file: scikit-learn,
    MLflow and matplotlib are for fitting and reports only."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from pettriage.classifier import load_classifier, Message\n"
        f"model = load_classifier({str(saved)!r})\n"
        "[d] = model.map([Message('ситтер не пришла, кот голодный', 'chat', 'm-1')])\n"
        "d.as_dict()\n"
        "heavy = {'sklearn', 'mlflow', 'matplotlib'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
