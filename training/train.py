"""`complaints train`: validate, split, cross-validate, fit, evaluate, log to MLflow, register.

The first registered version becomes the `champion`; later ones wait for `complaints promote`.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

from pettriage.classifier import artifact
from pettriage.classifier.crosswriter import (
    by_writer_report,
    format_by_writer,
    out_of_folds,
    out_of_writer,
    writer_of,
)
from pettriage.classifier.dataset import count_fields, data_hash, load_corpus
from pettriage.classifier.drift import build_reference
from pettriage.classifier.labels import HEAD_LABELS, HEADS
from pettriage.classifier.metrics import evaluate_decisions, summary
from pettriage.classifier.model import ComplaintClassifier, ReviewThresholds
from pettriage.classifier.records import message_of
from pettriage.classifier.safety import SafetyRules
from pettriage.config import Paths, Settings

from .lineage import Lineage, Unchanged, find_identical, lineage_of, log_dataset
from .registry import RUN_SHA256_TAG, SHA256_TAG, champion_version, history, set_champion
from .split import split
from .tracking import EXPERIMENT, REGISTERED_MODEL, configure

# A training job turns records with a `step` into the steps the review page shows (`jobs`).
log = logging.getLogger("pettriage.training")

PIP_REQUIREMENTS = [
    "scikit-learn",
    "scipy",
    "numpy",
    "spacy",
    "pymorphy3",
    "pymorphy3-dicts-ru",
    "pyyaml",
]
MODEL_DESCRIPTION = (
    "Triage of incoming messages of a pet-sitting service (Russian): is it a hard case, which "
    "of the eleven categories, how urgent, who reported it, with the safety rules' override. "
    "predict() takes texts (a list of strings or a `text` column) and returns one decision "
    "per text. The `champion` alias is what the service serves."
)
INPUT_EXAMPLE = ["Ситтер не пришёл, кот второй день один, никто не отвечает"]
PROBABILITY_GRID = np.round(np.arange(0.30, 0.91, 0.05), 2)
MARGIN_GRID = np.round(np.arange(0.0, 0.61, 0.05), 2)
CRITICAL_GRID = np.round(np.arange(0.30, 0.61, 0.01), 2)


@dataclass
class TrainResult:
    version: str
    run_id: str
    model_path: Path
    cv: dict
    test: dict
    test_model_only: dict
    champion: bool
    seconds: float

    @property
    def summary(self) -> dict[str, float]:
        """The figures on the frozen test split, rounded as they are shown."""
        return {k: round(v, 4) for k, v in summary(self.test).items()}


def decide(model: ComplaintClassifier, records: list[dict], rules: SafetyRules | None):
    return model.with_rules(rules).map(map(message_of, records))


def out_of_fold(
    records: list[dict],
    folds: int,
    seed: int,
    rules: SafetyRules | None,
    across_writers: bool = True,
):
    """Each record's decision by a model that never saw it nor, `across_writers`, anything by
    its writer: for the cross-writer figures and for choosing the thresholds. Otherwise, or for a
    corpus by one writer only, stratified folds (the label audit wants those: a label at odds with
    the same writer's other messages is what it looks for)."""
    if across_writers and len({writer_of(r) for r in records}) > 1:
        return out_of_writer(records, ComplaintClassifier.fit, folds, rules)
    strata = [r["category"] for r in records]
    splits = StratifiedKFold(folds or 5, shuffle=True, random_state=seed).split(records, strata)
    return out_of_folds(
        records, [held_out for _, held_out in splits], ComplaintClassifier.fit, rules
    )


def choose_thresholds(decisions, records, target_accuracy: float) -> ReviewThresholds:
    """The pair of review thresholds that leaves the most category decisions out of review
    while those it leaves out reach the target accuracy; the strictest pair when none does.

    The pair is chosen together, as the review applies it (a decision below either threshold
    goes to review): each chosen alone, as if the other were not there, had kept 3.6 points
    fewer of the leave-one-writer-out decisions out of review at the same target."""
    labels = HEAD_LABELS["category"]
    proba = np.array([[d.probabilities["category"][c] for c in labels] for d in decisions])
    top2 = np.sort(proba, axis=1)[:, -2:]
    top, margin = top2[:, 1], top2[:, 1] - top2[:, 0]
    correct = np.array(
        [d.category == r["category"] for d, r in zip(decisions, records, strict=True)]
    )
    best = (0.0, float(PROBABILITY_GRID[-1]), float(MARGIN_GRID[-1]))
    for min_probability in PROBABILITY_GRID.tolist():
        for min_margin in MARGIN_GRID.tolist():
            kept = (top >= min_probability) & (margin >= min_margin)
            if kept.any() and correct[kept].mean() >= target_accuracy and kept.mean() > best[0]:
                best = (float(kept.mean()), min_probability, min_margin)
    return ReviewThresholds(
        min_probability=best[1],
        min_margin=best[2],
        min_critical=choose_min_critical(decisions, records),
    )


def choose_min_critical(decisions, records) -> float:
    """The most confidence the model alone may demand before saying `critical` without losing
    a single critical message that it (with the rules) caught out of fold: fewer false alarms,
    the same recall."""
    truth = np.array([r["urgency"] == "critical" for r in records])
    said = np.array([d.urgency == "critical" for d in decisions])
    fired = np.array([d.safety_fired for d in decisions])
    p = np.array([d.probabilities["urgency"]["critical"] for d in decisions])
    caught = (said & truth).sum()
    chosen = 0.0
    for threshold in CRITICAL_GRID:
        if ((fired | (said & (p >= threshold))) & truth).sum() < caught:
            break
        chosen = float(threshold)
    return chosen


def train(
    settings: Settings,
    folds: int | None = None,
    seed: int = 42,
    review_target_accuracy: float = 0.93,
    records: list[dict] | None = None,
    note: str = "",
    force: bool = False,
) -> TrainResult:
    """Raises `lineage.Unchanged`, registering nothing, when the corpus, the split, the model's
    code and these settings are those of a registered version (unless `force`)."""
    import mlflow
    from mlflow import MlflowClient

    from .plots import confusion_figure
    from .pyfunc import SIGNATURE, ComplaintPyfunc

    started = time.perf_counter()
    paths = settings.paths
    folds = folds or settings.train_folds
    records = records if records is not None else load_corpus(paths.data)
    train_records, test_records, split_created = split(records, paths.test_ids, seed)
    configure(settings)
    client = MlflowClient()
    corpus_hash = data_hash(records)
    made_by = lineage_of(
        records,
        corpus_hash,
        paths.test_ids,
        {"folds": folds, "seed": seed, "review_target_accuracy": review_target_accuracy},
    )
    experiment_id = mlflow.get_experiment_by_name(EXPERIMENT).experiment_id
    same = None if force else find_identical(client, experiment_id, made_by)
    if same is not None:
        raise Unchanged(*same, made_by)
    version = str(_next_version(client))

    with mlflow.start_run(run_name=f"v{version}") as run:
        mlflow.set_tags(made_by.tags())
        log_dataset(records, paths.data, made_by)
        rules = SafetyRules.load()
        oof = out_of_fold(train_records, folds, seed, rules)
        cv = evaluate_decisions(train_records, oof)
        writers = by_writer_report(train_records, oof)
        thresholds = choose_thresholds(oof, train_records, review_target_accuracy)
        model = ComplaintClassifier.fit(train_records, thresholds=thresholds)
        model = model.with_version(version)
        log.info("testing", extra={"step": "test", "detail": {}})
        test_model_only = evaluate_decisions(test_records, decide(model, test_records, None))
        test = evaluate_decisions(test_records, decide(model, test_records, rules))

        corrections = sum(1 for r in records if r.get("corrects"))
        mlflow.log_params(
            {
                "folds": folds,
                "cv": "leave-one-writer-out" if folds == 0 else f"{folds} folds, writers whole",
                "seed": seed,
                "review_target_accuracy": review_target_accuracy,
                "n_train": len(train_records),
                "n_test": len(test_records),
                "data_hash": corpus_hash,
                "split_created": split_created,
                "min_probability": thresholds.min_probability,
                "min_margin": thresholds.min_margin,
                "min_critical": thresholds.min_critical,
                **{f"features.{k}": v for k, v in model.features.get_params().items()},
                **{
                    f"head.{k}": v
                    for k, v in model.heads["category"].get_params().items()
                    if k != "labels"
                },
            }
        )
        mlflow.set_tags(
            {"corrections_in_training": corrections, "note": note, "model_version": version}
        )
        for prefix, report in (("cv", cv), ("test", test), ("test_model_only", test_model_only)):
            mlflow.log_metrics({f"{prefix}_{k}": v for k, v in summary(report).items()})
        # Per class and per writer: hundreds of figures, logged after the model (below), since
        # MLflow links every metric already on the run to a logged model, one request each.
        detail = {
            f"test_{head}_f1.{label}": m["f1"]
            for head in HEADS
            for label, m in test[head]["per_class"].items()
        } | {
            f"writer.{writer}.{key}": value
            for writer, figures in writers.items()
            for key, value in figures.items()
            if isinstance(value, float) and value == value  # NaN: no such messages
        }
        for head in HEADS:
            figure = confusion_figure(head, test[head]["labels"], test[head]["confusion"])
            mlflow.log_figure(figure, f"confusion/{head}.png")
        mlflow.log_dict(
            {
                "all": _counts(records),
                "train": _counts(train_records),
                "test": _counts(test_records),
            },
            "data/counts.json",
        )
        mlflow.log_dict(cv, "reports/cv.json")
        # Figures on writers the fold's model had not read: the honest ones (README, Quality).
        mlflow.log_dict(writers, "reports/by_writer.json")
        mlflow.log_text(format_by_writer(writers), "reports/by_writer.md")
        mlflow.log_dict(test, "reports/test.json")
        mlflow.log_dict(test_model_only, "reports/test_model_only.json")
        mlflow.log_text("\n".join(r["id"] for r in test_records), "data/test_ids.txt")
        mlflow.log_text(
            "\n".join(f"{r['id']}\t{r['corrects']}" for r in records if r.get("corrects")),
            "data/corrections.tsv",
        )

        path = artifact.model_path(paths.models, version)
        saved = artifact.save(
            model,
            path,
            # What this model read, for the service's drift figures (GET /v1/health).
            reference=build_reference(train_records),
            run_id=run.info.run_id,
            data_hash=corpus_hash,
            metrics=summary(test),
            by_writer=writers,
            n_train=len(train_records),
        )
        # The SHA-256 that every later load is checked against, kept in the registry, where
        # whoever can replace the file and its sidecar cannot.
        mlflow.set_tag(RUN_SHA256_TAG, saved["sha256"])
        log.info("registering", extra={"step": "register", "detail": {"version": version}})
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=ComplaintPyfunc(),
            artifacts={
                "model": str(path),
                "metadata": str(artifact.sidecar_path(path)),
                "reference": str(artifact.reference_path(path)),
            },
            registered_model_name=REGISTERED_MODEL,
            pip_requirements=PIP_REQUIREMENTS,
            signature=SIGNATURE,
            input_example=INPUT_EXAMPLE,
        )
        mlflow.log_metrics(detail)
    registered = str(info.registered_model_version)
    client.set_model_version_tag(REGISTERED_MODEL, registered, SHA256_TAG, saved["sha256"])
    client.update_registered_model(REGISTERED_MODEL, description=MODEL_DESCRIPTION)
    client.update_model_version(
        REGISTERED_MODEL,
        registered,
        description=version_description(made_by, len(train_records), summary(test), note),
    )
    if registered != version:
        raise RuntimeError(
            f"Expected to register version {version}, MLflow made {registered}; "
            "was another training running at the same time?"
        )
    # The first version is the champion; so is a new one when the champion's local file is gone
    # (models/ is not in git), since the CLI and the service could not serve anything otherwise —
    # but not on a shared registry (MLflow a server), where the champion is what every host
    # serves and this host's models/ is only its cache (`complaints model ensure` fills it).
    champion = champion_version(client) is None or (
        not settings.shared_registry and not _local_champion_exists(paths)
    )
    if champion:
        set_champion(client, settings, version, [*_history_or_empty(client), version])
    return TrainResult(
        version,
        run.info.run_id,
        path,
        cv,
        test,
        test_model_only,
        champion,
        time.perf_counter() - started,
    )


def version_description(made_by: Lineage, n_train: int, test: dict, note: str) -> str:
    code = (
        f"commit {made_by.git_commit[:12]}" + (" with local changes" if made_by.git_dirty else "")
        if made_by.git_commit
        else "no git checkout"
    )
    return (
        f"Trained on {n_train} messages by {len(made_by.writers)} writers (corpus "
        f"{made_by.data_hash[:12]}), {code}, code {made_by.code_hash[:12]}; "
        f"{made_by.settings['folds'] or 'leave-one-writer-out'} folds, seed "
        f"{made_by.settings['seed']}. Frozen test split: category macro-F1 "
        f"{test['category_macro_f1']:.3f}, critical recall {test['critical_recall']:.3f}."
        + (f" Note: {note}" if note else "")
    )


def _counts(records: list[dict]) -> dict:
    return {name: dict(counter) for name, counter in count_fields(records).items()}


def _next_version(client) -> int:
    versions = client.search_model_versions(f"name='{REGISTERED_MODEL}'")
    return 1 + max((int(v.version) for v in versions), default=0)


def _local_champion_exists(paths: Paths) -> bool:
    version = artifact.champion_version(paths.models)
    return version is not None and artifact.model_path(paths.models, version).exists()


def _history_or_empty(client) -> list[str]:
    return history(client) if champion_version(client) is not None else []


def result_summary(result: TrainResult) -> str:
    return json.dumps(
        {
            "version": result.version,
            "run_id": result.run_id,
            "champion": result.champion,
            "seconds": round(result.seconds, 1),
            "test": result.summary,
        },
        indent=2,
    )
