"""Real-looking e-mails of the clients Russian users have (`fixtures/email/` and `email-2/`,
written by two people who never saw this code, with what the new text must and must not hold,
and its labels):
replies and forwards from Gmail, Yandex, Mail.ru, Outlook, Apple Mail and Thunderbird, plain and
HTML, in UTF-8, windows-1251 and KOI8-R. The fixtures are an evaluation set: never training."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pettriage.api.email_intake import parse

from .conftest import FIGURES
from .servers import CHANNEL, ROUTER

# Two sets by two writers, each with its own brief; the second was written after the code, and
# read 26 of its 30 right before the four rules it showed missing were added.
SETS = [Path(__file__).parent / "fixtures" / name for name in ("email", "email-2")]
EXPECTED = [
    json.loads(line) | {"folder": folder}
    for folder in SETS
    for line in (folder / "expected.jsonl").open(encoding="utf-8")
]
IDS = [f"{case['folder'].name}/{case['file']}" for case in EXPECTED]
LABELS = ("is_hard", "category", "urgency", "reporter")


def _raw(case: dict) -> bytes:
    return (case["folder"] / case["file"]).read_bytes()


def test_the_set_covers_what_the_issue_names():
    """At least 40 e-mails, every client, replies and forwards, plain and HTML."""
    assert len(EXPECTED) >= 40
    clients = Counter(case["client"] for case in EXPECTED)
    for client in ("gmail", "yandex", "mailru", "outlook", "apple", "thunderbird"):
        assert clients[client] >= 3, clients
    kinds = Counter(case["kind"] for case in EXPECTED)
    assert kinds["reply"] >= 20 and kinds["forward"] >= 10, kinds
    formats = Counter(case["format"] for case in EXPECTED)  # alternative: plain + HTML
    assert min(formats[f] for f in ("plain", "html", "alternative")) >= 5, formats


@pytest.mark.parametrize("case", EXPECTED, ids=IDS)
def test_only_the_new_text_is_classified(case):
    email = parse(_raw(case))
    missing = [s for s in case["new_text_must_contain"] if s not in email.text]
    noise = [s for s in case["must_not_contain"] if s in email.text]
    assert not missing and not noise, f"missing {missing}, kept {noise} in:\n{email.text}"


@pytest.mark.parametrize("case", EXPECTED, ids=IDS)
def test_the_headers_are_read(case):
    email = parse(_raw(case))
    assert email.message_id == case["message_id"].strip("<>")
    assert email.sender_address == case["sender"]
    assert email.subject == case["subject"]
    assert email.date is not None and email.date.tzinfo is not None


def test_the_labels_match(sqlite_client):
    """Every e-mail through the service: stored once under its Message-ID with its Date, sender
    and subject, and labelled as its writer labelled it. The labels are the model's judgment on
    a set it never trained on, so they are held to a floor that is printed with the figures,
    not to 100 %: what fails here beyond the floor is the model, not the e-mail's reading."""
    wrong = []
    right = Counter()
    for case in EXPECTED:
        answer = sqlite_client.post("/v1/classify/email", headers=CHANNEL, content=_raw(case))
        assert answer.status_code == 200, (case["file"], answer.text)
        body = answer.json()
        got = {name: body[name] for name in LABELS}
        right.update(name for name in LABELS if got[name] == case["labels"][name])
        if got != case["labels"]:
            wrong.append(f"{case['file']}: got {got}, expected {case['labels']}")
    stored = sqlite_client.get("/v1/predictions", params={"limit": 1000}, headers=ROUTER).json()
    assert len(stored["items"]) == len(EXPECTED)
    assert all(row["received_at"] and row["sender"] for row in stored["items"])
    n = len(EXPECTED)
    FIGURES.append(
        f"e-mail fixtures ({n}): all four labels right {n - len(wrong)}/{n}; "
        + ", ".join(f"{name} {right[name]}/{n}" for name in LABELS)
    )
    FIGURES.extend(f"  {line}" for line in wrong)
    assert n - len(wrong) >= 0.9 * n, "\n".join(wrong)
    assert all(right[name] >= 0.93 * n for name in LABELS), right
