"""MLflow console output: quiet inside `quiet_mlflow`, as before outside it."""

from __future__ import annotations

import logging
import os

from mlflow.utils.logging_utils import eprint

from aerotwin.ml.tracking import quiet_mlflow


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
