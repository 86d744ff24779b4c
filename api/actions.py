"""What the company's procedure says to do now with a decision (the labeling guide's urgency
table and the hand-over rules), addressed to the contacts in the configuration."""

from __future__ import annotations

from pettriage.classifier.decision import Decision
from pettriage.config import Contacts

DEFAULT_CRITICAL_ACTION = "Жизнь или здоровье под угрозой: немедленно позвонить старшему менеджеру."


def actions_for(decision: Decision, channel: str | None, contacts: Contacts) -> list[dict]:
    actions: list[dict] = []
    if decision.urgency == "critical":
        actions.append(
            {
                "type": "phone_senior_manager_now",
                "to": contacts.on_call.model_dump(),
                "instructions": (
                    decision.override.action if decision.override else DEFAULT_CRITICAL_ACTION
                ),
            }
        )
    if decision.is_hard:
        side = contacts.client_side if decision.reporter == "client" else contacts.executor_side
        actions.append(
            {
                "type": "hand_over_to_senior_manager",
                "side": decision.reporter,
                "to": side.model_dump(),
                "via": {
                    "hard_case_form": contacts.hard_case_form,
                    "senior_managers_chat": contacts.senior_chat,
                },
                "deadline": "now" if decision.urgency == "critical" else "today",
            }
        )
        if decision.reporter == "executor" and channel == "chat":
            actions.append(
                {
                    "type": "call_back_executor",
                    "instructions": "Перезвонить исполнителю, который написал в чат.",
                }
            )
    elif decision.urgency == "normal":
        actions.append({"type": "first_line_reply"})
    else:
        actions.append({"type": "acknowledge"})
    if decision.needs_review:
        actions.append({"type": "human_review", "reasons": list(decision.review_reasons)})
    return actions
