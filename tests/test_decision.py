import numpy as np
import pytest

from pettriage.classifier.decision import (
    HeadResult,
    Override,
    apply_override,
    decode,
    disagreement,
    head_result,
    head_results,
)
from pettriage.classifier.labels import CATEGORIES, URGENCIES, consistency_errors


def test_decoded_triples_always_follow_the_guide():
    rng = np.random.default_rng(0)
    n = 2000
    p_hard = rng.dirichlet(np.ones(2), n)
    p_category = rng.dirichlet(np.ones(len(CATEGORIES)) * 0.3, n)
    p_urgency = rng.dirichlet(np.ones(len(URGENCIES)) * 0.3, n)
    categories, hards, urgencies = decode(p_hard, p_category, p_urgency)
    for c, h, u in zip(categories, hards, urgencies, strict=True):
        assert not consistency_errors(CATEGORIES[c], bool(h), URGENCIES[u])


def _one_hot(labels, label, p=0.9):
    row = np.full(len(labels), (1 - p) / (len(labels) - 1))
    row[labels.index(label)] = p
    return row[None, :]


def test_confident_heads_agreeing_are_kept():
    c, h, u = decode(
        _one_hot(("false", "true"), "true"),
        _one_hot(CATEGORIES, "theft"),
        _one_hot(URGENCIES, "high"),
    )
    assert (CATEGORIES[c[0]], bool(h[0]), URGENCIES[u[0]]) == ("theft", True, "high")


def test_other_with_a_hard_urgency_is_resolved_consistently():
    c, h, u = decode(
        _one_hot(("false", "true"), "false", 0.6),
        _one_hot(CATEGORIES, "other", 0.8),
        _one_hot(URGENCIES, "high", 0.5),
    )
    assert (CATEGORIES[c[0]], bool(h[0])) == ("other", False)
    assert URGENCIES[u[0]] in {"normal", "low"}


def test_a_sure_is_hard_head_does_not_overrule_the_category_head():
    """The issue's case: is_hard head sure of a hard case, the category head gives `other` 0.56
    and `systematic_violations` 0.18. The category stays `other`, and the split goes to review."""
    p_category = np.full(len(CATEGORIES), 0.26 / (len(CATEGORIES) - 2))
    p_category[CATEGORIES.index("other")] = 0.56
    p_category[CATEGORIES.index("systematic_violations")] = 0.18
    p_hard = np.array([[0.04, 0.96]])
    c, h, u = decode(p_hard, p_category[None, :], _one_hot(URGENCIES, "high", 0.7))
    assert (CATEGORIES[c[0]], bool(h[0]), URGENCIES[u[0]]) == ("other", False, "normal")
    reason = disagreement(0.96, bool(h[0]), CATEGORIES[c[0]])
    assert reason == "heads disagree: is_hard head says a hard case (0.96), category head other"


def test_heads_that_agree_give_no_disagreement():
    assert disagreement(0.9, True, "theft") is None
    assert disagreement(0.2, False, "other") is None
    assert disagreement(0.2, True, "death") is not None  # death is hard whatever the head says


P_CATEGORY = dict.fromkeys(CATEGORIES, 0.01) | {"property_damage": 0.3, "other": 0.5}


@pytest.mark.parametrize(
    ("model_category", "rule_category", "expected"),
    [
        ("negative_review", "health_harm", "health_harm"),  # the rule's is more severe
        ("death", "health_harm", "death"),  # never lowered
        ("theft", None, "theft"),  # danger without harm: the model's category stands
        ("other", None, "property_damage"),  # critical cannot be other: best hard category
    ],
)
def test_override_only_raises(model_category, rule_category, expected):
    override = Override("r", ("слово",), "позвонить", rule_category)
    assert apply_override(model_category, P_CATEGORY, override) == (expected, True, "critical")


@pytest.mark.parametrize(
    ("row", "chosen", "expected"),
    [
        ([0.2, 0.5, 0.3], "b", HeadResult("b", 0.5, (("c", 0.3), ("a", 0.2)))),
        ([0.2, 0.5, 0.3], "a", HeadResult("a", 0.2, (("b", 0.5), ("c", 0.3)))),
        ([0.123456, 0.876544], "a", HeadResult("a", 0.1235, (("b", 0.8765),))),
        ([0.25, 0.25, 0.25, 0.25], "d", HeadResult("d", 0.25, (("a", 0.25), ("b", 0.25)))),
    ],
)
def test_head_result(row, chosen, expected):
    labels = ("a", "b", "c", "d")[: len(row)]
    assert head_result(labels, np.array(row), chosen) == expected


def test_head_results_of_a_batch_equal_one_row_at_a_time():
    rng = np.random.default_rng(1)
    proba = rng.dirichlet(np.ones(len(CATEGORIES)) * 0.3, 200)
    proba[:20] = np.round(proba[:20], 1)  # ties
    chosen = [CATEGORIES[j] for j in rng.integers(0, len(CATEGORIES), 200)]
    batch = head_results(CATEGORIES, proba, chosen)
    assert batch == [head_result(CATEGORIES, p, c) for p, c in zip(proba, chosen, strict=True)]
