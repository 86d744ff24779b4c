"""How the review thresholds are chosen from out-of-fold decisions (training.train)."""

from types import SimpleNamespace

import pytest

from pettriage.classifier.labels import CATEGORIES
from pettriage.training.train import choose_thresholds


def _decision(first: float, second: float, right: bool, critical: float = 0.0):
    """A decision whose category head gives `first` to `theft` and `second` to `other`."""
    p = dict.fromkeys(CATEGORIES, (1.0 - first - second) / (len(CATEGORIES) - 2))
    p |= {"theft": first, "other": second}
    return SimpleNamespace(
        category="theft" if right else "other",
        probabilities={"category": p, "urgency": {"critical": critical}},
        urgency="high",
        safety_fired=False,
    )


def _records(n):
    return [{"category": "theft", "urgency": "high"}] * n


def test_the_pair_is_chosen_as_the_review_applies_it():
    """The wrong answers are either unsure or close, never both. Chosen alone, each threshold
    had to shut out every wrong answer by itself (0.65 and 0.5 here), and the pair kept only
    the 60 sure answers; chosen together, each leaves to the other what it catches, and the
    20 right answers that are unsure but not close stay out of review too."""
    decisions = (
        [_decision(0.9, 0.05, True)] * 60
        + [_decision(0.6, 0.2, True)] * 20  # not sure, but far from the next
        + [_decision(0.5, 0.02, False)] * 10  # unsure
        + [_decision(0.6, 0.52, False)] * 10  # close
    )
    thresholds = choose_thresholds(decisions, _records(len(decisions)), 0.95)
    assert 0.5 < thresholds.min_probability <= 0.6
    assert 0.08 < thresholds.min_margin <= 0.4


def test_the_strictest_pair_when_no_pair_reaches_the_target():
    decisions = [_decision(0.9, 0.05, False)] * 5
    thresholds = choose_thresholds(decisions, _records(5), 0.95)
    assert (thresholds.min_probability, thresholds.min_margin) == pytest.approx((0.9, 0.6))
