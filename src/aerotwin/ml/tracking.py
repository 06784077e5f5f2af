"""MLflow connection: tracking and registry URIs from Settings, experiments by name."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import mlflow
from mlflow.tracking import MlflowClient

from aerotwin.config import Settings


@contextmanager
def mlflow_session(settings: Settings) -> Iterator[MlflowClient]:
    """Point MLflow's fluent API at the configured store for the duration of a block.

    MLflow's logging functions read a process-wide URI; setting it here, at the entry point,
    and restoring it afterwards keeps that state out of the rest of the code.
    """
    settings.mlflow_artifact_root.mkdir(parents=True, exist_ok=True)
    if settings.mlflow_tracking_uri.startswith("sqlite:///"):
        db_path = settings.mlflow_tracking_uri.removeprefix("sqlite:///")
        from pathlib import Path

        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    previous_tracking = mlflow.get_tracking_uri()
    previous_registry = mlflow.get_registry_uri()
    registry_uri = settings.ml.registry_uri or settings.mlflow_tracking_uri
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(registry_uri)
    try:
        yield MlflowClient(settings.mlflow_tracking_uri, registry_uri)
    finally:
        mlflow.set_tracking_uri(previous_tracking)
        mlflow.set_registry_uri(previous_registry)


def ensure_experiment(client: MlflowClient, name: str, settings: Settings) -> str:
    """The id of experiment `name`, created with artifacts beside the lakehouse if new."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = (settings.mlflow_artifact_root / name).as_uri()
    return client.create_experiment(name, artifact_location=location)
