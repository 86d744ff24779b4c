"""Training as a job: started by the service, run in a process of its own, with a typed result.

A training takes a minute or more of CPU that should not hold a service worker's interpreter, so
a worker starts `python -m pettriage.training.jobs JOB_FILE`. The job file (`<home>/jobs/<id>.json`)
is the whole contract: it carries the request (the settings training needs, not the whole
configuration: no API keys on disk), and the process writes its outcome back into it as a
`TrainingOutcome`. Every worker can answer about a job by reading the file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import traceback
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from pettriage.config import Settings

Status = Literal["running", "succeeded", "failed", "lost"]
OUTPUT_TAIL = 4000  # characters of the process's output shown with a job


class TrainingRequest(BaseModel):
    """What a training needs of the configuration."""

    home: Path
    data_dir: Path
    test_ids: Path
    models_dir: Path
    mlflow_tracking_uri: str | None
    folds: int
    note: str

    @classmethod
    def of(cls, settings: Settings, note: str) -> TrainingRequest:
        paths = settings.paths
        return cls(
            home=paths.home,
            data_dir=paths.data,
            test_ids=paths.test_ids,
            models_dir=paths.models,
            mlflow_tracking_uri=settings.mlflow_tracking_uri,
            folds=settings.train_folds,
            note=note,
        )

    def settings(self) -> Settings:
        return Settings(
            home=self.home,
            data_dir=self.data_dir,
            test_ids=self.test_ids,
            models_dir=self.models_dir,
            mlflow_tracking_uri=self.mlflow_tracking_uri,
            train_folds=self.folds,
        )


class TrainingOutcome(BaseModel):
    """What a finished training made."""

    version: str
    run_id: str
    champion: bool  # the new version became the champion (the first one does)
    seconds: float
    test: dict[str, float]  # the figures on the frozen test split


class Job(BaseModel):
    job_id: str
    kind: Literal["train"] = "train"
    status: Status = "running"
    pid: int | None = None
    started_at: datetime
    finished_at: datetime | None = None
    returncode: int | None = None
    request: TrainingRequest
    result: TrainingOutcome | None = None
    error: str | None = None


class JobRunning(RuntimeError):
    """A training is already running; the text says so."""


def jobs_dir(settings: Settings) -> Path:
    path = settings.home / "jobs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write(path: Path, job: Job) -> None:
    scratch = path.with_suffix(".tmp")
    scratch.write_text(job.model_dump_json(indent=1), "utf-8")
    scratch.replace(path)


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_starting = threading.Lock()  # one start at a time in this process; the files cover the others


def start_training(settings: Settings, note: str) -> Job:
    """Start a training process and a thread that records its end; `JobRunning` if one runs."""
    directory = jobs_dir(settings)
    if not _starting.acquire(blocking=False):
        raise JobRunning("a training is already starting; wait for it to finish")
    try:
        if any(job.status == "running" for job in all_jobs(settings)):
            raise JobRunning("a training is already running; wait for it to finish")
        job = Job(
            job_id=uuid.uuid4().hex[:12],
            started_at=datetime.now(UTC),
            request=TrainingRequest.of(settings, note),
        )
        path = directory / f"{job.job_id}.json"
        _write(path, job)
        with (directory / f"{job.job_id}.log").open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "pettriage.training.jobs", str(path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=settings.home,
            )
        job = job.model_copy(update={"pid": process.pid})
        _write(path, job)
    finally:
        _starting.release()
    threading.Thread(
        target=_watch, args=(process, path), name=f"train-{job.job_id}", daemon=True
    ).start()
    return job


def _watch(process: subprocess.Popen, path: Path) -> None:
    """Record the end of a job whose process did not (it was killed, say)."""
    code = process.wait()
    job = Job.model_validate_json(path.read_text("utf-8"))
    if job.status == "running":
        _write(
            path,
            job.model_copy(
                update={
                    "status": "failed",
                    "returncode": code,
                    "finished_at": datetime.now(UTC),
                    "error": f"the training process ended with code {code} before finishing",
                }
            ),
        )


def read_job(settings: Settings, job_id: str) -> tuple[Job, str] | None:
    """The job and the tail of its output, or None when there is no such job."""
    directory = jobs_dir(settings)
    path = directory / f"{job_id}.json"
    if not job_id.isalnum() or not path.exists():
        return None
    job = _current(path)
    log = directory / f"{job_id}.log"
    output = log.read_text("utf-8", errors="replace")[-OUTPUT_TAIL:] if log.exists() else ""
    return job, output


def _current(path: Path) -> Job:
    job = Job.model_validate_json(path.read_text("utf-8"))
    if job.status == "running" and job.pid is not None and not _alive(job.pid):
        time.sleep(0.5)  # the process may be writing its end right now
        job = Job.model_validate_json(path.read_text("utf-8"))
        if job.status == "running":
            job = job.model_copy(update={"status": "lost"})  # died without a word
    return job


def all_jobs(settings: Settings) -> list[Job]:
    return [_current(path) for path in sorted(jobs_dir(settings).glob("*.json"))]


def run(path: Path) -> int:
    """The job process: train as requested and write the outcome into the job file."""
    from .train import train

    job = Job.model_validate_json(path.read_text("utf-8"))
    request = job.request
    try:
        result = train(request.settings(), folds=request.folds, note=request.note)
    except Exception as error:
        traceback.print_exc()
        _write(
            path,
            job.model_copy(
                update={
                    "status": "failed",
                    "returncode": 1,
                    "finished_at": datetime.now(UTC),
                    "error": f"{type(error).__name__}: {error}",
                }
            ),
        )
        return 1
    outcome = TrainingOutcome(
        version=result.version,
        run_id=result.run_id,
        champion=result.champion,
        seconds=round(result.seconds, 1),
        test=result.summary,
    )
    _write(
        path,
        job.model_copy(
            update={
                "status": "succeeded",
                "returncode": 0,
                "finished_at": datetime.now(UTC),
                "result": outcome,
            }
        ),
    )
    print(f"trained v{outcome.version} in {outcome.seconds} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1])))
