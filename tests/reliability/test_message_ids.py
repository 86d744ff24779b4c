"""(8) A message id is a short word of letters, digits and `. _ - : @ + = ~`, so it can always
be read back at `/v1/predictions/{message_id}`; anything else is refused with 422 naming the
field and the allowed set (an id with `/` used to be stored and never found)."""

from __future__ import annotations

import pytest

from ..servers import CHANNEL, QUALITY, ROUTER, classify

GOOD = ["chat-58213", "a", "mail:2026.12.05_7", "user@host+tag=1~x", "X" * 200]
BAD = [
    ("a/b", "a slash never comes back through the path"),
    ("../etc", "a slash, again"),
    ("", "empty"),
    ("X" * 201, "too long"),
    ("чат-1", "not an ASCII letter"),
    ("a b", "a space"),
    ("a?b", "a query in the path"),
    ("a#b", "a fragment in the path"),
    ("a%2Fb", "a percent-encoding"),
    ("a\nb", "a line break"),
]


def refuses(answer, field: str) -> bool:
    if answer.status_code != 422:
        return False
    [problem] = answer.json()["detail"]
    return problem["field"] == field and "letters, digits and . _ - : @ + = ~" in problem["problem"]


@pytest.mark.parametrize("message_id", GOOD)
def test_allowed_ids_are_stored_and_read_back(client, message_id):
    answer = classify(client, "ситтер опоздала на час", message_id=message_id)
    assert answer.status_code == 200 and answer.json()["stored"] is True
    back = client.get(f"/v1/predictions/{message_id}", headers=ROUTER)
    assert back.status_code == 200 and back.json()["message_id"] == message_id


@pytest.mark.parametrize(("message_id", "why"), BAD, ids=[why for _, why in BAD])
def test_other_ids_are_refused_everywhere(client, message_id, why):
    assert refuses(classify(client, "кот голодный", message_id=message_id), "message_id"), why
    batch = client.post(
        "/v1/classify/batch",
        headers=CHANNEL,
        json={"messages": [{"text": "кот голодный", "channel": "chat", "message_id": message_id}]},
    )
    assert refuses(batch, "messages.0.message_id"), why
    email = client.post(
        "/v1/classify/email",
        params={"message_id": message_id},
        headers=CHANNEL | {"content-type": "message/rfc822"},
        content="Subject: cat\n\nкот голодный".encode(),
    )
    assert refuses(email, "message_id"), why
    feedback = client.post(
        "/v1/feedback",
        headers=QUALITY,
        json={"message_id": message_id, "verdict": "confirm", "annotator": "Мария"},
    )
    assert refuses(feedback, "message_id"), why
    page = client.get("/v1/predictions", headers=ROUTER, params={"limit": 1000}).json()
    assert message_id not in {p["message_id"] for p in page["items"]}
