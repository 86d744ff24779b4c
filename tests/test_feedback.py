"""The quality endpoints through the real app on real SQLite and PostgreSQL: corrections, the
review queue, the audit list, and who may do what."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from pettriage.api.main import create_app
from pettriage.store import queries, review_queue, worklist

from .servers import ADMIN, CHANNEL, QUALITY, ROUTER, classify, settings_for


def feedback(client, message_id, headers=QUALITY, **body):
    payload = {"message_id": message_id, "annotator": "Мария К."} | body
    return client.post("/v1/feedback", json=payload, headers=headers)


def labels_of(answer: dict) -> dict:
    return {k: answer[k] for k in ("category", "is_hard", "urgency", "reporter")}


# -- corrections ---------------------------------------------------------------------------------
def test_correction_is_stored_with_who_and_what_was_shown(client):
    shown = classify(
        client, "ситтер так и не пришла, кот сидел голодный весь день", message_id="f-1"
    )
    before = labels_of(shown.json())
    new = {"category": "no_show", "is_hard": True, "urgency": "high", "reporter": "client"}
    if before == new:  # make it a real change whatever the model said
        new = {"category": "critical_lateness", "is_hard": True, "urgency": "high"}
    answer = feedback(client, "f-1", labels=new, comment="не пришла вовсе")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["verdict"] == "correct" and body["annotator"] == "Мария К."
    assert body["previous"] == before
    assert body["labels"] == before | new
    assert body["comment"] == "не пришла вовсе" and body["supersedes"] == []


def test_later_correction_supersedes_and_history_stays(client):
    classify(client, "догситтер опоздал на 40 минут, собака напрудила", message_id="f-2")
    hard = {"is_hard": True, "urgency": "high"}
    first = feedback(client, "f-2", labels={"category": "theft", **hard})
    second = feedback(client, "f-2", labels={"category": "no_show", **hard}, comment="ок")
    assert first.status_code == 200 and second.status_code == 200, second.text
    assert second.json()["supersedes"] == [first.json()["feedback_id"]]
    assert second.json()["labels"]["category"] == "no_show"
    assert second.json()["previous"] == first.json()["previous"]  # both judge the prediction
    log = client.get("/v1/feedback", params={"message_id": "f-2"}, headers=QUALITY).json()
    assert [f["feedback_id"] for f in log["items"]] == [
        second.json()["feedback_id"],
        first.json()["feedback_id"],
    ]


def test_confirmation_without_changes(client):
    shown = classify(client, "спасибо, всё супер", channel="admin_review", message_id="f-3")
    body = feedback(client, "f-3", labels={"category": shown.json()["category"]}).json()
    assert body["verdict"] == "confirm" and body["labels"] is None
    explicit = feedback(client, "f-3", verdict="confirm").json()
    assert explicit["verdict"] == "confirm"


@pytest.mark.parametrize(
    "body, field, words",
    [
        ({"labels": {"category": "theft", "is_hard": False}}, "labels", "always hard"),
        ({"labels": {"urgency": "critical", "is_hard": False}}, "labels", "requires is_hard"),
        ({"labels": {"category": "стихийное_бедствие"}}, "labels.category", "Input should be"),
        ({"annotator": "   "}, "annotator", "annotator must name"),
        ({"target": "somewhere"}, "target", "Input should be"),
        (
            {
                "labels": {"category": "death", "is_hard": True, "urgency": "critical"},
                "verdict": "confirm",
            },
            "verdict",
            "cannot come with changed labels",
        ),
    ],
)
def test_bad_corrections_are_refused_with_the_reason(sqlite_client, body, field, words):
    classify(sqlite_client, "у меня пропали серьги после визита ситтера", message_id="f-4")
    answer = feedback(sqlite_client, "f-4", **body)
    assert answer.status_code == 422, answer.text
    problems = answer.json()["detail"]
    assert any(p["field"] == field and words in p["problem"] for p in problems), problems
    log = sqlite_client.get("/v1/feedback", params={"message_id": "f-4"}, headers=QUALITY)
    assert log.json()["items"] == []  # nothing half-stored


def test_unknown_message_is_404(sqlite_client):
    answer = feedback(sqlite_client, "never-seen", labels={"category": "other"})
    assert answer.status_code == 404 and "never-seen" in answer.json()["detail"]
    audit = feedback(sqlite_client, "rec-x", target="annotated", labels={"category": "other"})
    assert audit.status_code == 404 and "audit list" in audit.json()["detail"]


@pytest.mark.parametrize(
    "method, path",
    [
        ("post", "/v1/feedback"),
        ("get", "/v1/feedback"),
        ("get", "/v1/review-queue"),
        ("get", "/v1/audit"),
    ],
)
def test_only_quality_and_admin_keys(sqlite_client, method, path):
    kwargs = {"json": {"message_id": "x", "annotator": "a"}} if method == "post" else {}
    for headers in (CHANNEL, ROUTER):
        denied = getattr(sqlite_client, method)(path, headers=headers, **kwargs)
        assert denied.status_code == 403 and "quality" in denied.json()["detail"]
    assert getattr(sqlite_client, method)(path, **kwargs).status_code == 401
    for headers in (QUALITY, ADMIN):
        assert getattr(sqlite_client, method)(path, headers=headers, **kwargs).status_code in (
            200,
            404,
        )


def test_whoami_names_the_role(sqlite_client):
    assert sqlite_client.get("/v1/whoami", headers=QUALITY).json() == {"role": "quality"}
    assert sqlite_client.get("/v1/whoami", headers=ROUTER).json() == {"role": "router"}
    assert sqlite_client.get("/v1/whoami", headers={"X-API-Key": "nope"}).status_code == 401


# -- the review queue ----------------------------------------------------------------------------
def test_priority_order_of_the_issue():
    def answer(fired=False, p_critical=0.1, urgency="normal", needs_review=False, top=(0.9, 0.05)):
        rest = 1 - sum(top)
        return {
            "safety": {"fired": fired},
            "probabilities": {
                "urgency": {"critical": p_critical},
                "category": {"a": top[0], "b": top[1], "c": rest},
            },
            "urgency": urgency,
            "needs_review": needs_review,
        }

    assert review_queue.priority(answer(fired=True, urgency="critical"), "m")[1] == (
        "rules_over_model"
    )
    assert review_queue.priority(answer(urgency="critical", p_critical=0.7), "m")[1] == (
        "model_critical_without_rule"
    )
    assert review_queue.priority(answer(needs_review=True), "m") == (3.0, "needs_review")
    score, reason = review_queue.priority(answer(top=(0.5, 0.4)), "m")
    assert reason == "small_margin" and 2.0 < score < 3.0
    spot = [m for m in (f"id-{i}" for i in range(2000)) if review_queue.spot_checked(m)]
    assert 20 < len(spot) < 120  # about 3 %, and stable:
    assert review_queue.priority(answer(), spot[0]) == (1.0, "spot_check")
    assert all(review_queue.spot_checked(m) for m in spot)


def stored_row(message_id, priority, channel="chat", category="other", reason="needs_review"):
    now = datetime.now(UTC)
    return dict(
        message_id=message_id,
        channel=channel,
        text=f"текст {message_id}",
        is_hard=category != "other",
        category=category,
        urgency="high" if category != "other" else "normal",
        reporter="client",
        needs_review=priority == 3.0,
        safety_fired=False,
        decision={"probabilities": {}, "explanation": {}, "safety": {"fired": False}},
        model_version="1",
        received_at=None,
        created_at=now,
        meta=None,
        review_priority=priority,
        review_reason=reason if priority else None,
    )


def test_queue_most_valuable_first_each_once_until_handled(client):
    sessions = client.app.state.service.sessions
    with sessions() as session:
        queries.save(
            session,
            [
                stored_row("q-low", 1.0, reason="spot_check"),
                stored_row("q-top", 4.0, category="health_harm", reason="rules_over_model"),
                stored_row("q-none", 0.0),
                stored_row("q-mid", 3.0, channel="email"),
                stored_row("q-margin", 2.1, reason="small_margin"),
                stored_row("q-mid", 2.05, channel="email", reason="small_margin"),  # re-classified
            ],
        )
    items = client.get("/v1/review-queue", headers=QUALITY).json()["items"]
    ids = [i["message_id"] for i in items if i["message_id"].startswith("q-")]
    assert ids == ["q-top", "q-margin", "q-mid", "q-low"]  # q-mid by its latest prediction
    assert next(i for i in items if i["message_id"] == "q-mid")["priority"] == 2.05
    only_email = client.get("/v1/review-queue", params={"channel": "email"}, headers=QUALITY)
    assert [i["message_id"] for i in only_email.json()["items"]] == ["q-mid"]
    by_category = client.get(
        "/v1/review-queue", params={"category": "health_harm"}, headers=QUALITY
    ).json()["items"]
    assert [i["message_id"] for i in by_category] == ["q-top"]
    assert feedback(client, "q-top", verdict="confirm").status_code == 200
    after = client.get("/v1/review-queue", headers=QUALITY).json()["items"]
    assert "q-top" not in [i["message_id"] for i in after]
    assert client.get("/v1/review-queue", params={"limit": 0}, headers=QUALITY).status_code == 422


def test_classification_stores_its_priority(client):
    body = classify(client, "я у клиента, собака не дышит!!", message_id="q-live").json()
    expected = review_queue.priority(body, "q-live")
    with client.app.state.service.sessions() as session:
        row = queries.latest_prediction(session, "q-live")
    assert (row.review_priority, row.review_reason) == expected


# -- the audit list ------------------------------------------------------------------------------
def audit_row(record_id, confidence, category="other", suggested="theft"):
    return dict(
        record_id=record_id,
        source="annotated",
        text=f"запись {record_id}",
        channel="chat",
        labels={"category": category, "is_hard": False, "urgency": "normal", "reporter": "client"},
        head="category",
        given=category,
        suggested=suggested,
        confidence=confidence,
        given_probability=0.05,
        decision={"probabilities": {}, "explanation": {}, "safety": {"fired": False}},
        created_at=datetime.now(UTC),
    )


def test_audit_list_and_its_verdicts(client):
    with client.app.state.service.sessions() as session:
        worklist.replace_audit(session, [audit_row("a-1", 0.7), audit_row("a-2", 0.95)])
    items = client.get("/v1/audit", headers=QUALITY).json()["items"]
    assert [i["message_id"] for i in items] == ["a-2", "a-1"]
    half = feedback(client, "a-2", target="annotated", labels={"category": "theft"})
    assert half.status_code == 422  # theft is always hard: the API never guesses the rest
    accepted = feedback(
        client,
        "a-2",
        target="annotated",
        labels={"category": "theft", "is_hard": True, "urgency": "high"},
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["labels"] == {
        "category": "theft",
        "is_hard": True,
        "urgency": "high",
        "reporter": "client",
    }
    assert accepted.json()["previous"]["category"] == "other"
    rejected = feedback(client, "a-1", target="annotated", verdict="confirm")
    assert rejected.json()["verdict"] == "confirm"
    assert client.get("/v1/audit", headers=QUALITY).json()["items"] == []
    theft = client.get("/v1/audit", params={"category": "theft"}, headers=QUALITY)
    assert theft.status_code == 200


def test_feedback_survives_a_restart(home, tmp_path):
    url = f"sqlite:///{tmp_path / 'restart.db'}"
    with TestClient(create_app(settings_for(home, url)), client=("127.0.0.1", 1)) as first:
        classify(first, "кот поцарапал ситтера, ничего страшного", message_id="r-1")
        assert feedback(first, "r-1", verdict="confirm").status_code == 200
    with TestClient(create_app(settings_for(home, url)), client=("127.0.0.1", 1)) as second:
        log = second.get("/v1/feedback", headers=QUALITY).json()["items"]
        assert [f["message_id"] for f in log] == ["r-1"]


# -- admin actions that change nothing here (the whole loop is in test_quality_loop) -------------
def test_admin_actions_refuse_clearly(sqlite_client):
    versions = sqlite_client.get("/v1/admin/versions", headers=QUALITY)
    assert versions.status_code == 200
    listed = versions.json()
    assert listed["serving"] == "1"
    assert [v["version"] for v in listed["versions"] if v["champion"]] == ["1"]
    assert {"category_macro_f1", "critical_recall"} <= set(listed["versions"][-1]["test"])
    for path in ("/v1/admin/export-corrections", "/v1/admin/train", "/v1/admin/rollback"):
        denied = sqlite_client.post(path, headers=QUALITY)
        assert denied.status_code == 403 and "admin" in denied.json()["detail"]
    unknown = sqlite_client.post("/v1/admin/promote/999", headers=ADMIN)
    assert unknown.status_code == 404 and "999" in unknown.json()["detail"]
    assert sqlite_client.get("/v1/admin/jobs/nope", headers=ADMIN).status_code == 404
    if len(listed["versions"]) == 1:
        back = sqlite_client.post("/v1/admin/rollback", headers=ADMIN)
        assert back.status_code == 409 and "nothing to roll back to" in back.json()["detail"]


def test_review_page_is_served_with_the_guide_labels(sqlite_client):
    page = sqlite_client.get("/review")
    assert page.status_code == 200 and 'lang="ru"' in page.text
    assert '"always_hard": ["death"' in page.text and "Кража имущества клиента" in page.text
    script = sqlite_client.get("/review/static/review.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
