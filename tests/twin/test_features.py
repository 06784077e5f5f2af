"""Feature SQL on hand-built inputs: point-in-time correctness and the usage arithmetic."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
import pytest

from aerotwin.schemas import sensor_names
from aerotwin.twin.features import feature_columns, features_sql

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
DAYS = 40
CUT = T0 + dt.timedelta(days=25, hours=10)  # the reading of day 25


def inputs() -> dict[str, list[dict]]:
    """One engine flying one 2-hour flight a day, read mid-flight; one inspection on day 10."""
    flights, readings, weather = [], [], []
    for d in range(DAYS):
        day = T0 + dt.timedelta(days=d)
        fid = f"A-{d}"
        flights.append(
            {"flight_id": fid, "flight_date": day.date(), "aircraft_id": "A", "origin": "LHR",
             "arrival_ts": day + dt.timedelta(hours=11), "block_hours": 2.0, "cycles": 1,
             "turbulence_experienced": 0.1 * (d % 5)}
        )  # fmt: skip
        sensors = {s: float(d) for s in sensor_names("engine")}
        readings.append(
            {"component_id": "A-ENG1", "aircraft_id": "A", "flight_id": fid,
             "reading_ts": day + dt.timedelta(hours=10), **sensors}
        )  # fmt: skip
        weather.append(
            {
                "airport_code": "LHR",
                "weather_date": day.date(),
                "storm": d % 7 == 0,
                "wind_kt": 10.0,
            }
        )
    maintenance = [
        {"component_id": "A-ENG1", "event_ts": T0 + dt.timedelta(days=10, hours=20),
         "event_type": "inspection"},
        {"component_id": "A-ENG1", "event_ts": T0 + dt.timedelta(days=20, hours=20),
         "event_type": "replacement"},
    ]  # fmt: skip
    components = [
        {"component_id": "A-ENG1", "aircraft_id": "A", "component_type": "engine",
         "install_date": dt.date(2025, 1, 1), "hours_since_new": 1000.0, "cycles_since_new": 500}
    ]  # fmt: skip
    return {
        "telemetry_engine": readings,
        "flights": flights,
        "weather": weather,
        "maintenance_events": maintenance,
        "components": components,
    }


def compute(data: dict[str, list[dict]]) -> dict[dt.datetime, dict]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET threads = 1")
    for name, rows in data.items():
        con.register(name, pa.Table.from_pylist(rows))
    table = con.sql(features_sql("engine")).to_arrow_table()
    assert tuple(table.column_names) == feature_columns("engine")
    return {r["reading_ts"]: r for r in table.to_pylist()}


def test_changing_data_after_t_changes_no_feature_at_t() -> None:
    base = compute(inputs())
    changed = inputs()
    for row in changed["telemetry_engine"]:
        if row["reading_ts"] > CUT:
            row["egt_c"] = row["vibration_ips"] = 999.0
    for row in changed["flights"]:
        if row["arrival_ts"] > CUT:
            row["block_hours"], row["turbulence_experienced"] = 20.0, 1.0
    changed["weather"] = [
        {**w, "storm": True} if w["weather_date"] > CUT.date() else w for w in changed["weather"]
    ]
    changed["maintenance_events"].append(
        {
            "component_id": "A-ENG1",
            "event_ts": CUT + dt.timedelta(hours=1),
            "event_type": "replacement",
        }
    )
    after = compute(changed)
    assert len(base) == len(after) == DAYS
    for ts, row in base.items():
        if ts <= CUT:
            assert after[ts] == row, ts
    later = max(base)
    assert after[later] != base[later]  # the change is visible after t (the test can fail)


def test_rolling_means_deviation_and_trend() -> None:
    rows = compute(inputs())
    at = rows[CUT]
    # Readings on days 18..25 are inside [t - 7 days, t]: values 18..25.
    assert at["avg_egt_c_7d"] == pytest.approx(sum(range(18, 26)) / 8)
    assert at["avg_egt_c_30d"] == pytest.approx(sum(range(0, 26)) / 26)
    assert at["dev_egt_c_7d"] == pytest.approx(at["avg_egt_c_7d"] - at["avg_egt_c_30d"])
    assert at["trend_egt_c_7d"] == pytest.approx(1.0)  # one unit per day
    assert at["fuel_efficiency"] == 25.0
    assert rows[T0 + dt.timedelta(hours=10)]["trend_egt_c_7d"] is None  # one reading: no slope


def test_usage_maintenance_and_exposure() -> None:
    rows = compute(inputs())
    day = {ts.date(): r for ts, r in rows.items()}
    first = day[dt.date(2026, 1, 1)]
    # Before any maintenance: age and cycles count from the reference snapshot.
    assert first["component_age_hours"] == 1000.0
    assert first["cycles_since_maint"] == 500
    assert first["days_since_maint"] == pytest.approx(
        (first["reading_ts"] - T0).total_seconds() / 86400 + 365
    )
    # Inspection on day 10 at 20:00: cycles reset, age keeps growing.
    d12 = day[dt.date(2026, 1, 13)]
    assert d12["cycles_since_maint"] == 1  # day 11's flight; day 12's lands after the reading
    assert d12["component_age_hours"] == 1000.0 + 2.0 * 12
    assert d12["days_since_maint"] == pytest.approx(1 + 14 / 24)
    # Replacement on day 20: age restarts from zero.
    d23 = day[dt.date(2026, 1, 24)]
    assert d23["component_age_hours"] == 2.0 * 2  # flights of days 21 and 22
    # Usage windows: flights arrived on days 18..24 inside [t - 7 days, t] for the day-25 reading.
    at = rows[CUT]
    assert at["flight_hours_7d"] == 2.0 * 7 and at["cycles_7d"] == 7
    assert at["flight_hours_30d"] == 2.0 * 25 and at["cycles_30d"] == 25
    assert at["storm_flights_30d"] == sum(1 for d in range(25) if d % 7 == 0)
    assert at["turbulence_7d"] == pytest.approx(sum(0.1 * (d % 5) for d in range(18, 25)) / 7)
    assert at["avg_wind_kt_7d"] == 10.0
