"""`complaints data export-corrections`: the confirmed corrections in force become annotated
records. A correction that still waits for a second person (`proposed`) is never exported: the
result counts how many were left out for that.

Each correction becomes one new line of `data/annotated/corrections.jsonl`, with the id
`fb-<feedback id>` and `corrects` naming the message it corrects. Nothing is rewritten: a
correction of an annotated record supersedes that record when the corpus is loaded, a later
correction supersedes an earlier one, and both stay in the files. Running it twice adds
nothing the second time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from pettriage.classifier.dataset import Located, check_records, correction_key
from pettriage.classifier.normalize import normalize
from pettriage.classifier.records import LABEL_FIELDS, record_problems
from pettriage.classifier.variety import near_duplicates_between

from . import quality
from .tables import Feedback, Prediction

CORRECTIONS_FILE = "corrections.jsonl"


@dataclass
class ExportResult:
    written: list[dict] = field(default_factory=list)
    already: int = 0
    skipped: list[str] = field(default_factory=list)  # "fb-N: why", left for a human
    path: Path | None = None
    proposals_left_out: int = 0  # corrections in force that wait for a second person
    dry_run: bool = False

    def describe(self) -> str:
        lines = [
            f"{len(self.written)} corrections {'to write' if self.dry_run else 'written'} to "
            f"{self.path}, {self.already} exported before, {len(self.skipped)} left out, "
            f"{self.proposals_left_out} proposals awaiting a second person left out"
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


def _record(feedback: Feedback, text: str, channel: str | None) -> dict:
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


def export_corrections(session: Session, data_dir: Path, *, dry_run: bool = False) -> ExportResult:
    """Append the confirmed corrections not exported yet; with `dry_run`, only say what would be
    written."""
    existing = check_records(data_dir)
    exported = {
        item.record["feedback_id"]
        for item in existing.records + [old for old, _ in existing.superseded]
        if "feedback_id" in item.record
    }
    originals = {item.record["id"]: item.record for item in existing.records}
    originals.update({old.record["id"]: old.record for old, _ in existing.superseded})
    result = ExportResult(
        path=Path(data_dir) / CORRECTIONS_FILE,
        proposals_left_out=quality.proposals(session, limit=1).total,
        dry_run=dry_run,
    )
    candidates = []
    for feedback in quality.corrections_in_force(session):
        if feedback.id in exported:
            result.already += 1
            continue
        if feedback.target == "prediction":
            row = session.get(Prediction, feedback.prediction_id)
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
    result.written = _passing_data_check(existing.records, candidates, result.skipped)
    if result.written and not dry_run:
        with result.path.open("a", encoding="utf-8") as out:
            for record in result.written:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return result


def _passing_data_check(
    located: list[Located], candidates: list[dict], skipped: list[str]
) -> list[dict]:
    """The candidates that add no duplicate to the corpus in force (`located`; a live message
    may repeat an annotated text, say), by the data check's own measures; the others are left
    out."""
    if not candidates:
        return []
    texts = [normalize(item.record["text"]) for item in located]
    new = [normalize(record["text"]) for record in candidates]

    def replaced(record: dict, other: dict) -> bool:
        # what a correction supersedes is no duplicate of it
        key = correction_key(record)
        return (key[0] == "annotated" and other["id"] == key[1]) or correction_key(other) == key

    bad: dict[str, str] = {}
    exact = {text: item for text, item in zip(texts, located, strict=True)}
    for record, text in zip(candidates, new, strict=True):
        twin = exact.get(text)
        if twin is not None and not replaced(record, twin.record):
            bad[record["id"]] = f"its text repeats {twin.where} exactly (exact duplicate)"
    for i, j, jaccard in near_duplicates_between(new, texts):
        record = candidates[i]
        if record["id"] not in bad and not replaced(record, located[j].record):
            bad[record["id"]] = (
                f"near-duplicate of {located[j].where} (shingle Jaccard {jaccard:.2f})"
            )
    seen: dict[str, str] = {}
    for record, text in zip(candidates, new, strict=True):
        if text in seen and record["id"] not in bad:
            bad[record["id"]] = f"its text repeats {seen[text]}, exported in the same run"
        seen.setdefault(text, record["id"])
    skipped += [f"{record_id}: {why}" for record_id, why in bad.items()]
    return [r for r in candidates if r["id"] not in bad]
