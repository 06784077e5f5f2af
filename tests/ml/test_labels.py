"""Risk labels on hand-built failures: horizon edges and the new life after a failure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aerotwin.ml.labels import (
    failures_caught,
    label_snapshots,
    median_lead_days,
    outcome_known,
)

T0 = pd.Timestamp("2026-03-01 12:00", tz="UTC")


def _snaps(offsets_days: list[float], component: str = "C1") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "component_id": component,
            "snapshot_ts": [T0 + pd.Timedelta(days=d) for d in offsets_days],
        }
    )


def test_horizon_edges_are_inclusive_of_exactly_horizon_and_exclusive_after() -> None:
    failures = pd.DataFrame({"component_id": ["C1"], "failure_ts": [T0 + pd.Timedelta(days=14)]})
    # 14 days before: positive; a minute more than 14 days before: negative.
    snaps = _snaps([0, -1 / 1440, 13.5, 14 - 1 / 86400])
    out = label_snapshots(snaps, failures, horizon_days=14)
    assert out["label"].tolist() == [1, 0, 1, 1]
    assert out["days_to_failure"].iloc[0] == pytest.approx(14.0)


def test_snapshot_at_or_after_failure_belongs_to_the_new_life() -> None:
    failures = pd.DataFrame(
        {
            "component_id": ["C1", "C1"],
            "failure_ts": [T0 + pd.Timedelta(days=5), T0 + pd.Timedelta(days=60)],
        }
    )
    out = label_snapshots(_snaps([5, 5.1, 50, 47]), failures, horizon_days=14)
    # At the failure instant and just after, the next failure is the one 55 days on.
    assert out["label"].tolist() == [0, 0, 1, 1]
    assert out["next_failure_ts"].iloc[0] == T0 + pd.Timedelta(days=60)
    assert out["days_to_failure"].iloc[2] == pytest.approx(10.0)


def test_failures_of_other_components_and_no_failure_give_negative() -> None:
    failures = pd.DataFrame({"component_id": ["C2"], "failure_ts": [T0 + pd.Timedelta(days=1)]})
    out = label_snapshots(_snaps([0, 0.5]), failures, horizon_days=14)
    assert out["label"].tolist() == [0, 0]
    assert out["days_to_failure"].isna().all()


def test_row_order_is_kept_and_bad_horizon_rejected() -> None:
    failures = pd.DataFrame({"component_id": ["C1"], "failure_ts": [T0 + pd.Timedelta(days=3)]})
    out = label_snapshots(_snaps([2, 0, -30]), failures, horizon_days=7)
    assert out["label"].tolist() == [1, 1, 0]
    with pytest.raises(ValueError, match="horizon_days"):
        label_snapshots(_snaps([0]), failures, horizon_days=0)
    with pytest.raises(ValueError, match="failure_ts"):
        label_snapshots(_snaps([0]), failures.rename(columns={"failure_ts": "ts"}), 7)


def test_median_lead_time_takes_the_earliest_alert_per_failure() -> None:
    failures = pd.DataFrame(
        {"component_id": ["C1", "C2"], "failure_ts": [T0 + pd.Timedelta(days=10)] * 2}
    )
    snaps = pd.concat([_snaps([0, 4, 8], "C1"), _snaps([0, 4, 8], "C2")], ignore_index=True)
    out = label_snapshots(snaps, failures, horizon_days=14)
    predicted = np.array([False, True, True, False, False, True])
    # C1 first alerted 6 days ahead, C2 2 days ahead: median 4.
    assert median_lead_days(out, predicted) == pytest.approx(4.0)
    assert np.isnan(median_lead_days(out, np.zeros(6, dtype=bool)))


def test_unknown_outcomes_are_flagged_positives_always_known() -> None:
    failures = pd.DataFrame({"component_id": ["C1"], "failure_ts": [T0 + pd.Timedelta(days=10)]})
    # C2's defect was found and its part replaced on day 20: no failure, and none prevented
    # before day 6 (its horizon ends before the fix).
    fixes = pd.DataFrame({"component_id": ["C2"], "event_ts": [T0 + pd.Timedelta(days=20)]})
    snaps = pd.concat([_snaps([0, 4, 30], "C1"), _snaps([0, 5, 10, 19], "C2")], ignore_index=True)
    out = label_snapshots(snaps, failures, horizon_days=14)
    known = outcome_known(out, 14, T0 + pd.Timedelta(days=40), fixes)
    # C1 day 30: horizon runs past day 40, outcome unknown. C2 days 10 and 19: fix inside.
    assert known.tolist() == [True, True, False, True, True, False, False]
    # A positive whose horizon ends after the data is known: its failure was seen.
    assert outcome_known(out, 14, T0 + pd.Timedelta(days=10)).tolist() == [True, True] + [False] * 5


def test_failures_caught_counts_failures_not_snapshots() -> None:
    failures = pd.DataFrame(
        {"component_id": ["C1", "C2"], "failure_ts": [T0 + pd.Timedelta(days=10)] * 2}
    )
    snaps = pd.concat([_snaps([0, 4, 8], "C1"), _snaps([0, 4, 8], "C2")], ignore_index=True)
    out = label_snapshots(snaps, failures, horizon_days=14)
    assert failures_caught(out, np.array([False, True, True, False, False, False])) == (2, 1)
    assert failures_caught(out.assign(label=0), np.ones(6, dtype=bool)) == (0, 0)
