"""The classifier: shared features, the four heads of the guide and the in_domain head, the safety
rules and the decision, in one object.

Batch first: `map` classifies a list and `__call__` is one message through the same path.
The safety rules are data kept beside the model file, not in it: they are given when the object
is built (`ComplaintClassifier(..., rules=…)`, or `with_rules` for the same model with other
rules), never assigned afterwards.

Longer than 300 lines because the classifier is one object: fitting, the batch path, the
decision and the explanations all read the same features and stacked head weights.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from itertools import pairwise

import numpy as np

from .decision import Decision, apply_override, decode, disagreement, head_results
from .domain import ANOTHER_BUSINESS, UNSURE, about_another_business
from .features import FeatureBuilder, prepare
from .heads import LinearHead
from .labels import CATEGORIES, HEAD_LABELS, HEADS, URGENCIES
from .records import Message, head_labels_of
from .safety import SafetyRules

EXPLAIN_TOP = 5
# A typo («сабака»), a time and a dash (spaCy's affix rules), a safety trigger and an emoji.
WARM_UP_TEXT = "Сабака не дышит с 9:30 — что делать?! 🐶"
# The fifth head, beside the guide's four: is the message about this service at all.
DOMAIN = "in_domain"
DOMAIN_LABELS = ("false", "true")
_CRITICAL, _HIGH = URGENCIES.index("critical"), URGENCIES.index("high")


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector paused for one batch. A batch makes hundreds of thousands of
    small tuples, lists and dicts, none of them in a cycle (reference counting frees them), and
    the collector, woken every 700 new objects, walked the live ones again each time: a fifth
    of a batch's time, four fifths of assembling tokens. Cycles made meanwhile are collected
    after the batch. Process-wide, as the collector is: a batch in another thread may find it
    paused, or see it resumed before it ends; either only moves when garbage is collected."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _labels(head: str) -> tuple[str, ...]:
    return DOMAIN_LABELS if head == DOMAIN else HEAD_LABELS[head]


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
        rules: SafetyRules | None = None,
    ):
        self.features = features
        self.heads = heads
        self.thresholds = thresholds
        self.version = version
        self.rules = rules  # None: the model alone, as training measures it

    def with_rules(self, rules: SafetyRules | None) -> ComplaintClassifier:
        """The same trained model (shared, not copied) with these safety rules, or none."""
        return ComplaintClassifier(self.features, self.heads, self.thresholds, self.version, rules)

    def with_version(self, version: str) -> ComplaintClassifier:
        return ComplaintClassifier(self.features, self.heads, self.thresholds, version, self.rules)

    # -- training ---------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        records: Sequence[dict],
        feature_params: dict | None = None,
        head_params: dict | None = None,
        thresholds: ReviewThresholds = ReviewThresholds(),
    ) -> ComplaintClassifier:
        with _collector_paused():
            prepared = prepare([r["text"] for r in records], [r["channel"] for r in records])
        features = FeatureBuilder(**(feature_params or {})).fit(prepared)
        X = features.transform(prepared)
        targets = head_labels_of(records)
        heads = {
            name: LinearHead(labels=HEAD_LABELS[name], **(head_params or {})).fit(X, targets[name])
            for name in HEADS
        }
        domain = [str(r.get("in_domain", True)).lower() for r in records]
        if "false" in domain:
            # Learnt only when the corpus holds messages not about the service (`in_domain`).
            heads[DOMAIN] = LinearHead(labels=DOMAIN_LABELS, **(head_params or {})).fit(X, domain)
        return cls(features, heads, thresholds)

    # -- prediction -------------------------------------------------------------------------
    def probabilities(self, X) -> dict[str, np.ndarray]:
        """Each head's probabilities for a feature matrix, columns in `HEAD_LABELS` order.

        One sparse product serves all heads (their weights side by side): each column is the
        same sum as a head's own product, in the same order, so the numbers are identical."""
        weights, bounds = self._stacked_weights()
        products = X @ weights
        return {
            name: head.proba_from_scores(products[:, start:end])
            for (name, head), (start, end) in zip(self.heads.items(), bounds, strict=True)
        }

    def _stacked_weights(self) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """All heads' weights side by side, and each head's columns in it.

        Stacked once; each head's `weights_` then becomes a view of its columns, so the
        weights are held once (a copy beside the heads' own was 20 MB of every worker). A
        model made from this one (`with_rules`, `with_version`) shares the heads and finds
        the same array through the views."""
        heads = tuple(h.weights_ for h in self.heads.values())
        ends = np.cumsum([w.shape[1] for w in heads]).tolist()
        bounds = list(zip([0, *ends[:-1]], ends, strict=True))
        stacked = heads[0].base
        if not (
            isinstance(stacked, np.ndarray)
            and stacked.flags.c_contiguous
            and stacked.shape == (heads[0].shape[0], ends[-1])
            and all(
                w.base is stacked
                and w.ctypes.data == stacked.ctypes.data + start * stacked.itemsize
                for w, (start, _) in zip(heads, bounds, strict=True)
            )
        ):
            stacked = np.hstack(heads)
            for head, (start, end) in zip(self.heads.values(), bounds, strict=True):
                head.weights_ = stacked[:, start:end]
        return stacked, bounds

    def __getstate__(self) -> dict:
        # The rules are data loaded beside the model, never pickled in it.
        return {k: v for k, v in self.__dict__.items() if k != "rules"}

    def __setstate__(self, state: dict) -> None:
        state.pop("safety", None)  # files written before the rules were given at construction
        self.__dict__.update(state, rules=None)

    # -- persistence as plain data (see artifact.py) ----------------------------------------
    def fitted_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """(JSON-able values, arrays) from which `from_fitted_state` rebuilds this model; the
        arrays are named `features.<name>` and `heads.<head>.<name>`."""
        features, arrays = self.features.fitted_state()
        arrays = {f"features.{name}": array for name, array in arrays.items()}
        heads = {}
        for head, model in self.heads.items():
            heads[head], head_arrays = model.fitted_state()
            arrays |= {f"heads.{head}.{name}": array for name, array in head_arrays.items()}
        state = {
            "model_version": self.version,
            "review_thresholds": asdict(self.thresholds),
            "features": features,
            "heads": heads,
        }
        return state, arrays

    @classmethod
    def from_fitted_state(
        cls, state: dict, arrays: dict[str, np.ndarray], rules: SafetyRules | None = None
    ) -> ComplaintClassifier:
        def part(prefix: str) -> dict[str, np.ndarray]:
            return {k.removeprefix(prefix): a for k, a in arrays.items() if k.startswith(prefix)}

        return cls(
            FeatureBuilder.from_fitted_state(state["features"], part("features.")),
            {
                head: LinearHead.from_fitted_state(head_state, part(f"heads.{head}."))
                for head, head_state in state["heads"].items()
            },
            ReviewThresholds(**state["review_thresholds"]),
            state["model_version"],
            rules,
        )

    def map(self, messages: Iterable[Message]) -> list[Decision]:
        messages = list(messages)
        if not messages:
            return []
        with _collector_paused():
            return self._map(messages)

    def _map(self, messages: list[Message]) -> list[Decision]:
        prepared = prepare([m.text for m in messages], [m.channel for m in messages])
        X = self.features.transform(prepared)
        proba = self.probabilities(X)
        in_domain = elsewhere = None
        if DOMAIN in proba:
            elsewhere = np.array([about_another_business(p.tokens) for p in prepared], dtype=bool)
            in_domain = (proba[DOMAIN][:, 1] >= 0.5) & ~elsewhere
        categories, hards, urgencies = decode(
            proba["is_hard"],
            proba["category"],
            proba["urgency"],
            self.thresholds.min_critical,
            in_domain,
        )
        overrides = (
            [self.rules.check(p, m.received_at) for p, m in zip(prepared, messages, strict=True)]
            if self.rules
            else None
        )
        stood_down = [None] * len(messages)
        if self.rules:
            # The model's own `critical` stands as `high`, for review, on a story told later
            # («прошла неделя», «это произошло 23 мая»: the guide's critical is a danger now), and
            # where the rules read the alarming words as a joke, an idiom, the news, a vet's
            # all-clear or a question.
            for i in np.flatnonzero(urgencies == _CRITICAL).tolist():
                if overrides[i] is None:
                    received = messages[i].received_at
                    later = self.rules.told_later(prepared[i], received)
                    if later is not None:
                        words = " ".join(later.words)
                        urgencies[i] = _HIGH
                        stood_down[i] = (
                            f"the model says critical of an event told later («{words}»)"
                        )
                    elif (read := self.rules.dismissed(prepared[i], received)) is not None:
                        urgencies[i] = _HIGH
                        stood_down[i] = f"the model says critical; the safety rules read {read}"
        return self._decide(
            messages,
            X,
            proba,
            [CATEGORIES[c] for c in categories.tolist()],
            hards.tolist(),
            [URGENCIES[u] for u in urgencies.tolist()],
            overrides or [None] * len(messages),
            [p.text if p.transliterated else None for p in prepared],
            in_domain,
            elsewhere,
            stood_down,
        )

    def __call__(self, text: str, channel: str | None = None) -> Decision:
        return self.map([Message(text=text, channel=channel)])[0]

    def warm_up(self) -> ComplaintClassifier:
        """Classify one message that wakes what is loaded on first use (spaCy's tokenizer, which
        only a span that is not a plain word imports, pymorphy3's dictionaries, the rules' typo
        lexicon), so that a service's first request does not wait half a second for them.
        Returns the model itself."""
        self.map([Message(WARM_UP_TEXT, channel="chat")])
        return self

    def _decide(
        self,
        messages,
        X,
        proba,
        categories,
        hards,
        urgencies,
        overrides,
        read_as,
        in_domain,
        elsewhere,
        stood_down,
    ):
        """The decisions of a batch: what can be computed for all rows at once is, and the
        per-message loop only assembles."""
        shown = (*HEADS, DOMAIN) if DOMAIN in proba else HEADS
        rounded = {
            name: [[round(p, 4) for p in row] for row in proba[name].tolist()] for name in shown
        }
        p_domain = [row[1] for row in rounded[DOMAIN]] if DOMAIN in proba else None
        reporters = [HEAD_LABELS["reporter"][j] for j in proba["reporter"].argmax(axis=1).tolist()]
        model_urgencies = urgencies
        categories, hards, urgencies = list(categories), list(hards), list(urgencies)
        for i, override in enumerate(overrides):
            if override is not None:
                p_category = dict(zip(CATEGORIES, rounded["category"][i], strict=True))
                categories[i], hards[i], urgencies[i] = apply_override(
                    categories[i], p_category, override
                )
        chosen = {
            "is_hard": [str(h).lower() for h in hards],
            "category": categories,
            "urgency": urgencies,
            "reporter": reporters,
        }
        heads = {
            name: head_results(HEAD_LABELS[name], proba[name], chosen[name], rounded=rounded[name])
            for name in HEADS
        }
        reasons = self._review_reasons(proba["category"])
        p_hard_true = proba["is_hard"][:, HEAD_LABELS["is_hard"].index("true")].tolist()
        explanations = {
            "category": self._explanations(X, "category", categories),
            "urgency": self._explanations(X, "urgency", urgencies),
        }
        decisions = []
        for i, message in enumerate(messages):
            override = overrides[i]
            about = None if in_domain is None else bool(in_domain[i])
            if about is False:
                # Not about the service: the category head's doubts do not matter, only
                # whether it is about the service at all.
                why = [f"unsure it is about the service ({p_domain[i]:.2f})"] * (
                    p_domain[i] >= UNSURE
                )
                if elsewhere[i] and p_domain[i] >= 0.5:
                    why = [f"{ANOTHER_BUSINESS} (in_domain head {p_domain[i]:.2f})"]
            else:
                why = list(reasons[i])
                if override is None and (
                    split := disagreement(p_hard_true[i], hards[i], categories[i])
                ):
                    why.append(split)
            if override is not None and model_urgencies[i] != "critical":
                why.append("safety rule and model disagree")
            if stood_down[i]:
                why.append(stood_down[i])
            decisions.append(
                Decision(
                    id=message.id,
                    is_hard=hards[i],
                    category=categories[i],
                    urgency=urgencies[i],
                    reporter=reporters[i],
                    probabilities={
                        name: dict(zip(_labels(name), rounded[name][i], strict=True))
                        for name in shown
                    },
                    heads={name: heads[name][i] for name in HEADS},
                    needs_review=bool(why),
                    review_reasons=tuple(why),
                    explanation={name: rows[i] for name, rows in explanations.items()},
                    override=override,
                    model_version=self.version,
                    read_as=read_as[i],
                    in_domain=about,
                )
            )
        return decisions

    def _review_reasons(self, p_category: np.ndarray) -> list[tuple[str, ...]]:
        """Why each row's category needs a human, from its two most probable categories."""
        top2 = np.sort(p_category, axis=1)[:, -2:]
        low = (top2[:, 1] < self.thresholds.min_probability).tolist()
        close = (top2[:, 1] - top2[:, 0] < self.thresholds.min_margin).tolist()
        probability = f"category probability below {self.thresholds.min_probability:.2f}"
        margin = f"top-two category margin below {self.thresholds.min_margin:.2f}"
        return [(probability,) * lo + (margin,) * cl for lo, cl in zip(low, close, strict=True)]

    def explain(self, X, i: int, head: str, label: str, top: int = EXPLAIN_TOP) -> list[dict]:
        """The lemma n-grams of row `i` that pushed `label` most, from the linear weights."""
        return self._explanations(X[i : i + 1], head, [label], top)[0]

    def _explanations(self, X, head: str, labels: list[str], top: int = EXPLAIN_TOP):
        """`explain` for every row of `X`, row `i` for `labels[i]`: the products of feature
        values and weights are taken for the whole batch at once."""
        row_of = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        in_words = X.indices < self.features.n_words_  # the lemma block comes first
        indices, values, row_of = X.indices[in_words], X.data[in_words], row_of[in_words]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(row_of, minlength=X.shape[0]))])
        label_rows = np.array([HEAD_LABELS[head].index(label) for label in labels], dtype=np.intp)
        contributions = values * self.heads[head].coef_[label_rows[row_of], indices]
        # Each row sorted on its own as before (ties keep the same order); what is read from
        # the sorted rows is gathered for the whole batch at once.
        negated, orders, bounds = -contributions, [], indptr.tolist()
        for start, end in pairwise(bounds):
            orders.append(np.argsort(negated[start:end])[:top] + start)
        picked = np.concatenate(orders) if orders else np.zeros(0, dtype=np.intp)
        names = self.features.word_names_[indices[picked]].tolist()
        named = list(zip(names, contributions[picked].tolist(), strict=True))
        explanations, at = [], 0
        for order in orders:
            explanations.append(
                [
                    {"lemma": str(name), "weight": round(weight, 4)}
                    for name, weight in named[at : at + len(order)]
                    if weight > 0
                ]
            )
            at += len(order)
        return explanations
