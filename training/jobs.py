"""Training as a job: started by the service, run in a process of its own, with a typed result.

A training takes a minute or more of CPU that should not hold a service worker's interpreter, so
a worker starts `python -m pettriage.training.jobs JOB_FILE`. The job file (`<home>/jobs/<id>.json`)
is the whole contract: it carries the request (the settings training needs, not the whole
configuration: no API keys on disk), and the process writes into it the steps it has gone through,
in words quality staff read on the review page (`Step`), and its outcome as a `TrainingOutcome`.
Every worker can answer about a job by reading the file. The process's raw output goes to
`<id>.log`, for whoever needs the details.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import time
import traceback
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel

from pettriage.config import Settings

Status = Literal["running", "succeeded", "failed", "lost"]
StepCode = Literal["read", "cv", "test", "register", "done", "unchanged", "failed"]
OUTPUT_TAIL = 4000  # characters of the process's output shown with a job
# `train` reports the stages the job process cannot see from outside by logging, on this logger,
# records with a `step` (a `StepCode`) and a `detail` dict; the job process turns them into steps.
STEPS_LOGGER = "pettriage.training"


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
    # Nothing had changed since `version` (corpus, code, settings): no version was registered.
    unchanged: bool = False


class Step(BaseModel):
    """One thing the training did, in the words a person reads on the review page."""

    at: datetime
    step: StepCode
    text_ru: str
    detail: dict[str, Any] = {}

    @classmethod
    def now(cls, step: StepCode, **detail: Any) -> Step:
        return cls(
            at=datetime.now(UTC), step=step, text_ru=step_text_ru(step, detail), detail=detail
        )


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
    steps: list[Step] = []


class JobRunning(RuntimeError):
    """A training is already running; the text says so."""


def count_ru(n: int, one: str, few: str, many: str) -> str:
    """`n` and the noun in the form Russian puts after it (1 запись, 3 записи, 11 записей), the
    thousands set off by a no-break space as Russian writes them (1 234)."""
    units, tens = n % 10, n % 100
    form = many if 11 <= tens <= 14 else one if units == 1 else few if 2 <= units <= 4 else many
    return f"{n:,}".replace(",", "\u00a0") + " " + form


def step_text_ru(step: StepCode, detail: dict[str, Any]) -> str:
    """What a step says on the review page."""
    match step:
        case "read":
            text = "Читаю разметку: " + count_ru(detail["records"], "запись", "записи", "записей")
            if detail.get("corrections"):
                fixes = count_ru(detail["corrections"], "исправление", "исправления", "исправлений")
                text += f", из них {fixes}"
            return text
        case "cv" if detail.get("folds") == 0:
            return "Обучаю модель (кросс-валидация по авторам: каждый автор отложен по очереди)"
        case "cv":
            folds = count_ru(detail["folds"], "фолд", "фолда", "фолдов")
            return f"Обучаю модель (кросс-валидация, {folds})"
        case "test":
            return "Проверяю на тестовой выборке"
        case "register":
            return f"Регистрирую версию v{detail['version']} в MLflow"
        case "done":
            text = f"Готово: v{detail['version']}"
            return text + (" — она стала чемпионом" if detail.get("champion") else "")
        case "unchanged":
            return (
                f"Ничего не изменилось с v{detail['version']}: та же разметка, тот же код и те "
                "же настройки — новая версия не создана"
            )
        case "failed":
            return f"Ошибка: {detail['error']}"
    raise ValueError(f"Expected a step among {get_args(StepCode)}, got {step!r}")


# CSI (colours, cursor moves), OSC (window titles) and the two-character escapes of a terminal.
_TERMINAL_ESCAPE = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])"
)


def plain_text(output: str) -> str:
    """A process's output as a person reads it: no terminal escape codes, and a line redrawn
    with carriage returns (a progress bar) only as it was drawn last."""
    lines = _TERMINAL_ESCAPE.sub("", output).split("\n")
    return "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in lines)


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
        lost = Step.now(
            "failed", error=f"процесс обучения завершился с кодом {code}, не закончив работу"
        )
        _write(
            path,
            job.model_copy(
                update={
                    "status": "failed",
                    "returncode": code,
                    "finished_at": datetime.now(UTC),
                    "error": f"the training process ended with code {code} before finishing",
                    "steps": [*job.steps, lost],
                }
            ),
        )


def read_job(settings: Settings, job_id: str) -> tuple[Job, str] | None:
    """The job and the tail of its output as plain text, or None when there is no such job."""
    directory = jobs_dir(settings)
    path = directory / f"{job_id}.json"
    if not job_id.isalnum() or not path.exists():
        return None
    job = _current(path)
    log = directory / f"{job_id}.log"
    # Bytes decoded as they are: reading as text would turn a progress bar's \r into lines.
    raw = log.read_bytes().decode("utf-8", errors="replace") if log.exists() else ""
    output = plain_text(raw)
    return job, output[-OUTPUT_TAIL:]


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


class Progress:
    """The job process's steps: each is written into the job file at once, so that a poll sees
    it, and printed to the job's log."""

    def __init__(self, path: Path, job: Job):
        self.path = path
        self.job = job

    def __call__(self, step: StepCode, **detail: Any) -> None:
        said = Step.now(step, **detail)
        self.job = self.job.model_copy(update={"steps": [*self.job.steps, said]})
        _write(self.path, self.job)
        print(f"{said.at.isoformat(timespec='seconds')} {said.text_ru}", flush=True)

    def end(self, **update: Any) -> None:
        self.job = self.job.model_copy(update={"finished_at": datetime.now(UTC), **update})
        _write(self.path, self.job)


class StepsFromLog(logging.Handler):
    """Records of `STEPS_LOGGER` that carry a `step` become steps of the job."""

    def __init__(self, progress: Progress):
        super().__init__(logging.INFO)
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        step = getattr(record, "step", None)
        if step in get_args(StepCode):
            self.progress(step, **getattr(record, "detail", {}))


def quiet_mlflow() -> None:
    """MLflow's own settings for a process whose output a person may read: its errors only, no
    progress bars. MLflow reads them when it is imported, so this comes first."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # One warning stays, once, at import: MLflow asks for type hints on `ComplaintPyfunc.predict`
    # and shows its UserWarnings "once" whatever the filters say; the hints are pyfunc.py's call.


def run(path: Path) -> int:
    """The job process: train as requested, saying each step, and write the outcome into the
    job file."""
    quiet_mlflow()
    from pettriage.classifier.dataset import load_corpus

    from .lineage import Unchanged
    from .train import train

    job = Job.model_validate_json(path.read_text("utf-8"))
    request = job.request
    progress = Progress(path, job)
    logger = logging.getLogger(STEPS_LOGGER)
    logger.setLevel(logging.INFO)
    logger.addHandler(StepsFromLog(progress))
    try:
        settings = request.settings()
        records = load_corpus(settings.paths.data)
        corrections = sum(1 for r in records if r.get("corrects"))
        progress("read", records=len(records), corrections=corrections)
        progress("cv", folds=request.folds)
        result = train(settings, folds=request.folds, note=request.note, records=records)
    except Unchanged as same:
        progress("unchanged", version=same.version)
        unchanged = TrainingOutcome(
            version=same.version,
            run_id=same.run_id,
            champion=False,
            seconds=0.0,
            test={},
            unchanged=True,
        )
        progress.end(status="succeeded", returncode=0, result=unchanged)
        return 0
    except Exception as error:
        traceback.print_exc()
        said = f"{type(error).__name__}: {error}"
        progress("failed", error=said)
        progress.end(status="failed", returncode=1, error=said)
        return 1
    outcome = TrainingOutcome(
        version=result.version,
        run_id=result.run_id,
        champion=result.champion,
        seconds=round(result.seconds, 1),
        test=result.summary,
    )
    progress("done", version=outcome.version, champion=outcome.champion, seconds=outcome.seconds)
    progress.end(status="succeeded", returncode=0, result=outcome)
    return 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1])))
