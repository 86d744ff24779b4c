"""`complaints data export-corrections`: the corrections in force become annotated records.

Each correction becomes one new line of `data/annotated/corrections.jsonl`, with the id
`fb-<feedback id>` and `corrects` naming the message it corrects. Nothing is rewritten: a
correction of an annotated record supersedes that record when the corpus is loaded, a later
correction supersedes an earlier one, and both stay in the files. Running it twice adds
nothing the second time.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from classifier.dataset import Minimums, check_corpus, check_records, corpus_files
from classifier.records import LABEL_FIELDS, record_problems

from . import storage

CORRECTIONS_FILE = "corrections.jsonl"
LOCATION = re.compile(re.escape(CORRECTIONS_FILE) + r":(\d+)\b")
# The corpus-wide minimums are the data check's business; here only new problems matter.
NO_MINIMUMS = Minimums(0, 0, 0, 0, 0.0, 1.0, all_channels=False)


@dataclass
class ExportResult:
    written: list[dict] = field(default_factory=list)
    already: int = 0
    skipped: list[str] = field(default_factory=list)  # "fb-N: why", left for a human
    path: Path | None = None

    def describe(self) -> str:
        lines = [
            f"{len(self.written)} corrections written to {self.path}, "
            f"{self.already} exported before, {len(self.skipped)} left out"
        ]
        for record in self.written:
            said = record["model_said"]
            changes = ", ".join(
                f"{name} {said[name]} → {record[name]}"
                for name in LABEL_FIELDS
                if said.get(name) != record[name]
            )
            lines.append(f"  {record['id']} corrects {record['corrects']}: {changes}")
        lines += [f"  left out {why}" for why in self.skipped]
        return "\n".join(lines)


def _record(feedback: storage.Feedback, text: str, channel: str | None) -> dict:
    return {
        "id": f"fb-{feedback.id}",
        "text": text,
        "channel": channel,
        **{name: feedback.labels[name] for name in LABEL_FIELDS},
        "corrects": feedback.message_id,
        "corrects_kind": feedback.target,
        "feedback_id": feedback.id,
        "annotator": feedback.annotator,
        "corrected_at": feedback.created_at.isoformat(),
        "model_said": feedback.previous,
        **({"comment": feedback.comment} if feedback.comment else {}),
    }


def export_corrections(session: Session, data_dir: Path) -> ExportResult:
    existing = check_records(data_dir)
    exported = {
        item.record["feedback_id"]
        for item in existing.records + [old for old, _ in existing.superseded]
        if "feedback_id" in item.record
    }
    originals = {item.record["id"]: item.record for item in existing.records}
    originals.update({old.record["id"]: old.record for old, _ in existing.superseded})
    result = ExportResult(path=Path(data_dir) / CORRECTIONS_FILE)
    candidates = []
    for feedback in storage.corrections_in_force(session):
        if feedback.id in exported:
            result.already += 1
            continue
        if feedback.target == "prediction":
            row = session.get(storage.Prediction, feedback.prediction_id)
            text, channel = row.text, row.channel
        else:
            original = originals.get(feedback.message_id)
            if original is None:
                result.skipped.append(
                    f"fb-{feedback.id}: {feedback.message_id!r} is not in the corpus"
                )
                continue
            text, channel = original["text"], original["channel"]
        if channel is None:
            result.skipped.append(f"fb-{feedback.id}: the message has no channel")
            continue
        record = _record(feedback, text, channel)
        problems = record_problems(record)
        if problems:
            result.skipped.append(f"fb-{feedback.id}: {'; '.join(problems)}")
            continue
        candidates.append(record)
    result.written = _passing_data_check(data_dir, candidates, result.skipped)
    if result.written:
        with result.path.open("a", encoding="utf-8") as out:
            for record in result.written:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return result


def _passing_data_check(data_dir: Path, candidates: list[dict], skipped: list[str]) -> list[dict]:
    """The candidates that add no problem to the data check (a live message may repeat an
    annotated text, say); the others are left out with the check's words."""
    if not candidates:
        return []
    with tempfile.TemporaryDirectory() as scratch:
        trial = Path(scratch) / CORRECTIONS_FILE
        for path in corpus_files(data_dir):
            (Path(scratch) / path.name).write_bytes(path.read_bytes())
        before = len(trial.read_text("utf-8").splitlines()) if trial.exists() else 0
        with trial.open("a", encoding="utf-8") as out:
            for record in candidates:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        problems = check_corpus(scratch, NO_MINIMUMS).problems
    line_of = {before + n: record["id"] for n, record in enumerate(candidates, start=1)}
    bad: dict[str, str] = {}
    for problem in problems:
        for match in LOCATION.finditer(problem):
            record_id = line_of.get(int(match.group(1)))
            if record_id is not None:
                bad.setdefault(record_id, problem)
    skipped += [f"{record_id}: {why}" for record_id, why in bad.items()]
    return [r for r in candidates if r["id"] not in bad]
