"""How far recent messages have moved from the data the model was trained on, as a population
stability index (PSI).

The training side is a `Reference`, computed when the model is trained and saved beside it
(`artifact.save(..., reference=…)`): the category counts of the training records and the counts
of the most frequent lemmas of their texts. The recent side is counted the same way from stored
predictions and their texts, lemmatized by the model's own text path (`features.prepare`).

    PSI = Σ (aᵢ − eᵢ) · ln(aᵢ / eᵢ)

over buckets (categories; or the top lemmas and one bucket for every other lemma), with `e` the
reference shares and `a` the recent ones; a share of 0 is taken as `EPSILON`, so that a bucket
empty on one side counts heavily instead of dividing by zero. The usual reading:

- below 0.1: stable;
- 0.1 to 0.25: a moderate shift, worth a look;
- above 0.25: a significant shift; the model's figures may no longer hold, consider retraining.

Two things to keep in mind when reading it:
- chance alone gives about (B − 1)·(1/n + 1/m) for B buckets and n, m counted items, so a week
  of 50 messages reads ≈ 0.2 on the 12 categories with nothing changed; the service says when
  the window is that small;
- the reference categories are the annotators' labels and the recent ones the model's answers,
  so the model's own errors show as a small constant shift.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .features import prepare
from .labels import CATEGORIES

FORMAT_VERSION = 1
EPSILON = 1e-4  # the share an empty bucket is taken to have
TOP_LEMMAS = 50  # buckets of the lemma PSI besides "other": few enough to keep chance low
MODERATE, SIGNIFICANT = 0.1, 0.25


@dataclass(frozen=True)
class Reference:
    """What the model was trained on, as counts: enough to compare recent traffic with."""

    messages: int  # training records
    categories: dict[str, int]  # their labelled categories
    lemmas: dict[str, int]  # the TOP_LEMMAS most frequent word lemmas of their texts
    lemma_tokens: int  # every word lemma counted, the top ones and the others

    def as_json(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "messages": self.messages,
            "categories": self.categories,
            "lemma_tokens": self.lemma_tokens,
            "lemmas": self.lemmas,
        }

    @classmethod
    def from_json(cls, data: object) -> Reference:
        """The reference a `reference.json` holds; ValueError saying what was expected."""
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
            got = data.get("format_version") if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"expected format_version={FORMAT_VERSION}, got {got!r}")
        counts = (data.get("categories"), data.get("lemmas"))
        numbers = (data.get("messages"), data.get("lemma_tokens"))
        if not all(isinstance(c, dict) and _all_counts(c.values()) for c in counts) or not (
            _all_counts(numbers)
        ):
            raise ValueError(
                "expected messages and lemma_tokens as counts, and categories and lemmas as "
                "objects of counts"
            )
        return cls(data["messages"], data["categories"], data["lemmas"], data["lemma_tokens"])

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_json(), ensure_ascii=False, indent=1), "utf-8")

    @classmethod
    def read(cls, path: Path) -> Reference | None:
        """The reference in a file; None where there is no file; ValueError for a file that
        cannot be read (saying which, and what to do)."""
        try:
            text = path.read_text("utf-8")
        except FileNotFoundError:
            return None
        try:
            return cls.from_json(json.loads(text))
        except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError is a ValueError
            raise ValueError(
                f"{path} is not a reference of training data ({error}); retrain to write it"
            ) from error


def _all_counts(values: Iterable[object]) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values)


def is_word(lemma: str) -> bool:
    """Lemmas of words count; emoji, times and punctuation-like tokens do not."""
    return any(ch.isalpha() for ch in lemma)


def lemma_counts(texts: Sequence[str]) -> Counter[str]:
    """Word lemmas of texts, read exactly as the model reads them."""
    counts: Counter[str] = Counter()
    for item in prepare(list(texts)):
        counts.update(lemma for lemma in item.lemmas if is_word(lemma))
    return counts


def build_reference(records: Sequence[dict], top: int = TOP_LEMMAS) -> Reference:
    """The reference of training records (`text` and `category` each)."""
    lemmas = lemma_counts([r["text"] for r in records])
    return Reference(
        messages=len(records),
        categories=dict(Counter(r["category"] for r in records)),
        lemmas=dict(lemmas.most_common(top)),
        lemma_tokens=sum(lemmas.values()),
    )


def psi(expected: Sequence[float], actual: Sequence[float], epsilon: float = EPSILON) -> float:
    """The PSI of two sets of counts over the same buckets, in the same order."""
    if len(expected) != len(actual):
        raise ValueError(
            f"expected as many buckets on both sides, got {len(expected)} and {len(actual)}"
        )
    e_total, a_total = sum(expected), sum(actual)
    if e_total <= 0 or a_total <= 0:
        raise ValueError("expected counts on both sides, got an empty side")
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        p, q = max(e / e_total, epsilon), max(a / a_total, epsilon)
        total += (q - p) * math.log(q / p)
    return total


def category_psi(reference: Reference, recent: Mapping[str, int]) -> float:
    """PSI of the recent category counts against the training labels'."""
    extra = sorted((set(reference.categories) | set(recent)) - set(CATEGORIES))
    buckets = [*CATEGORIES, *extra]
    return psi(
        [reference.categories.get(c, 0) for c in buckets], [recent.get(c, 0) for c in buckets]
    )


def lemma_psi(reference: Reference, recent: Mapping[str, int]) -> float:
    """PSI of recent lemma counts against the training texts': the reference's top lemmas one
    bucket each, every other lemma in one more."""
    top = list(reference.lemmas)
    expected = [reference.lemmas[w] for w in top]
    actual = [recent.get(w, 0) for w in top]
    expected.append(reference.lemma_tokens - sum(expected))
    actual.append(sum(recent.values()) - sum(actual))
    return psi(expected, actual)


def chance(buckets: int, counted: int, reference_counted: int) -> float:
    """About what PSI reads when nothing changed but the sample: (B − 1)·(1/n + 1/m)."""
    return (buckets - 1) * (1 / max(counted, 1) + 1 / max(reference_counted, 1))


def reading(value: float) -> str:
    """`stable`, `moderate` or `significant`, by the thresholds of the module's docstring."""
    if value < MODERATE:
        return "stable"
    return "moderate" if value <= SIGNIFICANT else "significant"
