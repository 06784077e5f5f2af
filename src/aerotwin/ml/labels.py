"""Risk labels: does a component fail within the horizon after a snapshot?

A snapshot at time t is positive when the component's next failure after t happens no later
than t + horizon_days. Only failures strictly after t count, so the readings taken after a
failure (the repaired or replaced part) belong to the new life and look ahead to its next
failure, never back to the one that already happened. A negative whose outcome is unknown
(its horizon runs past the end of the data, or a defect was found and fixed inside it) is
left out rather than counted as "no failure" (`outcome_known`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SECONDS_PER_DAY = 86400.0


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {', '.join(missing)}")


def _utc(series: pd.Series) -> pd.Series:
    out = pd.to_datetime(series, utc=True)
    return out.astype("datetime64[us, UTC]")


def label_snapshots(
    snapshots: pd.DataFrame, failures: pd.DataFrame, horizon_days: int
) -> pd.DataFrame:
    """Add `next_failure_ts`, `days_to_failure` and `label` to snapshots.

    `snapshots` needs component_id and snapshot_ts; `failures` needs component_id and
    failure_ts. `label` is 1 when 0 < days_to_failure <= horizon_days, else 0;
    `days_to_failure` is NaN when no later failure is known.
    """
    if horizon_days < 1:
        raise ValueError(f"horizon_days: must be at least 1 (got {horizon_days})")
    _require(snapshots, ("component_id", "snapshot_ts"), "snapshots")
    _require(failures, ("component_id", "failure_ts"), "failures")
    snaps = snapshots.copy()
    snaps["snapshot_ts"] = _utc(snaps["snapshot_ts"])
    snaps["_order"] = np.arange(len(snaps))
    fails = failures[["component_id", "failure_ts"]].dropna().copy()
    fails["failure_ts"] = _utc(fails["failure_ts"])
    fails = fails.rename(columns={"failure_ts": "next_failure_ts"})
    fails["component_id"] = fails["component_id"].astype(snaps["component_id"].dtype)
    left = snaps.sort_values("snapshot_ts", kind="stable")
    right = fails.sort_values("next_failure_ts", kind="stable")
    # Next failure strictly after the snapshot: forward as-of join without exact matches.
    joined = pd.merge_asof(
        left,
        right,
        left_on="snapshot_ts",
        right_on="next_failure_ts",
        by="component_id",
        direction="forward",
        allow_exact_matches=False,
    )
    joined = joined.sort_values("_order").drop(columns="_order").reset_index(drop=True)
    delta = joined["next_failure_ts"] - joined["snapshot_ts"]
    joined["days_to_failure"] = delta.dt.total_seconds() / SECONDS_PER_DAY
    within = joined["days_to_failure"].le(horizon_days) & joined["days_to_failure"].gt(0)
    joined["label"] = within.astype("int8")
    return joined


def outcome_known(
    labelled: pd.DataFrame,
    horizon_days: int,
    observed_until: pd.Timestamp,
    interventions: pd.DataFrame | None = None,
) -> np.ndarray:
    """Per snapshot: is its label a known outcome? False for negatives that are not.

    A snapshot labelled 0 says "no failure within the horizon", which is only known when
    (a) the horizon ends by `observed_until` (the end of the data: a failure after it is not
    recorded yet), and (b) no intervention (a defect found and repaired or replaced before
    it failed; `interventions` needs component_id and event_ts) falls inside the horizon:
    the failure it prevented would otherwise be counted as a correct "no failure".
    Positive snapshots are always known: their failure was observed.
    """
    if labelled.empty:
        return np.ones(0, dtype=bool)
    negative = labelled["label"].eq(0).to_numpy()
    end = labelled["snapshot_ts"] + pd.Timedelta(days=horizon_days)
    unknown = negative & end.gt(_utc(pd.Series([observed_until])).iloc[0]).to_numpy()
    if interventions is not None and not interventions.empty:
        _require(interventions, ("component_id", "event_ts"), "interventions")
        fixes = interventions.rename(columns={"event_ts": "failure_ts"})
        ahead = label_snapshots(
            labelled[["component_id", "snapshot_ts"]],
            fixes[["component_id", "failure_ts"]],
            horizon_days,
        )
        unknown |= negative & ahead["label"].eq(1).to_numpy()
    return ~unknown


def interventions(events: pd.DataFrame) -> pd.DataFrame:
    """Repairs and replacements not caused by a failure, from maintenance events.

    Each ends the life the labels look at without a failure (a defect found, a hard-time
    removal), so the snapshots before it do not know whether the part would have failed.
    `events` needs component_id, event_ts and event_type; `trigger` when present.
    """
    _require(events, ("component_id", "event_ts", "event_type"), "maintenance events")
    keep = events["event_type"].isin(["repair", "replacement"])
    if "trigger" in events:
        keep &= events["trigger"].ne("failure")
    return events.loc[keep, ["component_id", "event_ts"]].reset_index(drop=True)


def median_lead_days(labelled: pd.DataFrame, predicted: np.ndarray) -> float:
    """Median warning time of caught failures: per failure, its earliest true alert's lead.

    A failure is caught when at least one positive snapshot before it is predicted positive;
    its lead time is the largest days_to_failure among those. NaN when none is caught.
    """
    hits = labelled.loc[(labelled["label"] == 1) & np.asarray(predicted, dtype=bool)]
    if hits.empty:
        return float("nan")
    leads = hits.groupby(["component_id", "next_failure_ts"])["days_to_failure"].max()
    return float(leads.median())


def failures_caught(labelled: pd.DataFrame, predicted: np.ndarray) -> tuple[int, int]:
    """(failures with a positive snapshot, those of them with at least one alert before)."""
    positive = labelled["label"] == 1
    if not positive.any():
        return 0, 0
    keys = ["component_id", "next_failure_ts"]
    hits = np.asarray(predicted, dtype=bool)[positive.to_numpy()]
    alerted = labelled.loc[positive].assign(_hit=hits)
    per_failure = alerted.groupby(keys)["_hit"].any()
    return len(per_failure), int(per_failure.sum())
