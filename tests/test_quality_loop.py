"""The quality loop end to end, as staff live it: a message is misclassified, corrected on the
page in a real browser, exported, retrained, promoted through the gate, and served after the
reload, with the correction in the new run's training data; a model trained on shuffled labels
is refused by the same gate and the champion stays."""

from __future__ import annotations

import contextlib
import io
import random
import shutil
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from pettriage.api.launcher import LiveServer
from pettriage.classifier.dataset import load_corpus
from pettriage.cli import main as complaints
from pettriage.config import Settings

from .browser import log_in
from .conftest import CORPUS, SPLIT
from .servers import ADMIN, CHANNEL, QUALITY, server_env

MESSAGE = "кот чихает второй день после визита, это нормально?"
RIGHT = "health_harm"  # an illness after the visit: the guide's health_harm
LABELS = ("category", "is_hard", "urgency", "reporter")


def run_cli(settings: Settings, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = complaints(list(argv), settings)
    return code, out.getvalue()


def shuffled_labels(records: list[dict], seed: int = 3) -> list[dict]:
    """The same texts with the label sets of other records (each set stays consistent)."""
    labels = [{k: r[k] for k in LABELS} for r in records]
    random.Random(seed).shuffle(labels)
    return [r | new for r, new in zip(records, labels, strict=True)]


@pytest.mark.model  # trains its own versions
def test_correct_export_retrain_promote_and_refuse_a_worse_model(tmp_path, monkeypatch, page):
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts

    from pettriage.training.tracking import CHAMPION_ALIAS, REGISTERED_MODEL, configure
    from pettriage.training.train import train

    home = tmp_path / "home"
    data = home / "data" / "annotated"
    shutil.copytree(CORPUS, data)
    (home / "data" / "splits").mkdir(parents=True)
    shutil.copy(SPLIT, home / "data" / "splits" / "test_ids.txt")
    env = {
        "COMPLAINTS_HOME": str(home),
        "COMPLAINTS_DATA_DIR": str(data),
        "COMPLAINTS_TEST_IDS": str(home / "data" / "splits" / "test_ids.txt"),
        "COMPLAINTS_MODELS_DIR": str(home / "models"),
        "COMPLAINTS_TRAIN_FOLDS": "2",
    }
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # for the server's environment
    settings = Settings(
        home=home,
        data_dir=data,
        test_ids=home / "data" / "splits" / "test_ids.txt",
        models_dir=home / "models",
        mlflow_tracking_uri=None,
        train_folds=2,
    )
    # v1 reads half the corpus (and trains in half the time); v2, retrained from the page,
    # reads all of it and so has a margin over v1 at the gate.
    first = train(settings, records=load_corpus(data)[::2])
    assert first.version == "1" and first.champion

    server = LiveServer(
        server_env(home, f"sqlite:///{home / 'complaints.db'}", **env), log=tmp_path / "server.log"
    ).start()
    try:
        # 1. the model gets it wrong
        said = httpx.post(
            f"{server.url}/v1/classify",
            headers=CHANNEL,
            json={"message_id": "e2e-1", "text": MESSAGE, "channel": "chat"},
        ).json()
        assert said["model_version"] == "1"
        assert said["category"] != RIGHT, "v1 classifies this right: pick a message it gets wrong"

        # 2. a quality person corrects it on the page, and a second one confirms it
        log_in(page, server.url, "k-quality", "Мария Тестова")
        page.wait_for_selector("#app:not([hidden])")
        page.click("[data-tab=find]")
        page.fill("#find-q", "e2e-1")
        page.click("#find-button")
        page.click(f"#detail[data-message-id=e2e-1] [data-testid=label-category-{RIGHT}]")
        page.click("#detail [data-testid=submit]")
        expect(page.locator("[data-message-id=e2e-1] [data-testid=row-state]")).to_contain_text(
            "ждёт второго человека"
        )
        [correction] = httpx.get(
            f"{server.url}/v1/feedback", params={"message_id": "e2e-1"}, headers=QUALITY
        ).json()["items"]
        assert correction["labels"]["category"] == RIGHT and correction["status"] == "proposed"
        assert correction["annotator"] == "Мария Тестова"
        page.click("#logout")
        log_in(page, server.url, "k-quality", "Олег Второй")
        page.wait_for_selector("#app:not([hidden])")
        page.click("[data-tab=proposals]")
        page.click("#detail [data-testid=review-confirm]")
        expect(page.locator("[data-testid=proposals-count]")).to_have_text("")

        # 3. an admin exports, retrains and promotes, all from the page
        page.click("#logout")
        log_in(page, server.url, "k-admin", "Админ")
        page.wait_for_selector("#models-tab:not([hidden])")
        page.click("[data-tab=models]")
        page.click("#export")  # each step asks first, in a dialog
        # the dialog opens once the service's dry run answers (seconds on a loaded machine: the
        # first admin action loads MLflow in the worker)
        expect(page.locator("#models-confirm-ok")).to_be_enabled(timeout=120_000)
        page.click("#models-confirm-ok")
        output = page.locator("#admin-output")
        expect(output).to_contain_text("Записано подтверждённых исправлений: 1", timeout=60_000)
        assert f"fb-{correction['feedback_id']} исправляет e2e-1" in page.text_content(
            "#admin-output"
        )
        page.click("#train")
        page.click("#models-confirm-ok")
        expect(page.locator("[data-testid=train-steps] li:is(.done, .failed)")).to_have_count(
            1, timeout=600_000
        )
        assert "Готово: v2" in page.text_content("[data-testid=train-steps]"), page.text_content(
            "#admin-output"
        )
        page.click("[data-testid=promote-2]")
        page.click("#models-confirm-ok")
        expect(page.locator("[data-testid=gate-verdict]")).to_be_visible(timeout=120_000)
        gate = page.text_content("#admin-output")
        assert "Проверка пройдена: v2 теперь чемпион" in gate, gate
        assert "Категория, macro-F1" in gate and "Полнота критичных" in gate

        # 4. the service serves v2, whose MLflow run lists the correction
        assert httpx.get(f"{server.url}/v1/model", headers=CHANNEL).json()["version"] == "2"
        again = httpx.post(
            f"{server.url}/v1/classify",
            headers=CHANNEL,
            json={"message_id": "e2e-1", "text": MESSAGE, "channel": "chat"},
        ).json()
        assert again["model_version"] == "2"
        configure(settings)
        client = MlflowClient()
        run_id = client.get_model_version(REGISTERED_MODEL, "2").run_id
        listed = Path(download_artifacts(run_id=run_id, artifact_path="data/corrections.tsv"))
        assert f"fb-{correction['feedback_id']}\te2e-1" in listed.read_text("utf-8")
        assert client.get_run(run_id).data.tags["corrections_in_training"] == "1"

        # 5. a deliberately worse candidate is refused, and the champion stays
        # A sixth of the corpus is enough for a model on shuffled labels to be worse.
        worse = train(settings, records=shuffled_labels(load_corpus(data)[::6]))
        assert worse.version == "3" and not worse.champion
        code, printed = run_cli(settings, "promote", "3")
        assert code == 3 and "REFUSED" in printed and "champion stays v2" in printed
        assert "critical recall" in printed and "macro-F1" in printed
        champion = client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION_ALIAS)
        assert str(champion.version) == "2"
        # An admin's registry action takes seconds: with the embedded store the worker asks
        # the registry through a child process that loads MLflow's client.
        reload = httpx.post(f"{server.url}/v1/admin/reload", headers=ADMIN, timeout=120).json()
        assert reload["version"] == "2"
        tags = client.get_model_version(REGISTERED_MODEL, "3").tags
        assert tags["gate"] == "refused"

        # 6. and a rollback gives the alias back to v1
        back = httpx.post(f"{server.url}/v1/admin/rollback", headers=ADMIN, timeout=120).json()
        assert (back["from"], back["to"], back["serving"]) == ("2", "1", "1")
        code, printed = run_cli(settings, "model", "versions")
        assert code == 0 and "v  1 CHAMPION" in printed
    finally:
        server.stop()
