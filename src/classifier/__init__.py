"""Triage of incoming messages of a pet-sitting service.

text → normalize → tokenize + lemmatize → features → heads → safety rules → decision.
This package imports neither FastAPI, MLflow, SQLAlchemy nor the layers built on it (training,
storage, the service, the command line), so it can be used from a notebook, a batch job or
another service. It reads no environment variables: paths are given.

    from pettriage.classifier import load_classifier
    model = load_classifier("models")    # the champion of ./models, with the safety rules
    decision = model("собака не дышит", channel="chat")
"""

from __future__ import annotations

from pathlib import Path

from .decision import Decision, Override
from .model import ComplaintClassifier
from .records import InvalidInput, Message

__all__ = [
    "ComplaintClassifier",
    "Decision",
    "InvalidInput",
    "Message",
    "Override",
    "load_classifier",
]


def load_classifier(
    path: Path | str = "models", rules: Path | str | None = None
) -> ComplaintClassifier:
    """A saved model with the safety rules attached: `path` is a model file, or a models folder
    whose champion is loaded; `rules` a rules file (default: the packaged one)."""
    from . import artifact
    from .safety import SafetyRules

    return artifact.load_model(path, SafetyRules.load(rules))
