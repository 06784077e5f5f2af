"""The engine RUL model in MLflow: one run per training, a pyfunc model, registry aliases.

The logged model is a pyfunc that carries the fitted preprocessing, so the registered model
predicts from raw C-MAPSS cycles: `mlflow.pyfunc.load_model("models:/aerotwin-engine-rul@champion")
.predict(cycles)` returns unit, cycle, rul, rul_lower, rul_upper.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PythonModel
from mlflow.tracking import MlflowClient

from aerotwin.config import Settings
from aerotwin.ml.rul import Evaluation, RulModel, TrainResult
from aerotwin.ml.tracking import ensure_experiment, log_pickled_model, mlflow_session

EXPERIMENT = "aerotwin-engine-rul"
MODEL_NAME = "aerotwin-engine-rul"


class RulPyfunc(PythonModel):
    """MLflow wrapper: raw cycles in, per-cycle RUL with interval out."""

    def load_context(self, context: Any) -> None:
        with open(context.artifacts["rul_model"], "rb") as handle:
            self.model: RulModel = pickle.load(handle)

    # pd.DataFrame is a hint MLflow takes as is (no schema inferred from it, no warning):
    # the explicit signature logged with the model stays the one that validates inputs.
    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Per-cycle RUL with its interval, per input row."""
        return self.model.predict(pd.DataFrame(model_input))


@dataclass(frozen=True)
class Registered:
    """Where a training landed: the run, the model version and the aliases it holds."""

    run_id: str
    version: int
    aliases: list[str]


def _promote(client: MlflowClient, version: int, subset: str, cv_rmse: float) -> list[str]:
    """Champion when there is none, or when it beats the champion's CV RMSE on the same subset.

    Otherwise the new version becomes the challenger. CV RMSE decides, never the test split.
    """
    try:
        champion = client.get_model_version_by_alias(MODEL_NAME, "champion")
    except MlflowException:
        champion = None
    better = champion is None
    if champion is not None and champion.run_id and champion.tags.get("subset") == subset:
        best = client.get_run(champion.run_id).data.metrics.get("cv_rmse", float("inf"))
        better = cv_rmse < best
    alias = "champion" if better else "challenger"
    client.set_registered_model_alias(MODEL_NAME, alias, str(version))
    return [alias]


def log_training(
    settings: Settings,
    result: TrainResult,
    evaluation: Evaluation | None,
    input_example: pd.DataFrame,
    register: bool = True,
) -> Registered:
    """Log params, CV and test metrics and the pyfunc model in one run; register and alias it."""
    model = result.model
    with mlflow_session(settings) as client:
        experiment_id = ensure_experiment(client, EXPERIMENT, settings)
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"rul-{model.subset}") as run:
            mlflow.set_tags({"subset": model.subset, "component_type": "engine"})
            mlflow.log_params(
                {
                    **{k: v for k, v in result.params.items() if k != "verbose"},
                    "rul_cap": model.cap,
                    "coverage": model.intervals.coverage,
                    "sensors": ",".join(model.preprocessor.sensors),
                    "dropped_sensors": ",".join(model.preprocessor.dropped),
                    "conditions": len(model.preprocessor.centres),
                    "features": len(model.features),
                }
            )
            metrics = {**result.cv, "train_seconds": result.train_seconds}
            for i, cand in enumerate(result.candidates):
                metrics[f"cv_rmse_candidate_{i}"] = cand["cv_rmse"]
            if evaluation is not None:
                metrics.update(evaluation.metrics)
                mlflow.log_text(evaluation.predictions.to_csv(index=False), "test_predictions.csv")
            mlflow.log_metrics(metrics)
            example = input_example.reset_index(drop=True)
            info = log_pickled_model(model, RulPyfunc(), "rul_model", example)
            if not register:
                return Registered(run.info.run_id, 0, [])
        version = mlflow.register_model(info.model_uri, MODEL_NAME)
        client.set_model_version_tag(MODEL_NAME, version.version, "subset", model.subset)
        aliases = _promote(client, int(version.version), model.subset, result.cv["cv_rmse"])
        return Registered(run.info.run_id, int(version.version), aliases)
