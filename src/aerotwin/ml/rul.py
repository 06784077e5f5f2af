"""Engine remaining-useful-life regression: grouped cross-validation, LightGBM, intervals.

The model predicts the piecewise-linear RUL target (capped at 125 cycles) from windowed,
per-condition-normalised sensor features. A small grid of LightGBM settings is compared by
cross-validation grouped by unit on the training units only; the winner is refit on all of
them, and its out-of-fold residuals calibrate conformal prediction intervals. The test split
is only ever used by `evaluate`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from rich.progress import Progress
from sklearn.model_selection import GroupKFold

from aerotwin.ml.cmapss import COLUMNS, CmapssSubset
from aerotwin.ml.conformal import ConformalIntervals, empirical_coverage, fit_intervals
from aerotwin.ml.rul_features import (
    RUL_CAP,
    Preprocessor,
    capped_rul,
    feature_columns,
    window_features,
)

BASE_PARAMS: dict[str, Any] = {
    "objective": "regression",
    "learning_rate": 0.03,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.5,
    "reg_lambda": 1.0,
    "verbose": -1,
}
CANDIDATES: tuple[dict[str, Any], ...] = (
    {"num_leaves": 15, "min_child_samples": 50},
    {"num_leaves": 31, "min_child_samples": 100},
)


@dataclass(frozen=True)
class RulConfig:
    """What `train_rul` does: folds, trees, candidate settings, interval coverage, threads."""

    folds: int = 5
    n_estimators: int = 600
    candidates: tuple[dict[str, Any], ...] = CANDIDATES
    coverage: float = 0.9
    cap: int = RUL_CAP
    threads: int = 2
    seed: int = 7

    def params(self, candidate: dict[str, Any]) -> dict[str, Any]:
        """Full LightGBM parameters of one candidate."""
        return {
            **BASE_PARAMS,
            **candidate,
            "n_estimators": self.n_estimators,
            "num_threads": self.threads,
            "random_state": self.seed,
        }


@dataclass
class RulModel:
    """A fitted RUL model: raw C-MAPSS cycles in, RUL with a conformal interval out."""

    preprocessor: Preprocessor
    booster: lgb.Booster
    features: list[str]
    intervals: ConformalIntervals
    cap: int
    subset: str

    def predict(self, cycles: pd.DataFrame) -> pd.DataFrame:
        """unit, cycle, rul, rul_lower, rul_upper for every input cycle, sorted by unit, cycle.

        Each row's prediction uses that unit's cycles up to and including it.
        """
        missing = [c for c in COLUMNS if c not in cycles.columns]
        if missing:
            raise ValueError(f"cycles: missing columns {missing}")
        ordered = cycles.sort_values(["unit", "cycle"], kind="stable").reset_index(drop=True)
        feats = window_features(self.preprocessor.normalise(ordered), self.preprocessor.sensors)
        point = np.clip(self.booster.predict(feats[self.features].to_numpy()), 0, self.cap)
        lower, upper = self.intervals.interval(point)
        return pd.DataFrame(
            {
                "unit": ordered["unit"].to_numpy(),
                "cycle": ordered["cycle"].to_numpy(),
                "rul": point,
                "rul_lower": np.clip(lower, 0, None),
                "rul_upper": upper,
            }
        )

    def predict_last(self, cycles: pd.DataFrame) -> pd.DataFrame:
        """One prediction per unit, at its last cycle."""
        return self.predict(cycles).groupby("unit").tail(1).reset_index(drop=True)


@dataclass
class TrainResult:
    """A fitted model with what cross-validation said about the candidates."""

    model: RulModel
    params: dict[str, Any]
    cv: dict[str, float]  # cv_rmse, cv_coverage, cv_mean_width of the chosen candidate
    candidates: list[dict[str, Any]] = field(default_factory=list)  # params + cv_rmse each
    train_seconds: float = 0.0


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Root mean squared error."""
    d = np.asarray(predicted, dtype=np.float64) - np.asarray(actual, dtype=np.float64)
    return float(np.sqrt(np.mean(d * d)))


def phm08_score(predicted: np.ndarray, actual: np.ndarray) -> float:
    """PHM08 score: sum of exp(-d/13) - 1 for d < 0 and exp(d/10) - 1 for d >= 0, d = ŷ - y.

    Late predictions (d > 0, the engine fails before predicted) cost more than early ones.
    """
    d = np.asarray(predicted, dtype=np.float64) - np.asarray(actual, dtype=np.float64)
    return float(np.sum(np.where(d < 0, np.exp(-d / 13.0) - 1.0, np.exp(d / 10.0) - 1.0)))


def _fit_booster(x: np.ndarray, y: np.ndarray, params: dict[str, Any]) -> lgb.Booster:
    regressor = lgb.LGBMRegressor(**params)
    regressor.fit(x, y)
    return regressor.booster_


def train_rul(
    train: pd.DataFrame,
    subset: str,
    config: RulConfig | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Select LightGBM settings by GroupKFold on units, refit the best, calibrate intervals."""
    config = config or RulConfig()
    started = time.perf_counter()
    units = train["unit"].nunique()
    if units < config.folds:
        raise ValueError(f"train: {units} units are too few for {config.folds}-fold CV")
    train = train.sort_values(["unit", "cycle"], kind="stable").reset_index(drop=True)
    y = capped_rul(train, config.cap).to_numpy()
    groups = train["unit"].to_numpy()
    splits = list(GroupKFold(n_splits=config.folds).split(train, y, groups))
    steps = len(config.candidates) * config.folds + 1
    task = progress.add_task(f"RUL {subset}: grouped CV", total=steps) if progress else None
    oofs = [np.empty(len(train)) for _ in config.candidates]
    for fit_idx, hold_idx in splits:
        # The preprocessor is fitted inside each fold so held-out units stay unseen.
        pre = Preprocessor.fit(train.iloc[fit_idx])
        feats = window_features(pre.normalise(train), pre.sensors)
        x = feats[feature_columns(feats)].to_numpy()
        for oof, candidate in zip(oofs, config.candidates, strict=True):
            booster = _fit_booster(x[fit_idx], y[fit_idx], config.params(candidate))
            oof[hold_idx] = np.clip(booster.predict(x[hold_idx]), 0, None)
            if progress is not None and task is not None:
                progress.advance(task)
    results = [
        (rmse(oof, y), config.params(candidate), oof)
        for oof, candidate in zip(oofs, config.candidates, strict=True)
    ]
    best_rmse, best_params, best_oof = min(results, key=lambda r: r[0])
    intervals = fit_intervals(best_oof, y, coverage=config.coverage)
    pre = Preprocessor.fit(train)
    feats = window_features(pre.normalise(train), pre.sensors)
    cols = feature_columns(feats)
    booster = _fit_booster(feats[cols].to_numpy(), y, best_params)
    if progress is not None and task is not None:
        progress.advance(task)
    lower, upper = intervals.interval(best_oof)
    cv = {
        "cv_rmse": best_rmse,
        "cv_coverage": empirical_coverage(y, np.clip(lower, 0, None), upper),
        "cv_mean_width": float(np.mean(upper - np.clip(lower, 0, None))),
    }
    model = RulModel(pre, booster, cols, intervals, config.cap, subset)
    return TrainResult(
        model=model,
        params=best_params,
        cv=cv,
        candidates=[{**p, "cv_rmse": r} for r, p, _ in results],
        train_seconds=time.perf_counter() - started,
    )


@dataclass
class Evaluation:
    """Test-split metrics and the per-unit predictions behind them."""

    metrics: dict[str, float]
    predictions: pd.DataFrame  # unit, cycle, rul, rul_lower, rul_upper, true_rul


def evaluate(model: RulModel, data: CmapssSubset) -> Evaluation:
    """Score the last cycle of each test unit against the true RUL file.

    `rmse` and `phm08_score` compare with the RUL file as published; `rmse_capped`,
    `phm08_score_capped` and the interval figures compare with it capped at the model's cap
    (the field's convention, and the quantity the model and its intervals target).
    """
    last = model.predict_last(data.test)
    truth = data.test_rul.loc[last["unit"]].to_numpy(np.float64)
    capped = np.minimum(truth, model.cap)
    pred = last["rul"].to_numpy()
    lower, upper = last["rul_lower"].to_numpy(), last["rul_upper"].to_numpy()
    metrics = {
        "test_rmse": rmse(pred, truth),
        "test_phm08_score": phm08_score(pred, truth),
        "test_rmse_capped": rmse(pred, capped),
        "test_phm08_score_capped": phm08_score(pred, capped),
        "test_coverage": empirical_coverage(capped, lower, upper),
        "test_coverage_uncapped": empirical_coverage(truth, lower, upper),
        "test_mean_width": float(np.mean(upper - lower)),
        "test_units": float(len(last)),
    }
    return Evaluation(metrics=metrics, predictions=last.assign(true_rul=truth))


def describe(row: pd.Series, coverage: float) -> str:
    """One prediction in words: 'fails in 40 cycles (28 to 55, 90 %)'."""
    return (
        f"fails in {round(row['rul'])} cycles "
        f"({round(row['rul_lower'])} to {round(row['rul_upper'])}, {coverage * 100:.0f} %)"
    )
