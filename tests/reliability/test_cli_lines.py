"""(9) `complaints classify --input`: a line that is not UTF-8, or whose JSON holds a lone
surrogate, is reported as `file:line: what is wrong` and every other line is still classified
(one such line used to abort the whole file with a traceback and no answer at all)."""

from __future__ import annotations

import json

import pytest

from pettriage.cli import main


def line(**fields) -> bytes:
    return json.dumps(fields, ensure_ascii=False).encode("utf-8")


# (raw line, what stderr must say about it, or None for a line that is classified)
LINES = [
    (line(id="ok-1", text="кот не дышит!!!", channel="chat"), None),
    (b'{"id": "latin1", "text": "\xe3\xee\xeb\xee\xe4\xed\xfb\xe9 \xea\xee\xf2"}', "not UTF-8"),
    (line(id="ok-2", text="ситтер опоздала на час", channel="chat"), None),
    (b'{"id": "cut", "text": "\xd0\xba\xd0\xbe\xd1"}', "not UTF-8"),
    (b'{"id": "lone", "text": "\\ud83d \xd0\xba\xd0\xbe\xd1\x82"}', "lone surrogate"),
    (b'{"id": "\\udc00", "text": "x"}', "lone surrogate"),
    (line(id="ok-3", text="спасибо за прогулку", channel="chat"), None),
    (
        b'{"id": "pair", "text": "\\ud83d\\udc31 \xd0\xba\xd0\xbe\xd1\x82 \xd0\xb3\xd0\xbe\xd0\xbb'
        b'\xd0\xbe\xd0\xb4\xd0\xb5\xd0\xbd"}',
        None,
    ),  # a valid surrogate pair is an emoji
]


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join(raw for raw, _ in LINES) + b"\n")
    return path


def test_undecodable_lines_are_reported_and_the_rest_classified(
    trained, settings, source, capsys, tmp_path
):
    output = tmp_path / "out.jsonl"
    code = main(["classify", "--input", str(source), "--output", str(output)], settings)
    err = capsys.readouterr().err
    assert code == 1  # some lines were bad
    for number, (_, problem) in enumerate(LINES, start=1):
        if problem is None:
            assert f"{source}:{number}:" not in err
        else:
            [said] = [s for s in err.splitlines() if s.startswith(f"{source}:{number}: ")]
            assert problem in said, said
    assert "Traceback" not in err
    assert "4 of 8 lines were not classified" in err
    answers = [json.loads(s) for s in output.read_text("utf-8").splitlines()]
    assert [a["id"] for a in answers] == ["ok-1", "ok-2", "ok-3", "pair"]
    assert answers[0]["urgency"] == "critical"


def test_the_report_says_what_is_wrong_and_where(trained, settings, source, capsys):
    main(
        ["classify", "--input", str(source), "--output", str(source.with_suffix(".out"))], settings
    )
    said = capsys.readouterr().err.splitlines()
    assert said[0] == (
        f"{source}:2: not UTF-8: byte 0xe3 at byte 27 of the line (invalid continuation byte); "
        "save the file as UTF-8"
    )
    assert said[1].startswith(f"{source}:4: not UTF-8: byte 0xd1 at byte 28 of the line")
    assert said[2].startswith(
        f"{source}:5: field 'text' holds a lone surrogate (\\ud83d at character 1); "
    )
    assert said[3].startswith(f"{source}:6: field 'id' holds a lone surrogate (\\udc00 at")


def test_a_text_argument_that_is_not_utf8_is_refused(trained, settings, capsys):
    argument = b"\xd0\xba\xd0\xbe\xd1 \xff".decode("utf-8", "surrogateescape")  # as argv has it
    code = main(["classify", "--text", argument, "--channel", "chat"], settings)
    assert code == 1
    assert capsys.readouterr().err.startswith(
        "error: --text is not UTF-8: it holds a lone surrogate"
    )
