"""`complaints data audit`: annotated records whose label the cross-validated model doubts.

Confident learning (cleanlab): each record is scored by a model that never saw it; a record is
listed when, by cleanlab's per-class thresholds, another label is confidently more likely than
the one it carries. Staff confirm (the suggestion is right) or reject (the label stands) it on
the review page; nothing in data/annotated/ changes until `complaints data export-corrections`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from cleanlab.filter import find_label_issues

from pettriage.classifier.labels import HEAD_LABELS, HEADS
from pettriage.classifier.records import head_labels_of

from .train import out_of_fold


@dataclass(frozen=True)
class Suspect:
    record: dict
    head: str
    given: str
    suggested: str
    confidence: float  # the out-of-fold probability of the suggested label
    given_probability: float
    decision: dict  # the out-of-fold decision, as the service shows decisions


def audit(records: list[dict], folds: int = 5, seed: int = 42) -> list[Suspect]:
    """One suspect per doubtful record (its most confident suggestion), most confident first."""
    decisions = out_of_fold(records, folds, seed, rules=None, across_writers=False)
    truth = head_labels_of(records)
    best: dict[int, Suspect] = {}
    for head in HEADS:
        labels = HEAD_LABELS[head]
        proba = np.array([[d.probabilities[head][label] for label in labels] for d in decisions])
        given = np.array([labels.index(value) for value in truth[head]])
        issues = find_label_issues(
            labels=given, pred_probs=proba, filter_by="prune_by_noise_rate", n_jobs=1
        )
        for i in np.flatnonzero(issues):
            others = proba[i].copy()
            others[given[i]] = -1.0
            j = int(others.argmax())
            suspect = Suspect(
                record=records[i],
                head=head,
                given=labels[given[i]],
                suggested=labels[j],
                confidence=round(float(proba[i, j]), 4),
                given_probability=round(float(proba[i, given[i]]), 4),
                decision=decisions[i].as_dict(),
            )
            if i not in best or suspect.confidence > best[i].confidence:
                best[i] = suspect
    return sorted(best.values(), key=lambda s: -s.confidence)
