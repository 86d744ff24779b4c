"""What channels and routers rely on: an e-mail or a keyed request is classified once, e-mails
keep who sent them and when, every documented filter filters, an unknown one is refused, and
every time comes back with its zone. Through the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from .servers import CHANNEL, ROUTER, classify


def _email(message_id: str | None, text: str, date: str = "Thu, 27 Nov 2025 07:55:00 +0300"):
    message = EmailMessage()
    message["From"] = "Марина Соколова <m.sokolova@example.ru>"
    message["To"] = "support@petsitter.example"
    message["Subject"] = "Ситтер не пришёл"
    message["Date"] = date
    if message_id:
        message["Message-ID"] = message_id
    message.set_content(text)
    return bytes(message)


def _post_email(client, raw: bytes, **params):
    return client.post("/v1/classify/email", headers=CHANNEL, content=raw, params=params)


def _stored(client, **params) -> list[dict]:
    answer = client.get("/v1/predictions", params={"limit": 1000, **params}, headers=ROUTER)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def test_an_email_is_classified_once_and_keeps_its_identity(client):
    raw = _email(
        "<CAF7x2@mail.gmail.com>", "Ситтер так и не пришёл, кот сутки без еды. Верните деньги"
    )
    first = _post_email(client, raw)
    assert first.status_code == 200 and first.headers["Idempotent-Replayed"] == "false"
    body = first.json()
    assert body["message_id"] == "CAF7x2@mail.gmail.com" and body["stored"]

    again = _post_email(client, raw)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert {k: v for k, v in again.json().items()} == body

    (row,) = _stored(client, channel="email")
    assert row["message_id"] == "CAF7x2@mail.gmail.com"
    assert row["sender"] == "m.sokolova@example.ru" and row["subject"] == "Ситтер не пришёл"
    assert row["received_at"] == "2025-11-27T04:55:00Z"  # 07:55 in Moscow, in UTC
    assert row["metadata"]["sender_name"] == "Марина Соколова"


def test_an_email_without_message_id_is_known_by_its_bytes(client):
    raw = _email(None, "Спасибо за Ирину, всё прошло отлично!")
    first = _post_email(client, raw).json()
    assert first["message_id"].startswith("email-")
    assert _post_email(client, raw).json()["message_id"] == first["message_id"]
    other = _post_email(client, _email(None, "Спасибо за Ирину, всё прошло отлично!!"))
    assert other.json()["message_id"] != first["message_id"]
    assert len(_stored(client, channel="email")) == 2


def test_a_message_id_that_is_no_url_segment_is_kept_beside_a_derived_id(client):
    raw = _email("<a/b$c@example.ru>", "Выгульщик опоздал на час, я опоздала на работу")
    body = _post_email(client, raw).json()
    assert body["message_id"].startswith("email-")
    (row,) = _stored(client)
    assert row["metadata"]["email_message_id"] == "a/b$c@example.ru"


def test_a_bad_date_does_not_lose_the_email(client):
    raw = _email("<d1@example.ru>", "Ситтер разбила вазу", date="когда-то в ноябре")
    assert _post_email(client, raw).status_code == 200
    (row,) = _stored(client)
    assert row["received_at"] is None


def test_idempotency_key_replays_and_refuses_a_different_body(client):
    def send(text, key="order-77-msg-1"):
        return (
            classify(client, text, message_id="c-1", **{})
            if key is None
            else client.post(
                "/v1/classify",
                json={"text": text, "channel": "chat", "message_id": "c-1"},
                headers=CHANNEL | {"Idempotency-Key": key},
            )
        )

    first = send("собака вырвалась и убежала на прогулке")
    assert first.status_code == 200 and first.headers["Idempotent-Replayed"] == "false"
    repeat = send("собака вырвалась и убежала на прогулке")
    assert repeat.headers["Idempotent-Replayed"] == "true" and repeat.json() == first.json()
    conflict = send("совсем другой текст")
    assert conflict.status_code == 409 and "idempotency key" in conflict.json()["detail"]
    assert len(_stored(client)) == 1
    # Without a key a repeat is a new classification, as before (the history of a message).
    assert send("собака вырвалась и убежала на прогулке", key=None).status_code == 200
    assert len(_stored(client)) == 2


@pytest.fixture
def inbox(client):
    """Four stored messages of different kinds, received at known times."""
    sent = [
        ("r-1", "chat", "я у клиента, собака не дышит!!", "2026-11-25T09:00:00+03:00"),
        ("r-2", "email", "Можно перенести прогулку на пятницу?", "2026-11-25T12:00:00+03:00"),
        ("r-3", "call_note", "Клиентка звонила: ситтер разбил вазу, требует компенсацию", None),
        (
            "r-4",
            "chat",
            "Клиент не оставил корм, что делать? Я исполнитель",
            "2026-11-26T08:00:00Z",
        ),
    ]
    for message_id, channel, text, received_at in sent:
        extra = {"received_at": received_at} if received_at else {}
        assert classify(client, text, channel=channel, message_id=message_id, **extra).is_success
    return client


def _ids(client, **params) -> list[str]:
    return [p["message_id"] for p in _stored(client, **params)]


def test_every_filter_filters(inbox):
    everything = _stored(inbox)
    assert [p["message_id"] for p in everything] == ["r-1", "r-2", "r-3", "r-4"]
    by_id = {p["message_id"]: p for p in everything}
    assert _ids(inbox, channel="chat") == ["r-1", "r-4"]
    for name in ("reporter", "category", "urgency", "is_hard", "needs_review"):
        for value in {str(p[name]).lower() for p in everything}:
            expected = [i for i, p in by_id.items() if str(p[name]).lower() == value]
            assert _ids(inbox, **{name: value}) == expected, (name, value)
    assert _ids(inbox, q="СОБАКА") == ["r-1"]  # any letter case, Cyrillic included
    assert _ids(inbox, q="100%") == []  # a wildcard character is a character
    assert _ids(inbox, received_from="2026-11-25T07:00:00Z") == ["r-2", "r-4"]
    assert _ids(inbox, received_to="2026-11-25T09:00:00+03:00") == []
    assert _ids(
        inbox, received_from="2026-11-25T09:00:00+03:00", received_to="2026-11-26T00:00Z"
    ) == [
        "r-1",
        "r-2",
    ]
    assert _ids(inbox, created_from="2999-01-01T00:00:00Z") == []
    assert _ids(inbox, created_to="2999-01-01T00:00:00Z") == ["r-1", "r-2", "r-3", "r-4"]
    assert _ids(inbox, since="2999-01-01T00:00:00Z") == []


def test_times_come_back_in_utc_with_their_zone(inbox):
    rows = {p["message_id"]: p for p in _stored(inbox)}
    assert rows["r-1"]["received_at"] == "2026-11-25T06:00:00Z"
    created = datetime.fromisoformat(rows["r-1"]["created_at"])
    assert created.tzinfo is not None and abs(datetime.now(UTC) - created).total_seconds() < 600
    history = inbox.get("/v1/predictions/r-1", headers=ROUTER).json()
    assert history["latest"]["created_at"].endswith(("Z", "+00:00"))


@pytest.mark.parametrize(
    ("params", "field", "fragment"),
    [
        ({"chanel": "chat"}, "chanel", "unknown query parameter"),
        ({"channel": "fax"}, "channel", "'chat'"),
        ({"received_from": "2026-11-25T09:00:00"}, "received_from", "timezone"),
        ({"cursor": "zzz"}, "cursor", "next_cursor"),
    ],
)
def test_a_wrong_parameter_is_a_422_that_names_it(sqlite_client, params, field, fragment):
    answer = sqlite_client.get("/v1/predictions", params=params, headers=ROUTER)
    assert answer.status_code == 422
    (problem,) = answer.json()["detail"]
    assert problem["field"] == field and fragment in problem["problem"], problem


def test_a_batch_that_mixes_emails_and_chats_keeps_every_column(database_url, tmp_path):
    """One INSERT binds the first row's columns only: an e-mail's sender after a chat message
    in the same batch was dropped without a word."""
    from sqlalchemy import create_engine

    from pettriage.store import queries
    from pettriage.store.db import make_sessions, migrate

    migrate(database_url, tmp_path)
    now = datetime.now(UTC)
    base = dict(
        channel="chat",
        text="ситтер опоздала",
        is_hard=False,
        category="other",
        urgency="normal",
        reporter="client",
        needs_review=False,
        safety_fired=False,
        decision={},
        model_version="1",
        created_at=now,
    )
    email = {"sender": "client@example.invalid", "subject": "Про визит", "idempotency_key": "k1"}
    engine = create_engine(database_url)
    with make_sessions(engine)() as session:
        queries.save(
            session,
            [
                base | {"message_id": "mix-1"},
                base | {"message_id": "mix-2", "channel": "email"} | email,
            ],
        )
        chat, mail = (queries.latest_prediction(session, m) for m in ("mix-1", "mix-2"))
        assert (mail.sender, mail.subject, mail.idempotency_key) == tuple(email.values())
        assert chat.sender is None and chat.review_priority == 0.0
    engine.dispose()
