"""Corrections in the corpus: appended records that supersede what they correct, the export from
the service's database, the split, and the cleanlab audit of the annotated labels."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from pettriage.classifier.dataset import Minimums, check_corpus, load_corpus
from pettriage.store import quality, queries, worklist
from pettriage.store.corrections import CORRECTIONS_FILE, export_corrections
from pettriage.store.db import make_sessions, migrate
from pettriage.training.split import split

from .conftest import CORPUS

TINY = Minimums(0, 0, 0, 0, 0.0, 1.0, all_channels=False)
LABELS = ("category", "is_hard", "urgency", "reporter")


def write(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")


@pytest.fixture
def corpus(tmp_path) -> Path:
    """A small corpus: the first 40 records of the real one."""
    directory = tmp_path / "annotated"
    directory.mkdir()
    write(directory / "sample.jsonl", load_corpus(CORPUS)[:40])
    return directory


@pytest.fixture
def sessions(tmp_path):
    url = f"sqlite:///{tmp_path / 'service.db'}"
    migrate(url, tmp_path)
    engine = create_engine(url)
    yield make_sessions(engine)
    engine.dispose()


def predict_row(message_id: str, text: str, category="other") -> dict:
    hard = category != "other"
    return dict(
        message_id=message_id,
        channel="chat",
        text=text,
        is_hard=hard,
        category=category,
        urgency="high" if hard else "normal",
        reporter="client",
        needs_review=False,
        safety_fired=False,
        decision={},
        model_version="1",
        received_at=None,
        created_at=datetime.now(UTC),
        meta=None,
    )


def correct(
    session, message_id, labels, target="prediction", previous=None, who="Мария", reviewed=True
):
    """A correction (or, without labels, a confirmation); `reviewed`: a second person confirmed
    it, as every correction needs before it is exported."""
    prediction = queries.latest_prediction(session, message_id) if target == "prediction" else None
    return quality.add_feedback(
        session,
        dict(
            message_id=message_id,
            target=target,
            prediction_id=prediction.id if prediction else None,
            verdict="correct" if labels else "confirm",
            labels=labels,
            previous=previous
            or {"category": "other", "is_hard": False, "urgency": "normal", "reporter": "client"},
            annotator=who,
            comment=None,
            created_at=datetime.now(UTC),
            status="confirmed" if reviewed or not labels else "proposed",
            reviewer="Олег" if reviewed and labels else None,
        ),
    )


THEFT = {"category": "theft", "is_hard": True, "urgency": "high", "reporter": "client"}
NO_SHOW = {"category": "no_show", "is_hard": True, "urgency": "high", "reporter": "client"}


def test_export_appends_records_that_name_what_they_correct(corpus, sessions):
    text = "После визита ситтера пропали наушники из прихожей, их точно не было в сумке."
    with sessions() as session:
        queries.save(session, [predict_row("live-1", text)])
        first = correct(session, "live-1", NO_SHOW)
        second = correct(session, "live-1", THEFT, who="Ольга")  # supersedes the first
        result = export_corrections(session, corpus)
    assert [r["id"] for r in result.written] == [f"fb-{second.id}"]
    assert first.id != second.id and result.skipped == []
    [line] = (corpus / CORRECTIONS_FILE).read_text("utf-8").splitlines()
    record = json.loads(line)
    assert {k: record[k] for k in LABELS} == THEFT
    assert record["text"] == text and record["channel"] == "chat"
    assert record["corrects"] == "live-1" and record["corrects_kind"] == "prediction"
    assert record["annotator"] == "Ольга" and record["model_said"]["category"] == "other"
    assert "theft" in result.describe() and "live-1" in result.describe()
    assert check_corpus(corpus, TINY).ok

    with sessions() as session:  # twice: nothing new
        again = export_corrections(session, corpus)
    assert again.written == [] and again.already == 1
    assert len((corpus / CORRECTIONS_FILE).read_text("utf-8").splitlines()) == 1


def test_only_corrections_a_second_person_confirmed_are_exported(corpus, sessions):
    texts = {
        "two-1": "Ситтер разбила вазу в гостиной и ничего не сказала.",
        "two-2": "После выгула пропал пульт от телевизора, раньше такого не было.",
        "two-3": "Выгульщик не пришёл вообще, собака терпела до вечера.",
        "two-4": "Кот после визита хромает на заднюю лапу.",
    }
    damage = THEFT | {"category": "property_damage"}
    with sessions() as session:
        queries.save(session, [predict_row(mid, text) for mid, text in texts.items()])
        confirmed = correct(session, "two-1", damage)
        correct(session, "two-2", THEFT, reviewed=False)  # waits for a second person
        rejected = correct(session, "two-3", NO_SHOW, reviewed=False)
        quality.review(session, rejected.id, "Олег", "reject", None, datetime.now(UTC))
        undone = correct(session, "two-4", THEFT | {"category": "health_harm"}, reviewed=False)
        quality.undo(session, undone.id, "Мария", None, datetime.now(UTC))
        dry = export_corrections(session, corpus, dry_run=True)
        assert not (corpus / CORRECTIONS_FILE).exists()
        result = export_corrections(session, corpus)
    for run in (dry, result):
        assert [r["id"] for r in run.written] == [f"fb-{confirmed.id}"]
        assert run.proposals_left_out == 1
    assert "1 proposals awaiting a second person left out" in result.describe()
    [line] = (corpus / CORRECTIONS_FILE).read_text("utf-8").splitlines()
    assert json.loads(line)["category"] == "property_damage"


def test_a_later_correction_supersedes_an_exported_one_and_both_stay(corpus, sessions):
    with sessions() as session:
        queries.save(session, [predict_row("live-2", "Ситтер не пришёл, а деньги списали.")])
        correct(session, "live-2", THEFT)
        export_corrections(session, corpus)
        correct(session, "live-2", NO_SHOW)
        export_corrections(session, corpus)
    lines = (corpus / CORRECTIONS_FILE).read_text("utf-8").splitlines()
    assert [json.loads(line)["category"] for line in lines] == ["theft", "no_show"]
    result = check_corpus(corpus, TINY)
    assert result.ok, result.problems
    in_force = [i.record for i in result.records if i.record.get("corrects") == "live-2"]
    assert [r["category"] for r in in_force] == ["no_show"]
    assert len(result.superseded) == 1


def test_correction_of_an_annotated_record_replaces_it(corpus, sessions):
    original = load_corpus(corpus)[3]
    labels = THEFT if original["category"] != "theft" else NO_SHOW
    with sessions() as session:
        correct(session, original["id"], labels, target="annotated")
        result = export_corrections(session, corpus)
    assert result.written[0]["corrects_kind"] == "annotated"
    records = load_corpus(corpus)
    assert original["id"] not in [r["id"] for r in records]
    [replacement] = [r for r in records if r.get("corrects") == original["id"]]
    assert replacement["text"] == original["text"] and replacement["category"] == labels["category"]
    assert check_corpus(corpus, TINY).ok  # the repeated text is not a duplicate: it supersedes


def test_a_correction_that_would_break_the_data_check_is_left_out(corpus, sessions):
    existing = load_corpus(corpus)[5]
    with sessions() as session:  # someone classified a text the corpus already holds
        queries.save(session, [predict_row("live-3", existing["text"])])
        correct(session, "live-3", THEFT)
        result = export_corrections(session, corpus)
    assert result.written == []
    assert len(result.skipped) == 1 and "duplicate" in result.skipped[0]
    assert not (corpus / CORRECTIONS_FILE).exists()
    assert check_corpus(corpus, TINY).ok


def test_data_check_names_a_correction_of_nothing(corpus):
    write(
        corpus / CORRECTIONS_FILE,
        [{"id": "fb-9", "text": "текст", "channel": "chat", **THEFT, "corrects": "no-such-id"}],
    )
    problems = check_corpus(corpus, TINY).problems
    assert any("corrections.jsonl:1: corrects 'no-such-id'" in p for p in problems), problems


def test_corrections_stay_on_their_side_of_the_frozen_split(corpus, tmp_path):
    records = load_corpus(corpus)
    test_ids = tmp_path / "test_ids.txt"
    test_ids.write_text(f"{records[0]['id']}\n{records[1]['id']}\n")
    fixed = {**records[0], "id": "fb-1", "corrects": records[0]["id"], **THEFT}
    live = {**records[2], "id": "fb-2", "corrects": records[1]["id"], "corrects_kind": "prediction"}
    write(corpus / CORRECTIONS_FILE, [fixed, {**live, "text": live["text"] + " И ещё раз."}])
    train, test, _ = split(load_corpus(corpus), test_ids)
    assert sorted(r["id"] for r in test) == sorted(["fb-1", records[1]["id"]])
    assert "fb-2" in [r["id"] for r in train]  # a live message is never a test message


@pytest.mark.model  # cross-validates, that is, trains
def test_audit_finds_labels_flipped_on_purpose():
    from pettriage.training.audit import audit

    records = load_corpus(CORPUS)[::4]
    rng = random.Random(7)
    deaths = [i for i, r in enumerate(records) if r["category"] == "death"]
    flipped = rng.sample(deaths, 8)
    for i in flipped:  # a death labelled as a thank-you: the guide's consistency still holds
        records[i] = {**records[i], "category": "other", "is_hard": False, "urgency": "low"}
    suspects = audit(records, folds=3)
    found = {s.record["id"] for s in suspects}
    hits = [records[i]["id"] for i in flipped if records[i]["id"] in found]
    assert len(hits) >= 6, f"found {len(hits)} of 8 flipped labels"
    assert len(suspects) < len(records) * 0.25  # a list for people, not the whole corpus
    top = next(s for s in suspects if s.record["id"] == hits[0])
    assert top.given in ("other", "false", "low") and top.confidence > top.given_probability


@pytest.mark.model
def test_audit_command_lists_and_stores_for_the_page(tmp_path, capsys):
    from pettriage.cli import main
    from pettriage.config import Settings

    directory = tmp_path / "annotated"
    directory.mkdir()
    write(directory / "sample.jsonl", load_corpus(CORPUS)[::8])
    settings = Settings(home=tmp_path, data_dir=directory, database_url=None)
    output = tmp_path / "audit.jsonl"
    argv = ["data", "audit", "--folds", "3", "--show", "5", "--store", "--output", str(output)]
    assert main(argv, settings) == 0
    printed = capsys.readouterr().out
    listed = [json.loads(line) for line in output.read_text("utf-8").splitlines()]
    assert listed and f"{len(listed)} records whose label" in printed
    assert "→" in printed and f"stored {len(listed)} items" in printed
    engine = create_engine(f"sqlite:///{tmp_path / 'complaints.db'}")
    with make_sessions(engine)() as session:
        stored = worklist.audit_list(session, worklist.QueueFilters(), 1000).items
    engine.dispose()
    assert sorted(s.record_id for s in stored) == sorted(r["record_id"] for r in listed)
    assert stored[0].confidence >= stored[-1].confidence
