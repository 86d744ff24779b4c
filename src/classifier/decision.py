"""The decision: head probabilities made consistent with the guide, plus the safety override.

The category is the category head's. Given it, `is_hard` and the urgency are the most probable
pair the guide allows with that category (`other` is never hard; death is always hard; critical
means hard). When the `is_hard` head wanted the other answer, the heads disagree and the decision
goes to review saying so (`disagreement`). The safety override can only raise the result; it
never changes a probability.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from .labels import CATEGORIES, URGENCIES, consistency_errors, more_severe
from .timing import When


@dataclass(frozen=True, slots=True)
class HeadResult:
    label: str
    probability: float
    alternatives: tuple[tuple[str, float], ...]  # the next most likely labels, best first


@dataclass(frozen=True, slots=True)
class Override:
    """What a safety rule decided: always a raise to `critical`."""

    rule: str
    matched: tuple[str, ...]
    action: str
    category: str | None  # `health_harm`/`death`, or None when the model's category stands
    when: When | None = None  # when the rule decided the event happened, and the words that said

    def as_dict(self) -> dict:
        return {
            "fired": True,
            "rule": self.rule,
            "matched": list(self.matched),
            "action": self.action,
            "category": self.category,
            "when": self.when.as_dict() if self.when else None,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    id: str | None
    is_hard: bool
    category: str
    urgency: str
    reporter: str
    probabilities: dict[str, dict[str, float]]
    heads: dict[str, HeadResult]
    needs_review: bool
    review_reasons: tuple[str, ...]
    explanation: dict[str, list[dict]]
    override: Override | None = None  # the safety rule that raised the decision, if one did
    model_version: str = ""
    # The Cyrillic text the model and the rules read when the message came in Latin letters
    # («sobaka ne dyshit» → «собака не дышит»); None when it was read as written.
    read_as: str | None = None
    # Is the message about this service at all (the in_domain head); None for a model trained
    # without messages that are not. Not about it: `other`, never a hard case, unless a safety
    # rule fired.
    in_domain: bool | None = None

    @property
    def safety_fired(self) -> bool:
        return self.override is not None

    def as_dict(self) -> dict:
        """The JSON shape the CLI and the service answer with (built by hand: `asdict`'s deep
        copy took a millisecond per message)."""
        return {
            "id": self.id,
            "is_hard": self.is_hard,
            "category": self.category,
            "urgency": self.urgency,
            "reporter": self.reporter,
            "probabilities": self.probabilities,
            "heads": {
                name: {
                    "label": h.label,
                    "probability": h.probability,
                    "alternatives": [{"label": a, "probability": p} for a, p in h.alternatives],
                }
                for name, h in self.heads.items()
            },
            "needs_review": self.needs_review,
            "review_reasons": list(self.review_reasons),
            "explanation": self.explanation,
            "safety": self.override.as_dict() if self.override else {"fired": False},
            "model_version": self.model_version,
            "read_as": self.read_as,
            "in_domain": self.in_domain,
        }


def _allowed_triples() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    triples = [
        (c, h, u)
        for (c, category), (h, hard), (u, urgency) in product(
            enumerate(CATEGORIES), enumerate((False, True)), enumerate(URGENCIES)
        )
        if not consistency_errors(category, hard, urgency)
    ]
    return tuple(np.array(column) for column in zip(*triples, strict=True))


_CATEGORY_IX, _HARD_IX, _URGENCY_IX = _allowed_triples()
_CRITICAL = URGENCIES.index("critical")


def decode(
    p_hard: np.ndarray,
    p_category: np.ndarray,
    p_urgency: np.ndarray,
    min_critical: float = 0.0,
    in_domain: np.ndarray | None = None,
) -> tuple:
    """The category head's category per row, with the most probable `is_hard` and urgency the
    guide allows for it, as three index arrays.

    Columns follow `CATEGORIES`, (false, true) and `URGENCIES`. The category is the category
    head's, never overruled by a confident `is_hard` head: when the two disagree (a hard case
    whose most likely category is `other`, or the reverse), `disagreements` says so and the
    decision goes to review. The model alone says `critical` only when the urgency head gives it
    at least `min_critical` (the safety rules need no such confidence). Rows whose `in_domain`
    is false are not about this service: `other`, never a hard case.
    """
    eps = 1e-9
    category = p_category.argmax(axis=1)
    if in_domain is not None:
        category = np.where(in_domain, category, CATEGORIES.index("other"))
    score = np.log(p_hard[:, _HARD_IX] + eps) + np.log(p_urgency[:, _URGENCY_IX] + eps)
    score[category[:, None] != _CATEGORY_IX[None, :]] = -np.inf
    unsure = p_urgency[:, _CRITICAL] < min_critical
    score[np.ix_(unsure, _URGENCY_IX == _CRITICAL)] = -np.inf
    best = score.argmax(axis=1)
    return _CATEGORY_IX[best], _HARD_IX[best].astype(bool), _URGENCY_IX[best]


def disagreement(p_hard_true: float, is_hard: bool, category: str) -> str | None:
    """The review reason when the `is_hard` head's own answer is not the decision's."""
    if (p_hard_true >= 0.5) == is_hard:
        return None
    said = "a hard case" if p_hard_true >= 0.5 else "not a hard case"
    return f"heads disagree: is_hard head says {said} ({p_hard_true:.2f}), category head {category}"


def apply_override(
    category: str, p_category: dict[str, float], override: Override | None
) -> tuple[str, bool, str]:
    """(category, is_hard, urgency) after a safety rule fired: critical, hard, never less severe.

    When neither the rule nor the model names a hard category, the model's most likely hard
    category is taken, since a critical message cannot be `other`.
    """
    if override is None:
        raise ValueError("apply_override needs an Override")
    if override.category is not None:
        category = more_severe(category, override.category)
    if category == "other":
        category = max((c for c in CATEGORIES if c != "other"), key=p_category.__getitem__)
    return category, True, "critical"


def head_result(
    labels: tuple[str, ...], proba: np.ndarray, chosen: str, top: int = 3
) -> HeadResult:
    return head_results(labels, proba[None, :], [chosen], top)[0]


def head_results(
    labels: tuple[str, ...],
    proba: np.ndarray,
    chosen: list[str],
    top: int = 3,
    rounded: list[list[float]] | None = None,
) -> list[HeadResult]:
    """Each row's chosen label with its probability and the next most likely labels, for a
    batch: one sort for all rows, and plain floats rounded as the decision shows them (pass
    `rounded`, `proba` rounded to 4 places row by row, when it is at hand)."""
    orders = np.argsort(-proba, axis=1).tolist()
    if rounded is None:
        rounded = [[round(p, 4) for p in row] for row in proba.tolist()]
    column = {label: j for j, label in enumerate(labels)}
    results = []
    for order, row, label in zip(orders, rounded, chosen, strict=True):
        alternatives = []
        for j in order:
            if labels[j] != label:
                alternatives.append((labels[j], row[j]))
                if len(alternatives) == top - 1:
                    break
        results.append(HeadResult(label, row[column[label]], tuple(alternatives)))
    return results
