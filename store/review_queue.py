"""Which stored predictions most need a human, scored when they are stored.

The queue shows the latest prediction of each message that nobody has handled yet, highest
priority first. Priorities, from the issue's order of value:

- 4: the safety rules and the model disagree (a rule fired where the model alone would not have
  said `critical`, or the model said `critical` with no rule behind it);
- 3: the decision itself asks for review (`needs_review`);
- 2–2.2: a small margin between the two most likely categories;
- 1: a small seeded share of confident decisions, to catch silent errors;
- 0: not in the queue.
"""

from __future__ import annotations

import hashlib

SMALL_MARGIN = 0.2
SPOT_CHECK_SHARE = 0.03


def spot_checked(message_id: str, share: float = SPOT_CHECK_SHARE) -> bool:
    """A stable pseudo-random choice by message id: the same message is always in or out."""
    digest = hashlib.blake2b(message_id.encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "big") / 2**32 < share


def priority(answer: dict, message_id: str) -> tuple[float, str | None]:
    """(priority, reason) of one decision in the shape `Decision.as_dict` gives."""
    fired = bool(answer["safety"].get("fired"))
    p_critical = answer["probabilities"]["urgency"]["critical"]
    if fired and p_critical < 0.5:
        return 4.0, "rules_over_model"
    if not fired and answer["urgency"] == "critical":
        return 4.0, "model_critical_without_rule"
    if answer["needs_review"]:
        return 3.0, "needs_review"
    top = sorted(answer["probabilities"]["category"].values(), reverse=True)[:2]
    margin = top[0] - top[1]
    if margin < SMALL_MARGIN:
        return round(2.0 + (SMALL_MARGIN - margin), 4), "small_margin"
    if spot_checked(message_id):
        return 1.0, "spot_check"
    return 0.0, None
