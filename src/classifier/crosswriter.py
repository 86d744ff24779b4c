"""Figures on writers the model has not read: each writer's records are judged by a model trained
on everyone else's (leave-one-writer-out), or, cheaper, by folds that keep a writer whole.

A random split flatters a model that memorises a writer's phrasing: the same hand's messages sit
on both sides of it. Here a writer is always on one side only, so the figures say what a new
person writing to the service would see. Records carry their `writer` (`dataset.load_corpus`
names the writer of the older files after the file).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from .metrics import evaluate_decisions, summary
from .records import message_of

UNKNOWN_WRITER = "unknown"
# The figures of one writer's table row, in order, with their headings.
COLUMNS = (
    ("category_macro_f1", "category F1"),
    ("is_hard_f1", "is_hard F1"),
    ("urgency_macro_f1", "urgency F1"),
    ("reporter_accuracy", "reporter acc"),
    ("critical_recall", "critical recall"),
    ("critical_false_alarm_rate", "false critical"),
    ("needs_review_share", "needs_review"),
    ("answered_category_accuracy", "acc. not reviewed"),
)


def writer_of(record: dict) -> str:
    return record.get("writer") or UNKNOWN_WRITER


def writer_folds(records: Sequence[dict], folds: int = 0) -> list[np.ndarray]:
    """Indices of the records held out in each fold. `folds` ≤ 0 or at least the number of
    writers: one writer per fold (leave-one-writer-out); otherwise writers are dealt into `folds`
    groups of about the same size, biggest first, each writer whole."""
    writers = [writer_of(r) for r in records]
    sizes = Counter(writers)
    if len(sizes) < 2:
        raise ValueError(
            "cross-writer folds need records by at least two writers; "
            f"got {len(sizes)} ({', '.join(sizes) or 'none'})"
        )
    if folds <= 0 or folds >= len(sizes):
        groups = {w: n for n, w in enumerate(sorted(sizes))}
        count = len(sizes)
    else:
        load, groups = [0] * folds, {}
        for writer, size in sorted(sizes.items(), key=lambda item: (-item[1], item[0])):
            lightest = load.index(min(load))
            groups[writer], load[lightest] = lightest, load[lightest] + size
        count = folds
    fold_of = np.array([groups[w] for w in writers])
    return [np.flatnonzero(fold_of == k) for k in range(count)]


def out_of_writer(
    records: Sequence[dict],
    fit: Callable[[list[dict]], object],
    folds: int = 0,
    rules=None,
) -> list:
    """Each record's decision by a model `fit` on the other folds' writers only."""
    return out_of_folds(records, writer_folds(records, folds), fit, rules)


def out_of_folds(
    records: Sequence[dict],
    held_out_folds: Sequence[np.ndarray],
    fit: Callable[[list[dict]], object],
    rules=None,
) -> list:
    """Each record's decision by a model `fit` on every record outside its fold (`held_out_folds`
    are the folds' record indices, together covering every record once)."""
    decisions = [None] * len(records)
    everything = np.arange(len(records))
    for held_out in held_out_folds:
        kept = np.setdiff1d(everything, held_out)
        model = fit([records[i] for i in kept]).with_rules(rules)
        batch = model.map(message_of(records[i]) for i in held_out)
        for i, decision in zip(held_out.tolist(), batch, strict=True):
            decisions[i] = decision
    return decisions


def answered_accuracy(records: Sequence[dict], decisions: Sequence) -> tuple[float, float]:
    """(category accuracy of the answers not sent to review, their share): what a router that
    trusts every answer without `needs_review` gets."""
    answered = [
        d.category == r["category"]
        for r, d in zip(records, decisions, strict=True)
        if not d.needs_review
    ]
    if not answered:
        return float("nan"), 0.0
    return float(np.mean(answered)), len(answered) / len(records)


def by_writer_report(records: Sequence[dict], decisions: Sequence) -> dict:
    """Summary figures per writer and pooled over all (`"all"`)."""
    report = {}
    by_writer: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        by_writer.setdefault(writer_of(record), []).append(i)
    for writer, rows in [*sorted(by_writer.items()), ("all", list(range(len(records))))]:
        subset = [records[i] for i in rows]
        chosen = [decisions[i] for i in rows]
        figures = summary(evaluate_decisions(subset, chosen))
        accuracy, coverage = answered_accuracy(subset, chosen)
        report[writer] = {
            "records": len(rows),
            **figures,
            "answered_category_accuracy": accuracy,
            "answered_share": coverage,
        }
    return report


def format_by_writer(report: dict) -> str:
    """The per-writer figures as a Markdown table, the pooled row last."""
    head = "| writer | records | " + " | ".join(title for _, title in COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 2)]
    for writer, figures in report.items():
        cells = [_cell(figures.get(key)) for key, _ in COLUMNS]
        name = f"**{writer}**" if writer == "all" else writer
        lines.append(f"| {name} | {figures['records']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return f"{value:.3f}"
