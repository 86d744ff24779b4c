"""The models tab of the review page, in Russian: the words without a browser (training steps,
a process's output as plain text, the gate's reasons and figure names), then the page in a real
headless Chromium against a real server, a real SQLite store and an MLflow registry of its own.
Every action that changes something asks first in a dialog that says what will happen;
"Отмена" and Escape leave everything as it was, "Подтвердить" does it."""

from __future__ import annotations

import json
import logging
import re
import shutil
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from pettriage.api.launcher import LiveServer
from pettriage.config import Settings
from pettriage.training import jobs
from pettriage.training.registry import (
    GATE_FIGURES,
    METRIC_NAMES_RU,
    GateResult,
    Refusal,
)

from .browser import log_in
from .conftest import CORPUS, REPO, SPLIT
from .servers import ADMIN, CHANNEL, QUALITY, server_env

NBSP = "\u00a0"


# -- the words, without a browser -------------------------------------------------------------
@pytest.mark.parametrize(
    ("n", "said"),
    [
        (0, "0 записей"),
        (1, "1 запись"),
        (2, "2 записи"),
        (5, "5 записей"),
        (11, "11 записей"),
        (14, "14 записей"),
        (21, "21 запись"),
        (104, "104 записи"),
        (111, "111 записей"),
        (1234, f"1{NBSP}234 записи"),
        (6501, f"6{NBSP}501 запись"),
    ],
)
def test_count_in_russian(n, said):
    assert jobs.count_ru(n, "запись", "записи", "записей") == said


@pytest.mark.parametrize(
    ("step", "detail", "said"),
    [
        ("read", {"records": 1234, "corrections": 0}, f"Читаю разметку: 1{NBSP}234 записи"),
        (
            "read",
            {"records": 6501, "corrections": 3},
            f"Читаю разметку: 6{NBSP}501 запись, из них 3 исправления",
        ),
        ("cv", {"folds": 3}, "Обучаю модель (кросс-валидация, 3 фолда)"),
        ("cv", {"folds": 5}, "Обучаю модель (кросс-валидация, 5 фолдов)"),
        (
            "cv",
            {"folds": 0},
            "Обучаю модель (кросс-валидация по авторам: каждый автор отложен по очереди)",
        ),
        ("test", {}, "Проверяю на тестовой выборке"),
        ("register", {"version": "7"}, "Регистрирую версию v7 в MLflow"),
        ("done", {"version": "7", "champion": False}, "Готово: v7"),
        ("done", {"version": "1", "champion": True}, "Готово: v1 — она стала чемпионом"),
        ("failed", {"error": "ValueError: нет разметки"}, "Ошибка: ValueError: нет разметки"),
    ],
)
def test_training_steps_in_russian(step, detail, said):
    assert jobs.step_text_ru(step, detail) == said


def test_an_unknown_step_is_refused():
    with pytest.raises(ValueError, match="Expected a step among"):
        jobs.step_text_ru("dance", {})


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("\x1b[33mAdd type hints\x1b[0m\n", "Add type hints\n"),
        ("\x1b[1;31mred\x1b[m and \x1b[2Kcleared", "red and cleared"),
        ("Downloading: 0%\rDownloading: 50%\rDownloading: 100%\nok", "Downloading: 100%\nok"),
        ("windows line\r\nnext", "windows line\nnext"),
        ("\x1b]0;a title\x07text", "text"),
        ("Читаю разметку\n", "Читаю разметку\n"),
    ],
)
def test_process_output_as_plain_text(raw, plain):
    assert jobs.plain_text(raw) == plain


def _job_file(tmp_path: Path) -> tuple[Settings, Path, jobs.Job]:
    settings = Settings(home=tmp_path, models_dir=tmp_path / "models")
    job = jobs.Job(
        job_id="abc123",
        started_at=datetime.now(UTC),
        request=jobs.TrainingRequest.of(settings, "проба"),
    )
    path = jobs.jobs_dir(settings) / f"{job.job_id}.json"
    path.write_text(job.model_dump_json(), "utf-8")
    return settings, path, job


def test_steps_logged_by_training_reach_the_job_file(tmp_path, capsys):
    settings, path, job = _job_file(tmp_path)
    progress = jobs.Progress(path, job)
    logger = logging.getLogger(f"{jobs.STEPS_LOGGER}.train")
    handler = jobs.StepsFromLog(progress)
    logging.getLogger(jobs.STEPS_LOGGER).addHandler(handler)
    try:
        progress("read", records=3, corrections=0)
        logger.warning("not a step")  # only records with a step become steps
        logger.warning("registering", extra={"step": "register", "detail": {"version": "7"}})
    finally:
        logging.getLogger(jobs.STEPS_LOGGER).removeHandler(handler)
    (settings.home / "jobs" / "abc123.log").write_text(
        "\x1b[33mUserWarning\x1b[0m\nDownloading: 0%\rDownloading: 100%\n", "utf-8"
    )
    found, output = jobs.read_job(settings, "abc123")
    assert [(s.step, s.text_ru) for s in found.steps] == [
        ("read", "Читаю разметку: 3 записи"),
        ("register", "Регистрирую версию v7 в MLflow"),
    ]
    assert found.steps[1].detail == {"version": "7"} and found.steps[0].at.tzinfo is not None
    assert output == "UserWarning\nDownloading: 100%\n"
    assert "Регистрирую версию v7 в MLflow" in capsys.readouterr().out  # the log says it too


REFUSALS = [
    (
        Refusal.critical_missed(0.9857),
        "critical_missed",
        "critical recall 0.986: every critical message must be caught",
        "Полнота критичных 0,986: кандидат пропускает критичные сообщения, а должен ловить "
        "каждое (нужно 1,000)",
    ),
    (
        Refusal.head_worse("category", 0.81, 0.84, 0.02),
        "head_worse",
        "category macro-F1 0.810 is more than 0.020 below the champion's 0.840",
        "Категория, macro-F1 0,810: ниже, чем у чемпиона (0,840), больше чем на допуск 0,020",
    ),
    (
        Refusal.head_worse("reporter", 0.9, 0.95, 0.02),
        "head_worse",
        "reporter macro-F1 0.900 is more than 0.020 below the champion's 0.950",
        "Кто сообщил, macro-F1 0,900: ниже, чем у чемпиона (0,950), больше чем на допуск 0,020",
    ),
    (
        Refusal.already_champion("4"),
        "already_champion",
        "v4 is already the champion",
        "v4 уже чемпион",
    ),
]


@pytest.mark.parametrize(("refusal", "code", "english", "russian"), REFUSALS)
def test_gate_reasons_in_english_and_russian(refusal, code, english, russian):
    assert (refusal.code, refusal.text, refusal.text_ru) == (code, english, russian)


def test_gate_result_for_the_page_and_for_the_cli():
    figures = {name: (0.9, 0.88) for name in GATE_FIGURES}
    result = GateResult("5", "4", 0.02, figures, n_test=337)
    result.refusals.append(Refusal.critical_missed(0.98))
    shown = result.as_dict()
    assert [m["name_ru"] for m in shown["metrics"]] == [METRIC_NAMES_RU[k] for k in GATE_FIGURES]
    by_key = {m["key"]: m for m in shown["metrics"]}
    assert by_key["category_macro_f1"]["rule"] == "within_tolerance"
    assert by_key["critical_recall"]["rule"] == "every_critical"
    assert by_key["needs_review_share"]["rule"] is None
    assert by_key["critical_false_alarm_rate"]["lower_is_better"]
    assert not by_key["category_macro_f1"]["lower_is_better"]
    assert shown["refusals"] == [
        {
            "code": "critical_missed",
            "text": "critical recall 0.980: every critical message must be caught",
            "text_ru": REFUSALS[0][3].replace("0,986", "0,980"),
            "metric": "critical_recall",
        }
    ]
    # The CLI and the earlier fields keep their English.
    assert shown["reasons"] == ["critical recall 0.980: every critical message must be caught"]
    assert shown["figures"]["category_macro_f1"] == {"champion": 0.9, "candidate": 0.88}
    assert "verdict: REFUSED — critical recall 0.980" in result.table()


def test_every_figure_the_page_shows_has_a_russian_name():
    script = (REPO / "api" / "static" / "models.js").read_text("utf-8")
    [listed] = re.findall(r"const VERSION_FIGURES = \[([^\]]*)\]", script)
    keys = re.findall(r'"(\w+)"', listed)
    assert keys and set(keys) | set(GATE_FIGURES) <= set(METRIC_NAMES_RU)


# -- the page ---------------------------------------------------------------------------------
# Every 16th record of the corpus and every 4th of its test split: a model in seconds that still
# catches every critical message of that split, so the gate passes a retrained twin.
TRAIN_EVERY, TEST_EVERY = 16, 4
# Fresh texts, so that the export's duplicate check keeps their corrections.
MESSAGES = {
    "m-1": "Ситтер пришла вовремя, но забыла закрыть балкон, попугай улетел к соседям.",
    "m-2": "Кот после визита весь вечер прятался под диваном и не ел, это из-за ситтера?",
    "m-3": "Добрый день! Можно ли перенести завтрашний визит на субботу, на утро?",
}
EXPECTED_NAMES = {
    "category_macro_f1": "Категория, macro-F1",
    "is_hard_macro_f1": "Сложный кейс, macro-F1",
    "urgency_macro_f1": "Срочность, macro-F1",
    "reporter_macro_f1": "Кто сообщил, macro-F1",
    "is_hard_f1": "Сложный кейс, F1",
    "critical_recall": "Полнота критичных",
    "critical_false_alarm_rate": "Ложные тревоги «критично»",
    "needs_review_share": "Доля на ручную проверку",
}


def small_corpus(data: Path) -> None:
    test_ids = set(SPLIT.read_text().split())
    data.mkdir(parents=True)
    for source in sorted(CORPUS.glob("*.jsonl")):
        lines = [line for line in source.read_text("utf-8").splitlines() if line.strip()]
        kept = [
            line
            for i, line in enumerate(lines)
            if i % TRAIN_EVERY == 0 or (i % TEST_EVERY == 0 and json.loads(line)["id"] in test_ids)
        ]
        (data / source.name).write_text("\n".join(kept) + "\n", "utf-8")


def corrected(base: str, message_id: str, annotator: str) -> int:
    """Classify the message and correct it: the reporter turned round, a change whatever the
    model said that keeps the labels consistent."""
    said = httpx.post(
        f"{base}/v1/classify",
        headers=CHANNEL,
        json={"message_id": message_id, "text": MESSAGES[message_id], "channel": "chat"},
    ).json()
    labels = {head: said[head] for head in ("category", "is_hard", "urgency", "reporter")}
    labels["reporter"] = "executor" if said["reporter"] == "client" else "client"
    answer = httpx.post(
        f"{base}/v1/feedback",
        headers=QUALITY,
        json={"message_id": message_id, "labels": labels, "annotator": annotator},
    )
    assert answer.status_code in (200, 201), answer.text
    return answer.json()["feedback_id"]


@pytest.fixture(scope="module")
def models_server(tmp_path_factory):
    """A home with a small corpus, v1 trained and champion, and three corrections of live
    messages: two confirmed by a second person, one still a proposal."""
    import mlflow

    from pettriage.training.train import train

    home = tmp_path_factory.mktemp("models-page")
    data = home / "data" / "annotated"
    small_corpus(data)
    test_ids = home / "data" / "splits" / "test_ids.txt"
    test_ids.parent.mkdir(parents=True)
    shutil.copy(SPLIT, test_ids)
    settings = Settings(
        home=home,
        data_dir=data,
        test_ids=test_ids,
        models_dir=home / "models",
        mlflow_tracking_uri=None,
        train_folds=2,
    )
    tracking, registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)  # the server's store is the home's
        # Seed 1: the page's training (seed 42) is then a new lineage, not "nothing changed".
        first = train(settings, seed=1)
        assert first.version == "1" and first.champion
        env = {
            "COMPLAINTS_DATA_DIR": str(data),
            "COMPLAINTS_TEST_IDS": str(test_ids),
            "COMPLAINTS_TRAIN_FOLDS": "2",
        }
        server = LiveServer(
            server_env(home, f"sqlite:///{home / 'complaints.db'}", **env),
            log=home / "server.log",
        ).start()
    try:
        ids = {mid: corrected(server.url, mid, "Мария Тестова") for mid in MESSAGES}
        for mid in ("m-1", "m-2"):
            answer = httpx.post(
                f"{server.url}/v1/feedback/{ids[mid]}/review",
                headers=QUALITY,
                json={"annotator": "Ольга Вторая", "verdict": "confirm"},
            )
            assert answer.status_code == 200, answer.text
        server.home, server.data, server.feedback_ids = home, data, ids
        yield server
    finally:
        server.stop()
        mlflow.set_tracking_uri(tracking)
        mlflow.set_registry_uri(registry)


def on_the_page(test):
    """A test of the page: it needs the module's own trained versions and its live server."""
    return pytest.mark.model(pytest.mark.service(test))


def versions(server) -> dict:
    return httpx.get(f"{server.url}/v1/admin/versions", headers=ADMIN).json()


def champion_of(server) -> str:
    [champion] = [v["version"] for v in versions(server)["versions"] if v["champion"]]
    return champion


def serving(server) -> str:
    return httpx.get(f"{server.url}/v1/model", headers=CHANNEL).json()["version"]


def open_models_tab(page, server) -> None:
    log_in(page, server.url, "k-admin", "Админ")
    page.wait_for_selector("#models-tab:not([hidden])")
    page.click("[data-tab=models]")
    page.wait_for_selector("#version-rows tr")


def dialog(page):
    return page.locator("#models-confirm")


def cancel(page, how: str) -> None:
    expect(dialog(page)).to_be_visible()
    if how == "escape":
        page.keyboard.press("Escape")
    else:
        page.click("#models-confirm-cancel")
    expect(dialog(page)).to_be_hidden()
    expect(page.locator("#admin-output")).to_have_text("Отменено: ничего не изменилось.")


@on_the_page
def test_training_asks_first_then_reports_russian_steps(models_server, page):
    server = models_server
    open_models_tab(page, server)
    headers = page.locator("#version-head th").all_text_contents()
    assert headers[:2] == ["Версия", "Статус"] and "Полнота критичных" in headers
    assert "Категория, macro-F1" in headers and "Сложный кейс, F1" in headers

    page.click("#train")
    expect(dialog(page)).to_contain_text("Обучить новую версию?")
    facts = page.text_content("#models-confirm-facts")
    assert "новая версия v2" in facts and "отвечает версией v1" in facts
    assert "Подтверждённых исправлений ещё не в разметке: 2" in facts
    cancel(page, "button")
    page.click("#train")
    cancel(page, "escape")
    assert not list((server.home / "jobs").glob("*.json")), "a cancelled training started"
    assert [v["version"] for v in versions(server)["versions"]] == ["1"]

    page.click("#train")
    page.click("#models-confirm-ok")
    steps = page.locator("[data-testid=train-steps] li")
    expect(page.locator("[data-testid=train-steps] li.done")).to_have_text(
        re.compile(r"Готово: v2$"), timeout=120_000
    )
    said = steps.all_text_contents()
    assert re.search(r"Читаю разметку: \d[\d\u00a0]* запис(ь|и|ей)$", said[0]), said
    assert said[1].endswith("Обучаю модель (кросс-валидация, 2 фолда)"), said
    expect(page.locator("[data-testid=job-status]")).to_contain_text("завершено")
    page.click("[data-job] details summary")
    log = page.text_content("[data-testid=train-log]")
    assert "Готово: v2" in log and "\x1b" not in log
    assert "Downloading artifacts" not in log and "INFO mlflow" not in log, log

    [job_file] = (server.home / "jobs").glob("*.json")
    job = httpx.get(f"{server.url}/v1/admin/jobs/{job_file.stem}", headers=ADMIN).json()
    codes = [step["step"] for step in job["steps"]]
    assert codes[:2] == ["read", "cv"] and codes[-1] == "done", codes
    assert all(datetime.fromisoformat(step["at"]).tzinfo for step in job["steps"])
    page.wait_for_selector("[data-testid=promote-2]")
    assert champion_of(server) == "1"


def russian(x: float) -> str:
    """As the page writes a figure: the exact value rounded half up, three decimals, a comma."""
    return str(Decimal(x).quantize(Decimal("0.001"), ROUND_HALF_UP)).replace(".", ",")


@on_the_page
def test_promote_asks_then_shows_the_gate_in_russian(models_server, page):
    server = models_server
    open_models_tab(page, server)
    page.click("[data-testid=promote-2]")
    expect(dialog(page)).to_contain_text("Сделать v2 чемпионом?")
    facts = page.text_content("#models-confirm-facts")
    assert "v2 заменит текущего чемпиона v1" in facts
    assert "замороженной тестовой выборке" in facts and "0,020" in facts
    cancel(page, "button")
    assert champion_of(server) == "1" and serving(server) == "1"
    assert versions(server)["versions"][0]["gate"] is None  # the gate did not even run

    page.click("[data-testid=promote-2]")
    with page.expect_response(f"{server.url}/v1/admin/promote/2") as answered:
        page.click("#models-confirm-ok")
    gate = answered.value.json()
    table = page.locator("[data-testid=gate-table]")
    table.wait_for()
    assert table.locator("thead th").all_text_contents() == [
        "Показатель",
        "Чемпион v1",
        "Кандидат v2",
        "Изменение",
        "Условие проверки",
    ]
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(len(EXPECTED_NAMES))
    for i, metric in enumerate(gate["metrics"]):
        row = rows.nth(i)
        cells = row.locator("th, td").all_text_contents()
        old, new = gate["figures"][metric["key"]].values()
        assert cells[:3] == [EXPECTED_NAMES[metric["key"]], russian(old), russian(new)], cells
        shown = float(cells[3].replace("−", "-").replace(",", ".") or 0)
        assert abs(shown - (new - old)) < 0.0006, (cells, old, new)
        tone = row.locator("[data-testid=change]").get_attribute("class")
        assert ("same" in tone) == (cells[3] == "0,000"), (cells, tone)
    assert gate["passed"], f"v2, a twin of v1, was refused: {gate['reasons']}"
    expect(page.locator("[data-testid=gate-verdict]")).to_have_text(
        "Проверка пройдена: v2 теперь чемпион, сервис отвечает версией v2."
    )
    output = page.text_content("#admin-output")
    assert f"сообщений: {gate['n_test']}" in output and "допуск по macro-F1: 0,020" in output
    for english in ("macro_f1", "critical_recall", "verdict", "PROMOTE", "champion"):
        assert english not in output
    assert champion_of(server) == "2" and serving(server) == "2"
    expect(page.locator("[data-version='2'] td").nth(1)).to_contain_text("чемпион")


@on_the_page
def test_rollback_asks_with_both_versions(models_server, page):
    server = models_server
    assert versions(server)["champion_history"] == ["1", "2"]
    open_models_tab(page, server)
    page.click("#rollback")
    expect(dialog(page)).to_contain_text("Откатить чемпиона с v2 на v1?")
    assert "Чемпионом снова станет v1" in page.text_content("#models-confirm-facts")
    cancel(page, "escape")
    page.click("#rollback")
    cancel(page, "button")
    assert champion_of(server) == "2" and serving(server) == "2"

    page.click("#rollback")
    page.click("#models-confirm-ok")
    expect(page.locator("#admin-output")).to_have_text(
        "Чемпион возвращён: v2 → v1; сервис отвечает версией v1."
    )
    assert champion_of(server) == "1" and serving(server) == "1"
    expect(page.locator("#rollback")).to_be_disabled()  # v1 was the first champion


@on_the_page
def test_export_asks_with_the_dry_run_counts(models_server, page):
    server = models_server
    written = server.data / "corrections.jsonl"
    before = sorted((p.name, p.stat().st_mtime_ns) for p in server.data.iterdir())
    open_models_tab(page, server)
    for how in ("button", "escape"):
        page.click("#export")
        expect(dialog(page)).to_contain_text("Выгрузить исправления в разметку?")
        facts = page.locator("#models-confirm-facts li").all_text_contents()
        assert "Будет записано подтверждённых исправлений: 2 (в файл corrections.jsonl)" in facts
        assert "Не попадут в выгрузку, ждут второго человека: 1" in facts
        cancel(page, how)
    assert sorted((p.name, p.stat().st_mtime_ns) for p in server.data.iterdir()) == before
    assert not written.exists()

    page.click("#export")
    page.click("#models-confirm-ok")
    summary = page.locator("[data-testid=export-summary] li")
    expect(summary.first).to_have_text(
        "Записано подтверждённых исправлений: 2 (в файл corrections.jsonl)"
    )
    assert "Не выгружены, ждут второго человека: 1" in summary.all_text_contents()
    exported = [json.loads(line) for line in written.read_text("utf-8").splitlines()]
    ids = server.feedback_ids
    assert sorted(r["id"] for r in exported) == sorted(f"fb-{ids[m]}" for m in ("m-1", "m-2"))
    output = page.text_content("#admin-output")
    assert f"fb-{ids['m-1']} исправляет m-1: Кто сообщил:" in output
    assert "reporter" not in output and "client" not in output
