import pytest

from pettriage.classifier.records import (
    MAX_TEXT_CHARS,
    InvalidInput,
    message_from_dict,
    record_problems,
)


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
