"""The answers of the session's model on the frozen test split and the cross-check set, pinned.

A refactoring must not change a single answer: each answer's canonical JSON is hashed per message
id and compared with `tests/data/answers.sha256.json` (hashes only, so no cross-check text is
copied into the repository). When the model is meant to change (new data, new features, new
rules), regenerate the file with `pytest tests/test_equivalence.py --update-answers` in the same
commit and say why in its message.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from .conftest import CROSSCHECK, REPO

ANSWERS = Path(__file__).parent / "data" / "answers.sha256.json"


def _digest(answer: dict) -> str:
    canonical = json.dumps(answer, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _records(trained) -> dict[str, list[dict]]:
    from pettriage.classifier.dataset import load_corpus

    test_ids = set((REPO / "data" / "splits" / "test_ids.txt").read_text().split())
    corpus = [r for r in load_corpus(REPO / "data" / "annotated") if r["id"] in test_ids]
    crosscheck = [json.loads(line) for line in CROSSCHECK.read_text("utf-8").splitlines() if line]
    return {"test_split": corpus, "crosscheck": crosscheck}


@pytest.mark.model
def test_answers_are_unchanged(model, trained, request):
    from pettriage.classifier import Message

    digests = {}
    for name, records in _records(trained).items():
        decisions = model.map(Message(r["text"], r["channel"], r["id"]) for r in records)
        digests[name] = {d.id: _digest(d.as_dict()) for d in decisions}
    if request.config.getoption("--update-answers"):
        ANSWERS.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")
        pytest.skip(f"wrote {ANSWERS.name}; run again without --update-answers")
    expected = json.loads(ANSWERS.read_text())
    for name, pinned in expected.items():
        changed = sorted(i for i in pinned if digests[name].get(i) != pinned[i])
        assert digests[name].keys() == pinned.keys(), f"{name}: other messages than pinned"
        assert not changed, f"{name}: {len(changed)} answers changed, e.g. {changed[:5]}"
