"""MLflow connection: tracking and registry URIs from Settings, experiments by name."""

from __future__ import annotations

import logging
import pickle
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.models.model import ModelInfo
from mlflow.pyfunc import PythonModel
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, DataType, Schema

from aerotwin.config import Settings

# Read by MLflow at each download, so setting it for a block is enough.
_PROGRESS_BAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"


def stores_exist(settings: Settings) -> bool:
    """Whether MLflow's tracking and registry stores are there to read.

    False when one is a local SQLite database or folder that does not exist yet: opening it
    (an `MlflowClient`, `mlflow_session`) would create it, so a command that only reads
    checks first. A server or a remote database counts as there.
    """
    registry = settings.ml.registry_uri or settings.mlflow_tracking_uri
    paths = (_local_path(uri) for uri in (settings.mlflow_tracking_uri, registry))
    return all(path is None or path.exists() for path in paths)


def _local_path(uri: str) -> Path | None:
    """The file or folder a local store URI names; None for a server or remote database."""
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///"))
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(url2pathname(parsed.path))
    return Path(uri) if not parsed.scheme else None


@contextmanager
def mlflow_session(settings: Settings) -> Iterator[MlflowClient]:
    """Point MLflow's fluent API at the configured store for the duration of a block.

    MLflow's logging functions read a process-wide URI; setting it here, at the entry point,
    and restoring it afterwards keeps that state out of the rest of the code. A data folder
    that was moved or copied has its store re-pointed at its own artifacts first.
    """
    settings.mlflow_artifact_root.mkdir(parents=True, exist_ok=True)
    if settings.mlflow_tracking_uri.startswith("sqlite:///"):
        db_path = settings.mlflow_tracking_uri.removeprefix("sqlite:///")
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    _repoint_artifacts(settings)
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


# Where MLflow's SQL store keeps absolute artifact URIs (MLflow 3 schema).
_ARTIFACT_URI_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "source"),
    ("model_versions", "storage_location"),
)


def _repoint_artifacts(settings: Settings) -> None:
    """Point the data folder's own MLflow store at the folder's own artifacts.

    MLflow records absolute artifact URIs and has no API to change them, so after the data
    folder is moved or copied they name the old place: loading would fail there, or training
    in a copy would write into the original. Our experiments live at `<artifact root>/<name>`;
    when that root is not this folder's, every stored URI under it is rewritten to this
    folder's root. Only the default store (SQLite under the data folder) is touched: a
    configured tracking or registry store keeps the locations it was given.
    """
    if settings.ml.tracking_uri or settings.ml.registry_uri:
        return
    db = Path(settings.mlflow_tracking_uri.removeprefix("sqlite:///"))
    if not db.exists():
        return  # MLflow creates it; new experiments get this folder's root
    root = settings.mlflow_artifact_root.as_uri()
    with closing(sqlite3.connect(db)) as conn, conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if "experiments" not in tables:
            return
        old_roots = {
            parent
            for name, location in conn.execute("SELECT name, artifact_location FROM experiments")
            for parent, _, last in [str(location).rpartition("/")]
            if location.startswith("file:") and unquote(last) == name and parent != root
        }
        for old in old_roots:
            for table, column in _ARTIFACT_URI_COLUMNS:
                if table in tables:
                    conn.execute(
                        f"UPDATE {table} SET {column} = ? || substr({column}, ?)"
                        f" WHERE substr({column}, 1, ?) = ?",
                        (root, len(old) + 1, len(old) + 1, old + "/"),
                    )


@contextmanager
def quiet_mlflow() -> Iterator[None]:
    """Keep MLflow's console chatter out of a command's output for the duration of a block.

    Silences MLflow's INFO / WARNING log lines (database set-up, pickling notes), its
    "Successfully registered" messages and its artifact download progress bars; errors are
    still raised. Only the console is affected: runs, metrics and models are logged as usual.
    """
    import os

    # MLflow's own switch for its event logs: reference-counted, so MLflow modules that
    # toggle it while they are imported inside the block do not turn the output back on.
    from mlflow.utils.autologging_utils.logging_and_warnings import (
        MlflowEventsAndWarningsBehaviorGlobally as EventLogs,
    )

    logger = logging.getLogger("mlflow")
    level, bar = logger.level, os.environ.get(_PROGRESS_BAR)
    logger.setLevel(logging.ERROR)
    os.environ[_PROGRESS_BAR] = "false"
    try:
        with EventLogs(disable_event_logs=True, disable_warnings=False, reroute_warnings=False):
            yield
    finally:
        logger.setLevel(level)
        if bar is None:
            os.environ.pop(_PROGRESS_BAR, None)
        else:
            os.environ[_PROGRESS_BAR] = bar


def check_model_files(client: MlflowClient, name: str, version: int) -> None:
    """FileNotFoundError naming the folder when a registered version's local files are gone.

    MLflow's own error for that case names neither the model nor the path. Files in a remote
    artifact store are not checked here.
    """
    path = _local_path(client.get_model_version_download_uri(name, str(version)))
    if path is not None and not path.exists():
        raise FileNotFoundError(f"model files missing: no folder {path}")


def ensure_experiment(client: MlflowClient, name: str, settings: Settings) -> str:
    """The id of experiment `name`, created with artifacts beside the lakehouse if new."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = (settings.mlflow_artifact_root / name).as_uri()
    return client.create_experiment(name, artifact_location=location)


def pip_requirements() -> list[str]:
    """The models' runtime packages pinned to this environment.

    Given explicitly: MLflow would otherwise import the model in a subprocess to infer them.
    """
    from importlib.metadata import version

    packages = ("aerotwin", "lightgbm", "numpy", "pandas", "scikit-learn", "mlflow")
    return [f"{name}=={version(name)}" for name in packages]


# MLflow column types by numpy dtype kind; anything else (object, string) is a string.
_COLUMN_TYPES = {
    "i": DataType.long,
    "u": DataType.long,
    "f": DataType.double,
    "b": DataType.boolean,
}


def frame_schema(frame: pd.DataFrame) -> Schema:
    """The columns of `frame` as an MLflow schema, declared from their dtypes.

    Declared, not inferred: inference warns that integer columns cannot hold missing values,
    which tells the user nothing about ours (C-MAPSS unit and cycle numbers are never missing).
    """
    return Schema(
        [
            ColSpec(_COLUMN_TYPES.get(dtype.kind, DataType.string), str(name))
            for name, dtype in frame.dtypes.items()
        ]
    )


def log_pickled_model(
    model: Any, wrapper: PythonModel, artifact: str, example: pd.DataFrame
) -> ModelInfo:
    """Log `model` (pickled as artifact `artifact`, served by `wrapper`) in the active run.

    The signature is declared from `example` and the model's own prediction on it.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{artifact}.pkl"
        path.write_bytes(pickle.dumps(model))
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=wrapper,
            artifacts={artifact: str(path)},
            signature=ModelSignature(frame_schema(example), frame_schema(model.predict(example))),
            input_example=example,
            pip_requirements=pip_requirements(),
        )
