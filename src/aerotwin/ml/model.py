"""The risk model as one object: classifier, threshold, anomaly detector and drift reference.

Logged to MLflow as a pyfunc, so `mlflow.pyfunc.load_model("models:/aerotwin-engine-risk@champion")
.predict(features)` returns risk_score, predicted_alert and anomaly_score per row.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from aerotwin.ml.anomaly import AnomalyDetector

OUTPUT_COLUMNS = ("risk_score", "predicted_alert", "anomaly_score")


@dataclass
class RiskModel:
    """Everything scoring needs for one component type."""

    component_type: str
    booster: lgb.Booster
    features: tuple[str, ...]
    threshold: float
    horizon_days: int
    anomaly: AnomalyDetector
    reference: dict = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model's feature columns as floats; a missing column is a clear error."""
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise ValueError(
                f"{self.component_type} risk model: feature column(s) missing: {missing[:5]}"
            )
        return frame[list(self.features)].astype("float64")

    def risk(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of failure within the horizon."""
        return np.asarray(self.booster.predict(self.inputs(frame)), dtype=float)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """risk_score, predicted_alert (risk_score >= threshold) and anomaly_score per row."""
        x = self.inputs(frame)
        risk = np.asarray(self.booster.predict(x), dtype=float)
        return pd.DataFrame(
            {
                "risk_score": risk,
                "predicted_alert": risk >= self.threshold,
                "anomaly_score": self.anomaly.score(x),
            }
        )


class RiskPyfunc(PythonModel):
    """MLflow wrapper around a pickled RiskModel."""

    def load_context(self, context: Any) -> None:
        with open(context.artifacts["risk_model"], "rb") as handle:
            self.model: RiskModel = pickle.load(handle)

    # pd.DataFrame is a hint MLflow takes as is (no schema inferred from it): the explicit
    # signature logged with the model stays the one that validates inputs.
    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """risk_score, predicted_alert and anomaly_score per input row."""
        return self.model.predict(pd.DataFrame(model_input))
