"""Two people per change, claiming, undo, the journal, search and agreement, through the real
app on real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine

from pettriage.store import quality, worklist
from pettriage.store.db import make_sessions

from .servers import QUALITY, classify

MARIA, OLEG, IRA = "Мария К.", "Олег Д.", "Ира С."
HARD = {"is_hard": True, "urgency": "high"}


def post(client, path, **body):
    return client.post(path, json=body, headers=QUALITY)


def correct(client, message_id, who=MARIA, **labels):
    return post(client, "/v1/feedback", message_id=message_id, annotator=who, labels=labels)


def queue_ids(client) -> list[str]:
    return [
        i["message_id"] for i in client.get("/v1/review-queue", headers=QUALITY).json()["items"]
    ]


def stored(client, message_id, text):
    """A classified message forced into the review queue."""
    answer = classify(client, text, message_id=message_id)
    assert answer.status_code == 200, answer.text
    engine = create_engine(client.app.state.settings.database_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE predictions SET review_priority = 3 WHERE message_id = %s"
            if engine.dialect.name == "postgresql"
            else "UPDATE predictions SET review_priority = 3 WHERE message_id = ?",
            (message_id,),
        )
    engine.dispose()
    return answer.json()


def other_category(answer: dict, *avoid: str) -> str:
    """A hard category the model did not say (nor any of `avoid`): a real change."""
    return next(
        c for c in ("theft", "no_show", "property_damage") if c not in (answer["category"], *avoid)
    )


def test_a_correction_waits_for_a_second_person(client):
    shown = stored(client, "two-1", "ситтер ушла через десять минут, а оплату списали полностью")
    proposal = correct(client, "two-1", category=other_category(shown), **HARD).json()
    assert proposal["status"] == "proposed" and proposal["reviewer"] is None
    assert "two-1" not in queue_ids(client)  # handled: it waits in the proposals instead
    waiting = client.get("/v1/proposals", headers=QUALITY).json()
    assert waiting["total"] == 1 and waiting["items"][0]["text"].startswith("ситтер ушла")

    path = f"/v1/feedback/{proposal['feedback_id']}/review"
    own = post(client, path, annotator=MARIA, verdict="confirm")
    assert own.status_code == 403 and "second person" in own.json()["detail"]
    done = post(client, path, annotator=OLEG, verdict="confirm", comment="верно")
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "confirmed" and done.json()["reviewer"] == OLEG
    again = post(client, path, annotator=IRA, verdict="reject")
    assert again.status_code == 409 and "already confirmed by" in again.json()["detail"]
    assert client.get("/v1/proposals", headers=QUALITY).json()["total"] == 0
    missing = post(client, "/v1/feedback/999999/review", annotator=OLEG, verdict="confirm")
    assert missing.status_code == 404


def test_a_confirmation_of_the_labels_shown_needs_no_second_person(client):
    stored(client, "two-2", "спасибо, всё прошло хорошо, кот доволен")
    body = post(client, "/v1/feedback", message_id="two-2", annotator=MARIA, verdict="confirm")
    assert body.json()["status"] == "confirmed"
    assert client.get("/v1/proposals", headers=QUALITY).json()["total"] == 0
    review = post(
        client,
        f"/v1/feedback/{body.json()['feedback_id']}/review",
        annotator=OLEG,
        verdict="confirm",
    )
    assert review.status_code == 409


def test_a_rejected_correction_leaves_the_labels_as_they_were(client):
    shown = stored(client, "two-3", "выгульщик опоздал на полчаса, пёс успел сделать лужу")
    proposal = correct(client, "two-3", category=other_category(shown), **HARD).json()
    rejected = post(
        client, f"/v1/feedback/{proposal['feedback_id']}/review", annotator=OLEG, verdict="reject"
    ).json()
    assert rejected["status"] == "rejected"
    assert "two-3" not in queue_ids(client)  # the second person judged it: handled
    # a later proposal on the same message supersedes; the rejected one cannot be reviewed again
    later = correct(
        client,
        "two-3",
        who=IRA,
        category=other_category(shown, proposal["labels"]["category"]),
        **HARD,
    ).json()
    stale = post(
        client, f"/v1/feedback/{proposal['feedback_id']}/review", annotator=IRA, verdict="confirm"
    )
    assert stale.status_code == 409
    assert [
        p["feedback_id"] for p in client.get("/v1/proposals", headers=QUALITY).json()["items"]
    ] == [later["feedback_id"]]


def test_undo_restores_the_message_with_a_row_of_its_own(client):
    shown = stored(client, "two-4", "после визита ситтера кот хромает, лапа опухла")
    proposal = correct(client, "two-4", category=other_category(shown), **HARD).json()
    path = f"/v1/feedback/{proposal['feedback_id']}/undo"
    assert post(client, path, annotator=OLEG).status_code == 403  # only its author
    undone = post(client, path, annotator=MARIA)
    assert undone.status_code == 200, undone.text
    row = undone.json()
    assert row["verdict"] == "undo" and row["undoes"] == proposal["feedback_id"]
    assert row["labels"] == proposal["previous"] and row["previous"] == proposal["labels"]
    assert "two-4" in queue_ids(client)  # back where it was
    assert client.get("/v1/proposals", headers=QUALITY).json()["total"] == 0
    assert post(client, path, annotator=MARIA).status_code == 409  # once
    journal = client.get("/v1/feedback", params={"message_id": "two-4"}, headers=QUALITY).json()
    assert [f["verdict"] for f in journal["items"]] == ["undo", "correct"]

    reviewed = correct(client, "two-4", category=other_category(shown), **HARD).json()
    post(
        client, f"/v1/feedback/{reviewed['feedback_id']}/review", annotator=OLEG, verdict="confirm"
    )
    late = post(client, f"/v1/feedback/{reviewed['feedback_id']}/undo", annotator=MARIA)
    assert late.status_code == 409 and "already confirmed" in late.json()["detail"]


def test_a_claimed_item_is_someone_elses_until_the_lease_ends(client):
    stored(client, "two-5", "ситтер привела с собой подругу, они сидели у нас на кухне")
    mine = post(client, "/v1/claims", message_id="two-5", annotator=MARIA)
    assert mine.status_code == 200 and mine.json()["claimed_by"] == MARIA
    nameless = post(client, "/v1/claims", message_id="two-5", annotator="   ")
    assert nameless.status_code == 422 and "annotator" in nameless.text
    taken = post(client, "/v1/claims", message_id="two-5", annotator=OLEG)
    assert taken.status_code == 409
    assert taken.json()["claimed_by"] == MARIA and taken.json()["expires_at"]
    [item] = [
        i
        for i in client.get("/v1/review-queue", headers=QUALITY).json()["items"]
        if i["message_id"] == "two-5"
    ]
    assert item["claimed_by"] == MARIA
    refused = correct(client, "two-5", who=OLEG, category="unauthorized_entry", **HARD)
    assert refused.status_code == 409 and MARIA in refused.json()["detail"]
    assert post(client, "/v1/claims", message_id="two-5", annotator=MARIA).status_code == 200
    released = client.delete(
        "/v1/claims/prediction/two-5", params={"annotator": MARIA}, headers=QUALITY
    )
    assert released.status_code == 204
    assert post(client, "/v1/claims", message_id="two-5", annotator=OLEG).status_code == 200
    ok = correct(client, "two-5", who=OLEG, category="unauthorized_entry", **HARD)
    assert ok.status_code == 200, ok.text


def test_a_stale_lease_expires(client):
    sessions = make_sessions(create_engine(client.app.state.settings.database_url))
    start = datetime.now(UTC)
    with sessions() as session:
        worklist.claim(session, "prediction", "two-6", MARIA, start, seconds=60)
        with pytest.raises(quality.Refused):
            worklist.claim(session, "prediction", "two-6", OLEG, start + timedelta(seconds=59), 60)
        later = worklist.claim(
            session, "prediction", "two-6", OLEG, start + timedelta(seconds=61), 60
        )
        assert later.annotator == OLEG


def test_totals_paging_journal_filters_and_search(client):
    texts = {
        "two-7": "Ситтер не покормила собаку вечером, миска пустая",
        "two-8": "кот опять разодрал диван, ситтер даже не заметила",
        "two-9": "Собака вернулась с прогулки без ошейника",
    }
    for message_id, text in texts.items():
        stored(client, message_id, text)
    first = client.get("/v1/review-queue", params={"limit": 2}, headers=QUALITY).json()
    rest = client.get("/v1/review-queue", params={"limit": 2, "offset": 2}, headers=QUALITY).json()
    assert first["total"] == rest["total"] == 3
    assert len(first["items"]) == 2 and len(rest["items"]) == 1

    found = client.get("/v1/search", params={"q": "собаки"}, headers=QUALITY).json()
    assert sorted(i["message_id"] for i in found["items"]) == ["two-7", "two-9"]
    assert found["total"] == 2
    both = client.get("/v1/search", params={"q": "собака ошейник"}, headers=QUALITY).json()
    assert [i["message_id"] for i in both["items"]] == ["two-9"]
    by_id = client.get("/v1/search", params={"q": "two-8"}, headers=QUALITY).json()
    assert [i["message_id"] for i in by_id["items"]] == ["two-8"]

    correct(client, "two-7", category="ignored_instructions", **HARD)
    correct(client, "two-8", who=OLEG, category="property_damage", **HARD)
    mine = client.get("/v1/feedback", params={"person": MARIA}, headers=QUALITY).json()
    assert mine["total"] == 1 and mine["items"][0]["message_id"] == "two-7"
    assert mine["items"][0]["text"] == texts["two-7"]
    today = datetime.now(UTC).date()
    window = {"since": str(today), "until": str(today)}
    assert client.get("/v1/feedback", params=window, headers=QUALITY).json()["total"] == 2
    before = {"until": str(today - timedelta(days=1))}
    assert client.get("/v1/feedback", params=before, headers=QUALITY).json()["total"] == 0


def kappa(first: list, second: list) -> float:
    """Cohen's kappa by its definition: observed agreement against chance agreement."""
    n = len(first)
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / n
    chance = sum(first.count(v) / n * second.count(v) / n for v in set(first) | set(second))
    return (observed - chance) / (1 - chance)


def test_agreement_is_cohens_kappa_of_author_and_second_person(client):
    shown = [
        stored(client, "two-10", "ситтер не пришла, кошка сутки без еды"),
        stored(client, "two-11", "выгульщица сломала замок на калитке"),
    ]
    said = [other_category(shown[0]), other_category(shown[1])]
    a = correct(client, "two-10", category=said[0], **HARD).json()
    b = correct(client, "two-11", category=said[1], **HARD).json()
    post(client, f"/v1/feedback/{a['feedback_id']}/review", annotator=OLEG, verdict="confirm")
    post(client, f"/v1/feedback/{b['feedback_id']}/review", annotator=OLEG, verdict="reject")
    figures = client.get("/v1/agreement", headers=QUALITY).json()
    overall = figures["overall"]
    assert overall["pairs"] == 2
    # Мария said `said`; Олег agreed with the first and held the model's label for the second
    held = [said[0], shown[1]["category"]]
    assert overall["heads"]["category"] == {
        "kappa": pytest.approx(kappa(said, held), abs=1e-4),
        "agreement": 0.5,
    }
    assert overall["heads"]["reporter"]["agreement"] == 1.0
    assert set(figures["people"]) == {MARIA, OLEG}
    assert figures["people"][MARIA]["pairs"] == figures["people"][OLEG]["pairs"] == 2
