"""What someone who can write `models/` (or the artifact store) can do to a saved model, for the
tests of cases (4) and (5): change the arrays and the sidecar's SHA-256 together, or put a file
that runs code when unpickled where the model file is. And a registry version of its own to do
it to, so the session's champion is never touched."""

from __future__ import annotations

import hashlib
import io
import json
import pickle
from pathlib import Path

import numpy as np
from mlflow import MlflowClient

from pettriage.classifier import artifact
from pettriage.config import Settings
from pettriage.training import registry
from pettriage.training.tracking import CHAMPION_ALIAS, REGISTERED_MODEL, configure


class Plant:
    """Unpickled, it creates `marker`: what a crafted model file does, harmlessly."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _pickle(marker: Path) -> bytes:
    return pickle.dumps(Plant(marker))


def _npz_of_objects(marker: Path) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, state=np.array([Plant(marker)], dtype=object))  # pickled inside the npy
    return buffer.getvalue()


# Files that run code when read the way format 1 was read (or with numpy's allow_pickle=True).
PAYLOADS = {"a pickle": _pickle, "an npz of pickled objects": _npz_of_objects}


def replace_with_matching_sidecar(path: Path, content: bytes) -> None:
    """The model file replaced, and its sidecar given the new SHA-256."""
    path.write_bytes(content)
    side = artifact.sidecar_path(path)
    meta = json.loads(side.read_text("utf-8"))
    side.write_text(json.dumps(meta | {"sha256": hashlib.sha256(content).hexdigest()}))


def _change_urgency_weights(path: Path, change) -> str:
    """The model file rewritten with its urgency head's weights changed, sidecar to match; the
    new file's SHA-256."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["heads.urgency.weights"] = change(arrays["heads.urgency.weights"])
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    replace_with_matching_sidecar(path, buffer.getvalue())
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def invert_urgency(path: Path) -> None:
    """A valid model file whose urgency head reads the evidence backwards, sidecar to match."""
    _change_urgency_weights(path, lambda weights: -weights)


def cut_a_head(path: Path) -> str:
    """A model file that loads but cannot classify (its urgency head one feature short, as a
    training bug could write it), sidecar to match; its SHA-256."""
    return _change_urgency_weights(path, lambda weights: weights[:-1])


def register_copy(settings: Settings, version: str, with_sha256: bool = True) -> str:
    """A new registry version with the files of `version` (what retraining on the same data
    gives): its SHA-256 tag copied, or, `with_sha256=False`, no SHA-256 on the version or on
    its run (a run of its own), as a version registered before the SHA-256 was recorded."""
    configure(settings)
    client = MlflowClient()
    original = client.get_model_version(REGISTERED_MODEL, version)
    if with_sha256:
        run_id, tags = original.run_id, {registry.SHA256_TAG: original.tags[registry.SHA256_TAG]}
    else:
        experiment = client.get_run(original.run_id).info.experiment_id
        run_id, tags = client.create_run(experiment).info.run_id, {}
        client.set_terminated(run_id)
    copy = client.create_model_version(REGISTERED_MODEL, original.source, run_id, tags)
    assert str(copy.run_id) == run_id  # the SHA-256 is read from this run when the tag is missing
    return str(copy.version)


def point_local_champion_at(settings: Settings, version: str) -> None:
    """champion.json rewritten by hand, as someone who can write `models/` can."""
    pointer = settings.models / artifact.CHAMPION_FILE
    path = artifact.model_path(settings.models, version).relative_to(settings.models)
    pointer.write_text(json.dumps({"version": version, "path": str(path)}))


def restore_champion(settings: Settings, version: str) -> None:
    """The registry alias and the local pointer on `version` again, for the other tests."""
    configure(settings)
    MlflowClient().set_registered_model_alias(REGISTERED_MODEL, CHAMPION_ALIAS, version)
    artifact.set_champion(settings.models, version)


def move_registry_champion(settings: Settings, version: str) -> None:
    """The alias moved in the registry only, as `complaints promote` on another machine does."""
    configure(settings)
    MlflowClient().set_registered_model_alias(REGISTERED_MODEL, CHAMPION_ALIAS, version)
