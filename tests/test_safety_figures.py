"""Critical recall and false critical of model + rules on the sets nobody trains on: the safety
challenge sets (data/challenge/, written to probe exactly this judgment), the cross-check set, and
any slice the rules are developed on while it waits out of training (data/incoming/; none now).
The figures are printed at the end of `make test`; the bounds are today's, as a ratchet — the
goal (issue 12) is 100 % recall and at most 1 % false critical on every one."""

from __future__ import annotations

import json

import pytest

from pettriage.classifier.records import message_of

from .conftest import CROSSCHECK, FIGURES, REPO

CHALLENGE = REPO / "data" / "challenge"
# set: (least recall, most false critical) measured when the ratchet was last moved
BOUNDS = {
    "safety_c": (1.0, 0.006),
    "safety_d": (1.0, 0.015),
    # its texts are never read to tune; only figures. 0.05: v4-danger in training (danger now
    # told without the obvious words) raised other writers' recall out of writer (1,201 ->
    # 1,205 of 1,225) and cost one false page here (7 -> 8 of 170)
    "safety_e": (0.97, 0.05),
    # written in session 36 by a new writer (check-f), its texts never read: 85 critical, 85
    # alarming but not; the bound is its first measure
    "safety_f": (0.98, 0.10),
    "crosscheck": (1.0, 0.01),
}
PATHS = {
    "safety_c": CHALLENGE / "safety_c.jsonl",
    "safety_d": CHALLENGE / "safety_d.jsonl",
    "safety_e": CHALLENGE / "safety_e.jsonl",
    "safety_f": CHALLENGE / "safety_f.jsonl",
    "crosscheck": CROSSCHECK,
}


@pytest.mark.parametrize("name", list(BOUNDS))
def test_critical_on_sets_never_trained_on(model, name):
    records = [json.loads(line) for line in PATHS[name].read_text("utf-8").splitlines() if line]
    decisions = model.map(map(message_of, records))
    critical = [d.urgency == "critical" for d in decisions]
    truth = [r["urgency"] == "critical" for r in records]
    caught = sum(c and t for c, t in zip(critical, truth, strict=True))
    false = sum(c and not t for c, t in zip(critical, truth, strict=True))
    recall, false_rate = caught / sum(truth), false / (len(truth) - sum(truth))
    missed = [r["id"] for r, c, t in zip(records, critical, truth, strict=True) if t and not c]
    FIGURES.append(
        f"{name}: critical recall {recall:.1%} ({caught}/{sum(truth)}), false critical "
        f"{false_rate:.1%} ({false}/{len(truth) - sum(truth)}), missed {missed}"
    )
    least_recall, most_false = BOUNDS[name]
    assert recall >= least_recall, missed
    assert false_rate <= most_false
