"""Unsupervised anomaly score per component type (IsolationForest), for data without labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest


@dataclass
class AnomalyDetector:
    """An IsolationForest with the medians it fills missing features with."""

    forest: IsolationForest
    features: tuple[str, ...]
    fill: dict[str, float]

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """anomaly_score: higher is more unusual; about 0.5 is ordinary, near 1 is an outlier."""
        x = frame[list(self.features)].astype(float).fillna(self.fill).fillna(0.0)
        return -self.forest.score_samples(x.to_numpy())


def fit_anomaly(
    train: pd.DataFrame, features: tuple[str, ...], seed: int = 0, n_jobs: int = 1
) -> AnomalyDetector:
    """Fit on training snapshots (labels unused)."""
    x = train[list(features)].astype(float)
    fill = {c: float(v) if pd.notna(v) else 0.0 for c, v in x.median().items()}
    forest = IsolationForest(n_estimators=100, max_samples=256, random_state=seed, n_jobs=n_jobs)
    forest.fit(x.fillna(fill).fillna(0.0).to_numpy())
    return AnomalyDetector(forest, features, fill)
