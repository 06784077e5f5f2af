"""LightGBM risk classifier per component type: imbalance, Optuna tuning, threshold choice."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)

from aerotwin.ml.anomaly import fit_anomaly
from aerotwin.ml.dataset import Split
from aerotwin.ml.drift import reference_profile
from aerotwin.ml.labels import failures_caught, median_lead_days
from aerotwin.ml.model import RiskModel

BASE_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_child_samples": 20,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbose": -1,
}
ROUNDS = 300


class TrainingDataError(ValueError):
    """The data cannot train a model (for example no failures in the training window)."""


@dataclass
class TrainResult:
    """A fitted risk model with how it was found."""

    model: RiskModel
    params: dict[str, Any]
    validation_metrics: dict[str, float]
    trials: int
    train_seconds: float


def evaluate(labelled: pd.DataFrame, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """ROC-AUC, PR-AUC, precision / recall / F1 at threshold, median lead time, confusion counts."""
    y = labelled["label"].to_numpy()
    pred = scores >= threshold
    both = len(np.unique(y)) == 2
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
    failures, caught = failures_caught(labelled, pred)
    return {
        "roc_auc": float(roc_auc_score(y, scores)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, scores)) if y.sum() else float("nan"),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "median_lead_days": median_lead_days(labelled, pred),
        "tp": float(tp),
        "fp": float(fp),
        "fn": float(fn),
        "tn": float(tn),
        "rows": float(len(y)),
        "positives": float(y.sum()),
        "failures": float(failures),
        "failures_caught": float(caught),
    }


def choose_threshold(
    labels: np.ndarray, scores: np.ndarray, target_recall: float, min_precision: float = 0.0
) -> float:
    """The highest threshold whose recall on validation still reaches target_recall.

    Unless that threshold's precision is below `min_precision`: then the threshold with the
    most recall among those keeping that precision (the highest of equals). Failures without
    a precursor (sudden ones) can only be "caught" by alerting on nearly everything; the
    floor keeps alerts worth acting on. Without any threshold that precise, the recall rule.
    """
    if labels.sum() == 0:
        return 0.5
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    precision, recall = precision[:-1], recall[:-1]
    ok = np.flatnonzero(recall >= target_recall)
    best = int(ok[-1]) if ok.size else 0
    if precision[best] >= min_precision:
        return float(thresholds[best])
    precise = np.flatnonzero(precision >= min_precision)
    if not precise.size:
        return float(thresholds[best])
    most = precise[recall[precise] == recall[precise].max()]
    return float(thresholds[most[-1]])


def _fit(params: dict[str, Any], train: pd.DataFrame, features: tuple[str, ...]) -> lgb.Booster:
    y = train["label"].to_numpy()
    rounds = int(params.get("num_boost_round", ROUNDS))
    lgb_params = {k: v for k, v in params.items() if k != "num_boost_round"}
    data = lgb.Dataset(train[list(features)].astype("float64"), label=y, free_raw_data=True)
    return lgb.train(lgb_params, data, num_boost_round=rounds)


def _pr_auc(booster: lgb.Booster, frame: pd.DataFrame, features: tuple[str, ...]) -> float:
    y = frame["label"].to_numpy()
    if y.sum() == 0:
        return float("nan")
    scores = booster.predict(frame[list(features)].astype("float64"))
    return float(average_precision_score(y, scores))


def _tune(
    base: dict[str, Any], split: Split, seconds: float, max_trials: int, seed: int
) -> tuple[dict[str, Any], int]:
    """Search a small space for validation PR-AUC within `seconds` (0: keep the defaults)."""
    if seconds <= 0 or split.validation["label"].sum() == 0:
        return base, 0

    def objective(trial: optuna.Trial) -> float:
        params = {
            **base,
            "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 7, 63, log=True),
            "min_child_samples": trial.suggest_int("min_child_samples", 5, 100, log=True),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
            "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
            "num_boost_round": trial.suggest_int("num_boost_round", 100, 500, step=50),
        }
        return _pr_auc(_fit(params, split.train, split.features), split.validation, split.features)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial({k: base[k] for k in ("learning_rate", "num_leaves")})
    study.optimize(objective, n_trials=max_trials, timeout=seconds)
    return {**base, **study.best_params}, len(study.trials)


def train_risk_model(
    component_type: str,
    split: Split,
    horizon_days: int,
    target_recall: float = 0.8,
    min_precision: float = 0.0,
    tuning_seconds: float = 0.0,
    tuning_trials: int = 40,
    num_threads: int = 1,
    seed: int = 0,
) -> TrainResult:
    """Fit the classifier (tuned on validation), pick its threshold, fit the anomaly detector."""
    start = time.perf_counter()
    y = split.train["label"].to_numpy()
    positives = int(y.sum())
    if positives == 0:
        raise TrainingDataError(
            f"{component_type}: no failure within {horizon_days} days in the training window "
            f"({len(y)} snapshots before the cut-off); simulate more days or aircraft"
        )
    if split.validation.empty:
        # The threshold is chosen on validation: without rows there is nothing to choose on.
        aircraft = pd.concat([split.train["aircraft_id"], split.holdout["aircraft_id"]]).nunique()
        raise TrainingDataError(
            f"{component_type}: the validation split has no rows (no aircraft held out for "
            f"validation has a snapshot from the cut-off {split.cutoff:%Y-%m-%d} on; "
            f"{aircraft} aircraft in training and holdout); simulate more aircraft or days"
        )
    base = {
        **BASE_PARAMS,
        "num_threads": num_threads,
        "seed": seed,
        "scale_pos_weight": (len(y) - positives) / positives,
        "num_boost_round": ROUNDS,
    }
    params, trials = _tune(base, split, tuning_seconds, tuning_trials, seed)
    booster = _fit(params, split.train, split.features)
    valid = split.validation
    valid_scores = np.asarray(booster.predict(valid[list(split.features)].astype("float64")))
    threshold = choose_threshold(
        valid["label"].to_numpy(), valid_scores, target_recall, min_precision
    )
    anomaly = fit_anomaly(split.train, split.features, seed=seed, n_jobs=num_threads)
    model = RiskModel(
        component_type=component_type,
        booster=booster,
        features=split.features,
        threshold=threshold,
        horizon_days=horizon_days,
        anomaly=anomaly,
        reference=reference_profile(split.train, split.features),
        params=params,
    )
    metrics = evaluate(valid, valid_scores, threshold)
    return TrainResult(model, params, metrics, trials, time.perf_counter() - start)
