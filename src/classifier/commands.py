"""The library's own commands of `complaints`: classify, evaluate, rules, data check.

Each layer adds the commands it can run by itself to the one parser that the command line
(`pettriage.cli`) composes; these need nothing above the library. What they need from the
program (where the corpus and the models are, how to get a model when there is none yet) comes
in a `Context`, so the library reads no configuration of its own.

Longer than 300 lines because each command's parser and its handler are kept side by side, and
each is short; the heavy work lives in the modules they import when run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from .jsonl import classify_file, lone_surrogate
from .labels import CATEGORY_NAMES_RU, CHANNELS
from .records import (
    InvalidInput,
    message_from_dict,
    message_of,
    parse_received_at,
    record_received_at,
)


class Commands(Protocol):
    """What a layer adds its commands to (`pettriage.cli.CommandLine`)."""

    def command(self, name: str, help: str) -> argparse.ArgumentParser: ...

    def subcommand(self, group: str, name: str, help: str) -> argparse.ArgumentParser: ...


@dataclass(frozen=True)
class Context:
    data: Path  # the annotated corpus
    models: Path  # trained models, with the champion pointer
    load_model: Callable[[Path | None], object]  # a model file, or None for the champion


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"a whole number of processes, 1 or more, not {value!r}")
    return int(value)


def add_commands(cli: Commands, context: Context) -> None:
    classify = cli.command("classify", "classify messages")
    source = classify.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", type=Path, help='JSONL, one {"id", "text", "channel"?} a line')
    source.add_argument("--text", help="one message, printed readably")
    classify.add_argument("--channel", choices=CHANNELS, help="channel of --text")
    classify.add_argument("--output", type=Path, help="JSONL answers (default: standard output)")
    classify.add_argument("--model", type=Path, help="model file (default: the champion)")
    classify.add_argument(
        "--jobs",
        type=_positive,
        default=1,
        help="with --input: processes that classify (default 1; each takes one core)",
    )
    classify.set_defaults(handler=lambda args: cmd_classify(args, context))

    evaluate = cli.command(
        "evaluate",
        "metrics of the model on a labelled file; --by-writer: on writers it has not read",
    )
    evaluate.add_argument("--input", type=Path, help="labelled JSONL (--by-writer: the corpus)")
    evaluate.add_argument("--model", type=Path)
    evaluate.add_argument("--json", action="store_true", help="print the full report as JSON")
    evaluate.add_argument(
        "--by-writer",
        action="store_true",
        help="train without each writer in turn and judge that writer (leave-one-writer-out)",
    )
    evaluate.add_argument(
        "--folds",
        type=int,
        default=0,
        help="with --by-writer: writers dealt into this many folds (default 0: one per writer)",
    )
    evaluate.set_defaults(handler=lambda args: cmd_evaluate(args, context))

    check = cli.subcommand("data", "check", "validate data/annotated and print its counts")
    check.add_argument("--dir", type=Path, help="default: data/annotated")
    check.add_argument("--markdown", action="store_true", help="also print the counts as a table")
    check.set_defaults(handler=lambda args: cmd_data_check(args, context))

    explain = cli.subcommand("rules", "explain", "each rule's verdict on one text, and why")
    explain.add_argument("text")
    explain.add_argument("--rules", type=Path, help="rules file (default: the packaged one)")
    explain.add_argument(
        "--received-at",
        help="when the message arrived, e.g. 2026-11-05T10:00:00+03:00 (default: now)",
    )
    explain.set_defaults(handler=cmd_rules_explain)
    test = cli.subcommand(
        "rules",
        "test",
        "the rules file's own examples; with --input, rules alone on a labelled file",
    )
    test.add_argument("--input", type=Path, help="labelled JSONL: print recall and false alarms")
    test.add_argument("--rules", type=Path)
    test.set_defaults(handler=cmd_rules_test)


# -- classify / evaluate ------------------------------------------------------------------------
def cmd_classify(args, context: Context) -> int:
    model = context.load_model(args.model)
    if args.text is not None:
        try:
            message = message_from_dict({"text": args.text, "channel": args.channel})
            # a shell argument that is not UTF-8 arrives with surrogates standing for its bytes
            if problem := lone_surrogate(message.text):
                raise InvalidInput(f"--text is not UTF-8: it holds {problem}")
        except InvalidInput as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(readable(model.map([message])[0]))
        return 0

    def report(number: int, problem: str) -> None:
        print(f"{args.input}:{number}: {problem}", file=sys.stderr)

    if args.output:
        with replaced_at_the_end(args.output) as sink:
            run = classify_file(model, args.input, sink, report, args.jobs)
    else:
        run = classify_file(model, args.input, sys.stdout.buffer, report, args.jobs)
        sys.stdout.buffer.flush()
    if run.refused:
        print(f"{run.refused} of {run.lines} lines were not classified", file=sys.stderr)
    print(run.summary(), file=sys.stderr)
    return 1 if run.refused else 0


@contextmanager
def replaced_at_the_end(path: Path) -> Iterator[BinaryIO]:
    """A file written beside `path` and renamed over it once complete: a run that fails (an
    input that is missing or unreadable, a stopped run) leaves an earlier file of answers as
    it was, and the input may be the output."""
    fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as sink:
            yield sink
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(scratch, 0o666 & ~umask)  # as `open` would have made it, not mkstemp's 0600
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise


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
    if decision.read_as is not None:
        lines.insert(0, f"read as   {decision.read_as}")
    override = decision.override
    if override is not None:
        lines.append(
            f"SAFETY    rule {override.rule} on «{' '.join(override.matched)}»: {override.action}"
        )
        if override.when is not None:
            words = " ".join(override.when.words)
            lines.append(f"when      {override.when.kind}" + (f" («{words}»)" if words else ""))
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


def cmd_evaluate(args, context: Context) -> int:
    from .metrics import evaluate_decisions, format_report

    if args.by_writer:
        return cmd_evaluate_by_writer(args, context)
    if args.input is None:
        print(
            "error: --input is required (or --by-writer, which reads the corpus)", file=sys.stderr
        )
        return 2
    records = read_labelled(args.input)
    model = context.load_model(args.model)
    decisions = model.map(map(message_of, records))
    report = evaluate_decisions(records, decisions)
    print(json.dumps(report, ensure_ascii=False, indent=2) if args.json else format_report(report))
    return 0


def cmd_evaluate_by_writer(args, context: Context) -> int:
    from .crosswriter import by_writer_report, format_by_writer, out_of_writer
    from .dataset import load_corpus
    from .model import ComplaintClassifier
    from .safety import SafetyRules

    records = read_labelled(args.input) if args.input else load_corpus(context.data)
    try:
        decisions = out_of_writer(records, ComplaintClassifier.fit, args.folds, SafetyRules.load())
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    report = by_writer_report(records, decisions)
    print(
        json.dumps(report, ensure_ascii=False, indent=2) if args.json else format_by_writer(report)
    )
    return 0


# -- data ---------------------------------------------------------------------------------------
def cmd_data_check(args, context: Context) -> int:
    from .dataset import check_corpus, counts_table, writers_table
    from .variety import OPENING_SAMPLE

    directory = args.dir or context.data
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
            f"messages sharing their first three words: {v['shared_opening_share']:.1%} "
            f"({v['shared_opening_sampled']:.1%} among {OPENING_SAMPLE:,} drawn at random)"
        )
    if result.writers:
        print("\n" + writers_table(result.writers))
    if args.markdown:
        print("\n" + counts_table([item.record for item in result.records]))
    if result.problems:
        print(f"\n{len(result.problems)} problems:", file=sys.stderr)
        for problem in result.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print("data check passed")
    return 0


# -- rules --------------------------------------------------------------------------------------
def cmd_rules_explain(args) -> int:
    from .features import prepare
    from .safety import SafetyRules

    try:
        received = parse_received_at(args.received_at)
    except InvalidInput as error:
        print(f"error: --received-at: {error}", file=sys.stderr)
        return 2
    rules = SafetyRules.load(args.rules)
    item = prepare([args.text])[0]
    print("lemmas: " + " ".join(item.lemmas))
    for verdict in rules.explain(item, received):
        mark = "FIRES" if verdict.fired else "  -  "
        matched = f" «{' '.join(verdict.matched)}»" if verdict.matched else ""
        when = f" [when: {verdict.when.kind}]" if verdict.when else ""
        print(f"{mark} {verdict.rule:18}{matched} {verdict.reason}{when}")
    fired = rules.check(item, received)
    print(f"\nverdict: {'critical, rule ' + fired.rule if fired else 'no override'}")
    return 0


def cmd_rules_test(args) -> int:
    from .safety import SafetyRules

    rules = SafetyRules.load(args.rules)
    if args.input is None:
        failures = rules.example_failures()
        count = sum(len(r.fire) + len(r.silent) for r in rules.rules)
        for failure in failures:
            print(f"FAILED {failure}")
        print(f"{count - len(failures)} of {count} rule examples behave as written")
        return 1 if failures else 0
    records = read_labelled(args.input)
    received = [record_received_at(r) for r in records]
    fired = rules.check_texts([r["text"] for r in records], received)
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
