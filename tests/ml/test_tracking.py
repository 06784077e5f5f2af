"""MLflow console output: quiet inside `quiet_mlflow`, as before outside it."""

from __future__ import annotations

import logging
import os
import warnings

import mlflow
import pandas as pd
from mlflow.types import DataType
from mlflow.utils.logging_utils import eprint

from aerotwin.config import with_section
from aerotwin.ml.rul_tracking import RulPyfunc
from aerotwin.ml.tracking import (
    ensure_experiment,
    log_pickled_model,
    mlflow_session,
    quiet_mlflow,
    stores_exist,
)


def test_quiet_mlflow_silences_the_console_and_restores_it(capfd) -> None:
    logger = logging.getLogger("mlflow.pyfunc")
    level = logging.getLogger("mlflow").level
    with quiet_mlflow():
        eprint("Successfully registered model 'x'.")
        logger.warning("Passing a Python object as `python_model` ...")
        assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "false"
    assert "Successfully" not in capfd.readouterr().err
    assert logging.getLogger("mlflow").level == level
    eprint("after the block")
    assert "after the block" in capfd.readouterr().err


class _UnitEcho:
    """A stand-in model whose input and output have integer columns, as the RUL model's do."""

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame[["unit", "cycle"]].assign(rul=1.0)


def test_logged_model_declares_integer_columns_without_a_warning(settings) -> None:
    example = pd.DataFrame({"unit": [1, 2], "cycle": [3, 4], "s2": [0.5, 0.25]})
    with mlflow_session(settings) as client:
        experiment_id = ensure_experiment(client, "aerotwin-test", settings)
        with (
            mlflow.start_run(experiment_id=experiment_id),
            warnings.catch_warnings(record=True) as caught,
        ):
            warnings.simplefilter("always")
            info = log_pickled_model(_UnitEcho(), RulPyfunc(), "rul_model", example)
    assert not [w for w in caught if "integer column" in str(w.message)]
    assert info.signature is not None
    assert info.signature.inputs.input_types() == [DataType.long, DataType.long, DataType.double]
    assert info.signature.outputs.input_names() == ["unit", "cycle", "rul"]


def test_stores_exist_only_once_opened(settings, tmp_path) -> None:
    assert not stores_exist(settings)  # the default SQLite file: not there yet
    with mlflow_session(settings):
        pass
    assert stores_exist(settings)
    folder = tmp_path / "mlruns"
    assert not stores_exist(with_section(settings, "ml", registry_uri=folder.as_uri()))
    folder.mkdir()
    assert stores_exist(with_section(settings, "ml", registry_uri=folder.as_uri()))
    assert stores_exist(with_section(settings, "ml", registry_uri="http://127.0.0.1:5000"))
