"""Evaluation of the four heads: per-class precision/recall/F1, macro-F1, confusion, calibration."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from .labels import HEAD_LABELS, HEADS
from .records import head_labels_of


def expected_calibration_error(proba: np.ndarray, y_index: np.ndarray, bins: int = 10) -> float:
    """Top-label ECE: the gap between confidence and accuracy, averaged over confidence bins."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_index
    edges = np.linspace(0.0, 1.0, bins + 1)
    error = 0.0
    for low, high in pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            error += inside.mean() * abs(confidence[inside].mean() - correct[inside].mean())
    return float(error)


def head_report(
    head: str, y_true: Sequence[str], y_pred: Sequence[str], proba: np.ndarray | None = None
) -> dict:
    # Imported here: the service imports this module (the registry's promotion gate) and
    # scikit-learn would bring pandas and pyarrow into every worker.
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    labels = list(HEAD_LABELS[head])
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    present = [label for label in labels if label in set(y_true)]
    report = {
        "macro_f1": float(
            f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
        ),
        "accuracy": float(np.mean(np.asarray(y_true) == np.asarray(y_pred))),
        "per_class": {
            label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        },
        "labels": labels,
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }
    if proba is not None:
        index = np.array([labels.index(y) for y in y_true])
        report["ece"] = expected_calibration_error(proba, index)
    return report


def evaluate_decisions(records: Sequence[dict], decisions: Sequence) -> dict:
    """Metrics of final decisions (after consistency and safety) against labelled records."""
    truth = head_labels_of(records)
    predicted = {
        "is_hard": [str(d.is_hard).lower() for d in decisions],
        "category": [d.category for d in decisions],
        "urgency": [d.urgency for d in decisions],
        "reporter": [d.reporter for d in decisions],
    }
    report = {}
    for head in HEADS:
        proba = np.array(
            [[d.probabilities[head][label] for label in HEAD_LABELS[head]] for d in decisions]
        )
        report[head] = head_report(head, truth[head], predicted[head], proba)
    critical = np.array([u == "critical" for u in truth["urgency"]])
    said_critical = np.array([u == "critical" for u in predicted["urgency"]])
    report["critical"] = {
        "recall": float(said_critical[critical].mean()) if critical.any() else float("nan"),
        "false_alarm_rate": float(said_critical[~critical].mean()) if (~critical).any() else 0.0,
        "missed": [
            r["id"] for r, c, s in zip(records, critical, said_critical, strict=True) if c and not s
        ],
        "support": int(critical.sum()),
    }
    report["needs_review_share"] = float(np.mean([d.needs_review for d in decisions]))
    return report


def summary(report: dict) -> dict[str, float]:
    """Flat numbers for logging: macro-F1 and ECE per head, critical recall and false alarms."""
    flat = {}
    for head in HEADS:
        flat[f"{head}_macro_f1"] = report[head]["macro_f1"]
        flat[f"{head}_accuracy"] = report[head]["accuracy"]
        if "ece" in report[head]:
            flat[f"{head}_ece"] = report[head]["ece"]
    flat["is_hard_f1"] = report["is_hard"]["per_class"]["true"]["f1"]
    flat["critical_recall"] = report["critical"]["recall"]
    flat["critical_false_alarm_rate"] = report["critical"]["false_alarm_rate"]
    flat["needs_review_share"] = report["needs_review_share"]
    return flat


def format_report(report: dict) -> str:
    """A plain-text table of the report for the terminal."""
    lines = []
    for head in HEADS:
        r = report[head]
        lines.append(
            f"== {head}: macro-F1 {r['macro_f1']:.3f}  accuracy {r['accuracy']:.3f}"
            + (f"  ECE {r['ece']:.3f}" if "ece" in r else "")
        )
        lines.append(f"   {'label':24} {'prec':>6} {'rec':>6} {'f1':>6} {'n':>5}")
        for label, m in r["per_class"].items():
            lines.append(
                f"   {label:24} {m['precision']:6.3f} {m['recall']:6.3f} "
                f"{m['f1']:6.3f} {m['support']:5d}"
            )
        width = max(len(x) for x in r["labels"])
        lines.append("   confusion (rows true, columns predicted): " + ", ".join(r["labels"]))
        for label, row in zip(r["labels"], r["confusion"], strict=True):
            lines.append(f"   {label:>{width}} " + " ".join(f"{v:4d}" for v in row))
    c = report["critical"]
    lines.append(
        f"== critical: recall {c['recall']:.3f} of {c['support']}, "
        f"false alarms {c['false_alarm_rate']:.3%}, missed {c['missed'][:20]}"
    )
    lines.append(f"== needs_review share {report['needs_review_share']:.3f}")
    return "\n".join(lines)
