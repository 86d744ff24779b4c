"""Where the project keeps its data and models; overridable by environment variables.

Read when called, never at import, so tests and deployments can point elsewhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paths:
    home: Path
    data: Path  # annotated JSONL files
    test_ids: Path  # the frozen test split, one id per line
    models: Path  # trained artifacts, git-ignored

    @classmethod
    def from_env(cls) -> Paths:
        home = Path(os.environ.get("COMPLAINTS_HOME", Path.cwd())).resolve()
        return cls(
            home=home,
            data=Path(os.environ.get("COMPLAINTS_DATA_DIR", home / "data" / "annotated")),
            test_ids=Path(
                os.environ.get("COMPLAINTS_TEST_IDS", home / "data" / "splits" / "test_ids.txt")
            ),
            models=Path(os.environ.get("COMPLAINTS_MODELS_DIR", home / "models")),
        )
