"""The real training run of the session: MLflow store, registry, pyfunc, split, metrics."""

import mlflow
from mlflow import MlflowClient

from pettriage.classifier.dataset import load_corpus
from pettriage.training.tracking import CHAMPION_ALIAS, REGISTERED_MODEL


def test_first_version_is_registered_as_champion(trained):
    assert trained.version == "1" and trained.champion
    client = MlflowClient()
    assert str(client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION_ALIAS).version) == "1"


def test_run_logs_metrics_params_and_plots(trained):
    run = MlflowClient().get_run(trained.run_id)
    for key in (
        "test_category_macro_f1",
        "cv_category_macro_f1",
        "test_critical_recall",
        "test_urgency_ece",
        "test_is_hard_f1",
        "test_category_f1.death",
    ):
        assert key in run.data.metrics, key
    assert len(run.data.params["data_hash"]) == 64
    counts = mlflow.artifacts.load_dict(f"runs:/{trained.run_id}/data/counts.json")
    assert counts["test"]["urgency"]["critical"] > 0
    assert sum(counts["all"]["category"].values()) == int(run.data.params["n_train"]) + sum(
        counts["test"]["category"].values()
    )
    artifacts = {a.path for a in MlflowClient().list_artifacts(trained.run_id, "confusion")}
    assert artifacts == {
        f"confusion/{h}.png" for h in ("is_hard", "category", "urgency", "reporter")
    }


def test_split_is_frozen_and_never_trained_on(trained, settings):
    paths = settings.paths
    test_ids = set(paths.test_ids.read_text().split())
    records = load_corpus(paths.data)
    assert trained.test["category"]["per_class"]["death"]["support"] > 0
    n_test = sum(m["support"] for m in trained.test["category"]["per_class"].values())
    assert n_test == len(test_ids & {r["id"] for r in records})
    run = MlflowClient().get_run(trained.run_id)
    assert int(run.data.params["n_train"]) + n_test == len(records)


def test_registry_model_predicts_a_list_of_texts(trained):
    loaded = mlflow.pyfunc.load_model(f"models:/{REGISTERED_MODEL}@{CHAMPION_ALIAS}")
    answers = loaded.predict(["собака не дышит, что делать", "спасибо, всё отлично"])
    assert [a["urgency"] for a in answers] == ["critical", "low"]
    assert answers[0]["safety"]["fired"] and answers[0]["model_version"] == "1"


def test_model_meets_the_bars_on_the_frozen_test_split(trained):
    # The guide's safety bar: no critical message missed, few false alarms.
    assert trained.test["critical"]["recall"] == 1.0, trained.test["critical"]["missed"]
    # Safety v2 caught far more critical messages written by strangers (rules alone on the
    # cross-check set 73 % → 85 %) at some cost here: 2.4 % with the champion (15 of 621).
    # The goal is at most 1 %; this bar only keeps it from getting worse.
    assert trained.test["critical"]["false_alarm_rate"] <= 0.03
    assert trained.test["category"]["macro_f1"] >= 0.80
