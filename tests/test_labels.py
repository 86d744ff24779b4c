import pytest

from pettriage.classifier.labels import CATEGORIES, PRECEDENCE, consistency_errors, more_severe


def test_twelve_categories_in_guide_order():
    assert len(CATEGORIES) == 12
    assert PRECEDENCE[0] == "death" and PRECEDENCE[-1] == "other"


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("property_damage", "systematic_violations", "property_damage"),  # the guide's example
        ("health_harm", "death", "death"),
        ("other", "negative_review", "negative_review"),
        ("no_show", "critical_lateness", "no_show"),
    ],
)
def test_precedence(a, b, expected):
    assert more_severe(a, b) == expected == more_severe(b, a)


@pytest.mark.parametrize(
    ("category", "is_hard", "urgency", "valid"),
    [
        ("death", True, "critical", True),
        ("critical_lateness", False, "low", True),  # lateness without a negative reaction
        ("property_damage", False, "normal", True),  # covered by insurance
        ("other", False, "normal", True),
        ("other", True, "high", False),  # other is never hard
        ("theft", False, "normal", False),  # theft is always hard
        ("no_show", True, "normal", False),  # hard needs critical or high
        ("no_show", False, "high", False),  # not hard needs normal or low
        ("health_harm", False, "critical", False),  # critical implies hard
    ],
)
def test_consistency(category, is_hard, urgency, valid):
    assert (not consistency_errors(category, is_hard, urgency)) is valid
