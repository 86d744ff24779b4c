"""`complaints rescore` on Spark local[2] answers as `complaints classify` does, field by field.

A few hundred messages read at test time from the corpus and from `../shared/external/` (never
copied here), with Latin-script, nearly empty and long texts, unicode and numeric ids, times
with zones, and lines the CLI refuses; JSONL in and Parquet in. One Spark session serves the
module: `rescore` runs on the session already active in the process. The 20,000-message run
and the rates are `benchmarks/rescore_bench.py`'s.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pettriage.cli import main
from pettriage.config import Settings
from pettriage.training.partition import ANSWER_COLUMNS
from pettriage.training.rescore import read_answers

from .conftest import CORPUS, DECISION_KEYS, REPO

EXTERNAL = REPO.parent / "shared" / "external"
MASTER = "local[2]"
LONG = 20_000  # the longest text a message may have (records.MAX_TEXT_CHARS)


def _read(path: Path, every: int = 1, limit: int | None = None) -> list[dict]:
    records = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return records[::every][:limit]


def messages() -> list[dict]:
    """Every 25th record of each corpus file with its channel and time, some real off-topic
    texts (the news excerpts are long), and the edge cases written here."""
    chosen = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        for r in _read(path, every=25):
            chosen.append({k: r[k] for k in ("id", "text", "channel", "received_at") if k in r})
    external = [
        *_read(EXTERNAL / "sentirueval2016_telecom_bank_complaint_tweets.jsonl", 40),
        *_read(EXTERNAL / "sentirueval2015_restaurant_service_complaints.jsonl", 10),
        *_read(EXTERNAL / "pet_incident_news_excerpts.jsonl", 4),
    ]
    chosen += [{"id": r["id"], "text": r["text"], "channel": "email"} for r in external]
    joined = " ".join(r["text"] for r in chosen)
    chosen += [
        {"id": "латиница-1", "text": "sobaka ne dyshit, chto delat??", "channel": "chat"},
        {"id": "latin-2", "text": "sitter opozdal na 2 chasa, vernite dengi", "channel": "chat"},
        {"id": "🐱-3", "text": "?"},
        {"id": "naïve:é~4", "text": "  ...  ", "channel": "call_note"},
        {"id": "emoji-5", "text": "😿😿"},
        {"id": "long-6", "text": joined[:LONG], "channel": "email"},
        {
            "id": "time-7",
            "text": "кот умер в субботу вечером",
            "received_at": "2026-11-02T23:30:00-05:00",
        },
        {"id": 12345, "text": "спасибо, всё отлично"},
        {"text": "без id: собака подавилась костью"},
    ]
    return chosen


BAD_LINES = (
    b"{oops",
    json.dumps({"id": "empty", "text": ""}).encode(),
    json.dumps({"id": "blank", "text": "   "}).encode(),
    json.dumps({"id": "too-long", "text": "x" * (LONG + 1)}).encode(),
    json.dumps({"id": "channel", "text": "привет", "channel": "telegram"}).encode(),
    b'{"id": "not-utf-8", "text": "\xff\xfe"}',
)


def _write_jsonl(path: Path, records: list[dict], bad: tuple[bytes, ...] = ()) -> Path:
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in records]
    for at, line in enumerate(bad):  # spread among the good ones, and one blank line
        lines.insert(1 + at * 37, line)
    lines.insert(5, b"")
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from pettriage.training.spark import spark_session

    with spark_session(MASTER, tmp_path_factory.mktemp("spark")) as (session, _):
        yield session


def _classified(cli, source: Path) -> tuple[int, list[dict], list[str]]:
    output = source.with_suffix(".answers.jsonl")
    code, _, err = cli("classify", "--input", str(source), "--output", str(output))
    answers = [json.loads(line) for line in output.read_text("utf-8").splitlines()]
    return code, answers, _problems(err, source)


def _rescored(cli, source: Path) -> tuple[int, list[dict], list[str], str]:
    output = source.with_suffix(".rescored.parquet")
    code, out, err = cli(
        "rescore", "--input", str(source), "--output", str(output), "--master", MASTER
    )
    return code, read_answers(output), _problems(err, source), out


def _problems(err: str, source: Path) -> list[str]:
    return [line for line in err.splitlines() if line.startswith(f"{source}:")]


def _differences(left: list[dict], right: list[dict]) -> list[str]:
    """Where two lists of answers differ: id by id, field by field."""
    found = [f"ids: {[a['id'] for a in left]} != {[b['id'] for b in right]}"]
    if [a["id"] for a in left] == [b["id"] for b in right]:
        found = [
            f"{a['id']}: {name}: {a.get(name)!r} != {b.get(name)!r}"
            for a, b in zip(left, right, strict=True)
            for name in sorted(a.keys() | b.keys())
            if a.get(name) != b.get(name) or (name in a) != (name in b)
        ]
    return found


def test_jsonl_answers_are_the_clis(spark, cli, tmp_path):
    source = _write_jsonl(tmp_path / "archive.jsonl", messages(), BAD_LINES)
    code, expected, refused = _classified(cli, source)
    rescore_code, answers, rescore_refused, out = _rescored(cli, source)

    assert len(expected) >= 300 and len(refused) == len(BAD_LINES)
    assert code == rescore_code == 1 and rescore_refused == refused
    assert _differences(answers, expected) == []
    assert answers == expected  # and the whole, dict for dict
    ids = {a["id"] for a in answers}
    assert {"латиница-1", "🐱-3", "naïve:é~4", "long-6", "12345"} <= ids
    assert any(i.startswith("line-") for i in ids)
    assert any(a["read_as"] for a in answers) and any(a["safety"]["fired"] for a in answers)
    assert f"rescored {len(answers)} messages in " in out and "messages/s on local[2]" in out


def test_parquet_answers_are_the_clis_and_typed(spark, cli, tmp_path, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    monkeypatch.chdir(tmp_path)  # and the paths relative, as a person types them

    # Parquet holds times as instants: the CLI gets the same instants, written in UTC.
    records = [r | {"id": str(r["id"])} for r in messages() if "id" in r]
    for r in records:
        if "received_at" in r:
            r["received_at"] = datetime.fromisoformat(r["received_at"]).astimezone(UTC)
    source = Path("archive.parquet")
    table = pa.table(
        {
            "id": [r["id"] for r in records],
            "text": [r["text"] for r in records],
            "channel": [r.get("channel") for r in records],
            "received_at": pa.array(
                [r.get("received_at") for r in records], pa.timestamp("us", tz="UTC")
            ),
        }
    )
    pq.write_table(table, source)
    as_lines = [
        r | {"received_at": r["received_at"].isoformat()} if "received_at" in r else r
        for r in records
    ]
    code, expected, _ = _classified(cli, _write_jsonl(Path("same.jsonl"), as_lines))
    rescore_code, answers, _, _ = _rescored(cli, source)

    assert code == rescore_code == 0
    assert _differences(answers, expected) == []
    assert answers == expected
    schema = pq.read_schema(next(Path("archive.rescored.parquet").glob("part-*")))
    assert schema.names == list(ANSWER_COLUMNS) and {"id", *DECISION_KEYS} <= set(schema.names)
    assert pa.types.is_map(schema.field("probabilities").type)
    assert pa.types.is_struct(schema.field("safety").type)
    assert pa.types.is_boolean(schema.field("is_hard").type)


def test_an_unknown_suffix_or_a_missing_input_is_refused_before_spark_starts(
    settings, capsys, tmp_path
):
    source = tmp_path / "archive.csv"
    source.write_text("id,text\n1,привет\n", "utf-8")
    output = tmp_path / "answers.parquet"
    code = main(["rescore", "--input", str(source), "--output", str(output)], settings)
    err = capsys.readouterr().err
    assert code == 1
    assert f"cannot tell how to read {source}: expected a name ending in .jsonl or .parquet" in err
    missing = tmp_path / "nowhere.jsonl"
    assert main(["rescore", "--input", str(missing), "--output", str(output)], settings) == 1
    assert f"error: no input at {missing}" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [source]


@pytest.mark.model  # an MLflow store of its own: seconds, too slow for the unit tier
def test_no_champion_is_a_clear_error(capsys, tmp_path):
    source = tmp_path / "archive.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "привет"}, ensure_ascii=False), "utf-8")
    empty = Settings(
        home=tmp_path, models_dir=tmp_path / "models", mlflow_tracking_uri=None, database_url=None
    )
    output = tmp_path / "answers.parquet"
    code = main(["rescore", "--input", str(source), "--output", str(output)], empty)
    assert code == 1
    assert "the registry has no champion yet; train one with `complaints train`" in (
        capsys.readouterr().err
    )
    assert not output.exists()


def test_only_an_earlier_output_is_replaced(tmp_path):
    from pettriage.training.rescore import check_output

    earlier = tmp_path / "answers.parquet"
    earlier.mkdir()
    for name in ("part-00000-a.snappy.parquet", "_SUCCESS", ".part-00000-a.snappy.parquet.crc"):
        (earlier / name).touch()
    check_output(tmp_path / "new.parquet", overwrite=False)
    check_output(earlier, overwrite=True)
    with pytest.raises(ValueError, match="exists; remove it or pass --overwrite"):
        check_output(earlier, overwrite=False)
    (earlier / "notes.txt").touch()
    with pytest.raises(ValueError, match="is not the Parquet folder of an earlier rescore"):
        check_output(earlier, overwrite=True)
