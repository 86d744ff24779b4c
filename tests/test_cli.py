"""The `complaints` command, run in-process through its real entry point."""

import json
from pathlib import Path

import pytest

from pettriage.cli import main

from .conftest import DECISION_KEYS


def test_classify_file_with_bad_lines(cli, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(
        "\n".join(
            [
                json.dumps(
                    {"id": "a", "text": "кот не дышит!!!", "channel": "chat"}, ensure_ascii=False
                ),
                "{oops",
                json.dumps({"id": "b", "text": ""}),
                json.dumps({"id": "c", "text": "x" * 20_001}),
                json.dumps({"id": "d", "text": "спасибо", "channel": "telegram"}),
                json.dumps({"text": "можно оплатить картой?"}, ensure_ascii=False),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    output = tmp_path / "out.jsonl"
    code, _, err = cli("classify", "--input", str(source), "--output", str(output))
    assert code == 1
    assert f"{source}:2: not valid JSON" in err
    assert f"{source}:3: field 'text' must be a non-empty string" in err
    assert f"{source}:4: field 'text' is 20001 characters long; the limit is 20000" in err
    assert f"{source}:5: field 'channel' must be one of" in err
    answers = [json.loads(line) for line in output.read_text().splitlines()]
    assert [a["id"] for a in answers] == ["a", "line-6"]
    assert answers[0]["urgency"] == "critical" and answers[0]["safety"]["fired"]
    assert {"id", *DECISION_KEYS} <= answers[1].keys()


CORPUS = Path(__file__).resolve().parents[1] / "data" / "annotated"


def test_several_processes_answer_as_one(cli, tmp_path):
    """`--jobs 2` over three chunks of lines: the same bytes out, in the same order, and the same
    bad lines reported in order, as one process gives."""
    lines = [
        json.dumps({"id": r["id"], "text": r["text"], "channel": r["channel"]}, ensure_ascii=False)
        for path in sorted(CORPUS.glob("*.jsonl"))
        for r in map(json.loads, path.read_text("utf-8").splitlines())
    ][:2_300]
    for at in (4, 1_500, 2_200):
        lines.insert(at, "{oops")
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    runs = {}
    for jobs in ("1", "2"):
        output = tmp_path / f"out{jobs}.jsonl"
        code, _, err = cli(
            "classify", "--input", str(source), "--output", str(output), "--jobs", jobs
        )
        problems = [line for line in err.splitlines() if line.startswith(f"{source}:")]
        runs[jobs] = code, output.read_bytes(), problems, err
    assert runs["1"][:3] == runs["2"][:3]
    code, answers, problems, err = runs["2"]
    assert code == 1 and problems == [
        f"{source}:{n}: not valid JSON (Expecting property name "
        f"enclosed in double quotes at column 2)"
        for n in (5, 1501, 2201)
    ]
    assert len(answers.splitlines()) == 2_300
    assert "2,300 of 2,303 lines classified" in err and "with 2 processes" in err


def test_a_failed_run_leaves_earlier_answers_as_they_were(cli, tmp_path):
    output = tmp_path / "answers.jsonl"
    output.write_text('{"id": "earlier"}\n', encoding="utf-8")
    code, _, err = cli(
        "classify", "--input", str(tmp_path / "missing.jsonl"), "--output", str(output)
    )
    assert code == 1 and "missing.jsonl" in err
    assert output.read_text(encoding="utf-8") == '{"id": "earlier"}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["answers.jsonl"]  # no scratch file left


def test_the_input_may_be_the_output(cli, tmp_path):
    source = tmp_path / "messages.jsonl"
    source.write_text('{"id": "a", "text": "кот не ест второй день"}\n', encoding="utf-8")
    code, _, _ = cli("classify", "--input", str(source), "--output", str(source))
    [answer] = [json.loads(line) for line in source.read_text("utf-8").splitlines()]
    assert code == 0 and answer["id"] == "a" and "category" in answer
    assert source.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_jobs_must_be_a_positive_number(cli, capsys):
    with pytest.raises(SystemExit):
        cli("classify", "--input", "x.jsonl", "--jobs", "0")
    assert "a whole number of processes, 1 or more, not '0'" in capsys.readouterr().err


def test_classify_text_is_readable(cli):
    code, out, _ = cli(
        "classify", "--text", "выгульщик не пришёл, верните деньги", "--channel", "chat"
    )
    assert code == 0
    assert out.startswith("category  no_show — Невыход на услугу")
    assert "urgency   high" in out and "model     v1" in out


def test_evaluate_prints_metrics(cli, tmp_path):
    labelled = tmp_path / "l.jsonl"
    labelled.write_text(
        json.dumps(
            {
                "id": "e1",
                "text": "ситтер разбила вазу, требую компенсацию",
                "channel": "chat",
                "reporter": "client",
                "category": "property_damage",
                "is_hard": True,
                "urgency": "high",
            },
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    code, out, _ = cli("evaluate", "--input", str(labelled))
    assert code == 0
    assert "== category: macro-F1" in out and "== critical:" in out


def test_evaluate_refuses_unlabelled(cli, tmp_path):
    bad = tmp_path / "l.jsonl"
    bad.write_text('{"id": "1", "text": "нет меток"}\n', encoding="utf-8")
    code, _, err = cli("evaluate", "--input", str(bad))
    assert code == 1 and "missing field 'channel'" in err


def test_rules_explain(cli):
    code, out, _ = cli("rules", "explain", "кот отравился, что делать?")
    assert code == 0
    assert "FIRES poisoning" in out and "verdict: critical, rule poisoning" in out


def test_rules_explain_reads_dates_against_received_at(cli):
    text = "2 ноября кот отравился у ситтера"
    _, same_day, _ = cli("rules", "explain", text, "--received-at", "2026-11-02T18:00:00+03:00")
    _, week_later, _ = cli("rules", "explain", text, "--received-at", "2026-11-09T10:00:00+03:00")
    assert "verdict: critical, rule poisoning" in same_day
    assert "held back: earlier («2 ноября»)" in week_later and "verdict: no override" in week_later


def test_rules_explain_refuses_a_time_without_a_zone(cli):
    code, _, err = cli("rules", "explain", "кот отравился", "--received-at", "2026-11-02")
    assert code == 2 and "with a timezone" in err


def test_rules_test_runs_the_files_own_examples(cli):
    code, out, _ = cli("rules", "test")
    assert code == 0 and "rule examples behave as written" in out


def test_rules_explain_says_why_not(cli):
    code, out, _ = cli("rules", "explain", "что делать, если кот отравится?")
    assert code == 0
    assert "«отравится» held back: hypothetical («если»)" in out
    assert "verdict: no override" in out


def test_rules_test_reports_recall_and_misses(cli, tmp_path):
    labelled = tmp_path / "l.jsonl"
    rows = [
        ("r1", "собака не дышит!!!", "health_harm", True, "critical"),
        (
            "r2",
            "кот тяжело заболел, лежит и не ест уже час, пришла на визит",
            "health_harm",
            True,
            "critical",
        ),
        ("r3", "спасибо за прогулку", "other", False, "low"),
    ]
    labelled.write_text(
        "\n".join(
            json.dumps(
                {
                    "id": i,
                    "text": t,
                    "channel": "chat",
                    "reporter": "client",
                    "category": c,
                    "is_hard": h,
                    "urgency": u,
                },
                ensure_ascii=False,
            )
            for i, t, c, h, u in rows
        )
        + "\n",
        encoding="utf-8",
    )
    code, out, _ = cli("rules", "test", "--input", str(labelled))
    assert code == 0
    assert "recall of critical 50.0% (1/2)" in out and "false alarms on the rest 0.00%" in out
    assert "r2:" in out.split("missed critical:")[1]


def test_model_info(cli):
    code, out, _ = cli("model", "info")
    assert code == 0 and json.loads(out)["model_version"] == "1"


def test_unknown_command_prints_help(capsys):
    assert main([]) == 2
