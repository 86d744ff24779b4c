import json

import pytest

from pettriage.classifier.dataset import (
    Minimums,
    check_corpus,
    data_hash,
    load_corpus,
    near_duplicates,
    variety_figures,
)

from .conftest import CORPUS

TINY = Minimums(
    total=1,
    per_hard_category=0,
    other=0,
    critical=0,
    executor_share=0.0,
    max_shared_opening_share=1.0,
    all_channels=False,
)


def record(i, text, **labels):
    base = {
        "id": f"t-{i}",
        "text": text,
        "channel": "chat",
        "reporter": "client",
        "category": "other",
        "is_hard": False,
        "urgency": "normal",
    }
    return json.dumps(base | labels, ensure_ascii=False)


def write(tmp_path, name, lines):
    (tmp_path / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_every_problem_names_file_and_line(tmp_path):
    write(
        tmp_path,
        "a.jsonl",
        [
            record(1, "можно перенести прогулку на пятницу?"),
            "{not json",
            record(3, "кот умер час назад у ситтера", category="death", is_hard=False),
            record(1, "другой текст про оплату картой"),
        ],
    )
    write(
        tmp_path,
        "b.jsonl",
        [
            record(5, "МОЖНО перенести прогулку на  пятницу?"),  # exact duplicate once normalized
            record(6, "подскажите, пожалуйста, сколько стоит передержка кошки на две недели в мае"),
            record(
                7, "подскажите, пожалуйста, сколько стоит передержка кошки на две недели в июне"
            ),
        ],
    )
    problems = check_corpus(tmp_path, TINY).problems
    expected = [
        "a.jsonl:2: not valid JSON",
        "a.jsonl:3: category 'death' is always hard",
        "a.jsonl:4: duplicate id 't-1' (first at a.jsonl:1)",
        "b.jsonl:1: exact duplicate of a.jsonl:1",
        "b.jsonl:3: near-duplicate of b.jsonl:2",
    ]
    for fragment in expected:
        assert any(p.startswith(fragment) for p in problems), (fragment, problems)
    assert len(problems) == len(expected)


def test_minimums_are_enforced(tmp_path):
    write(tmp_path, "a.jsonl", [record(1, "спасибо большое, всё прошло отлично", urgency="low")])
    problems = check_corpus(tmp_path, Minimums()).problems
    assert "corpus: 1 records, expected at least 3000" in problems
    assert "corpus: 0 'death', expected at least 180" in problems
    assert any(p.startswith("corpus: executor share 0.0%") for p in problems)


def test_load_corpus_refuses_invalid_lines(tmp_path):
    write(tmp_path, "a.jsonl", [record(1, "ок"), '{"id": "x"}'])
    with pytest.raises(ValueError, match=r"a.jsonl:2: missing field 'text'"):
        load_corpus(tmp_path)


def test_no_files_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="Expected annotated"):
        load_corpus(tmp_path)


def test_near_duplicates_threshold():
    texts = [
        "ситтер опоздал на два часа и не извинился",
        "ситтер опоздал на два часа и не извинился!",
        "кот съел корм и уснул на диване",
    ]
    pairs = near_duplicates(texts)
    assert [(i, j) for i, j, _ in pairs] == [(0, 1)]


@pytest.mark.parametrize(
    ("texts", "share"),
    [
        (["ситтер опоздал на час", "ситтер опоздал на день", "где мой выгульщик сегодня"], 2 / 3),
        # a salutation is not an opening: these share only «добрый день»
        (["Добрый день, ситтер опоздал на час", "добрый день кот заболел вчера"], 0.0),
        (["Добрый день! Ситтер опоздал на час", "Здравствуйте, ситтер опоздал на день"], 1.0),
    ],
)
def test_variety_counts_shared_openings(texts, share):
    assert variety_figures(texts)["shared_opening_share"] == pytest.approx(share)


def test_data_hash_ignores_order():
    a, b = {"id": "1", "text": "x"}, {"id": "2", "text": "y"}
    assert data_hash([a, b]) == data_hash([b, a]) != data_hash([a])


def test_the_real_corpus_passes_the_check():
    result = check_corpus(CORPUS)
    assert result.ok, result.problems[:20]


def test_the_opening_check_reads_a_fixed_number_of_messages():
    """Ordinary openings meet one of their own more often in a bigger corpus; the limit reads
    the share among `OPENING_SAMPLE` messages drawn at random, so size alone does not fail it,
    while a corpus where most messages open alike still does."""
    from pettriage.classifier.variety import OPENING_SAMPLE, shared_opening_sampled

    size = OPENING_SAMPLE
    pairs = [(f"w{i % (5 * size)}", "a", "b") for i in range(10 * size)]  # each opening twice
    assert shared_opening_sampled(pairs[:size]) == pytest.approx(0.0)
    assert shared_opening_sampled(pairs) < 0.2  # every message shares its opening with one other
    templated = [("ситтер", "не", "пришел")] * size + pairs[:size]
    assert shared_opening_sampled(templated) > 0.4
