"""The annotated corpus: loading it and checking it against the guide.

`check_corpus` is what `complaints data check` runs: every problem it finds names the file and
line, so whoever fixes the data can go straight to it.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .labels import CATEGORIES, CHANNELS, HARD_CATEGORIES
from .normalize import normalize
from .records import record_problems
from .variety import OPENING_SAMPLE, figures_by_writer, near_duplicates, variety_figures


@dataclass(frozen=True)
class Minimums:
    """What the corpus must hold (the corpus issue); the check fails below any of these."""

    total: int = 3000
    per_hard_category: int = 180
    other: int = 900
    critical: int = 250
    executor_share: float = 0.30
    max_shared_opening_share: float = 0.10
    all_channels: bool = True


@dataclass
class Located:
    path: Path
    line: int
    record: dict

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"


@dataclass
class CheckResult:
    records: list[Located]
    problems: list[str] = field(default_factory=list)
    counts: dict[str, Counter] = field(default_factory=dict)
    variety: dict[str, float] = field(default_factory=dict)
    superseded: list[tuple[Located, Located]] = field(default_factory=list)
    writers: dict[str, dict] = field(default_factory=dict)  # figures per writer

    @property
    def ok(self) -> bool:
        return not self.problems


def corpus_files(directory: Path | str) -> list[Path]:
    files = sorted(Path(directory).glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"Expected annotated *.jsonl files in {directory}, found none.")
    return files


def read_lines(path: Path) -> Iterator[tuple[int, object | json.JSONDecodeError]]:
    """(line number, decoded object or the decoding error) for each non-empty line."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as error:
                    yield number, error


def load_corpus(directory: Path | str) -> list[dict]:
    """The records in force (corrections applied), or a `ValueError` listing every bad line
    (see `complaints data check`)."""
    result = check_records(directory)
    if result.problems:
        shown = "\n  ".join(result.problems[:20])
        raise ValueError(
            f"Annotated data in {directory} has {len(result.problems)} invalid lines "
            f"(run `complaints data check` for all):\n  {shown}"
        )
    return [item.record for item in result.records]


def correction_key(record: dict) -> tuple[str, str] | None:
    """What a correction record corrects: ("annotated", record id) or ("prediction", message
    id); None for an ordinary record."""
    target = record.get("corrects")
    if not target:
        return None
    return record.get("corrects_kind", "annotated"), target


def in_force(located: list[Located]) -> tuple[list[Located], list[tuple[Located, Located]]]:
    """(records in force, [(superseded, by)]): corrections are appended, never edited in place.

    A correction record (one with `corrects`) supersedes the annotated record it names, and a
    later correction of the same message (higher `feedback_id`, else later in the files)
    supersedes an earlier one; superseded records stay in their files for the history.
    """
    latest: dict[tuple[str, str], Located] = {}
    for item in located:
        key = correction_key(item.record)
        if key is None:
            continue
        best = latest.get(key)
        if best is None or item.record.get("feedback_id", 0) >= best.record.get("feedback_id", 0):
            latest[key] = item
    by_id = {item.record["id"]: item for item in located}
    superseded: dict[int, Located] = {}
    for key, winner in latest.items():
        kind, target = key
        if kind == "annotated" and target in by_id:
            superseded[id(by_id[target])] = winner
    for item in located:
        key = correction_key(item.record)
        if key is not None and latest[key] is not item:
            superseded[id(item)] = latest[key]
    kept = [item for item in located if id(item) not in superseded]
    pairs = [(item, superseded[id(item)]) for item in located if id(item) in superseded]
    return kept, pairs


def check_records(directory: Path | str) -> CheckResult:
    """Parse and validate each line; duplicates of ids are reported here too."""
    result = CheckResult(records=[])
    seen_ids: dict[str, str] = {}
    for path in corpus_files(directory):
        for number, obj in read_lines(path):
            where = f"{path.name}:{number}"
            if isinstance(obj, json.JSONDecodeError):
                result.problems.append(f"{where}: not valid JSON ({obj.msg} at column {obj.colno})")
                continue
            problems = record_problems(obj)
            result.problems += [f"{where}: {p}" for p in problems]
            if problems:
                continue
            if obj["id"] in seen_ids:
                result.problems.append(
                    f"{where}: duplicate id {obj['id']!r} (first at {seen_ids[obj['id']]})"
                )
                continue
            seen_ids[obj["id"]] = where
            result.records.append(Located(path, number, obj))
    for item in result.records:
        key = correction_key(item.record)
        if key and key[0] == "annotated" and key[1] not in seen_ids:
            result.problems.append(
                f"{item.where}: corrects {key[1]!r}, which is no record of the corpus"
            )
        if key and key[0] not in ("annotated", "prediction"):
            result.problems.append(
                f"{item.where}: corrects_kind must be 'annotated' or 'prediction', got {key[0]!r}"
            )
    result.records, result.superseded = in_force(result.records)
    _name_writers(result.records + [old for old, _ in result.superseded])
    return result


def _name_writers(located: list[Located]) -> None:
    """Every record says who wrote it (`writer`). The first slices were each written by one hand
    and carry no field: their writer is their file's name. A correction keeps the writer of the
    record it corrects (the text is theirs); one of a live message is `live`."""
    writers = {}
    for item in located:
        if correction_key(item.record) is None:
            item.record.setdefault("writer", item.path.stem)
            writers[item.record["id"]] = item.record["writer"]
    for item in located:
        key = correction_key(item.record)
        if key is not None:
            kind, target = key
            item.record.setdefault(
                "writer", writers.get(target, "live") if kind == "annotated" else "live"
            )


def count_fields(records: list[dict]) -> dict[str, Counter]:
    return {
        name: Counter(str(r[name]).lower() if name == "is_hard" else r[name] for r in records)
        for name in ("category", "urgency", "reporter", "channel", "is_hard")
    }


def check_minimums(counts: dict[str, Counter], total: int, minimums: Minimums) -> list[str]:
    problems = []
    if total < minimums.total:
        problems.append(f"corpus: {total} records, expected at least {minimums.total}")
    for category in HARD_CATEGORIES:
        if counts["category"][category] < minimums.per_hard_category:
            problems.append(
                f"corpus: {counts['category'][category]} '{category}', expected at "
                f"least {minimums.per_hard_category}"
            )
    if counts["category"]["other"] < minimums.other:
        problems.append(
            f"corpus: {counts['category']['other']} 'other', expected at least {minimums.other}"
        )
    if counts["urgency"]["critical"] < minimums.critical:
        problems.append(
            f"corpus: {counts['urgency']['critical']} 'critical', expected at least "
            f"{minimums.critical}"
        )
    share = counts["reporter"]["executor"] / max(total, 1)
    if share < minimums.executor_share:
        problems.append(
            f"corpus: executor share {share:.1%}, expected at least {minimums.executor_share:.0%}"
        )
    missing = [c for c in CHANNELS if not counts["channel"][c]]
    if missing and minimums.all_channels:
        problems.append(f"corpus: no messages from channels {missing}")
    return problems


def check_corpus(directory: Path | str, minimums: Minimums = Minimums()) -> CheckResult:
    """The full data check: schema, consistency, ids, duplicates, minimums, variety, all on the
    records in force (a correction repeats the text it corrects, by design)."""
    result = check_records(directory)
    located = result.records
    normalized = [normalize(item.record["text"]) for item in located]
    first_seen: dict[str, Located] = {}
    for item, text in zip(located, normalized, strict=True):
        if text in first_seen:
            result.problems.append(f"{item.where}: exact duplicate of {first_seen[text].where}")
        else:
            first_seen[text] = item
    near = near_duplicates(normalized)
    for i, j, jaccard in near:
        if normalized[i] != normalized[j]:
            result.problems.append(
                f"{located[j].where}: near-duplicate of {located[i].where} "
                f"(shingle Jaccard {jaccard:.2f})"
            )
    records = [item.record for item in located]
    result.counts = count_fields(records)
    result.problems += check_minimums(result.counts, len(records), minimums)
    result.variety = variety_figures([r["text"] for r in records])
    result.writers = figures_by_writer(
        [r["writer"] for r in records], [r["text"] for r in records], near
    )
    if result.variety["shared_opening_sampled"] > minimums.max_shared_opening_share:
        result.problems.append(
            f"corpus: among {OPENING_SAMPLE:,} of its messages drawn at random, "
            f"{result.variety['shared_opening_sampled']:.1%} share their first three words "
            f"with another, expected under {minimums.max_shared_opening_share:.0%}"
        )
    return result


def data_hash(records: list[dict]) -> str:
    """Order-independent SHA-256 of the labelled records, logged with every trained model."""
    lines = sorted(json.dumps(r, ensure_ascii=False, sort_keys=True) for r in records)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def writers_table(writers: dict[str, dict]) -> str:
    """Markdown: per writer, records and variety (the data check fails on near-duplicates)."""
    lines = [
        "| writer | records | distinct lemmas per 1,000 tokens | shared openings "
        "| near-duplicates |",
        "|---|---|---|---|---|",
    ]
    for writer, f in writers.items():
        lines.append(
            f"| {writer} | {f['records']} | {f['distinct_lemmas_per_1000_tokens']:.0f} | "
            f"{f['shared_opening_share']:.1%} | {f['near_duplicate_pairs']} |"
        )
    return "\n".join(lines)


def counts_table(records: list[dict]) -> str:
    """Markdown: per category, how many are hard, critical, from executors, per channel."""
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
