"""Degradation physics seen through the files: precursors, sudden failures, maintenance resets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from aerotwin.config import Settings, load_settings
from aerotwin.schemas import SENSORS, TELEMETRY_FEEDS
from aerotwin.sim.components import SPECS
from aerotwin.testing import simulate_small_fleet

TS = "%Y-%m-%dT%H:%M:%SZ"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """30 aircraft x 150 days without bad records: enough failures of every kind."""
    settings = load_settings(None, data_dir=tmp_path_factory.mktemp("physics") / "data")
    simulate_small_fleet(settings, aircraft=30, days=150, seed=3, bad_record_rate=0.0)
    return settings


@pytest.fixture(scope="module")
def residuals(fleet: Settings) -> dict[str, pl.DataFrame]:
    """Telemetry residuals per component type (read once per module)."""
    return {t: _residuals(fleet.landing_dir, t) for t in SPECS}


def _events(landing: Path, feed: str) -> pl.DataFrame:
    frames = [
        pl.read_csv(p, infer_schema=False) for p in sorted((landing / feed).glob("date=*/*.csv"))
    ]
    frame = pl.concat(frames)
    numeric = [c for c in frame.columns if c.endswith(("_hours", "_before", "_new"))]
    return frame.with_columns(
        *(pl.col(c).str.to_datetime(TS) for c in frame.columns if c.endswith("_ts")),
        *(pl.col(c) == "true" for c in ("sudden", "finding") if c in frame.columns),
        *(pl.col(c).cast(pl.Float64) for c in numeric),
    )


def _residuals(landing: Path, component_type: str) -> pl.DataFrame:
    """Readings with each sensor minus the fleet's median of that day (removes conditions)."""
    feed = TELEMETRY_FEEDS[component_type]
    frame = pl.read_ndjson(sorted((landing / feed).glob("date=*/*.jsonl")))
    frame = frame.with_columns(pl.col("reading_ts").str.to_datetime(TS))
    day = pl.col("reading_ts").dt.date()
    sensors = [s.name for s in SENSORS[component_type]]
    return frame.with_columns((pl.col(s) - pl.col(s).median().over(day)).alias(s) for s in sensors)


def _rise(readings: pl.DataFrame, sensor: str, sign: float, at: dt.datetime) -> float | None:
    """z-score of the last 5 days before `at` against days 40 to 20 before (signed)."""
    days = (pl.lit(at) - pl.col("reading_ts")).dt.total_seconds() / 86400
    r = readings.with_columns(days.alias("ago"))
    late = r.filter(pl.col("ago").is_between(0, 5))[sensor].to_numpy() * sign
    base = r.filter(pl.col("ago").is_between(20, 40))[sensor].to_numpy() * sign
    if len(late) < 3 or len(base) < 5:
        return None
    spread = base.std(ddof=1) * np.sqrt(1 / len(late) + 1 / len(base))
    return float((late.mean() - base.mean()) / spread)


def _installed(maint: pl.DataFrame, serial: str) -> dt.datetime | None:
    row = maint.filter(pl.col("new_serial") == serial, pl.col("event_type") == "replacement")
    return row["event_ts"][0] if row.height else None


def _failure_rises(landing: Path, residuals: dict[str, pl.DataFrame]) -> list[tuple[bool, float]]:
    """(sudden, rise of the failure's strongest precursor sensor) per failure with history."""
    failures = _events(landing, "failures")
    maint = _events(landing, "maintenance_events")
    out = []
    for component_type, spec in SPECS.items():
        readings = residuals[component_type]
        for f in failures.filter(pl.col("component_type") == component_type).iter_rows(named=True):
            own = readings.filter(pl.col("component_id") == f["component_id"])
            since = _installed(maint, f["serial"])
            if since is not None:
                own = own.filter(pl.col("reading_ts") > since)
            own = own.filter(pl.col("reading_ts") <= f["failure_ts"])
            modes = {m.name: m for m in spec.modes}
            # A gradual failure is judged on its own mode; a sudden one on every mode's sensors.
            candidates = [modes[f["failure_mode"]]] if not f["sudden"] else list(modes.values())
            rises = [
                _rise(own, sensor, sign, f["failure_ts"])
                for mode in candidates
                for sensor, sign in mode.signature.items()
            ]
            rises = [r for r in rises if r is not None]
            if rises:
                out.append((bool(f["sudden"]), max(rises)))
    return out


def test_failures_of_every_type_and_some_sudden(fleet: Settings) -> None:
    failures = _events(fleet.landing_dir, "failures")
    assert set(failures["component_type"]) == set(SPECS)
    assert 0 < failures["sudden"].sum() < failures.height / 2
    gradual = failures.filter(~pl.col("sudden"))
    for component_type, spec in SPECS.items():
        modes = set(gradual.filter(pl.col("component_type") == component_type)["failure_mode"])
        assert modes <= {m.name for m in spec.modes}


def test_rising_precursor_before_most_failures_none_before_sudden(
    fleet: Settings, residuals: dict[str, pl.DataFrame]
) -> None:
    rises = _failure_rises(fleet.landing_dir, residuals)
    gradual = np.array([r for sudden, r in rises if not sudden])
    sudden = np.array([r for is_sudden, r in rises if is_sudden])
    assert len(gradual) >= 20 and len(sudden) >= 3
    assert (gradual > 3).mean() >= 0.75, np.round(np.sort(gradual), 1)
    # Sudden failures are judged on every sensor any mode moves, so chance alone gives some z > 2.
    assert (sudden > 3).mean() <= 0.25, np.round(np.sort(sudden), 1)
    assert np.median(sudden) < np.median(gradual) / 3


def test_precursor_starts_days_ahead(fleet: Settings, residuals: dict[str, pl.DataFrame]) -> None:
    """The rise already shows 5 to 10 days before most gradual failures (learnable horizon)."""
    landing = fleet.landing_dir
    failures = _events(landing, "failures").filter(~pl.col("sudden"))
    early = []
    for f in failures.iter_rows(named=True):
        spec = SPECS[f["component_type"]]
        mode = next(m for m in spec.modes if m.name == f["failure_mode"])
        own = residuals[f["component_type"]].filter(pl.col("component_id") == f["component_id"])
        sensor, sign = next(iter(mode.signature.items()))
        z = _rise(own, sensor, sign, f["failure_ts"] - dt.timedelta(days=5))
        if z is not None:
            early.append(z)
    assert len(early) >= 15
    assert (np.array(early) > 2).mean() >= 0.5


def test_healthy_sensors_inside_physical_ranges(fleet: Settings) -> None:
    for component_type, feed in TELEMETRY_FEEDS.items():
        frame = pl.read_ndjson(sorted((fleet.landing_dir / feed).glob("date=*/*.jsonl")))
        for sensor in SENSORS[component_type]:
            values = frame[sensor.name]
            assert values.null_count() == 0
            assert values.min() >= sensor.low and values.max() <= sensor.high, sensor.name
            if not sensor.integer:  # values are clipped into range: almost none may need it
                at_limit = ((values == sensor.low) | (values == sensor.high)).mean()
                assert at_limit < 0.001, (sensor.name, at_limit)


def test_replacement_resets_age_and_serial(fleet: Settings) -> None:
    landing = fleet.landing_dir
    maint = _events(landing, "maintenance_events").sort("event_ts", "event_id")
    flights = _events(landing, "flights")
    replacements = maint.filter(pl.col("event_type") == "replacement")
    checked = 0
    for rep in replacements.iter_rows(named=True):
        assert rep["new_serial"] != rep["old_serial"]
        later = maint.filter(
            pl.col("component_id") == rep["component_id"], pl.col("event_ts") > rep["event_ts"]
        )
        if later.height == 0:
            continue
        nxt = later.row(0, named=True)
        assert nxt["old_serial"] == rep["new_serial"]
        flown = flights.filter(
            pl.col("aircraft_id") == rep["aircraft_id"],
            pl.col("departure_ts") > rep["event_ts"],
            pl.col("departure_ts") < nxt["event_ts"],
        )["block_hours"].sum()
        # The new part's age counts only the hours flown since it was installed.
        assert nxt["hours_since_new_before"] == pytest.approx(flown, abs=0.1)
        checked += 1
    assert checked >= 10


def test_replacement_clears_the_precursor(
    fleet: Settings, residuals: dict[str, pl.DataFrame]
) -> None:
    landing = fleet.landing_dir
    failures = _events(landing, "failures").filter(~pl.col("sudden"))
    drops = []
    for f in failures.iter_rows(named=True):
        mode = next(m for m in SPECS[f["component_type"]].modes if m.name == f["failure_mode"])
        sensor, sign = next(iter(mode.signature.items()))
        own = residuals[f["component_type"]].filter(pl.col("component_id") == f["component_id"])
        before = own.filter(
            pl.col("reading_ts").is_between(f["failure_ts"] - dt.timedelta(days=3), f["failure_ts"])
        )[sensor]
        after = own.filter(
            pl.col("reading_ts").is_between(
                f["failure_ts"], f["failure_ts"] + dt.timedelta(days=5), closed="right"
            )
        )[sensor]
        if len(before) >= 2 and len(after) >= 2:
            drops.append(sign * (before.mean() - after.mean()) > 0)
    assert len(drops) >= 15 and np.mean(drops) >= 0.85
