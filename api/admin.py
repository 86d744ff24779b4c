"""Admin actions on models, also reachable from the review page: export the corrections, train
a new version, promote it behind the gate, roll back, reload.

Training runs as a separate `complaints train` process (a minute or more of CPU that should not
hold the service's interpreter), and its state is a file under `<home>/jobs/`, so that every
worker can answer about it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from .deps import SessionDep, SettingsDep, requires
from .settings import Role, Settings

router = APIRouter(prefix="/v1/admin", tags=["admin"])
ADMIN = [requires(Role.admin)]
_training = threading.Lock()


def _jobs_dir(settings: Settings) -> Path:
    path = settings.home / "jobs"
    path.mkdir(parents=True, exist_ok=True)
    return path


@router.get(
    "/versions",
    dependencies=[requires(Role.quality)],
    summary="Registered model versions with their test figures and gate verdicts",
)
def versions(settings: SettingsDep, request: Request) -> dict[str, Any]:
    from training.registry import versions as registered

    return {
        "serving": request.app.state.champion.version,
        "versions": registered(settings.paths),
    }


@router.post(
    "/export-corrections",
    dependencies=ADMIN,
    summary="Append the corrections in force to the annotated corpus",
)
def export(session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    from .corrections import export_corrections

    result = export_corrections(session, settings.paths.data)
    return {
        "written": [r["id"] for r in result.written],
        "already_exported": result.already,
        "left_out": result.skipped,
        "file": str(result.path),
        "summary": result.describe(),
    }


@router.post("/train", dependencies=ADMIN, status_code=202, summary="Train a new version")
def train(settings: SettingsDep, note: str = "trained from the review page") -> dict[str, Any]:
    jobs = _jobs_dir(settings)
    if _running(jobs) or not _training.acquire(blocking=False):
        raise HTTPException(409, "a training is already running; wait for it to finish")
    job_id = uuid.uuid4().hex[:12]
    log_path = jobs / f"{job_id}.log"
    paths = settings.paths
    env = os.environ | {
        "COMPLAINTS_HOME": str(paths.home),
        "COMPLAINTS_DATA_DIR": str(paths.data),
        "COMPLAINTS_TEST_IDS": str(paths.test_ids),
        "COMPLAINTS_MODELS_DIR": str(paths.models),
    }
    try:
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "classifier.cli",
                    "train",
                    "--folds",
                    str(settings.train_folds),
                    "--note",
                    note,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=paths.home,
            )
    except OSError:
        _training.release()
        raise
    state = {
        "job_id": job_id,
        "kind": "train",
        "status": "running",
        "pid": process.pid,
        "started_at": datetime.now(UTC).isoformat(),
    }
    _write(jobs / f"{job_id}.json", state)

    def wait() -> None:
        try:
            code = process.wait()
            output = log_path.read_text("utf-8", errors="replace")
            _write(
                jobs / f"{job_id}.json",
                state
                | {
                    "status": "succeeded" if code == 0 else "failed",
                    "returncode": code,
                    "finished_at": datetime.now(UTC).isoformat(),
                    "result": _trained(output) if code == 0 else None,
                },
            )
        finally:
            _training.release()

    threading.Thread(target=wait, name=f"train-{job_id}", daemon=True).start()
    return state


@router.get("/jobs/{job_id}", dependencies=ADMIN, summary="State and output of a training job")
def job(job_id: str, settings: SettingsDep) -> dict[str, Any]:
    jobs = _jobs_dir(settings)
    path = jobs / f"{job_id}.json"
    if not job_id.isalnum() or not path.exists():
        raise HTTPException(404, f"no job {job_id!r}")
    state = json.loads(path.read_text("utf-8"))
    if state["status"] == "running" and not _alive(state["pid"]):
        time.sleep(0.5)  # the watcher may be writing the end right now
        state = json.loads(path.read_text("utf-8"))
        if state["status"] == "running":
            state["status"] = "lost"  # the worker that watched it died before writing the end
    log_path = jobs / f"{job_id}.log"
    state["output"] = log_path.read_text("utf-8", errors="replace")[-4000:]
    return state


@router.post(
    "/promote/{version}",
    dependencies=ADMIN,
    summary="Make VERSION the champion if it is no worse on the frozen test split",
)
async def promote(
    version: str, request: Request, settings: SettingsDep, tolerance: float | None = None
) -> dict[str, Any]:
    from mlflow.exceptions import MlflowException

    from training.registry import promote as gate_and_promote

    tolerance = settings.promote_tolerance if tolerance is None else tolerance
    try:
        result = await run_in_threadpool(gate_and_promote, settings.paths, version, tolerance)
    except MlflowException as error:
        raise HTTPException(404, f"no registered version {version!r}: {error.message}") from error
    champion = request.app.state.champion
    if result.passed:
        await run_in_threadpool(champion.load_local)
    return result.as_dict() | {
        "promoted": result.passed,
        "table": result.table(),
        "serving": champion.version,
    }


@router.post("/rollback", dependencies=ADMIN, summary="Give the champion alias back")
async def rollback(request: Request, settings: SettingsDep) -> dict[str, Any]:
    from training.registry import rollback as roll_back

    try:
        current, previous = await run_in_threadpool(roll_back, settings.paths)
    except RuntimeError as error:
        raise HTTPException(409, str(error)) from error
    champion = request.app.state.champion
    await run_in_threadpool(champion.load_local)
    return {"from": current, "to": previous, "serving": champion.version}


def _write(path: Path, state: dict) -> None:
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps(state, ensure_ascii=False), "utf-8")
    scratch.replace(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _running(jobs: Path) -> bool:
    for path in jobs.glob("*.json"):
        state = json.loads(path.read_text("utf-8"))
        if state.get("status") == "running" and _alive(state["pid"]):
            return True
    return False


def _trained(output: str) -> dict | None:
    """The JSON summary `complaints train` prints last."""
    start = output.rfind("\n{")
    try:
        return json.loads(output[start + 1 :] if start >= 0 else output)
    except json.JSONDecodeError:
        return None
