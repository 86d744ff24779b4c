import pytest

from pettriage.classifier.records import (
    MAX_TEXT_CHARS,
    UNDATED_RECORD_RECEIVED_AT,
    InvalidInput,
    message_from_dict,
    message_of,
    record_problems,
)
from pettriage.classifier.safety import SafetyRules


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ([], "expected a JSON object"),
        ({}, "'text' must be a non-empty string"),
        ({"text": "   "}, "'text' must be a non-empty string"),
        ({"text": 5}, "'text' must be a non-empty string"),
        ({"text": "a" * (MAX_TEXT_CHARS + 1)}, f"the limit is {MAX_TEXT_CHARS}"),
        ({"text": "привет", "channel": "sms"}, "'channel' must be one of chat, email"),
        ({"text": "привет", "id": ["x"]}, "'id' must be a string"),
    ],
)
def test_bad_messages_say_what_was_expected(data, fragment):
    with pytest.raises(InvalidInput, match=fragment):
        message_from_dict(data)


def test_good_message():
    message = message_from_dict({"id": 7, "text": "кот голодный", "channel": "chat"})
    assert (message.id, message.text, message.channel) == ("7", "кот голодный", "chat")


GOOD = {
    "id": "a-1",
    "text": "ситтер опоздал на час, верните деньги",
    "channel": "chat",
    "reporter": "client",
    "category": "critical_lateness",
    "is_hard": True,
    "urgency": "high",
}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"category": "late"}, "'category' must be one of"),
        ({"is_hard": "true"}, "'is_hard' must be true or false"),
        ({"urgency": "critical", "is_hard": False}, "requires is_hard true"),
        ({"category": "other"}, "never hard"),
        ({"category": "theft", "is_hard": False, "urgency": "normal"}, "always hard"),
        ({"reporter": "manager"}, "'reporter' must be one of"),
    ],
)
def test_record_problems(change, fragment):
    problems = record_problems(GOOD | change)
    assert any(fragment in p for p in problems), problems


def test_missing_fields_are_named():
    record = {k: v for k, v in GOOD.items() if k != "urgency"}
    assert record_problems(record) == ["missing field 'urgency'"]


def test_good_record_has_no_problems():
    assert record_problems(GOOD) == []


def test_an_annotated_record_keeps_its_own_received_at():
    message = message_of(GOOD | {"received_at": "2026-03-02T10:00:00+03:00"})
    assert message.received_at.isoformat() == "2026-03-02T10:00:00+03:00"


def test_an_undated_record_is_read_on_a_fixed_day_not_the_day_of_the_run():
    """Figures must not move with the calendar: «6 декабря» is the day before the fixed day on
    every day the suite runs, so the rules read the death as an earlier one."""
    assert message_of(GOOD).received_at == UNDATED_RECORD_RECEIVED_AT
    rules = SafetyRules.load()
    told = {"text": "Собака умерла {} во время визита ситтера", "channel": "chat", "id": "x"}
    day_before = message_of(told | {"text": told["text"].format("6 декабря")})
    same_day = message_of(told | {"text": told["text"].format("7 декабря")})
    fired = rules.check_texts(
        [day_before.text, same_day.text], [day_before.received_at, same_day.received_at]
    )
    assert fired[0] is None
    assert fired[1] is not None
