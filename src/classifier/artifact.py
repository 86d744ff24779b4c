"""Saving and loading a trained classifier: the one module that touches joblib.

A model file travels with a JSON sidecar (`<name>.json`) holding its metadata and SHA-256.
Loading checks the checksum, the format version and the library versions before unpickling,
and says what was expected and how to fix it when something does not match.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path

import joblib

from .labels import HEAD_LABELS
from .model import ComplaintClassifier
from .safety import SafetyRules

FORMAT_VERSION = 1
# A pickle is only safe to load with the same minor versions of the libraries that made it.
PINNED_LIBRARIES = ("scikit-learn", "numpy", "scipy")
RECORDED_LIBRARIES = (*PINNED_LIBRARIES, "spacy", "pymorphy3", "pymorphy3-dicts-ru", "joblib")


class ArtifactError(RuntimeError):
    """A model file that is missing, corrupted or made by an incompatible setup."""


def library_versions() -> dict[str, str]:
    return {name: importlib_metadata.version(name) for name in RECORDED_LIBRARIES}


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def sidecar_path(path: Path) -> Path:
    return path.with_suffix(".json")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save(model: ComplaintClassifier, path: Path | str, **extra: object) -> dict:
    """Write the model and its sidecar; `extra` (data hash, run id, metrics…) joins the metadata."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model_version": model.version,
        "libraries": library_versions(),
        "labels": {name: list(labels) for name, labels in HEAD_LABELS.items()},
        "review_thresholds": {
            "min_probability": model.thresholds.min_probability,
            "min_margin": model.thresholds.min_margin,
            "min_critical": model.thresholds.min_critical,
        },
        **extra,
    }
    joblib.dump({"format_version": FORMAT_VERSION, "meta": meta, "model": model}, path, compress=3)
    meta["sha256"] = file_sha256(path)
    sidecar_path(path).write_text(json.dumps(meta, ensure_ascii=False, indent=2), "utf-8")
    return meta


def read_metadata(path: Path | str) -> dict:
    path = Path(path)
    side = sidecar_path(path)
    if not path.exists() or not side.exists():
        raise ArtifactError(
            f"Expected a model at {path} with its metadata at {side}; "
            "train one with `complaints train`."
        )
    try:
        return json.loads(side.read_text("utf-8"))
    except json.JSONDecodeError as error:
        message = f"Metadata file {side} is not valid JSON ({error}); retrain."
        raise ArtifactError(message) from error


def check_compatible(meta: dict) -> None:
    if meta.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"Expected model format_version={FORMAT_VERSION}, got "
            f"{meta.get('format_version')!r}; retrain with `complaints train`."
        )
    installed = library_versions()
    for name in PINNED_LIBRARIES:
        made_with = meta.get("libraries", {}).get(name, "?")
        if _minor(made_with) != _minor(installed[name]):
            raise ArtifactError(
                f"Model was saved with {name}=={made_with}, this environment has "
                f"{installed[name]}; retrain with `complaints train` or install "
                f"{name}=={made_with}."
            )
    if meta.get("labels") != {name: list(labels) for name, labels in HEAD_LABELS.items()}:
        raise ArtifactError(
            "Model label sets differ from this code's labels (the guide changed?); retrain."
        )


def load(path: Path | str, rules: SafetyRules | None = None) -> tuple[ComplaintClassifier, dict]:
    """The model (with these safety rules) and its metadata, after checking checksum and
    compatibility."""
    path = Path(path)
    meta = read_metadata(path)
    actual = file_sha256(path)
    if actual != meta.get("sha256"):
        raise ArtifactError(
            f"Model file {path} is corrupted: SHA-256 {actual[:12]}… does not match "
            f"{str(meta.get('sha256'))[:12]}… in its metadata; retrain or restore the file."
        )
    check_compatible(meta)
    payload = joblib.load(path)
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"{path} is not a complaint-classifier model file; retrain.")
    model = payload["model"]
    version = meta.get("model_version") or model.version
    return ComplaintClassifier(model.features, model.heads, model.thresholds, version, rules), meta


# -- the local champion pointer: which saved model `complaints classify` uses -------------------
CHAMPION_FILE = "champion.json"


def model_path(models_dir: Path | str, version: str) -> Path:
    return Path(models_dir) / "complaint-classifier" / f"v{version}" / "model.joblib"


def set_champion(models_dir: Path | str, version: str) -> Path:
    """Point `champion.json` at a saved version; written atomically so readers never see half."""
    path = model_path(models_dir, version)
    read_metadata(path)  # refuses a version that is not there
    pointer = Path(models_dir) / CHAMPION_FILE
    tmp = pointer.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": version, "path": str(path.relative_to(models_dir))}))
    tmp.replace(pointer)
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
            f"No champion model in {models_dir}; train one with `complaints train`."
        )
    return load(model_path(models_dir, version), rules)


def load_model(path: Path | str, rules: SafetyRules | None = None) -> ComplaintClassifier:
    """A model file, or the champion of a models folder, with these rules."""
    path = Path(path)
    model, _ = load_champion(path, rules) if path.is_dir() else load(path, rules)
    return model
