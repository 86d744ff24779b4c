"""What a model was made from, recorded on its run so a data scientist can trust it later.

Each training run records the code (the git commit when the code is a checkout, and always a
hash of the model's own source: the library and the training procedure, so an installed
package or a container without `.git` is identified too), the corpus (MLflow's dataset
logging: name, the corpus hash as digest, row count and schema, plus the per-writer counts) and
the settings that shape the model. Their fingerprint says whether a training would make what
an earlier version already is: `complaints train` then says so and registers nothing
(`Unchanged`), unless forced.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pettriage.classifier.crosswriter import writer_of

# The source that decides what a training makes: the whole library, and of training the
# procedure, the split and the registered wrapper (not its commands, jobs, registry or Spark).
CODE_PACKAGES = {"pettriage.classifier": None, "pettriage.training": {"train", "split", "pyfunc"}}
FINGERPRINT_TAG = "lineage_fingerprint"
DATASET_NAME = "annotated-corpus"
WRITERS_ARTIFACT = "data/writers.json"  # the run's per-writer record counts


class Unchanged(Exception):
    """The data, the code and the settings are those of a version already registered."""

    def __init__(self, version: str, run_id: str, lineage: Lineage):
        self.version, self.run_id, self.lineage = version, run_id, lineage
        super().__init__(
            f"nothing changed since v{version} (same corpus {lineage.data_hash[:12]}, same code "
            f"{lineage.code_hash[:12]}, same settings): nothing registered; "
            "train with --force to register an identical version anyway"
        )


@dataclass(frozen=True)
class Lineage:
    data_hash: str
    split_hash: str
    code_hash: str
    git_commit: str | None
    git_dirty: bool | None
    settings: dict
    writers: dict[str, int]

    @property
    def fingerprint(self) -> str:
        parts = [self.data_hash, self.split_hash, self.code_hash, self.settings]
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def tags(self) -> dict[str, str]:
        tags = {
            FINGERPRINT_TAG: self.fingerprint,
            "code_hash": self.code_hash,
            "data_hash": self.data_hash,
            "split_hash": self.split_hash,
        }
        if self.git_commit:
            # MLflow's own tag for it: its UI shows the commit beside the run.
            tags["mlflow.source.git.commit"] = self.git_commit
            tags["git_dirty"] = str(self.git_dirty).lower()
        return tags


def lineage_of(records: list[dict], data_hash: str, test_ids: Path, settings: dict) -> Lineage:
    commit, dirty = _git()
    return Lineage(
        data_hash=data_hash,
        split_hash=_file_hash(test_ids),
        code_hash=code_hash(),
        git_commit=commit,
        git_dirty=dirty,
        settings=settings,
        writers=dict(sorted(Counter(writer_of(r) for r in records).items())),
    )


def code_hash() -> str:
    """SHA-256 over the model's source files, by their path within the package."""
    import importlib

    digest = hashlib.sha256()
    for package, modules in CODE_PACKAGES.items():
        folder = Path(importlib.import_module(package).__file__).parent
        for path in sorted(folder.rglob("*")):
            if modules is not None and path.stem not in modules:
                continue
            if path.suffix in (".py", ".yaml") and "__pycache__" not in path.parts:
                digest.update(f"{package}/{path.relative_to(folder).as_posix()}\0".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def log_dataset(records: list[dict], data_dir: Path, lineage: Lineage) -> None:
    """MLflow's dataset logging on the active run: the corpus's schema, row count and hash as
    its digest, its folder as source; how many writers as a tag of the input, and the count of
    each in `data/writers.json` (an input tag holds at most 500 characters, which 28 writers'
    counts outgrew)."""
    import mlflow
    import pandas as pd

    columns = ("id", "text", "category", "urgency", "reporter", "is_hard", "channel")
    frame = pd.DataFrame(
        [{c: r.get(c) for c in columns} | {"writer": writer_of(r)} for r in records]
    )
    dataset = mlflow.data.from_pandas(
        frame,
        source=str(data_dir.resolve()),
        name=DATASET_NAME,
        digest=lineage.data_hash[:36],
    )
    mlflow.log_input(
        dataset,
        context="training",
        tags={"writers": str(len(lineage.writers))},
    )
    mlflow.log_dict(lineage.writers, WRITERS_ARTIFACT)


def find_identical(client, experiment_id: str, lineage: Lineage) -> tuple[str, str] | None:
    """(version, run id) of a registered version trained from the same lineage, if any."""
    from .tracking import REGISTERED_MODEL

    runs = client.search_runs(
        [experiment_id], filter_string=f"tags.{FINGERPRINT_TAG} = '{lineage.fingerprint}'"
    )
    for run in runs:
        found = client.search_model_versions(
            f"name='{REGISTERED_MODEL}' and run_id='{run.info.run_id}'"
        )
        if found:  # the run's first version (a run's model may be registered again later)
            return str(min(int(v.version) for v in found)), run.info.run_id
    return None


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


def _git() -> tuple[str | None, bool | None]:
    """The commit of the checkout this code runs from, and whether it has changes; (None, None)
    when it is not a checkout (an installed package, a container without .git)."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit or None, bool(status.strip())
