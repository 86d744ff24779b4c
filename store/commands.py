"""The store's commands of `complaints`: data audit (with `--store` for the review page) and
data export-corrections."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from pettriage.classifier.commands import Commands
from pettriage.classifier.records import LABEL_FIELDS
from pettriage.config import Settings


def add_commands(cli: Commands, settings: Settings) -> None:
    audit = cli.subcommand(
        "data", "audit", "records whose label disagrees with out-of-fold predictions (cleanlab)"
    )
    audit.add_argument("--folds", type=int, default=5)
    audit.add_argument("--seed", type=int, default=42)
    audit.add_argument("--show", type=int, default=30, help="how many to print (default 30)")
    audit.add_argument("--output", type=Path, help="write all of them as JSONL")
    audit.add_argument(
        "--store", action="store_true", help="put the list on the review page (the service's db)"
    )
    audit.set_defaults(handler=lambda args: cmd_data_audit(args, settings))
    export = cli.subcommand(
        "data",
        "export-corrections",
        "append the confirmed corrections in force to data/annotated",
    )
    export.add_argument(
        "--dry-run", action="store_true", help="say what would be written, write nothing"
    )
    export.set_defaults(handler=lambda args: cmd_data_export(args, settings))


def cmd_data_audit(args, settings: Settings) -> int:
    from pettriage.classifier.dataset import load_corpus
    from pettriage.training.audit import audit

    records = load_corpus(settings.paths.data)
    print(f"cross-validating {len(records)} records in {args.folds} folds…", file=sys.stderr)
    suspects = audit(records, folds=args.folds, seed=args.seed)
    print(f"{len(suspects)} records whose label the out-of-fold model doubts, most confident first")
    for s in suspects[: args.show]:
        print(
            f"  {s.record['id']:24} {s.head:9} {s.given} → {s.suggested} "
            f"(p {s.confidence:.2f} vs {s.given_probability:.2f})  {s.record['text'][:90]!r}"
        )
    rows = [audit_row(s) for s in suspects]
    if args.output:
        with args.output.open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    if args.store:
        from . import worklist
        from .db import open_sessions

        with open_sessions(settings)() as session:
            worklist.replace_audit(session, rows)
        print(f"stored {len(rows)} items for the review page")
    return 0


def audit_row(suspect) -> dict:
    record = suspect.record
    return {
        "record_id": record["id"],
        "source": f"correction of {record['corrects']}" if record.get("corrects") else "annotated",
        "text": record["text"],
        "channel": record["channel"],
        "labels": {name: record[name] for name in LABEL_FIELDS},
        "head": suspect.head,
        "given": suspect.given,
        "suggested": suspect.suggested,
        "confidence": suspect.confidence,
        "given_probability": suspect.given_probability,
        "decision": suspect.decision,
        "created_at": datetime.now(UTC),
    }


def cmd_data_export(args, settings: Settings) -> int:
    from .corrections import export_corrections
    from .db import open_sessions

    with open_sessions(settings)() as session:
        result = export_corrections(session, settings.paths.data, dry_run=args.dry_run)
    print(result.describe())
    return 1 if result.skipped else 0
