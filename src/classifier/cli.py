"""`complaints`: the command line of the classifier.

    complaints classify --input in.jsonl [--output out.jsonl]   |   complaints classify --text "…"
    complaints evaluate --input labelled.jsonl
    complaints train   |   complaints promote VERSION   |   complaints rollback
    complaints model versions
    complaints data check   |   complaints data audit [--store]
    complaints data export-corrections
    complaints rules explain "текст"   |   complaints rules test --input labelled.jsonl

Training and the registry live in the `training` package (it needs MLflow); they are imported
only by the commands that use them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from .config import Paths
from .labels import CATEGORY_NAMES_RU, CHANNELS
from .records import InvalidInput, Message, message_from_dict


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `complaints … | head`: the reader has gone, stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="complaints", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(metavar="COMMAND")

    classify = commands.add_parser("classify", help="classify messages")
    source = classify.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", type=Path, help='JSONL, one {"id", "text", "channel"?} a line')
    source.add_argument("--text", help="one message, printed readably")
    classify.add_argument("--channel", choices=CHANNELS, help="channel of --text")
    classify.add_argument("--output", type=Path, help="JSONL answers (default: standard output)")
    classify.add_argument("--model", type=Path, help="model file (default: the champion)")
    classify.set_defaults(handler=cmd_classify)

    evaluate = commands.add_parser("evaluate", help="metrics of the model on a labelled file")
    evaluate.add_argument("--input", type=Path, required=True)
    evaluate.add_argument("--model", type=Path)
    evaluate.add_argument("--json", action="store_true", help="print the full report as JSON")
    evaluate.set_defaults(handler=cmd_evaluate)

    train = commands.add_parser("train", help="train, evaluate, log to MLflow and register")
    train.add_argument("--folds", type=int, default=5)
    train.add_argument("--seed", type=int, default=42)
    train.add_argument("--note", default="", help="a tag on the MLflow run")
    train.set_defaults(handler=cmd_train)

    model = commands.add_parser("model", help="the saved models").add_subparsers(metavar="ACTION")
    ensure = model.add_parser("ensure", help="train the first model if none exists yet")
    ensure.set_defaults(handler=cmd_model_ensure)
    info = model.add_parser("info", help="metadata of the champion model")
    info.set_defaults(handler=cmd_model_info)
    listing = model.add_parser("versions", help="registered versions, their figures and gates")
    listing.set_defaults(handler=cmd_model_versions)

    promote = commands.add_parser(
        "promote", help="make VERSION the champion if the gate passes; prints the comparison"
    )
    promote.add_argument("version")
    promote.add_argument(
        "--tolerance",
        type=float,
        default=None,
        help="macro-F1 a head may lose (default: COMPLAINTS_PROMOTE_TOLERANCE or 0.02)",
    )
    promote.set_defaults(handler=cmd_promote)
    rollback = commands.add_parser("rollback", help="give the champion alias back to the last one")
    rollback.set_defaults(handler=cmd_rollback)

    data = commands.add_parser("data", help="the annotated corpus").add_subparsers(metavar="ACTION")
    check = data.add_parser("check", help="validate data/annotated and print its counts")
    check.add_argument("--dir", type=Path, help="default: data/annotated")
    check.add_argument("--markdown", action="store_true", help="also print the counts as a table")
    check.set_defaults(handler=cmd_data_check)
    audit = data.add_parser(
        "audit", help="records whose label disagrees with out-of-fold predictions (cleanlab)"
    )
    audit.add_argument("--folds", type=int, default=5)
    audit.add_argument("--seed", type=int, default=42)
    audit.add_argument("--show", type=int, default=30, help="how many to print (default 30)")
    audit.add_argument("--output", type=Path, help="write all of them as JSONL")
    audit.add_argument(
        "--store", action="store_true", help="put the list on the review page (the service's db)"
    )
    audit.set_defaults(handler=cmd_data_audit)
    export = data.add_parser(
        "export-corrections", help="append the corrections in force to data/annotated"
    )
    export.set_defaults(handler=cmd_data_export)

    rules = commands.add_parser("rules", help="the safety rules").add_subparsers(metavar="ACTION")
    explain = rules.add_parser("explain", help="each rule's verdict on one text, and why")
    explain.add_argument("text")
    explain.add_argument("--rules", type=Path, help="rules file (default: the packaged one)")
    explain.set_defaults(handler=cmd_rules_explain)
    test = rules.add_parser("test", help="rules alone on a labelled file: recall and false alarms")
    test.add_argument("--input", type=Path, required=True)
    test.add_argument("--rules", type=Path)
    test.set_defaults(handler=cmd_rules_test)
    return parser


# -- classify / evaluate ------------------------------------------------------------------------
def load_or_train(model_path: Path | None):
    """The model to use; trains the first one from the corpus when none exists yet."""
    from . import artifact, load_classifier

    paths = Paths.from_env()
    if model_path is None and artifact.champion_version(paths.models) is None:
        print(
            f"No trained model in {paths.models}; training one from {paths.data} first…",
            file=sys.stderr,
        )
        from training.train import train

        train(paths, folds=3)
    return load_classifier(model_path)


def read_messages(path: Path) -> Iterator[tuple[int, Message | InvalidInput]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as error:
                yield number, InvalidInput(f"not valid JSON ({error.msg} at column {error.colno})")
                continue
            try:
                message = message_from_dict(data)
            except InvalidInput as error:
                yield number, error
                continue
            yield (
                number,
                message if message.id else Message(message.text, message.channel, f"line-{number}"),
            )


def cmd_classify(args) -> int:
    model = load_or_train(args.model)
    if args.text is not None:
        try:
            message = message_from_dict({"text": args.text, "channel": args.channel})
        except InvalidInput as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(readable(model.map([message])[0]))
        return 0
    parsed = list(read_messages(args.input))
    bad = [(n, e) for n, e in parsed if isinstance(e, InvalidInput)]
    for number, error in bad:
        print(f"{args.input}:{number}: {error}", file=sys.stderr)
    good = [m for _, m in parsed if isinstance(m, Message)]
    out = args.output.open("w", encoding="utf-8") if args.output else sys.stdout
    try:
        for decision in model.map(good):
            out.write(json.dumps(decision.as_dict(), ensure_ascii=False) + "\n")
    finally:
        if args.output:
            out.close()
    if bad:
        print(f"{len(bad)} of {len(parsed)} lines were not classified", file=sys.stderr)
    return 1 if bad else 0


def readable(decision) -> str:
    heads = decision.heads
    lines = [
        f"category  {decision.category} — {CATEGORY_NAMES_RU[decision.category]} "
        f"(p={heads['category'].probability:.2f}; next: "
        + ", ".join(f"{label} {p:.2f}" for label, p in heads["category"].alternatives)
        + ")",
        f"is_hard   {str(decision.is_hard).lower()} (p={heads['is_hard'].probability:.2f})",
        f"urgency   {decision.urgency} (p={heads['urgency'].probability:.2f})",
        f"reporter  {decision.reporter} (p={heads['reporter'].probability:.2f})",
        "words     " + ", ".join(w["lemma"] for w in decision.explanation["category"]),
    ]
    if decision.safety["fired"]:
        lines.append(
            f"SAFETY    rule {decision.safety['rule']} on "
            f"«{' '.join(decision.safety['matched'])}»: {decision.safety['action']}"
        )
    if decision.needs_review:
        lines.append("review    needs a human: " + "; ".join(decision.review_reasons))
    lines.append(f"model     v{decision.model_version}")
    return "\n".join(lines)


def read_labelled(path: Path) -> list[dict]:
    from .dataset import read_lines
    from .records import record_problems

    records, problems = [], []
    for number, obj in read_lines(path):
        errors = (
            [f"not valid JSON ({obj.msg})"]
            if isinstance(obj, json.JSONDecodeError)
            else record_problems(obj)
        )
        problems += [f"{path}:{number}: {e}" for e in errors]
        if not errors:
            records.append(obj)
    if problems:
        raise ValueError("labelled file has invalid lines:\n  " + "\n  ".join(problems[:20]))
    return records


def cmd_evaluate(args) -> int:
    from .metrics import evaluate_decisions, format_report

    records = read_labelled(args.input)
    model = load_or_train(args.model)
    decisions = model.map(Message(r["text"], r["channel"], r["id"]) for r in records)
    report = evaluate_decisions(records, decisions)
    print(json.dumps(report, ensure_ascii=False, indent=2) if args.json else format_report(report))
    return 0


def cmd_train(args) -> int:
    from training.train import result_summary, train

    print(result_summary(train(Paths.from_env(), folds=args.folds, seed=args.seed, note=args.note)))
    return 0


def cmd_model_ensure(args) -> int:
    from . import artifact

    paths = Paths.from_env()
    load_or_train(None)
    print(f"champion model: v{artifact.champion_version(paths.models)} in {paths.models}")
    return 0


def cmd_model_info(args) -> int:
    from . import artifact

    paths = Paths.from_env()
    version = artifact.champion_version(paths.models)
    if version is None:
        print(f"no champion model in {paths.models}; run `complaints train`", file=sys.stderr)
        return 1
    meta = artifact.read_metadata(artifact.model_path(paths.models, version))
    print(json.dumps(meta, ensure_ascii=False, indent=2))
    return 0


def cmd_model_versions(args) -> int:
    from training.registry import versions

    for row in versions(Paths.from_env()):
        test = row["test"]
        print(
            f"v{row['version']:>3} {'CHAMPION' if row['champion'] else '        '} "
            f"gate {row['gate'] or '-':8} category F1 {test.get('category_macro_f1', 0):.3f} "
            f"is_hard F1 {test.get('is_hard_f1', 0):.3f} critical recall "
            f"{test.get('critical_recall', 0):.3f} corrections {row['corrections_in_training']} "
            f"{row['created_at'][:19]} {row['note']}"
        )
    return 0


def promote_tolerance(given: float | None) -> float:
    from training.registry import DEFAULT_TOLERANCE

    if given is not None:
        return given
    return float(os.environ.get("COMPLAINTS_PROMOTE_TOLERANCE", DEFAULT_TOLERANCE))


def cmd_promote(args) -> int:
    from training.registry import promote

    result = promote(Paths.from_env(), args.version, promote_tolerance(args.tolerance))
    print(result.table())
    if not result.passed:
        print(f"v{args.version} was not promoted; the champion stays v{result.champion}")
        return 3
    print(f"v{args.version} is the champion; reload the service: POST /v1/admin/reload")
    return 0


def cmd_rollback(args) -> int:
    from training.registry import rollback

    current, previous = rollback(Paths.from_env())
    print(f"champion moved back from v{current} to v{previous}; reload the service")
    return 0


# -- data ---------------------------------------------------------------------------------------
def cmd_data_check(args) -> int:
    from .dataset import check_corpus

    directory = args.dir or Paths.from_env().data
    result = check_corpus(directory)
    print(f"{len(result.records)} valid records in force in {directory}")
    if result.superseded:
        print(f"  {len(result.superseded)} records superseded by later corrections (kept in files)")
    for name, counts in result.counts.items():
        print(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
    v = result.variety
    if v:
        print(
            f"  distinct lemmas per 1,000 tokens: {v['distinct_lemmas_per_1000_tokens']:.1f}; "
            f"messages sharing their first three words: {v['shared_opening_share']:.1%}"
        )
    if args.markdown:
        print("\n" + counts_table([item.record for item in result.records]))
    if result.problems:
        print(f"\n{len(result.problems)} problems:", file=sys.stderr)
        for problem in result.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print("data check passed")
    return 0


def service_sessions():
    """A session factory on the service's database (migrated), for the commands that share it."""
    from api.db import make_engine, make_sessions, migrate
    from api.settings import Settings

    settings = Settings.load()
    migrate(settings.db_url, settings.home)
    return make_sessions(make_engine(settings.db_url))


def cmd_data_audit(args) -> int:
    from training.audit import audit

    from .dataset import load_corpus

    paths = Paths.from_env()
    records = load_corpus(paths.data)
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
        from api import storage

        with service_sessions()() as session:
            storage.replace_audit(session, rows)
        print(f"stored {len(rows)} items for the review page")
    return 0


def audit_row(suspect) -> dict:
    from datetime import UTC, datetime

    from .records import LABEL_FIELDS

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


def cmd_data_export(args) -> int:
    from api.corrections import export_corrections

    paths = Paths.from_env()
    with service_sessions()() as session:
        result = export_corrections(session, paths.data)
    print(result.describe())
    return 1 if result.skipped else 0


def counts_table(records: list[dict]) -> str:
    """Markdown: per category, how many are hard, critical, from executors, per channel."""
    from .labels import CATEGORIES

    header = ["category", "total", "hard", "critical", "executor", *CHANNELS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for category in (*CATEGORIES, None):
        rows = [r for r in records if category is None or r["category"] == category]
        cells = [
            "**all**" if category is None else f"`{category}`",
            len(rows),
            sum(r["is_hard"] for r in rows),
            sum(r["urgency"] == "critical" for r in rows),
            sum(r["reporter"] == "executor" for r in rows),
            *(sum(r["channel"] == c for r in rows) for c in CHANNELS),
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


# -- rules --------------------------------------------------------------------------------------
def cmd_rules_explain(args) -> int:
    from .features import prepare
    from .safety import SafetyRules

    rules = SafetyRules.load(args.rules)
    item = prepare([args.text])[0]
    print("lemmas: " + " ".join(item.lemmas))
    for verdict in rules.explain(item):
        mark = "FIRES" if verdict.fired else "  -  "
        matched = f" «{' '.join(verdict.matched)}»" if verdict.matched else ""
        print(f"{mark} {verdict.rule:18}{matched} {verdict.reason}")
    fired = rules.check(item)
    print(f"\nverdict: {'critical, rule ' + fired.rule if fired else 'no override'}")
    return 0


def cmd_rules_test(args) -> int:
    from .safety import SafetyRules

    records = read_labelled(args.input)
    rules = SafetyRules.load(args.rules)
    fired = rules.check_texts([r["text"] for r in records])
    critical = [(r, f) for r, f in zip(records, fired, strict=True) if r["urgency"] == "critical"]
    rest = [(r, f) for r, f in zip(records, fired, strict=True) if r["urgency"] != "critical"]
    recall = sum(1 for _, f in critical if f) / len(critical) if critical else float("nan")
    false_rate = sum(1 for _, f in rest if f) / len(rest) if rest else 0.0
    print(
        f"rules alone on {len(records)} messages: recall of critical {recall:.1%} "
        f"({sum(1 for _, f in critical if f)}/{len(critical)}), false alarms on the rest "
        f"{false_rate:.2%} ({sum(1 for _, f in rest if f)}/{len(rest)})"
    )
    print("\nmissed critical:")
    for r, _ in ((r, f) for r, f in critical if not f):
        print(f"  {r['id']}: {r['text'][:160]!r}")
    print("\nfalse alarms:")
    for r, f in ((r, f) for r, f in rest if f):
        print(f"  {r['id']} [{f.rule}: {' '.join(f.matched)}]: {r['text'][:160]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
