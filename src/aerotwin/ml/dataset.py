"""Training data: one snapshot per component and day, labelled, split by aircraft and by time.

Aircraft are assigned to train / validation / holdout by a stable hash of their id, so the
same aircraft stay held out across trainings (a champion never saw the holdout aircraft a
challenger is compared on). Training rows end `horizon_days` before the time cut-off, so no
training label looks past it; validation and holdout rows start at the cut-off.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from aerotwin.ml.labels import label_snapshots, outcome_known

# Columns of a feature table that identify a row; everything else numeric is a feature.
KEY_COLUMNS = ("component_id", "aircraft_id", "component_type", "reading_ts", "snapshot_ts")
NON_FEATURES = frozenset(
    {
        *KEY_COLUMNS,
        "snapshot_date",
        "label",
        "days_to_failure",
        "next_failure_ts",
        "component_health_status",
        "health_score",
        "split",
        "flight_id",
        "outcome_known",
    }
)


class LeakageError(AssertionError):
    """A split lets an aircraft or the future leak into validation."""


@dataclass(frozen=True)
class Split:
    """Train, validation and holdout snapshots and the time cut-off between them."""

    train: pd.DataFrame
    validation: pd.DataFrame
    holdout: pd.DataFrame
    cutoff: pd.Timestamp
    features: tuple[str, ...]


def feature_columns(frame: pd.DataFrame) -> tuple[str, ...]:
    """The numeric, non-key columns of a feature frame, in table order."""
    return tuple(
        c
        for c in frame.columns
        if c not in NON_FEATURES
        and (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))
    )


def daily_snapshots(features: pd.DataFrame) -> pd.DataFrame:
    """The last feature row of each component and UTC day, with snapshot_ts and snapshot_date."""
    missing = [c for c in ("component_id", "aircraft_id", "reading_ts") if c not in features]
    if missing:
        raise ValueError(f"feature table: missing column(s) {', '.join(missing)}")
    frame = features.copy()
    frame["reading_ts"] = pd.to_datetime(frame["reading_ts"], utc=True)
    frame["snapshot_date"] = frame["reading_ts"].dt.floor("D")
    frame = frame.sort_values(["component_id", "reading_ts"], kind="stable")
    last = frame.groupby(["component_id", "snapshot_date"], sort=False).tail(1)
    last = last.assign(snapshot_ts=last["reading_ts"])
    return last.reset_index(drop=True)


def attach_health(snapshots: pd.DataFrame, health: pd.DataFrame | None) -> pd.DataFrame:
    """Add component_health_status as of each snapshot (latest status at or before it)."""
    if health is None or health.empty:
        return snapshots.assign(component_health_status=pd.NA)
    status = health[["component_id", "reading_ts", "component_health_status"]].copy()
    status["reading_ts"] = pd.to_datetime(status["reading_ts"], utc=True).astype(
        snapshots["snapshot_ts"].dtype
    )
    status = status.rename(columns={"reading_ts": "_status_ts"}).sort_values("_status_ts")
    out = snapshots.drop(columns="component_health_status", errors="ignore")
    out = out.assign(_order=np.arange(len(out))).sort_values("snapshot_ts")
    joined = pd.merge_asof(
        out, status, left_on="snapshot_ts", right_on="_status_ts", by="component_id"
    )
    return joined.sort_values("_order").drop(columns=["_order", "_status_ts"])


def build_dataset(
    features: pd.DataFrame,
    failures: pd.DataFrame,
    horizon_days: int,
    health: pd.DataFrame | None = None,
    interventions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Daily snapshots of one component type's features, labelled from failures.

    `outcome_known` is False for negatives whose outcome is unknown (see labels.outcome_known):
    those in the last `horizon_days` of the data and those with an intervention
    (component_id, event_ts: a defect found and fixed before it failed) inside their horizon.
    `split_dataset` leaves them out of training and evaluation.
    """
    snaps = attach_health(daily_snapshots(features), health)
    labelled = label_snapshots(snaps, failures, horizon_days)
    observed_until = labelled["snapshot_ts"].max() if len(labelled) else None
    known = outcome_known(labelled, horizon_days, observed_until, interventions)
    return labelled.assign(outcome_known=known)


def aircraft_bucket(aircraft_id: str) -> float:
    """A stable number in [0, 1) per aircraft (same on every machine and run)."""
    digest = hashlib.sha256(str(aircraft_id).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_dataset(
    data: pd.DataFrame,
    horizon_days: int,
    holdout_aircraft_share: float = 0.4,
    holdout_time_share: float = 0.4,
) -> Split:
    """Split by aircraft (hash) and time; raises LeakageError if the result leaks.

    Held-out aircraft are halved into validation (tuning, threshold) and holdout (the fresh
    data champion and challenger are compared on, and the baseline comparison).
    """
    if data.empty:
        raise ValueError("dataset: no snapshots to split (is the feature table empty?)")
    days = data["snapshot_ts"].dt.floor("D")
    first, last = days.min(), days.max()
    span = (last - first).days + 1
    cutoff = first + pd.Timedelta(days=round(span * (1 - holdout_time_share)))
    bucket = data["aircraft_id"].map(aircraft_bucket)
    held = bucket >= 1 - holdout_aircraft_share
    in_validation = bucket < 1 - holdout_aircraft_share / 2
    train_end = cutoff - pd.Timedelta(days=horizon_days)
    # The cut-off comes from every day of data; only then are unknown outcomes left out.
    known = data["outcome_known"] if "outcome_known" in data else pd.Series(True, data.index)
    train = data[known & ~held & (data["snapshot_ts"] < train_end)]
    late = known & (data["snapshot_ts"] >= cutoff)
    validation = data[held & in_validation & late]
    holdout = data[held & ~in_validation & late]
    split = Split(
        train.reset_index(drop=True),
        validation.reset_index(drop=True),
        holdout.reset_index(drop=True),
        cutoff,
        feature_columns(data),
    )
    assert_no_leakage(split, horizon_days)
    return split


def assert_no_leakage(split: Split, horizon_days: int) -> None:
    """Raise LeakageError when an aircraft is in training and evaluation, or time overlaps."""
    train_aircraft = set(split.train["aircraft_id"])
    for name, part in (("validation", split.validation), ("holdout", split.holdout)):
        shared = train_aircraft & set(part["aircraft_id"])
        if shared:
            raise LeakageError(f"aircraft in training and {name}: {sorted(shared)[:5]}")
        if not part.empty and part["snapshot_ts"].min() < split.cutoff:
            raise LeakageError(f"{name} has rows before the cut-off {split.cutoff}")
    if set(split.validation["aircraft_id"]) & set(split.holdout["aircraft_id"]):
        raise LeakageError("aircraft in both validation and holdout")
    if not split.train.empty:
        label_end = split.train["snapshot_ts"].max() + pd.Timedelta(days=horizon_days)
        if label_end > split.cutoff:
            raise LeakageError(f"training labels look past the cut-off ({label_end})")
