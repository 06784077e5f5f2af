"""Feature SQL on hand-built inputs: point-in-time correctness and the usage arithmetic."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from aerotwin.lakehouse.duckdb_engine import connect_utc
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
        event("E1", 10, "inspection", "SN-1", "SN-1"),
        event("E2", 20, "replacement", "SN-1", "SN-2"),
    ]
    components = [
        {"component_id": "A-ENG1", "aircraft_id": "A", "component_type": "engine",
         "serial": "SN-1", "install_date": dt.date(2025, 1, 1), "hours_since_new": 1000.0,
         "cycles_since_new": 500, "as_of_date": T0.date()}
    ]  # fmt: skip
    return {
        "telemetry_engine": readings,
        "flights": flights,
        "weather": weather,
        "maintenance_events": maintenance,
        "components": components,
    }


def event(event_id: str, day: int, kind: str, old: str, new: str) -> dict:
    """A maintenance event of A-ENG1 finished at 20:00 on `day`, after that day's flight."""
    # The part's age then: 1000 h and 500 cycles at T0, one 2-hour flight a day since.
    return {"event_id": event_id, "component_id": "A-ENG1", "event_type": kind,
            "event_ts": T0 + dt.timedelta(days=day, hours=20), "old_serial": old,
            "new_serial": new, "hours_since_new_before": 1000.0 + 2.0 * (day + 1),
            "cycles_since_new_before": 500 + day + 1}  # fmt: skip


def compute(data: dict[str, list[dict]]) -> dict[dt.datetime, dict]:
    con = connect_utc()
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
    changed["maintenance_events"].append(event("E3", 25, "replacement", "SN-2", "SN-3"))
    after = compute(changed)
    assert len(base) == len(after) == DAYS
    for ts, row in base.items():
        if ts <= CUT:
            assert after[ts] == row, ts
    later = max(base)
    assert after[later] != base[later]  # the change is visible after t (the test can fail)


def without_replacement() -> dict[str, list[dict]]:
    """The inputs with only the inspection of day 10: one part throughout."""
    data = inputs()
    data["maintenance_events"] = data["maintenance_events"][:1]
    return data


def test_rolling_means_deviation_and_trend() -> None:
    rows = compute(without_replacement())
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
    at = compute(without_replacement())[CUT]
    assert at["flight_hours_7d"] == 2.0 * 7 and at["cycles_7d"] == 7
    assert at["flight_hours_30d"] == 2.0 * 25 and at["cycles_30d"] == 25
    assert at["storm_flights_30d"] == sum(1 for d in range(25) if d % 7 == 0)
    assert at["turbulence_7d"] == pytest.approx(sum(0.1 * (d % 5) for d in range(18, 25)) / 7)
    assert at["avg_wind_kt_7d"] == 10.0


def test_every_window_restarts_at_a_replacement() -> None:
    """SN-2 went on at day 20, 20:00: its windows hold its own readings and flights only."""
    rows = compute(inputs())
    one_part = compute(without_replacement())
    before = T0 + dt.timedelta(days=20, hours=10)  # SN-1's last reading
    assert rows[before] == one_part[before]
    first = rows[T0 + dt.timedelta(days=21, hours=10)]  # SN-2's first reading, value 21
    assert first["component_age_hours"] == 0.0
    assert (first["avg_egt_c_7d"], first["avg_egt_c_30d"], first["dev_egt_c_7d"]) == (21, 21, 0)
    assert first["trend_egt_c_7d"] is None  # one reading of SN-2
    # Day 20's flight arrived (11:00) before the replacement; day 21's after this reading.
    assert (first["flight_hours_7d"], first["cycles_30d"], first["storm_flights_30d"]) == (0, 0, 0)
    assert first["turbulence_7d"] is None and first["avg_wind_kt_7d"] is None
    at = rows[CUT]  # readings of days 21..25, flights of days 21..24
    assert at["avg_egt_c_7d"] == at["avg_egt_c_30d"] == pytest.approx(23.0)
    assert at["trend_egt_c_7d"] == pytest.approx(1.0)
    assert at["flight_hours_7d"] == at["flight_hours_30d"] == 2.0 * 4
    assert at["storm_flights_30d"] == 1  # day 21


def day_date(day: int) -> dt.date:
    return (T0 + dt.timedelta(days=day)).date()


def exported(day: int, **changes: object) -> dict[str, list[dict]]:
    """The inputs with the components reference exported as of the start of `day`."""
    data = inputs()
    data["components"][0].update(as_of_date=day_date(day), **changes)
    return data


def test_a_reference_exported_on_a_later_day_gives_the_same_ages() -> None:
    base = compute(inputs())
    # Days 0..4 flown by day 5 (before the inspection), 0..14 by day 15 (after it).
    for day in (5, 15):
        later = exported(day, hours_since_new=1000.0 + 2.0 * day, cycles_since_new=500 + day)
        assert compute(later) == base, day


def test_a_reference_listing_the_serial_a_replacement_fitted() -> None:
    """Readings before the replacement are of the part it removed: aged from the event."""
    base = compute(inputs())
    # SN-2 went on at day 20, 20:00; flights of days 21..29 by day 30.
    rows = compute(
        exported(30, serial="SN-2", install_date=day_date(20), hours_since_new=18.0,
                 cycles_since_new=9)
    )  # fmt: skip
    inspection = T0 + dt.timedelta(days=10, hours=20)
    for ts, row in base.items():
        # The removed part's install date is not on record: its days count from maintenance.
        expected = {**row, "days_since_maint": None} if ts < inspection else row
        assert rows[ts] == expected, ts


def test_readings_before_the_reference_serial_was_installed_are_not_its_own() -> None:
    """No replacement event on record: the earlier part's age is unknown, never negative."""
    base = compute(inputs())
    data = exported(
        30, serial="SN-2", install_date=day_date(21), hours_since_new=18.0, cycles_since_new=9
    )
    data["maintenance_events"] = data["maintenance_events"][:1]  # the inspection of day 10
    rows = compute(data)
    installed = T0 + dt.timedelta(days=21)
    inspection = T0 + dt.timedelta(days=10, hours=20)
    for ts, row in rows.items():
        usage = (row["component_age_hours"], row["cycles_since_maint"], row["days_since_maint"])
        if ts >= installed:  # SN-2: 2 h a flight since day 21, the day it was installed
            assert usage == (
                base[ts]["component_age_hours"],
                base[ts]["cycles_since_maint"],
                pytest.approx((ts - installed).total_seconds() / 86400),
            ), ts
        elif ts > inspection:  # the part before: cycles and days since its inspection
            assert usage == (None, base[ts]["cycles_since_maint"], base[ts]["days_since_maint"])
        else:
            assert usage == (None, None, None), ts
