"""Saving and loading a trained classifier as plain data: nothing on the load path can run code.

A saved model is two files. `model.npz` holds every fitted array (vocabularies as unicode
arrays, IDF weights, each head's weights and calibration) and, as one JSON string, what rebuilds
the objects from them (thresholds, parameters, label sets); numpy reads it with
`allow_pickle=False`, so an object array is refused instead of unpickled. Its sidecar
`model.json` holds the metadata (format version, library versions, labels, thresholds, run id,
data hash, metrics) and the npz's SHA-256.

The SHA-256 is compared before anything in the npz is read. Given `expected_sha256` — what the
registry recorded at training, and what the service always passes — the file must match it:
the sidecar lies beside the file it vouches for, so whoever can replace one can replace both.
Without it (a notebook, `load_classifier`) the sidecar's SHA-256 catches a damaged file.
Every refusal says what was expected and how to fix it; `ArtifactError.reason` says what is
wrong without naming a file, for answers that leave the machine.

`reference.json` beside them holds the training data as counts (`drift.Reference`): a view on
the model, not part of it, so a model without a readable one loads and serves as ever.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
import zlib
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np

from .drift import Reference
from .labels import HEAD_LABELS
from .model import ComplaintClassifier
from .safety import SafetyRules

FORMAT_VERSION = 2  # 1 was a joblib pickle of the whole object: refused, since loading runs code
# Recorded, not enforced: the file holds plain arrays, and the arithmetic on them is ours, so a
# newer scikit-learn or numpy reads it the same (a pickle needed the same minor versions).
RECORDED_LIBRARIES = ("scikit-learn", "numpy", "scipy", "spacy", "pymorphy3", "pymorphy3-dicts-ru")
STATE = "state"  # the npz entry holding the JSON that rebuilds the model from the arrays
REFERENCE_FILE = "reference.json"  # the training data as counts, for drift figures


class ArtifactError(RuntimeError):
    """A model file that is missing, corrupted, tampered with or made by an incompatible setup.

    `str(error)` says where and how to fix it, for a log or a notebook; `reason` finishes the
    sentence "the model file …" without a path, for an HTTP answer."""

    def __init__(self, message: str, reason: str = "cannot be loaded"):
        super().__init__(message)
        self.reason = reason


def library_versions() -> dict[str, str]:
    return {name: importlib_metadata.version(name) for name in RECORDED_LIBRARIES}


def current_labels() -> dict[str, list[str]]:
    return {name: list(labels) for name, labels in HEAD_LABELS.items()}


def sidecar_path(path: Path) -> Path:
    return path.with_suffix(".json")


def reference_path(path: Path) -> Path:
    return path.with_name(REFERENCE_FILE)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- saving ------------------------------------------------------------------------------------
def save(
    model: ComplaintClassifier,
    path: Path | str,
    reference: Reference | None = None,
    **extra: object,
) -> dict:
    """Write the model's npz, its sidecar and its training data's `reference` if given; `extra`
    (data hash, run id, metrics…) joins the metadata. Returns it, with the npz's `sha256`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if reference is not None:
        reference.write(reference_path(path))
    state, arrays = model.fitted_state()
    state = {"format_version": FORMAT_VERSION, "labels": current_labels(), **state}
    # A handle, so that numpy writes this name and does not append `.npz` to another.
    with path.open("wb") as handle:
        np.savez_compressed(handle, **{STATE: np.array(json.dumps(state))}, **arrays)
    meta = {
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "libraries": library_versions(),
        **state,
        **extra,
        "sha256": file_sha256(path),
    }
    sidecar_path(path).write_text(json.dumps(meta, ensure_ascii=False, indent=2), "utf-8")
    return meta


# -- checking and loading ----------------------------------------------------------------------
def read_metadata(path: Path | str) -> dict:
    """The sidecar's metadata, after checking that both files are there and the format is one
    this code reads (a format-1 folder is told to retrain, not that a file is missing)."""
    path = Path(path)
    side = sidecar_path(path)
    missing = ArtifactError(
        f"Expected a model at {path} with its metadata at {side}; "
        "train one with `complaints train`.",
        "is missing",
    )
    if not side.exists():
        raise missing
    try:
        meta = json.loads(side.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ArtifactError(
            f"Metadata file {side} is not valid JSON ({error}); retrain.",
            "has metadata that is not valid JSON",
        ) from error
    check_format(meta.get("format_version") if isinstance(meta, dict) else None, side)
    if not path.exists():
        raise missing
    return meta


def check_format(version: object, where: Path) -> None:
    if version == FORMAT_VERSION:
        return
    if version == 1:
        raise ArtifactError(
            f"{where} describes a model of format_version=1, a pickle, which is no longer "
            f"loaded because unpickling can run code; this code reads "
            f"format_version={FORMAT_VERSION} (plain arrays). Retrain with `complaints train`.",
            "was saved in format 1 (a pickle), which is no longer loaded; retrain it",
        )
    raise ArtifactError(
        f"Expected model format_version={FORMAT_VERSION}, got {version!r} in {where}; "
        "retrain with `complaints train`.",
        f"has format_version={version!r}, not {FORMAT_VERSION}; retrain it",
    )


def check_labels(labels: object, where: Path) -> None:
    if labels != current_labels():
        raise ArtifactError(
            f"Model label sets in {where} differ from this code's labels (the guide "
            "changed?); retrain.",
            "was trained on other label sets than this code's; retrain it",
        )


def check_sha256(path: Path, expected: str | None, recorded_in: str) -> None:
    actual = file_sha256(path)
    if actual == expected:
        return
    if recorded_in == "registry":
        raise ArtifactError(
            f"Model file {path} does not match the SHA-256 recorded in the registry: the file "
            f"has {actual[:12]}…, the registry {str(expected)[:12]}…. It was changed after "
            "training: delete its folder to fetch it again from the registry, or retrain.",
            "does not match the SHA-256 recorded in the registry",
        )
    raise ArtifactError(
        f"Model file {path} is corrupted: SHA-256 {actual[:12]}… does not match "
        f"{str(expected)[:12]}… in its metadata; retrain or restore the file.",
        "does not match the SHA-256 in its metadata",
    )


def verify(path: Path | str, expected_sha256: str | None = None) -> dict:
    """The metadata of a model file whose bytes are the expected ones, checked before anything
    in the file is read: against `expected_sha256` (the registry's) when given, otherwise
    against the sidecar's."""
    path = Path(path)
    if expected_sha256 is not None and path.exists():
        check_sha256(path, expected_sha256, "registry")
    meta = read_metadata(path)
    if expected_sha256 is None:
        check_sha256(path, meta.get("sha256"), "metadata")
    check_labels(meta.get("labels"), sidecar_path(path))
    return meta


def _read_archive(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The JSON state and the arrays of an npz, read as plain data only."""
    not_arrays = (
        f"{path} is not a numpy .npz archive of plain arrays and its JSON state; "
        "it was not written by `complaints train`: retrain.",
        "is not an archive of plain arrays",
    )
    try:
        archive = np.load(path, allow_pickle=False)  # an object array raises, never unpickles
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError(f"a single {type(archive).__name__}, not an archive")
        with archive:
            arrays = {name: archive[name] for name in archive.files}
        encoded = arrays.pop(STATE)
        if encoded.dtype.kind != "U" or encoded.ndim != 0:
            raise ValueError(f"its {STATE!r} entry is not one string")
        state = json.loads(encoded.item())
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as error:
        raise ArtifactError(f"{not_arrays[0]} ({error})", not_arrays[1]) from error
    return state, arrays


def load(
    path: Path | str, rules: SafetyRules | None = None, expected_sha256: str | None = None
) -> tuple[ComplaintClassifier, dict]:
    """The model (with these safety rules) and its metadata, after `verify`; the metadata's
    model-defining entries (version, labels, thresholds, parameters) are the npz's own."""
    path = Path(path)
    meta = verify(path, expected_sha256)
    state, arrays = _read_archive(path)
    check_format(state.get("format_version"), path)
    check_labels(state.get("labels"), path)
    try:
        model = ComplaintClassifier.from_fitted_state(state, arrays, rules)
    except (KeyError, TypeError, ValueError) as error:
        raise ArtifactError(
            f"Model file {path} lacks part of a model ({type(error).__name__}: {error}); retrain.",
            "lacks part of a model; retrain it",
        ) from error
    defining = ("model_version", "labels", "review_thresholds", "features", "heads")
    return model, meta | {key: state[key] for key in defining} | _reference(path)


def _reference(path: Path) -> dict:
    """The training data's `reference` (None for a model saved before there were any), and
    `reference_problem` for an unreadable one: never a reason to refuse the model itself."""
    try:
        return {"reference": Reference.read(reference_path(path))}
    except ValueError as error:
        return {"reference": None, "reference_problem": str(error)}


# -- the local champion pointer: which saved model `complaints classify` uses -------------------
CHAMPION_FILE = "champion.json"


def model_path(models_dir: Path | str, version: str) -> Path:
    return Path(models_dir) / "complaint-classifier" / f"v{version}" / "model.npz"


def set_champion(models_dir: Path | str, version: str, expected_sha256: str | None = None) -> Path:
    """Point `champion.json` at a saved version that passes `verify`; written to a file of its
    own and renamed over the pointer, so readers never see half of it."""
    path = model_path(models_dir, version)
    verify(path, expected_sha256)
    pointer = Path(models_dir) / CHAMPION_FILE
    fd, tmp = tempfile.mkstemp(dir=pointer.parent, prefix=f".{CHAMPION_FILE}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump({"version": version, "path": str(path.relative_to(models_dir))}, handle)
        os.replace(tmp, pointer)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def champion_version(models_dir: Path | str) -> str | None:
    pointer = Path(models_dir) / CHAMPION_FILE
    if not pointer.exists():
        return None
    return json.loads(pointer.read_text())["version"]


def load_champion(
    models_dir: Path | str, rules: SafetyRules | None = None
) -> tuple[ComplaintClassifier, dict]:
    version = champion_version(models_dir)
    if version is None:
        raise ArtifactError(
            f"No champion model in {models_dir}; train one with `complaints train`.",
            "is missing: no champion has been chosen",
        )
    return load(model_path(models_dir, version), rules)


def load_model(path: Path | str, rules: SafetyRules | None = None) -> ComplaintClassifier:
    """A model file, or the champion of a models folder, with these rules."""
    path = Path(path)
    model, _ = load_champion(path, rules) if path.is_dir() else load(path, rules)
    return model
