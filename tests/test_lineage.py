"""What a training run records of where its model came from, read back from the registry: the
code, the corpus, the settings, a signature with an input example, descriptions; and a
retraining on unchanged data and code that says so instead of registering a twin."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from mlflow import MlflowClient

from pettriage.classifier.dataset import data_hash, load_corpus
from pettriage.training import lineage
from pettriage.training.tracking import REGISTERED_MODEL, configure
from pettriage.training.train import train

from .conftest import CORPUS, REPO

pytestmark = pytest.mark.model


@pytest.fixture
def registry(trained, settings) -> MlflowClient:
    configure(settings)
    return MlflowClient()


def test_a_run_records_its_code_corpus_and_settings(trained, registry):
    run = registry.get_run(trained.run_id)
    tags = run.data.tags
    records = load_corpus(CORPUS)
    assert tags["code_hash"] == lineage.code_hash()
    assert tags["data_hash"] == data_hash(records)
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert tags["mlflow.source.git.commit"] == head
    assert tags["git_dirty"] in ("true", "false")
    [used] = run.inputs.dataset_inputs
    assert used.dataset.name == lineage.DATASET_NAME
    assert data_hash(records).startswith(used.dataset.digest)
    assert json.loads(used.dataset.profile)["num_rows"] == len(records)
    input_tags = {tag.key: tag.value for tag in used.tags}
    assert input_tags["mlflow.data.context"] == "training"
    writers = json.loads(
        Path(registry.download_artifacts(trained.run_id, lineage.WRITERS_ARTIFACT)).read_text()
    )
    assert int(input_tags["writers"]) == len(writers) > 5
    assert sum(writers.values()) == len(records)
    assert run.data.params["seed"] == "42" and run.data.params["folds"] == "3"


def test_a_version_carries_a_description_a_signature_and_an_input_example(trained, registry):
    import mlflow

    model = registry.get_registered_model(REGISTERED_MODEL)
    assert "eleven categories" in model.description
    described = registry.get_model_version(REGISTERED_MODEL, trained.version).description
    run = registry.get_run(trained.run_id)
    assert f"corpus {run.data.tags['data_hash'][:12]}" in described
    assert f"commit {run.data.tags['mlflow.source.git.commit'][:12]}" in described
    info = mlflow.models.get_model_info(f"models:/{REGISTERED_MODEL}/{trained.version}")
    assert info.signature.inputs.to_dict() == [{"type": "string", "required": True}]
    outputs = {column["name"] for column in info.signature.outputs.to_dict()}
    assert {"is_hard", "category", "urgency", "reporter", "probabilities"} <= outputs
    assert info.saved_input_example_info is not None
    # The example is one the model answers: loaded from the registry and run.
    pyfunc = mlflow.pyfunc.load_model(f"models:/{REGISTERED_MODEL}/{trained.version}")
    [answer] = pyfunc.predict(pyfunc.input_example)
    assert answer["category"] and answer["model_version"] == trained.version


def test_artifacts_go_to_the_home_mlartifacts(trained, settings):
    run_folders = list((settings.home / "mlartifacts").glob(f"*/{trained.run_id}"))
    run_folders += list((settings.home / "mlartifacts").glob(trained.run_id))
    assert run_folders, "the run's artifacts are not under <home>/mlartifacts"
    for where in (settings.home, REPO, Path.cwd()):
        assert not (where / "mlruns").exists(), f"MLflow wrote to {where / 'mlruns'}"


def test_retraining_on_unchanged_data_and_code_registers_nothing(trained, settings, registry):
    before = registry.search_model_versions(f"name='{REGISTERED_MODEL}'")
    with pytest.raises(lineage.Unchanged) as same:
        train(settings)
    assert same.value.version == trained.version
    assert "nothing changed since" in str(same.value) and "--force" in str(same.value)
    after = registry.search_model_versions(f"name='{REGISTERED_MODEL}'")
    assert len(after) == len(before)


def test_a_change_of_corpus_split_or_settings_is_a_new_lineage(tmp_path):
    records = load_corpus(CORPUS)
    split = tmp_path / "test_ids.txt"
    split.write_text(records[0]["id"] + "\n")
    other_split = tmp_path / "other_ids.txt"
    other_split.write_text(records[1]["id"] + "\n")
    chosen = {"folds": 3, "seed": 42, "review_target_accuracy": 0.93}

    def fingerprint(some: list[dict], ids: Path = split, **changed) -> str:
        return lineage.lineage_of(some, data_hash(some), ids, chosen | changed).fingerprint

    same = fingerprint(records)
    assert fingerprint(records) == same
    assert fingerprint(records[1:]) != same
    assert fingerprint(records, other_split) != same
    assert fingerprint(records, seed=7) != same
