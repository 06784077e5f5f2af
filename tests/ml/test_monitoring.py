"""Predictions joined to later failures: only matured predictions count."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from aerotwin.ml.labels import interventions
from aerotwin.ml.monitoring import outcomes, performance_over_time

T0 = pd.Timestamp("2026-03-02", tz="UTC")  # a Monday


def test_confusion_counts_per_week_from_matured_predictions() -> None:
    day = pd.Timedelta(days=1)
    predictions = pd.DataFrame(
        {
            "component_id": ["C1", "C2", "C3", "C4", "C5"],
            "component_type": "engine",
            "model_version": 3,
            "feature_ts": [T0, T0, T0 + day, T0 + 2 * day, T0 + 20 * day],
            "horizon_days": 14,
            "predicted_alert": [True, True, False, False, False],
        }
    )
    failures = pd.DataFrame(
        {"component_id": ["C1", "C3"], "failure_ts": [T0 + 5 * day, T0 + 30 * day]}
    )
    matured = outcomes(predictions, failures, as_of=T0 + 25 * day)
    # C5's horizon has not passed and it did not fail: not judged yet.
    assert sorted(matured["component_id"]) == ["C1", "C2", "C3", "C4"]
    perf = performance_over_time(matured)
    row = perf.iloc[0]
    assert (row["tp"], row["fp"], row["fn"], row["tn"]) == (1, 1, 0, 2)
    assert row["precision"] == 0.5 and row["recall"] == 1.0
    assert row["period_start"] == T0


def test_no_matured_prediction_gives_typed_empty_frame() -> None:
    predictions = pd.DataFrame(
        {
            "component_id": ["C1"],
            "component_type": "engine",
            "model_version": 1,
            "feature_ts": [T0],
            "horizon_days": 14,
            "predicted_alert": [True],
        }
    )
    empty = pd.DataFrame(
        {"component_id": pd.Series(dtype=str), "failure_ts": pd.Series(dtype="datetime64[us, UTC]")}
    )
    perf = performance_over_time(outcomes(predictions, empty, as_of=T0))
    assert perf.empty and str(perf["tp"].dtype) == "int64"


def test_a_prediction_before_a_prevented_failure_is_not_judged() -> None:
    day = pd.Timedelta(days=1)
    predictions = pd.DataFrame(
        {
            "component_id": ["C1", "C2", "C3"],
            "component_type": "engine",
            "model_version": 1,
            "feature_ts": [T0, T0, T0],
            "horizon_days": 14,
            "predicted_alert": [True, True, False],
        }
    )
    failures = pd.DataFrame({"component_id": ["C9"], "failure_ts": [T0]})
    events = pd.DataFrame(
        {
            "component_id": ["C1", "C2", "C3"],
            "event_ts": [T0 + 3 * day, T0 + 20 * day, T0 + 5 * day],
            "event_type": ["repair", "repair", "inspection"],
            "trigger": ["defect_found", "defect_found", "scheduled"],
        }
    )
    fixes = interventions(events)
    assert list(fixes["component_id"]) == ["C1", "C2"]  # an inspection fixes nothing
    judged = outcomes(predictions, failures, as_of=T0 + 30 * day, interventions=fixes)
    # C1's defect was repaired inside its horizon: whether it would have failed is unknown.
    # C2's repair came after the horizon: a false alarm; C3: a true negative.
    assert sorted(judged["component_id"]) == ["C2", "C3"]
    row = performance_over_time(judged).iloc[0]
    assert (row["tp"], row["fp"], row["fn"], row["tn"]) == (0, 1, 0, 1)
    # Without the repairs, C1's alert would count as a false alarm.
    assert len(outcomes(predictions, failures, as_of=T0 + 30 * day)) == 3


def test_a_prediction_scored_again_counts_once() -> None:
    day = pd.Timedelta(days=1)
    once = pd.DataFrame(
        {
            "component_id": ["C1", "C2"],
            "component_type": "engine",
            "model_version": 3,
            "feature_ts": [T0, T0],
            "horizon_days": 14,
            "predicted_alert": [False, True],
        }
    )
    # Three scoring runs on the same feature rows, then a new model scores them once more.
    runs = [once.assign(scored_ts=T0 + (k + 1) * pd.Timedelta(hours=1)) for k in range(3)]
    newer = once.assign(scored_ts=T0 + 5 * day, model_version=4)
    predictions = pd.concat([*runs, newer], ignore_index=True)
    failures = pd.DataFrame({"component_id": ["C1"], "failure_ts": [T0 + 5 * day]})
    matured = outcomes(predictions, failures, as_of=T0 + 25 * day)
    assert len(matured) == 4  # per component, feature row and model version: the latest run
    assert set(matured.loc[matured["model_version"] == 3, "scored_ts"]) == {
        T0 + 3 * pd.Timedelta(hours=1)
    }
    perf = performance_over_time(matured).set_index("model_version")
    assert perf.loc[3, ["predictions", "tp", "fp", "fn", "tn"]].tolist() == [2, 0, 1, 1, 0]
    assert perf.loc[4, ["predictions", "tp", "fp", "fn", "tn"]].tolist() == [2, 0, 1, 1, 0]


def test_write_performance_rebuilds_the_table_from_predictions_failures_and_fixes(
    tmp_path: Path,
) -> None:
    import pyarrow as pa

    from aerotwin.lakehouse.delta import Lakehouse
    from aerotwin.scoring.batch import write_performance
    from aerotwin.twin.risk_tables import MODEL_PERFORMANCE, PREDICTIONS, SCHEMAS

    day = pd.Timedelta(days=1)
    # Scored long after: maturity is judged by the newest features, not by the run's time.
    scored = T0 + 40 * day
    predictions = pd.DataFrame(
        {
            # C1 is scored by two runs: one prediction. C6 sets as_of (its feature_ts, the
            # newest) to T0+25 days: the others' 14-day horizons have passed, C6's has not.
            "component_id": ["C1", "C1", "C2", "C3", "C4", "C5", "C6"],
            "aircraft_id": "A1",
            "component_type": "engine",
            "scored_ts": [scored, scored + day, scored, scored, scored, scored, scored],
            "feature_ts": [T0, T0, T0, T0 + day, T0 + 2 * day, T0 + 3 * day, T0 + 25 * day],
            "risk_score": 0.5,
            "predicted_alert": [True, True, True, False, False, True, True],
            "anomaly_score": 0.0,
            "threshold": 0.5,
            "horizon_days": 14,
            "model_name": "aerotwin-engine-risk",
            "model_version": 2,
            "run_id": "r",
        }
    )
    failures = pd.DataFrame(
        {"component_id": ["C1", "C3"], "failure_ts": [T0 + 5 * day, T0 + 10 * day]}
    )
    # C5's defect was found and repaired in its horizon: its alert is not judged.
    events = pd.DataFrame(
        {
            "component_id": ["C5", "C1"],
            "event_ts": [T0 + 6 * day, T0 + 5 * day],
            "event_type": ["repair", "replacement"],
            "trigger": ["inspection", "failure"],
        }
    )
    lake = Lakehouse(str(tmp_path / "lake"))
    lake.write(
        PREDICTIONS, pa.Table.from_pandas(predictions, schema=SCHEMAS[PREDICTIONS]), "append"
    )
    lake.write("failures", pa.Table.from_pandas(failures, preserve_index=False), "overwrite")
    lake.write("maintenance_events", pa.Table.from_pandas(events), "overwrite")

    write_performance(lake)
    write_performance(lake)  # a rebuild, not a second copy
    perf = lake.read(MODEL_PERFORMANCE).to_pandas()
    # C1 alert + failure: tp; C2 alert, no failure: fp; C3 no alert + failure: fn; C4: tn.
    assert len(perf) == 1
    row = perf.iloc[0]
    assert (row["component_type"], row["model_version"]) == ("engine", 2)
    assert row["period_start"] == T0
    assert (row["predictions"], row["tp"], row["fp"], row["fn"], row["tn"]) == (4, 1, 1, 1, 1)
    assert (row["precision"], row["recall"], row["f1"]) == (0.5, 0.5, 0.5)
