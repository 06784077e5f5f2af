"""Daily snapshots and the aircraft-and-time split: no aircraft and no future leak."""

from __future__ import annotations

import pandas as pd
import pytest

from aerotwin.ml.dataset import (
    LeakageError,
    Split,
    assert_no_leakage,
    build_dataset,
    daily_snapshots,
    feature_columns,
    split_dataset,
)
from aerotwin.ml.synthetic import synthetic_fleet


@pytest.fixture(scope="module")
def fleet():
    return synthetic_fleet("engine", aircraft=24, days=150, seed=3)


def test_snapshot_is_last_reading_of_each_day() -> None:
    ts = pd.to_datetime(["2026-01-01 01:00", "2026-01-01 23:00", "2026-01-02 05:00"], utc=True)
    frame = pd.DataFrame(
        {"component_id": "C", "aircraft_id": "A", "reading_ts": ts, "avg_x_7d": [1.0, 2.0, 3.0]}
    )
    snaps = daily_snapshots(frame)
    assert snaps["avg_x_7d"].tolist() == [2.0, 3.0]
    assert feature_columns(snaps) == ("avg_x_7d",)


def test_split_has_no_shared_aircraft_and_no_validation_before_cutoff(fleet) -> None:
    data = build_dataset(fleet.features, fleet.failures, 14, fleet.health)
    split = split_dataset(data, 14, 0.4, 0.4)
    train_ac = set(split.train["aircraft_id"])
    for part in (split.validation, split.holdout):
        assert not part.empty
        assert train_ac.isdisjoint(part["aircraft_id"])
        assert part["snapshot_ts"].min() >= split.cutoff
    assert split.train["snapshot_ts"].max() + pd.Timedelta(days=14) <= split.cutoff
    assert "label" not in split.features and "days_to_failure" not in split.features
    # The same aircraft are held out whatever the data: the split hashes the id.
    again = split_dataset(data.sample(frac=1.0, random_state=1), 14, 0.4, 0.4)
    assert set(again.holdout["aircraft_id"]) == set(split.holdout["aircraft_id"])


def test_leakage_check_catches_shared_aircraft_and_early_rows(fleet) -> None:
    data = build_dataset(fleet.features, fleet.failures, 14, fleet.health)
    split = split_dataset(data, 14)
    leaky = Split(
        split.train,
        pd.concat([split.validation, split.train.head(3)]),
        split.holdout,
        split.cutoff,
        split.features,
    )
    with pytest.raises(LeakageError, match="aircraft in training and validation"):
        assert_no_leakage(leaky, 14)
    late_train = Split(
        data[data["aircraft_id"].isin(split.train["aircraft_id"])],
        split.validation,
        split.holdout,
        split.cutoff,
        split.features,
    )
    with pytest.raises(LeakageError, match="past the cut-off"):
        assert_no_leakage(late_train, 14)


def test_unknown_outcomes_leave_the_split_but_not_its_cutoff(fleet) -> None:
    data = build_dataset(fleet.features, fleet.failures, 14, fleet.health)
    last = data["snapshot_ts"].max()
    tail = data[data["snapshot_ts"] > last - pd.Timedelta(days=14)]
    assert not tail.loc[tail["label"] == 0, "outcome_known"].any()
    assert tail.loc[tail["label"] == 1, "outcome_known"].all()
    split = split_dataset(data, 14)
    everything = split_dataset(data.assign(outcome_known=True), 14)
    assert split.cutoff == everything.cutoff
    for part in (split.train, split.validation, split.holdout):
        assert part["outcome_known"].all()
    assert len(split.holdout) < len(everything.holdout)
    assert split.holdout["label"].sum() == everything.holdout["label"].sum()
    assert "outcome_known" not in split.features
