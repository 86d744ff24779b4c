"""Admin actions on models, also reachable from the review page: export the corrections, train
a new version (a job of `training.jobs`), promote it behind the gate, roll back, reload."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.concurrency import run_in_threadpool

from pettriage.classifier.artifact import ArtifactError
from pettriage.classifier.records import LABEL_FIELDS
from pettriage.config import Role
from pettriage.training import jobs
from pettriage.training.registry import RegistryRefusal

from . import examples
from .deps import ServiceDep, SessionDep, SettingsDep, requires
from .errors import reject_unknown_query, responses

if TYPE_CHECKING:
    from pettriage.store.corrections import ExportResult

router = APIRouter(
    prefix="/v1/admin",
    tags=["admin"],
    dependencies=[Depends(reject_unknown_query)],
    responses=responses(401, 403),
)
ADMIN = [requires(Role.admin)]


@router.get(
    "/versions",
    dependencies=[requires(Role.quality)],
    responses=examples.answer(examples.VERSIONS),
    summary="Registered model versions with their test figures and gate verdicts",
)
def versions(settings: SettingsDep, service: ServiceDep) -> dict[str, Any]:
    """The versions, and what the review page says before promoting or rolling back: who held
    the champion alias in turn, the gate's tolerance, and the figures' Russian names."""
    from pettriage.training.registry import METRIC_NAMES_RU, champion_history
    from pettriage.training.registry import versions as registered

    return {
        "serving": service.champion.version,
        "versions": registered(settings),
        "champion_history": champion_history(settings),
        "promote_tolerance": settings.promote_tolerance,
        "metric_names_ru": METRIC_NAMES_RU,
    }


@router.post(
    "/export-corrections",
    dependencies=ADMIN,
    responses=examples.answer(examples.EXPORT),
    summary="Append the confirmed corrections in force to the annotated corpus",
)
def export(session: SessionDep, settings: SettingsDep, dry_run: bool = False) -> dict[str, Any]:
    """With `dry_run`, what would be written, and nothing is."""
    from pettriage.store.corrections import export_corrections

    result = export_corrections(session, settings.paths.data, dry_run=dry_run)
    return {
        "dry_run": dry_run,
        "written": [r["id"] for r in result.written],
        "already_exported": result.already,
        "left_out": result.skipped,
        "proposals_left_out": result.proposals_left_out,
        "file": str(result.path),
        "changes": [_changes(record) for record in result.written],
        "summary": result.describe(),
        "summary_ru": _export_summary_ru(result),
    }


def _changes(record: dict) -> dict[str, Any]:
    """What one exported correction changes of what the model said: {head: {from, to}}."""
    said = record["model_said"] or {}
    return {
        "id": record["id"],
        "corrects": record["corrects"],
        "labels": {
            head: {"from": said.get(head), "to": record[head]}
            for head in LABEL_FIELDS
            if said.get(head) != record[head]
        },
    }


def _export_summary_ru(result: ExportResult) -> str:
    """The export in Russian, one line a figure; the numbers after colons need no plurals."""
    lines = [
        ("Будет записано" if result.dry_run else "Записано")
        + f" подтверждённых исправлений: {len(result.written)} (в файл {result.path.name})",
        ("Не попадут в выгрузку" if result.dry_run else "Не выгружены")
        + f", ждут второго человека: {result.proposals_left_out}",
        f"Выгружены раньше: {result.already}",
    ]
    if result.skipped:
        lines.append(f"Пропущены из-за ошибок в данных: {len(result.skipped)}")
    return "\n".join(lines)


@router.post(
    "/train",
    dependencies=ADMIN,
    status_code=202,
    responses=responses(409) | examples.answer(examples.JOB, 202),
    summary="Train a new version",
)
def train(settings: SettingsDep, note: str = "trained from the review page") -> dict[str, Any]:
    try:
        job = jobs.start_training(settings, note)
    except jobs.JobRunning as error:
        raise HTTPException(409, str(error)) from error
    return job.model_dump(mode="json", exclude={"request"})


@router.get(
    "/jobs/{job_id}",
    dependencies=ADMIN,
    responses=responses(404) | examples.answer(examples.JOB | {"output": "…"}),
    summary="State, steps and output of a training job",
)
def job(job_id: str, settings: SettingsDep) -> dict[str, Any]:
    """`steps`: what the training did, in Russian (`text_ru`) with a code (`step`: read, cv,
    test, register, done, failed) and its figures (`detail`); `output`: the tail of the
    process's output as plain text."""
    found = jobs.read_job(settings, job_id)
    if found is None:
        raise HTTPException(404, f"no job {job_id!r}")
    job, output = found
    return job.model_dump(mode="json", exclude={"request"}) | {"output": output}


@router.post(
    "/promote/{version}",
    dependencies=ADMIN,
    responses=responses(404, 409) | examples.answer(examples.PROMOTE),
    summary="Make VERSION the champion if it is no worse on the frozen test split",
)
async def promote(
    version: str, service: ServiceDep, settings: SettingsDep, tolerance: float | None = None
) -> dict[str, Any]:
    from mlflow.exceptions import MlflowException

    from pettriage.training.registry import promote as gate_and_promote

    tolerance = settings.promote_tolerance if tolerance is None else tolerance
    try:
        result = await run_in_threadpool(gate_and_promote, settings, version, tolerance)
    except MlflowException as error:
        raise HTTPException(404, f"no registered version {version!r}: {error.message}") from error
    except (ArtifactError, RegistryRefusal) as error:
        raise HTTPException(409, f"v{version} cannot be promoted: {_why(error)}") from error
    champion = service.champion
    if result.passed:
        await run_in_threadpool(champion.load_local)
    return result.as_dict() | {
        "promoted": result.passed,
        "table": result.table(),
        "serving": champion.version,
    }


@router.post(
    "/rollback",
    dependencies=ADMIN,
    responses=responses(409) | examples.answer(examples.ROLLBACK),
    summary="Give the champion alias back",
)
async def rollback(service: ServiceDep, settings: SettingsDep) -> dict[str, Any]:
    from pettriage.training.registry import rollback as roll_back

    try:
        current, previous = await run_in_threadpool(roll_back, settings)
    except RuntimeError as error:  # nothing to roll back to, or a version that fails its check
        raise HTTPException(409, f"cannot roll back: {_why(error)}") from error
    await run_in_threadpool(service.champion.load_local)
    return {"from": current, "to": previous, "serving": service.champion.version}


def _why(error: Exception) -> str:
    """What went wrong, without the paths a model-file error names for the log."""
    if isinstance(error, ArtifactError):
        return f"its model file {error.reason}"
    return str(error)
