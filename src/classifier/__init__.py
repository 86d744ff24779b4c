"""Triage of incoming messages of a pet-sitting service.

text → normalize → tokenize + lemmatize → features → heads → safety rules → decision.
This package never imports FastAPI or MLflow: use it from a notebook, a batch job or a service.

    from classifier import load_classifier
    model = load_classifier()            # the champion in ./models, with the safety rules
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
    path: Path | str | None = None, rules: Path | str | None = None
) -> ComplaintClassifier:
    """A saved model (the local champion by default) with the safety rules attached."""
    from . import artifact
    from .config import Paths
    from .safety import SafetyRules

    if path is None:
        model, _ = artifact.load_champion(Paths.from_env().models)
    else:
        model, _ = artifact.load(path)
    model.safety = SafetyRules.load(rules)
    return model
