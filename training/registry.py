"""The `champion` alias: who holds it, promotion behind the gate, and rollback.

The registry (MLflow) is the source of truth; `models/champion.json` is the local pointer the
service's workers follow. The versions that held the alias, in order, are kept in the
registered model's tag `champion_history`, so `complaints rollback` can go back step by step.

The registry also holds each version's SHA-256 (tag `sha256`, and `model_sha256` on its run),
written at training where whoever can write `models/` or the artifact store cannot: every load
of a version checks its file against it (`expected_sha256`) before reading it, and the local
pointer only ever names a version that passed.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pettriage.classifier import artifact
from pettriage.classifier.dataset import load_corpus
from pettriage.classifier.metrics import evaluate_decisions, summary
from pettriage.classifier.records import message_of
from pettriage.classifier.safety import SafetyRules
from pettriage.config import PROMOTE_TOLERANCE, Settings

from .split import split
from .tracking import CHAMPION_ALIAS, REGISTERED_MODEL, configure

HISTORY_TAG = "champion_history"
SHA256_TAG = "sha256"  # on the model version
RUN_SHA256_TAG = "model_sha256"  # on its run: there before the version exists
GATED_HEADS = ("is_hard", "category", "urgency", "reporter")
GATE_FIGURES = (  # what the gate shows side by side, in this order
    *(f"{head}_macro_f1" for head in GATED_HEADS),
    "is_hard_f1",
    "critical_recall",
    "critical_false_alarm_rate",
    "needs_review_share",
)


NO_CHAMPION = "the registry has no champion yet; train one with `complaints train`"


class GateRefused(RuntimeError):
    """The candidate is worse than the champion; the message says where."""


class RegistryRefusal(RuntimeError):
    """The registry names no version to serve, or cannot vouch for one; the message names
    versions only, never a file."""


@dataclass(frozen=True)
class Fetched:
    """A version's files on this disk, and the SHA-256 the registry recorded for them."""

    version: str
    path: Path
    sha256: str


def client():
    from mlflow import MlflowClient

    return MlflowClient()


def champion_version(mlflow_client) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(
            mlflow_client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION_ALIAS).version
        )
    except MlflowException:
        return None


def champion_at(uri: str) -> str | None:
    """The version the alias names in the registry at `uri` now, None when there is none. A
    registry that does not answer raises."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        found = MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version_by_alias(
            REGISTERED_MODEL, CHAMPION_ALIAS
        )
    except MlflowException as error:
        if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None  # no model registered yet, or no version holds the alias
        raise
    return str(found.version)


def history(mlflow_client) -> list[str]:
    model = mlflow_client.get_registered_model(REGISTERED_MODEL)
    stored = [str(v) for v in json.loads(model.tags.get(HISTORY_TAG, "[]"))]
    current = champion_version(mlflow_client)
    if current is not None and (not stored or stored[-1] != current):
        stored.append(current)  # the alias was moved by hand or by an older version of this code
    return stored


def set_champion(
    mlflow_client, settings: Settings, version: str, past: list[str] | None = None
) -> None:
    """Move the alias and the local pointer; `past` is the history to record (ending in
    `version`). The version's file is loaded with the registry's SHA-256 first: one that fails
    (`artifact.ArtifactError`, `RegistryRefusal`) moves neither."""
    models = settings.models
    sha256 = expected_sha256(mlflow_client, version)
    artifact.load(ensure_local(models, version), None, sha256)
    mlflow_client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION_ALIAS, version)
    mlflow_client.set_registered_model_tag(
        REGISTERED_MODEL, HISTORY_TAG, json.dumps(past if past is not None else [version])
    )
    artifact.set_champion(models, version, sha256)


def expected_sha256(mlflow_client, version: str) -> str:
    """The SHA-256 of the version's model file as training recorded it in the registry: the
    version's tag, or, for the moment between registering and tagging, its run's."""
    from mlflow.exceptions import MlflowException

    try:
        model_version = mlflow_client.get_model_version(REGISTERED_MODEL, version)
    except MlflowException as error:
        if error.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        raise RegistryRefusal(f"v{version} is not a registered version") from error
    on_version = model_version.tags.get(SHA256_TAG)
    run_id = model_version.run_id
    on_run = mlflow_client.get_run(run_id).data.tags.get(RUN_SHA256_TAG) if run_id else None
    return recorded_of(version, on_version, on_run)


def recorded_of(version: str, on_version: str | None, on_run: str | None) -> str:
    """The SHA-256 of the version's tag and its run's tag, which must agree when both are set."""
    if on_version and on_run and on_version != on_run:
        raise RegistryRefusal(
            f"v{version}'s SHA-256 differs between its registry version ({on_version[:12]}…) "
            f"and its run ({on_run[:12]}…); the registry was edited: retrain"
        )
    recorded = on_version or on_run
    if not recorded:
        raise RegistryRefusal(
            f"v{version} has no SHA-256 recorded in the registry (it was registered before "
            "model files were checked); retrain it with `complaints train`"
        )
    return recorded


def ensure_local(models_dir: Path, version: str) -> Path:
    """The version's artifact on this disk, fetched from the registry when missing; not
    checked here (the artifact store is no safer than `models/`): loading checks it."""
    path = artifact.model_path(models_dir, version)
    if not path.exists():
        import mlflow

        with tempfile.TemporaryDirectory(prefix="fetch-") as scratch:
            local = Path(
                mlflow.artifacts.download_artifacts(
                    f"models:/{REGISTERED_MODEL}/{version}", dst_path=scratch
                )
            )
            place_fetched(path, local / "artifacts")
    return path


def place_fetched(path: Path, fetched: Path) -> None:
    """Copy a version's files, fetched into the folder `fetched` under their logged names,
    to `path` (the model file) and beside it, the model file last: its presence means the
    copy is whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    side = artifact.sidecar_path(path)
    _copy_into_place(fetched / side.name, side)
    reference = fetched / artifact.REFERENCE_FILE
    if reference.exists():  # versions trained before drift was recorded have none
        _copy_into_place(reference, artifact.reference_path(path))
    _copy_into_place(fetched / path.name, path)


def _copy_into_place(source: Path, target: Path) -> None:
    """Copy under a name of this process's own, then rename: the workers of a host may fetch
    the same version at the same moment, and none may read another's half-written file."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.part")
    shutil.copy(source, partial)
    partial.replace(target)


# The gate's figures as quality staff read them on the review page; the CLI keeps the keys.
METRIC_NAMES_RU = {
    "category_macro_f1": "Категория, macro-F1",
    "is_hard_macro_f1": "Сложный кейс, macro-F1",
    "urgency_macro_f1": "Срочность, macro-F1",
    "reporter_macro_f1": "Кто сообщил, macro-F1",
    "is_hard_f1": "Сложный кейс, F1",
    "critical_recall": "Полнота критичных",
    "critical_false_alarm_rate": "Ложные тревоги «критично»",
    "needs_review_share": "Доля на ручную проверку",
}
# A fall of these is an improvement: fewer false alarms, fewer messages for a person to check.
LOWER_IS_BETTER = frozenset({"critical_false_alarm_rate", "needs_review_share"})
# What the gate demands of a figure: no worse than the champion's by more than the tolerance,
# or every critical message caught; the other figures are shown, not judged.
GATE_RULES = {f"{head}_macro_f1": "within_tolerance" for head in GATED_HEADS} | {
    "critical_recall": "every_critical"
}


def number_ru(value: float) -> str:
    """A figure as Russian writes it, three decimals after a comma: 0,986."""
    return f"{value:.3f}".replace(".", ",")


@dataclass(frozen=True)
class Refusal:
    """One reason the gate refused: a code for programs, the sentence in English (the CLI) and
    in Russian (the review page), and the figure it is about, if any."""

    code: Literal["critical_missed", "head_worse", "already_champion"]
    text: str
    text_ru: str
    metric: str | None = None

    @classmethod
    def critical_missed(cls, recall: float) -> Refusal:
        return cls(
            "critical_missed",
            f"critical recall {recall:.3f}: every critical message must be caught",
            f"Полнота критичных {number_ru(recall)}: кандидат пропускает критичные сообщения, "
            "а должен ловить каждое (нужно 1,000)",
            "critical_recall",
        )

    @classmethod
    def head_worse(cls, head: str, new: float, old: float, tolerance: float) -> Refusal:
        metric = f"{head}_macro_f1"
        return cls(
            "head_worse",
            f"{head} macro-F1 {new:.3f} is more than {tolerance:.3f} below "
            f"the champion's {old:.3f}",
            f"{METRIC_NAMES_RU[metric]} {number_ru(new)}: ниже, чем у чемпиона ({number_ru(old)}), "
            f"больше чем на допуск {number_ru(tolerance)}",
            metric,
        )

    @classmethod
    def already_champion(cls, version: str) -> Refusal:
        return cls(
            "already_champion",
            f"v{version} is already the champion",
            f"v{version} уже чемпион",
        )


@dataclass
class GateResult:
    candidate: str
    champion: str | None
    tolerance: float
    figures: dict[str, tuple[float | None, float]] = field(default_factory=dict)
    refusals: list[Refusal] = field(default_factory=list)  # empty when passed
    n_test: int = 0

    @property
    def passed(self) -> bool:
        return not self.refusals

    @property
    def reasons(self) -> list[str]:
        """Why it was refused, in English."""
        return [refusal.text for refusal in self.refusals]

    def table(self) -> str:
        left = f"champion v{self.champion}" if self.champion else "no champion"
        lines = [
            f"frozen test split, {self.n_test} messages, tolerance {self.tolerance:.3f} macro-F1",
            f"{'':28} {left:>16} {'candidate v' + self.candidate:>16} {'change':>8}",
        ]
        for name, (old, new) in self.figures.items():
            change = "" if old is None else f"{new - old:+8.3f}"
            shown = "—" if old is None else f"{old:.3f}"
            lines.append(f"{name:28} {shown:>16} {new:16.3f} {change:>8}")
        lines.append(
            "verdict: " + ("PROMOTE" if self.passed else "REFUSED — " + "; ".join(self.reasons))
        )
        return "\n".join(lines)

    def as_dict(self) -> dict:
        """The result for programs: `figures` and `reasons` as before, and for the review page
        `metrics` in the order shown, with their Russian names, and `refusals` with codes."""
        return {
            "candidate": self.candidate,
            "champion": self.champion,
            "tolerance": self.tolerance,
            "n_test": self.n_test,
            "passed": self.passed,
            "reasons": self.reasons,
            "refusals": [asdict(refusal) for refusal in self.refusals],
            "figures": {k: {"champion": a, "candidate": b} for k, (a, b) in self.figures.items()},
            "metrics": [
                {
                    "key": key,
                    "name_ru": METRIC_NAMES_RU[key],
                    "champion": old,
                    "candidate": new,
                    "lower_is_better": key in LOWER_IS_BETTER,
                    "rule": GATE_RULES.get(key),
                }
                for key, (old, new) in self.figures.items()
            ],
        }


def test_figures(settings: Settings, version: str, test_records: list[dict], rules) -> dict:
    sha256 = expected_sha256(client(), version)
    model, _ = artifact.load(ensure_local(settings.models, version), rules, sha256)
    decisions = model.map(map(message_of, test_records))
    return summary(evaluate_decisions(test_records, decisions))


def gate(settings: Settings, candidate: str, tolerance: float = PROMOTE_TOLERANCE) -> GateResult:
    """Candidate against champion on today's frozen test split, with today's safety rules."""
    configure(settings)
    paths = settings.paths
    mlflow_client = client()
    mlflow_client.get_model_version(REGISTERED_MODEL, candidate)  # fails clearly if unknown
    current = champion_version(mlflow_client)
    _, test_records, _ = split(load_corpus(paths.data), paths.test_ids)
    rules = SafetyRules.load()
    new = test_figures(settings, candidate, test_records, rules)
    old = test_figures(settings, current, test_records, rules) if current else None
    result = GateResult(candidate, current, tolerance, n_test=len(test_records))
    for name in GATE_FIGURES:
        result.figures[name] = (None if old is None else old[name], new[name])
    if new["critical_recall"] < 1.0:
        result.refusals.append(Refusal.critical_missed(new["critical_recall"]))
    if old is not None:
        for head in GATED_HEADS:
            name = f"{head}_macro_f1"
            if new[name] < old[name] - tolerance:
                result.refusals.append(Refusal.head_worse(head, new[name], old[name], tolerance))
    return result


def promote(settings: Settings, version: str, tolerance: float = PROMOTE_TOLERANCE) -> GateResult:
    """Move `champion` to `version` if it passes the gate; the verdict is logged on its run."""
    result = gate(settings, version, tolerance)
    mlflow_client = client()
    if result.candidate == result.champion:
        result.refusals.append(Refusal.already_champion(version))
        return result
    run_id = mlflow_client.get_model_version(REGISTERED_MODEL, version).run_id
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    mlflow_client.log_dict(run_id, result.as_dict(), f"gate/{stamp}.json")
    mlflow_client.set_model_version_tag(
        REGISTERED_MODEL, version, "gate", "passed" if result.passed else "refused"
    )
    if result.passed:
        set_champion(mlflow_client, settings, version, [*history(mlflow_client), version])
    return result


def rollback(settings: Settings) -> tuple[str, str]:
    """Give `champion` back to the version that held it before; (from, to)."""
    configure(settings)
    mlflow_client = client()
    past = history(mlflow_client)
    if len(past) < 2:
        raise RuntimeError(
            "nothing to roll back to: "
            + (f"v{past[0]} is the only champion there has been" if past else "no champion yet")
        )
    current, previous = past[-1], past[-2]
    set_champion(mlflow_client, settings, previous, past[:-1])
    return current, previous


def champion_history(settings: Settings) -> list[str]:
    """The versions that held `champion`, oldest first: what `rollback` steps back through."""
    from mlflow.exceptions import MlflowException

    configure(settings)
    try:
        return history(client())
    except MlflowException:  # nothing registered yet
        return []


def versions(settings: Settings) -> list[dict]:
    """Every registered version with its test figures and gate verdict, newest first."""
    configure(settings)
    mlflow_client = client()
    current = champion_version(mlflow_client)
    rows = []
    for v in mlflow_client.search_model_versions(f"name='{REGISTERED_MODEL}'"):
        run = mlflow_client.get_run(v.run_id)
        rows.append(
            {
                "version": str(v.version),
                "champion": str(v.version) == current,
                "run_id": v.run_id,
                "created_at": datetime.fromtimestamp(v.creation_timestamp / 1000, UTC).isoformat(),
                "gate": v.tags.get("gate"),
                "note": run.data.tags.get("note", ""),
                "corrections_in_training": int(run.data.tags.get("corrections_in_training", 0)),
                "test": {
                    k.removeprefix("test_"): round(m, 4)
                    for k, m in run.data.metrics.items()
                    if k.startswith("test_") and "." not in k and not k.startswith("test_model")
                },
            }
        )
    return sorted(rows, key=lambda r: -int(r["version"]))


def fetch_champion(settings: Settings) -> Fetched:
    """The version the registry alias `champion` names, on this disk, with its SHA-256. The
    local pointer is left alone: the caller loads the file with that SHA-256 and moves the
    pointer only if it loads (`artifact.set_champion`). A serving worker asks the same through
    `registry_reads`, without MLflow's client in its memory."""
    configure(settings)
    return fetched_champion(client(), settings.models)


def fetched_champion(mlflow_client, models_dir: Path) -> Fetched:
    """`fetch_champion` with a client already pointed at the registry."""
    version = champion_version(mlflow_client)
    if version is None:
        raise RegistryRefusal(NO_CHAMPION)
    sha256 = expected_sha256(mlflow_client, version)
    return Fetched(version, ensure_local(models_dir, version), sha256)


def recorded_sha256(settings: Settings, version: str) -> str:
    """`expected_sha256` with the registry the settings name."""
    configure(settings)
    return expected_sha256(client(), version)
