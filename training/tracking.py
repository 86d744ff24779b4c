"""MLflow set-up: the embedded store in <home> unless the settings name a tracking server."""

from __future__ import annotations

import os

from pettriage.config import Settings

REGISTERED_MODEL = "complaint-classifier"
EXPERIMENT = "complaint-classifier"
CHAMPION_ALIAS = "champion"


def configure(settings: Settings) -> str:
    """Point MLflow at the settings' store, with our experiment, and turn telemetry off;
    returns the tracking URI."""
    import mlflow

    uri = point_at(settings.tracking_uri)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        location = (settings.home / "mlartifacts").as_uri() if settings.own_tracking_store else None
        mlflow.create_experiment(EXPERIMENT, artifact_location=location)
    mlflow.set_experiment(EXPERIMENT)
    return uri


def point_at(uri: str) -> str:
    """Point MLflow's client at this store and turn telemetry off; returns the URI."""
    # MLflow reads these itself; we set them, never read them.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    # With a server, MLflow prints the run's page on stdout, where `complaints train` writes its
    # JSON for programs.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri
