"""MLflow set-up: an embedded store inside the project unless MLFLOW_TRACKING_URI says otherwise."""

from __future__ import annotations

import os
from pathlib import Path

REGISTERED_MODEL = "complaint-classifier"
EXPERIMENT = "complaint-classifier"
CHAMPION_ALIAS = "champion"


def configure(home: Path) -> str:
    """Point MLflow at the project's store and turn telemetry off; returns the tracking URI."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    import mlflow

    uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{home / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        own_store = not os.environ.get("MLFLOW_TRACKING_URI")
        location = (home / "mlartifacts").as_uri() if own_store else None
        mlflow.create_experiment(EXPERIMENT, artifact_location=location)
    mlflow.set_experiment(EXPERIMENT)
    return uri
