"""The HTTP service through the real app (TestClient) on real SQLite and PostgreSQL."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from fastapi.testclient import TestClient

from pettriage.api.main import create_app
from pettriage.classifier.labels import CATEGORIES, CHANNELS, URGENCIES

from .servers import CHANNEL, KEYS, QUALITY, ROUTER, classify, settings_for


def test_the_served_contract_carries_the_guides_labels(sqlite_client):
    """What a client generated from /openapi.json gets as enums is the guide's label sets."""
    schema = sqlite_client.get("/openapi.json").json()
    channel = schema["components"]["schemas"]["ClassifyRequest"]["properties"]["channel"]
    assert channel["enum"] == list(CHANNELS)
    listing = schema["paths"]["/v1/predictions"]["get"]["parameters"]
    params = {p["name"]: p["schema"] for p in listing}
    assert params["category"]["anyOf"][0]["enum"] == list(CATEGORIES)
    assert params["urgency"]["anyOf"][0]["enum"] == list(URGENCIES)


# -- classify and store, on both databases -----------------------------------------------------
def test_classify_stores_and_keeps_history(client):
    first = classify(client, "я у клиента, собака не дышит!!", message_id="m-1")
    assert first.status_code == 200
    body = first.json()
    assert body["urgency"] == "critical" and body["stored"] and body["message_id"] == "m-1"
    kinds = [a["type"] for a in body["actions"]]
    assert kinds[:3] == [
        "phone_senior_manager_now",
        "hand_over_to_senior_manager",
        "call_back_executor",
    ]
    assert body["actions"][0]["to"]["phone"] == "+7 900 000-00-01"
    assert body["actions"][1]["to"]["name"] == "По исполнителям"
    again = classify(client, "я у клиента, собака не дышит!! уже везу в клинику", message_id="m-1")
    assert again.status_code == 200
    history = client.get("/v1/predictions/m-1", headers=ROUTER).json()
    assert history["history"][0]["text"] == "я у клиента, собака не дышит!!"
    assert len(history["history"]) == 2 and history["latest"]["id"] == history["history"][1]["id"]
    assert history["latest"]["decision"]["urgency"] == "critical"


def test_message_id_is_generated(client):
    body = classify(client, "спасибо, всё прошло отлично", channel="admin_review").json()
    assert body["message_id"].startswith("gen-") and body["urgency"] == "low"
    assert [a["type"] for a in body["actions"]] == ["acknowledge"]
    assert client.get(f"/v1/predictions/{body['message_id']}", headers=ROUTER).status_code == 200


def test_batch_answers_in_order(client):
    texts = [
        "кота сбила машина, он не двигается",
        "можно перенести прогулку на пятницу?",
        "ситтер разбила вазу, требую компенсацию",
    ]
    response = client.post(
        "/v1/classify/batch",
        headers=CHANNEL,
        json={
            "messages": [
                {"text": t, "channel": "chat", "message_id": f"b-{i}"} for i, t in enumerate(texts)
            ]
        },
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["message_id"] for r in results] == ["b-0", "b-1", "b-2"]
    assert [r["category"] for r in results][1:] == ["other", "property_damage"]
    assert results[0]["urgency"] == "critical"


def test_predictions_filters_and_cursor(client):
    for i in range(5):
        text = f"ситтер не пришёл, ждали {i + 2} часа, верните деньги"
        classify(client, text, message_id=f"n-{i}")
    classify(client, "подскажите цену передержки кота на неделю", message_id="q-1")
    page = client.get(
        "/v1/predictions", params={"is_hard": True, "limit": 2}, headers=ROUTER
    ).json()
    assert [p["message_id"] for p in page["items"]] == ["n-0", "n-1"] and page["next_cursor"]
    rest = client.get(
        "/v1/predictions",
        params={"is_hard": True, "limit": 10, "cursor": page["next_cursor"]},
        headers=QUALITY,
    ).json()
    assert [p["message_id"] for p in rest["items"]] == ["n-2", "n-3", "n-4"]
    assert rest["next_cursor"] is None
    other = client.get("/v1/predictions", params={"category": "other"}, headers=ROUTER).json()
    assert [p["message_id"] for p in other["items"]] == ["q-1"]
    normal = client.get("/v1/predictions", params={"urgency": "normal"}, headers=ROUTER).json()
    assert {p["message_id"] for p in normal["items"]} == {"q-1"}
    later = client.get(
        "/v1/predictions", params={"since": "2999-01-01T00:00:00Z"}, headers=ROUTER
    ).json()
    assert later["items"] == []


# -- roles ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("post", "/v1/classify", {"channel", "admin"}),
        ("get", "/v1/predictions", {"router", "quality", "admin"}),
        ("get", "/v1/predictions/x", {"router", "quality", "admin"}),
        ("get", "/v1/model", {"channel", "router", "quality", "admin"}),
        ("post", "/v1/admin/reload", {"admin"}),
    ],
)
def test_roles(sqlite_client, method, path, allowed):
    payload = {"json": {"text": "кот голодный", "channel": "chat"}} if method == "post" else {}
    assert classify(sqlite_client, "кот голодный", message_id="x").status_code == 200
    for key, role in KEYS.items():
        if path == "/v1/admin/reload" and role == "admin":
            continue  # reloading is tested on a live server
        status = getattr(sqlite_client, method)(
            path, headers={"X-API-Key": key}, **payload
        ).status_code
        assert status == (200 if role in allowed else 403), (role, status)
    missing = getattr(sqlite_client, method)(path, **payload)
    assert missing.status_code == 401 and "X-API-Key" in missing.json()["detail"]
    unknown = getattr(sqlite_client, method)(path, headers={"X-API-Key": "nope"}, **payload)
    assert unknown.status_code == 401 and unknown.json()["detail"] == "unknown API key"


def test_forbidden_says_which_role_is_needed(sqlite_client):
    response = sqlite_client.post(
        "/v1/classify", headers=ROUTER, json={"text": "кот", "channel": "chat"}
    )
    assert response.json()["detail"] == (
        "this key has role 'router'; this endpoint needs one of: admin, channel"
    )


def test_open_mode_serves_loopback_only(home, tmp_path):
    app = create_app(settings_for(home, f"sqlite:///{tmp_path / 'o.db'}", api_keys={}))
    with TestClient(app, client=("127.0.0.1", 1)) as local:
        assert classify(local, "кот голодный").status_code == 200
    with TestClient(app, client=("10.1.2.3", 1)) as remote:
        response = remote.post("/v1/classify", json={"text": "кот", "channel": "chat"})
        assert response.status_code == 403 and "only loopback" in response.json()["detail"]


# -- limits and malformed input ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"text": "a" * 20_001, "channel": "chat"}, "text", "at most 20000 characters"),
        ({"text": "", "channel": "chat"}, "text", "at least 1 character"),
        ({"text": "   ", "channel": "chat"}, "text", "besides spaces"),
        ({"channel": "chat"}, "text", "Field required"),
        ({"text": 5, "channel": "chat"}, "text", "valid string"),
        ({"text": "кот", "channel": "sms"}, "channel", "'chat', 'email', 'call_note'"),
        ({"text": "кот", "channel": "chat", "received_at": "вчера"}, "received_at", "datetime"),
        ({"text": "кот", "channel": "chat", "metadata": [1]}, "metadata", "dictionary"),
        (["кот"], "body", "dictionary"),
    ],
)
def test_bad_classify_bodies_are_422_naming_the_field(sqlite_client, body, field, fragment):
    response = sqlite_client.post("/v1/classify", headers=CHANNEL, json=body)
    assert response.status_code == 422
    problems = response.json()["detail"]
    assert any(p["field"] == field and fragment in p["problem"] for p in problems), problems


def test_broken_json_is_422(sqlite_client):
    response = sqlite_client.post(
        "/v1/classify",
        headers=CHANNEL | {"content-type": "application/json"},
        content='{"text": "кот", '.encode(),
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "body"
    assert "invalid JSON" in response.json()["detail"][0]["problem"]


def test_received_at_dates_the_event_for_the_safety_rules(sqlite_client):
    def safety(received_at: str) -> dict:
        body = {
            "text": "2 ноября у ситтера умер наш кот",
            "channel": "chat",
            "received_at": received_at,
        }
        response = sqlite_client.post("/v1/classify", headers=CHANNEL, json=body)
        assert response.status_code == 200
        return response.json()["safety"]

    same_day = safety("2026-11-02T20:00:00+03:00")
    assert same_day["fired"] and same_day["rule"] == "died"
    assert same_day["when"]["kind"] == "today" and same_day["when"]["words"] == ["2", "ноября"]
    assert safety("2026-11-12T10:00:00+03:00") == {"fired": False}


def test_latin_script_is_read_back_and_the_original_kept(sqlite_client):
    text = "sobaka ne dyshit, lezhit na polu"
    body = {"text": text, "channel": "chat"}
    answer = sqlite_client.post("/v1/classify", headers=CHANNEL, json=body).json()
    assert answer["read_as"].startswith("собака не дышит")
    assert answer["safety"]["rule"] == "breathing"
    stored = sqlite_client.get(f"/v1/predictions/{answer['message_id']}", headers=ROUTER).json()
    assert stored["latest"]["text"] == text


@pytest.mark.parametrize(
    ("messages", "fragment"),
    [([], "at least 1 item"), ([{"text": "кот", "channel": "chat"}] * 1001, "at most 1000 items")],
)
def test_batch_limits(sqlite_client, messages, fragment):
    response = sqlite_client.post(
        "/v1/classify/batch", headers=CHANNEL, json={"messages": messages}
    )
    assert response.status_code == 422
    assert any(
        p["field"] == "messages" and fragment in p["problem"] for p in response.json()["detail"]
    )


def test_bad_cursor_is_422(sqlite_client):
    response = sqlite_client.get("/v1/predictions", params={"cursor": "zzz"}, headers=ROUTER)
    assert response.status_code == 422 and "next_cursor" in response.json()["detail"][0]["problem"]


def test_unknown_message_is_404(sqlite_client):
    response = sqlite_client.get("/v1/predictions/nothing-here", headers=ROUTER)
    assert response.status_code == 404 and "nothing-here" in response.json()["detail"]


# -- e-mail -----------------------------------------------------------------------------------
QUOTED = (
    "\n\n{date}, Служба поддержки <support@example.invalid> пишет:\n"
    "> Здравствуйте! Напоминаем: если собака не дышит, звоните 112.\n> Ваш заказ подтверждён.\n"
)


def letter(body: str, charset: str, subtype: str = "plain") -> bytes:
    message = EmailMessage()
    message["From"] = "Ирина Смирнова <irina.test@example.invalid>"
    message["To"] = "support@example.invalid"
    message["Subject"] = "Re: заказ 4512"
    message.set_content(body, subtype=subtype, charset=charset)
    return message.as_bytes()


@pytest.mark.parametrize("charset", ["utf-8", "koi8-r", "windows-1251"])
def test_email_in_three_charsets_drops_quotes_and_signature(sqlite_client, charset):
    body = (
        "Добрый день.\n\nВыгульщик опять не пришёл, собака весь день дома. Верните деньги "
        "за визит.\n\nС уважением,\nИрина\nОтправлено с iPhone" + QUOTED.format(date="3 марта")
    )
    response = sqlite_client.post(
        "/v1/classify/email",
        headers=CHANNEL | {"content-type": "message/rfc822"},
        content=letter(body, charset),
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["classified_text"] == (
        "Добрый день.\n\nВыгульщик опять не пришёл, собака весь день дома. Верните деньги за визит."
    )
    assert answer["sender"] == {"name": "Ирина Смирнова", "address": "irina.test@example.invalid"}
    assert answer["subject"] == "Re: заказ 4512"
    assert answer["urgency"] != "critical"  # the quoted reminder is not read
    assert answer["is_hard"]


def test_email_html_outlook_separator_and_upload(sqlite_client):
    html = (
        "<html><body><p>Кот <b>упал с балкона</b>, везём в клинику!</p>"
        "<p>-----Исходное сообщение-----<br>От: Поддержка<br>Отправлено: 1 марта<br>"
        "Тема: заказ</p><p>Всё хорошо, спасибо</p></body></html>"
    )
    response = sqlite_client.post(
        "/v1/classify/email",
        headers=CHANNEL,
        params={"message_id": "mail-7"},
        files={"file": ("letter.eml", letter(html, "windows-1251", "html"), "message/rfc822")},
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["classified_text"] == "Кот упал с балкона, везём в клинику!"
    assert answer["urgency"] == "critical" and answer["message_id"] == "mail-7"


@pytest.mark.parametrize(
    ("content", "status", "fragment"),
    [
        (b"", 422, "empty body"),
        (b"just some words without headers", 422, "with headers"),
        (b"From: a@example.invalid\nContent-Type: image/png\n\n\x89PNG", 422, "text/plain"),
    ],
)
def test_bad_emails(sqlite_client, content, status, fragment):
    response = sqlite_client.post("/v1/classify/email", headers=CHANNEL, content=content)
    assert response.status_code == status and fragment in response.json()["detail"][0]["problem"]


def test_email_over_the_limit_is_413(home, tmp_path):
    app = create_app(settings_for(home, f"sqlite:///{tmp_path / 'e.db'}", max_email_bytes=2000))
    with TestClient(app, client=("127.0.0.1", 1)) as small:
        response = small.post(
            "/v1/classify/email", headers=CHANNEL, content=letter("кот " * 2000, "utf-8")
        )
        assert response.status_code == 413 and "limit of 2000 bytes" in response.json()["detail"]


# -- model, health, metrics, storage failure ---------------------------------------------------
def test_model_info(sqlite_client, trained):
    info = sqlite_client.get("/v1/model", headers=CHANNEL).json()
    assert info["version"] == "1" and info["mlflow_run_id"] == trained.run_id
    assert info["labels"]["category"] == list(CATEGORIES)
    assert info["metrics"]["critical_recall"] == 1.0


def test_health_ready_and_metrics(sqlite_client):
    assert sqlite_client.get("/healthz").json() == {"status": "ok"}
    ready = sqlite_client.get("/readyz").json()
    assert ready["ready"] and ready["database"] and ready["model_loaded"]
    classify(sqlite_client, "кот не дышит, помогите")
    text = sqlite_client.get("/metrics").text
    assert 'complaints_requests_total{method="POST",route="/v1/classify",status="200"}' in text
    assert "complaints_request_seconds_bucket" in text
    assert "complaints_predictions_total{category=" in text
    assert 'complaints_safety_overrides_total{rule="breathing"}' in text


def test_unreachable_database_is_not_ready_and_answers_still_come(home, tmp_path):
    app = create_app(settings_for(home, f"sqlite:///{tmp_path / 'gone.db'}"))
    with TestClient(app, client=("127.0.0.1", 1)) as c:
        c.app.state.service.engine.dispose()
        (tmp_path / "gone.db").unlink()
        (tmp_path / "gone.db").mkdir()  # a directory where the file was: every connect fails
        assert c.get("/readyz").status_code == 503
        before = _metric(c.get("/metrics").text, "complaints_store_failures_total")
        response = classify(c, "ситтер не пришла, верните деньги")
        assert response.status_code == 200 and response.json()["stored"] is False
        assert _metric(c.get("/metrics").text, "complaints_store_failures_total") == before + 1


def _metric(text: str, name: str) -> float:
    return next(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


def test_logs_mask_contacts(caplog):
    import logging

    from pettriage.api import logs

    logs.install()
    with caplog.at_level(logging.INFO, logger="api"):
        logging.getLogger("api").info("call %s or write %s", "+7 900 000-12-34", "a.b@example.ru")
    [record] = [r for r in caplog.records if r.name == "api"]
    assert "900" not in record.getMessage() and "example.ru" not in record.getMessage()
    assert "phonetoken" in record.getMessage() and "emailtoken" in record.getMessage()
