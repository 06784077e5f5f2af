"""Model monitoring: predictions joined to what happened afterwards, metrics over time.

A prediction made from features at feature_ts matures once its horizon has passed (or its
component failed); only matured predictions count, so recent ones never look like misses.
Nor does a prediction whose horizon holds a repair or replacement that was not a failure
(a defect found in time): whether the part would have failed is not known, as in training
(`labels.outcome_known`), so an alert before a prevented failure is not a false alarm.
Each scoring run appends its predictions, and a run with no new features scores the same
rows again: a prediction counts once per component, feature row and model version.
"""

from __future__ import annotations

import pandas as pd

from aerotwin.ml.labels import label_snapshots, outcome_known

# One prediction: the same component, feature row and model give the same risk in any run.
PREDICTION_KEY = ["component_id", "feature_ts", "model_version"]
PERFORMANCE_COLUMNS = [
    "component_type",
    "model_version",
    "period_start",
    "predictions",
    "tp",
    "fp",
    "fn",
    "tn",
    "precision",
    "recall",
    "f1",
]


def outcomes(
    predictions: pd.DataFrame,
    failures: pd.DataFrame,
    as_of: pd.Timestamp,
    interventions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Matured predictions with `actual` (failed within their horizon after feature_ts).

    `interventions` (component_id, event_ts): repairs and replacements not caused by a
    failure; a prediction without a failure but with one of them in its horizon is left out.
    Of the predictions of one component, feature row and model version (the same row scored
    by several runs), only the latest (by scored_ts when given, else the last) is kept.
    """
    if "scored_ts" in predictions.columns:
        predictions = predictions.sort_values("scored_ts", kind="stable")
    latest = predictions.drop_duplicates(PREDICTION_KEY, keep="last")
    frame = latest.rename(columns={"feature_ts": "snapshot_ts"})
    parts = []
    for horizon, group in frame.groupby("horizon_days"):
        labelled = label_snapshots(group, failures, int(horizon))
        # Known outcomes only: a failure seen, or a horizon passed by `as_of` with no fix.
        parts.append(labelled[outcome_known(labelled, int(horizon), as_of, interventions)])
    if not parts:
        return frame.assign(actual=pd.Series(dtype="int8"))
    out = pd.concat(parts, ignore_index=True)
    out = out.rename(columns={"label": "actual", "snapshot_ts": "feature_ts"})
    return out.reset_index(drop=True)


def performance_over_time(matured: pd.DataFrame, freq: str = "W") -> pd.DataFrame:
    """Confusion counts, precision, recall and F1 per component type, model and period."""
    if matured.empty:
        return _empty_performance()
    frame = matured.assign(
        period_start=matured["feature_ts"].dt.tz_localize(None).dt.to_period(freq).dt.start_time,
        pred=matured["predicted_alert"].astype(bool),
        act=matured["actual"].astype(bool),
    )
    frame["tp"] = frame["pred"] & frame["act"]
    frame["fp"] = frame["pred"] & ~frame["act"]
    frame["fn"] = ~frame["pred"] & frame["act"]
    frame["tn"] = ~frame["pred"] & ~frame["act"]
    keys = ["component_type", "model_version", "period_start"]
    out = frame.groupby(keys)[["tp", "fp", "fn", "tn"]].sum().astype("int64").reset_index()
    out["predictions"] = out[["tp", "fp", "fn", "tn"]].sum(axis=1)
    out["precision"] = out["tp"] / (out["tp"] + out["fp"]).where(lambda s: s > 0)
    out["recall"] = out["tp"] / (out["tp"] + out["fn"]).where(lambda s: s > 0)
    out["f1"] = 2 * out["precision"] * out["recall"] / (out["precision"] + out["recall"])
    out["period_start"] = out["period_start"].dt.tz_localize("UTC")
    return out[PERFORMANCE_COLUMNS]


def _empty_performance() -> pd.DataFrame:
    """No matured prediction yet: the same columns, typed, so the table keeps its schema."""
    dtypes = {c: "int64" for c in ("model_version", "predictions", "tp", "fp", "fn", "tn")}
    dtypes |= {"precision": "float64", "recall": "float64", "f1": "float64"}
    dtypes |= {"component_type": "string", "period_start": "datetime64[us, UTC]"}
    return pd.DataFrame({c: pd.Series(dtype=dtypes[c]) for c in PERFORMANCE_COLUMNS})
