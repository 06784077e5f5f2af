"""The rule baseline: the health status the rules already give, used as a risk predictor."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

STATUS_SCORE = {"Nominal": 0.0, "Warning": 1.0, "Critical": 2.0}


def status_scores(status: pd.Series) -> np.ndarray:
    """Critical > Warning > Nominal as 2 / 1 / 0; unknown or missing status counts as Nominal."""
    return status.map(STATUS_SCORE).fillna(0.0).to_numpy(dtype=float)


def baseline_pr_auc(data: pd.DataFrame) -> float:
    """PR-AUC (average precision) of the rule status against the labels; NaN without positives."""
    labels = data["label"].to_numpy()
    if labels.sum() == 0 or "component_health_status" not in data:
        return float("nan")
    return float(average_precision_score(labels, status_scores(data["component_health_status"])))
