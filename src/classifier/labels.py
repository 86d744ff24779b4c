"""The label sets of ../shared/labeling-guide.md, in one place.

Every other module takes its codes from here, so a change to the guide is a change to this file.
"""

from __future__ import annotations

CHANNELS: tuple[str, ...] = ("chat", "email", "call_note", "admin_review")
REPORTERS: tuple[str, ...] = ("client", "executor")
URGENCIES: tuple[str, ...] = ("critical", "high", "normal", "low")
HARD_URGENCIES: frozenset[str] = frozenset({"critical", "high"})

# Most severe first: the guide's "When several fit" order.
PRECEDENCE: tuple[str, ...] = (
    "death",
    "health_harm",
    "theft",
    "unauthorized_entry",
    "property_damage",
    "systematic_violations",
    "no_show",
    "critical_lateness",
    "ignored_instructions",
    "incompetence",
    "negative_review",
    "other",
)
CATEGORIES: tuple[str, ...] = PRECEDENCE
HARD_CATEGORIES: tuple[str, ...] = PRECEDENCE[:-1]

# Categories that are hard only when the client reacts negatively (or, for damage, unless settled).
CONDITIONALLY_HARD: frozenset[str] = frozenset(
    {"ignored_instructions", "critical_lateness", "no_show", "property_damage"}
)
ALWAYS_HARD: frozenset[str] = frozenset(HARD_CATEGORIES) - CONDITIONALLY_HARD

HEADS: tuple[str, ...] = ("is_hard", "category", "urgency", "reporter")
HEAD_LABELS: dict[str, tuple[str, ...]] = {
    "is_hard": ("false", "true"),
    "category": CATEGORIES,
    "urgency": URGENCIES,
    "reporter": REPORTERS,
}


def severity(category: str) -> int:
    """Rank of a category, 0 for the most severe (`death`)."""
    return PRECEDENCE.index(category)


def more_severe(a: str, b: str) -> str:
    """The more severe of two categories by the guide's precedence."""
    return a if severity(a) <= severity(b) else b


def consistency_errors(category: str, is_hard: bool, urgency: str) -> list[str]:
    """The guide's consistency rules a labelled triple breaks, as readable sentences."""
    errors = []
    if urgency == "critical" and not is_hard:
        errors.append("urgency 'critical' requires is_hard true")
    if is_hard and urgency not in HARD_URGENCIES:
        errors.append(f"is_hard true requires urgency critical or high, got {urgency!r}")
    if not is_hard and urgency in HARD_URGENCIES:
        errors.append(f"is_hard false requires urgency normal or low, got {urgency!r}")
    if category == "other" and is_hard:
        errors.append("category 'other' is never hard")
    if category in ALWAYS_HARD and not is_hard:
        errors.append(f"category {category!r} is always hard")
    return errors


CATEGORY_NAMES_RU: dict[str, str] = {
    "ignored_instructions": "Несоблюдение указаний в карточке питомца",
    "critical_lateness": "Критичное опоздание",
    "no_show": "Невыход на услугу",
    "property_damage": "Порча имущества клиента",
    "incompetence": "Некомпетентность или неопытность исполнителя",
    "health_harm": "Ущерб здоровью питомца, клиента, исполнителя",
    "death": "Летальный исход",
    "theft": "Кража имущества клиента",
    "unauthorized_entry": "Незаконное проникновение постороннего лица",
    "systematic_violations": "Систематические нарушения исполнителей у одного клиента",
    "negative_review": "Негативный отзыв на исполнителя",
    "other": "Не сложный кейс",
}
