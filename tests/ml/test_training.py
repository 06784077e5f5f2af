"""The risk classifier: beats the rule baseline on held-out aircraft; threshold for recall."""

from __future__ import annotations

import time

import numpy as np
import pytest

from aerotwin.ml.baseline import baseline_pr_auc, status_scores
from aerotwin.ml.dataset import build_dataset, split_dataset
from aerotwin.ml.synthetic import synthetic_fleet
from aerotwin.ml.train_job import skip_message
from aerotwin.ml.training import (
    TrainingDataError,
    choose_threshold,
    evaluate,
    train_risk_model,
)


@pytest.fixture(scope="module")
def split():
    fleet = synthetic_fleet("engine", aircraft=30, days=240, seed=11)
    data = build_dataset(fleet.features, fleet.failures, 14, fleet.health)
    return split_dataset(data, 14, 0.4, 0.4)


def test_model_beats_rule_baseline_on_held_out_aircraft(split) -> None:
    result = train_risk_model("engine", split, 14, target_recall=0.8, tuning_seconds=0)
    holdout = evaluate(split.holdout, result.model.risk(split.holdout), result.model.threshold)
    baseline = baseline_pr_auc(split.holdout)
    assert split.holdout["label"].sum() > 10
    assert holdout["pr_auc"] > baseline + 0.05
    assert holdout["roc_auc"] > 0.7
    out = result.model.predict(split.holdout.head(20))
    assert list(out.columns) == ["risk_score", "predicted_alert", "anomaly_score"]
    assert ((out["risk_score"] >= 0) & (out["risk_score"] <= 1)).all()
    assert set(result.model.reference) == set(split.features)


def test_threshold_reaches_target_recall_on_validation(split) -> None:
    result = train_risk_model("engine", split, 14, target_recall=0.8, tuning_seconds=0)
    assert result.validation_metrics["recall"] >= 0.8
    strict = train_risk_model("engine", split, 14, target_recall=0.3, tuning_seconds=0)
    assert strict.model.threshold > result.model.threshold
    floor = train_risk_model("engine", split, 14, target_recall=0.8, min_precision=0.5)
    assert floor.validation_metrics["precision"] >= 0.5 > result.validation_metrics["precision"]


def test_optuna_runs_the_allowed_trials_within_budget(split) -> None:
    result = train_risk_model("engine", split, 14, tuning_seconds=20, tuning_trials=3)
    assert result.trials == 3
    assert result.train_seconds < 20  # the trial cap ended the search, not the budget
    assert {"learning_rate", "num_leaves", "num_boost_round"} <= set(result.params)


def test_optuna_stops_at_the_time_budget_before_the_trial_cap(split) -> None:
    # A trial takes 0.2-1 s here: 30 of them would take well over the 1 s budget.
    started = time.monotonic()
    result = train_risk_model("engine", split, 14, tuning_seconds=1, tuning_trials=30)
    elapsed = time.monotonic() - started
    assert 1 <= result.trials < 30
    # The budget, plus the trial running when it ran out and the final fit (~1 s each).
    assert elapsed < 1 + 5, f"tuning with a 1 s budget took {elapsed:.1f} s"


def test_choose_threshold_is_highest_with_enough_recall() -> None:
    labels = np.array([0, 0, 1, 1, 0, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.9])
    assert choose_threshold(labels, scores, 2 / 3) == pytest.approx(0.6)
    assert choose_threshold(labels, scores, 1.0) == pytest.approx(0.3)


def test_precision_floor_gives_up_recall_that_only_noise_alerts_reach() -> None:
    # Two failures with a precursor (top scores), one sudden one scored like the healthy parts.
    labels = np.array([0] * 8 + [1, 0, 1, 1])
    scores = np.array([0.1, 0.12, 0.14, 0.16, 0.18, 0.2, 0.22, 0.24, 0.15, 0.5, 0.8, 0.9])
    assert choose_threshold(labels, scores, 0.8) == pytest.approx(0.15)  # 3 of 9 alerts right
    # Precision at least 0.5: the most recall it allows (2 of 3) at its highest threshold.
    assert choose_threshold(labels, scores, 0.8, min_precision=0.5) == pytest.approx(0.8)
    # Reaching the target with enough precision: the floor changes nothing.
    assert choose_threshold(labels, scores, 0.6, min_precision=0.5) == pytest.approx(0.8)
    # No threshold that precise: the recall rule.
    assert choose_threshold(labels, -scores, 0.8, min_precision=0.9) == choose_threshold(
        labels, -scores, 0.8
    )


def test_no_failures_in_training_is_a_clear_error(split) -> None:
    empty = type(split)(
        split.train.assign(label=0), split.validation, split.holdout, split.cutoff, split.features
    )
    with pytest.raises(TrainingDataError, match="no failure within 14 days"):
        train_risk_model("engine", empty, 14)


def test_status_scores_order_critical_over_warning() -> None:
    import pandas as pd

    scores = status_scores(pd.Series(["Nominal", "Critical", "Warning", None]))
    assert scores.tolist() == [0.0, 2.0, 1.0, 0.0]


def test_empty_validation_is_a_clear_error_naming_the_type(split) -> None:
    # A small fleet can leave no validation aircraft after the cut-off (10 aircraft, 30 days).
    none = type(split)(
        split.train, split.validation.iloc[0:0], split.holdout, split.cutoff, split.features
    )
    with pytest.raises(TrainingDataError, match=r"^landing_gear: the validation split has no rows"):
        train_risk_model("landing_gear", none, 14)


def test_skip_message_names_the_type_once() -> None:
    no_failure = TrainingDataError("engine: no failure within 14 days")
    assert skip_message("engine", no_failure) == "engine: no failure within 14 days"
    no_table = KeyError("table 'failures' does not exist: no labels to train on")
    assert skip_message("brakes", no_table) == (
        "brakes: table 'failures' does not exist: no labels to train on"
    )
    assert skip_message("apu", ValueError("dataset: no snapshots")) == "apu: dataset: no snapshots"
