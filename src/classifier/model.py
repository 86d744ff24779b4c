"""The classifier: shared features, four heads, the safety rules and the decision, in one object.

Batch first: `map` classifies a list and `__call__` is one message through the same path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .decision import Decision, Override, apply_override, decode, head_result
from .features import FeatureBuilder, prepare
from .heads import LinearHead
from .labels import CATEGORIES, HEAD_LABELS, HEADS, URGENCIES
from .records import Message, head_labels_of

EXPLAIN_TOP = 5


@dataclass(frozen=True, slots=True)
class ReviewThresholds:
    """Thresholds chosen on validation data and stored with the model: a decision needs a human
    when the category head is this unsure, and the model alone calls a message critical only
    with at least `min_critical` probability."""

    min_probability: float = 0.5
    min_margin: float = 0.15
    min_critical: float = 0.0


class ComplaintClassifier:
    def __init__(
        self,
        features: FeatureBuilder,
        heads: dict[str, LinearHead],
        thresholds: ReviewThresholds = ReviewThresholds(),
        version: str = "",
    ):
        self.features = features
        self.heads = heads
        self.thresholds = thresholds
        self.version = version
        self.safety = None  # set by the loader: the rules are data, not part of the artifact

    # -- training ---------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        records: Sequence[dict],
        feature_params: dict | None = None,
        head_params: dict | None = None,
        thresholds: ReviewThresholds = ReviewThresholds(),
    ) -> ComplaintClassifier:
        prepared = prepare([r["text"] for r in records], [r["channel"] for r in records])
        features = FeatureBuilder(**(feature_params or {})).fit(prepared)
        X = features.transform(prepared)
        targets = head_labels_of(records)
        heads = {
            name: LinearHead(labels=HEAD_LABELS[name], **(head_params or {})).fit(X, targets[name])
            for name in HEADS
        }
        return cls(features, heads, thresholds)

    # -- prediction -------------------------------------------------------------------------
    def probabilities(self, X) -> dict[str, np.ndarray]:
        """Each head's probabilities for a feature matrix, columns in `HEAD_LABELS` order."""
        return {name: head.predict_proba(X) for name, head in self.heads.items()}

    def map(self, messages: Iterable[Message]) -> list[Decision]:
        messages = list(messages)
        if not messages:
            return []
        prepared = prepare([m.text for m in messages], [m.channel for m in messages])
        X = self.features.transform(prepared)
        proba = self.probabilities(X)
        categories, hards, urgencies = decode(
            proba["is_hard"],
            proba["category"],
            proba["urgency"],
            self.thresholds.min_critical,
        )
        overrides = [self.safety.check(p) if self.safety else None for p in prepared]
        return [
            self._decide(
                i,
                message,
                X,
                proba,
                CATEGORIES[categories[i]],
                bool(hards[i]),
                URGENCIES[urgencies[i]],
                overrides[i],
            )
            for i, message in enumerate(messages)
        ]

    def __call__(self, text: str, channel: str | None = None) -> Decision:
        return self.map([Message(text=text, channel=channel)])[0]

    def _decide(self, i, message, X, proba, category, is_hard, urgency, override: Override | None):
        probabilities = {
            name: {
                label: round(float(p), 4)
                for label, p in zip(HEAD_LABELS[name], proba[name][i], strict=True)
            }
            for name in HEADS
        }
        model_urgency = urgency
        if override is not None:
            category, is_hard, urgency = apply_override(
                category, probabilities["category"], override
            )
        reporter = HEAD_LABELS["reporter"][int(proba["reporter"][i].argmax())]
        chosen = {
            "is_hard": str(is_hard).lower(),
            "category": category,
            "urgency": urgency,
            "reporter": reporter,
        }
        heads = {
            name: head_result(HEAD_LABELS[name], proba[name][i], chosen[name]) for name in HEADS
        }
        reasons = self._review_reasons(proba["category"][i])
        if override is not None and model_urgency != "critical":
            reasons.append("safety rule and model disagree")
        return Decision(
            id=message.id,
            is_hard=is_hard,
            category=category,
            urgency=urgency,
            reporter=reporter,
            probabilities=probabilities,
            heads=heads,
            needs_review=bool(reasons),
            review_reasons=tuple(reasons),
            explanation={
                "category": self.explain(X, i, "category", category),
                "urgency": self.explain(X, i, "urgency", urgency),
            },
            safety=override.as_dict() if override else {"fired": False},
            model_version=self.version,
        )

    def _review_reasons(self, p_category: np.ndarray) -> list[str]:
        top2 = np.sort(p_category)[-2:]
        reasons = []
        if top2[1] < self.thresholds.min_probability:
            reasons.append(f"category probability below {self.thresholds.min_probability:.2f}")
        if top2[1] - top2[0] < self.thresholds.min_margin:
            reasons.append(f"top-two category margin below {self.thresholds.min_margin:.2f}")
        return reasons

    def explain(self, X, i: int, head: str, label: str, top: int = EXPLAIN_TOP) -> list[dict]:
        """The lemma n-grams of row `i` that pushed `label` most, from the linear weights."""
        start, end = X.indptr[i], X.indptr[i + 1]
        indices, values = X.indices[start:end], X.data[start:end]
        in_words = indices < self.features.n_words_  # the lemma block comes first
        indices, values = indices[in_words], values[in_words]
        weights = self.heads[head].coef_[HEAD_LABELS[head].index(label)]
        contributions = values * weights[indices]
        order = np.argsort(-contributions)[:top]
        names = self.features.word_names_
        return [
            {"lemma": str(names[indices[j]]), "weight": round(float(contributions[j]), 4)}
            for j in order
            if contributions[j] > 0
        ]
