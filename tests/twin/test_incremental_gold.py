"""Incremental gold: any order in which the landing zone fills gives a one-shot build's tables."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import math
import shutil
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from aerotwin.config import Settings, load_settings
from aerotwin.lakehouse.catalog import query
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.pipeline.definitions import TableDef
from aerotwin.pipeline.registry import load_tables
from aerotwin.pipeline.runner import run_pipeline

if TYPE_CHECKING:
    from aerotwin.sim.history import SimSummary

TELEMETRY = (
    "telemetry_engine",
    "telemetry_landing_gear",
    "telemetry_avionics",
    "telemetry_cabin_pressurization",
    "telemetry_airframe",
)
EVENTS = ("flights", "weather", "maintenance_events", "failures")


def _copy(source: Settings, data_dir: Path) -> Settings:
    shutil.copytree(source.landing_dir, data_dir / "landing")
    return load_settings(None, data_dir=data_dir)


def _move(src: Path, dst: Path, feeds: tuple[str, ...], day: str) -> None:
    """Move the `day` folders of `feeds` from landing zone (or parking) `src` to `dst`."""
    for feed in feeds:
        (dst / feed).mkdir(parents=True, exist_ok=True)
        shutil.move(src / feed / f"date={day}", dst / feed / f"date={day}")


def _same(x: object, y: object) -> bool:
    # Sums over a window run in another order when its partition grew: the last bits differ.
    if isinstance(x, float) and isinstance(y, float):
        return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)
    return x == y


def _assert_same_gold(settings: Settings, expected: Settings) -> None:
    """Every gold table holds in `settings`' lakehouse what it holds in `expected`'s."""
    ours, theirs = Lakehouse.from_settings(settings), Lakehouse.from_settings(expected)
    for table in load_tables(layers=("gold",)):
        sql = f"SELECT * FROM {table.name} ORDER BY ALL"
        got = query(ours, sql, [table.name]).to_pylist()
        want = query(theirs, sql, [table.name]).to_pylist()
        assert len(got) == len(want), table.name
        wrong = [
            (g.get("component_id", g.get("aircraft_id")), column, g[column], w[column])
            for g, w in zip(got, want, strict=True)
            for column in w
            if not _same(g[column], w[column])
        ]
        assert not wrong, (table.name, len(wrong), wrong[:3])


def test_a_day_of_flights_and_telemetry_landing_late(
    small_fleet_landing: tuple[Settings, SimSummary], gold_fleet: Settings, tmp_path: Path
) -> None:
    """Days after it are built before it lands: their usage, windows and ages must follow."""
    settings = _copy(small_fleet_landing[0], tmp_path / "data")
    late = ("flights", "telemetry_engine")
    _move(settings.landing_dir, tmp_path / "parked", late, "2026-01-10")
    run_pipeline(settings)
    _move(tmp_path / "parked", settings.landing_dir, late, "2026-01-10")
    run_pipeline(settings)
    _assert_same_gold(settings, gold_fleet)


def test_telemetry_landing_before_its_days_flights_and_weather(
    small_fleet_landing: tuple[Settings, SimSummary], gold_fleet: Settings, tmp_path: Path
) -> None:
    """As live mode lands a day: its readings are built before its flights, weather, events."""
    settings = _copy(small_fleet_landing[0], tmp_path / "data")
    parked, days = tmp_path / "parked", ("2026-01-29", "2026-01-30")
    for day in days:
        _move(settings.landing_dir, parked, (*TELEMETRY, *EVENTS), day)
    run_pipeline(settings)
    for day in days:
        _move(parked, settings.landing_dir, TELEMETRY, day)
        run_pipeline(settings)
        _move(parked, settings.landing_dir, EVENTS, day)
        run_pipeline(settings)
    _assert_same_gold(settings, gold_fleet)


def test_a_replacement_landing_late(
    small_fleet_landing: tuple[Settings, SimSummary], gold_fleet: Settings, tmp_path: Path
) -> None:
    """Readings after it were built as the old part's: their windows must restart at it."""
    settings = _copy(small_fleet_landing[0], tmp_path / "data")
    events = _rows(settings.landing_dir / "maintenance_events")
    day = min(m["event_ts"][:10] for m in events if m["event_type"] == "replacement")
    _move(settings.landing_dir, tmp_path / "parked", ("maintenance_events",), day)
    run_pipeline(settings)
    _move(tmp_path / "parked", settings.landing_dir, ("maintenance_events",), day)
    run_pipeline(settings)
    _assert_same_gold(settings, gold_fleet)


def _upgraded(table: TableDef) -> TableDef:
    """features_engine as a new release might define it: fuel efficiency 10 % lower."""
    if table.name != "features_engine":
        return table
    lower = "avg_fuel_efficiency_7d * 0.9 AS avg_fuel_efficiency_7d"
    return dataclasses.replace(table, sql=f"SELECT * REPLACE ({lower}) FROM ({table.sql}) AS f")


def test_an_upgraded_feature_definition_redoes_what_reads_the_features(
    small_fleet_landing: tuple[Settings, SimSummary], gold_fleet: Settings, tmp_path: Path
) -> None:
    """The features rebuilt in full with no new input: health, which reads them whole and
    scopes on new input rows, must be redone in full too, as a one-shot build of the new
    release's tables would give (the fuel rule now fires on every engine reading)."""
    upgraded = [_upgraded(t) for t in load_tables()]
    expected = _copy(small_fleet_landing[0], tmp_path / "expected")
    run_pipeline(expected, tables=upgraded)
    shutil.copytree(gold_fleet.data_dir, tmp_path / "data")
    settings = load_settings(None, data_dir=tmp_path / "data")
    result = run_pipeline(settings, tables=upgraded)  # no --full-refresh
    changed = {t.table_name: t for t in result.changed}
    assert changed["features_engine"].refresh == "full"
    health = changed["component_health_engine"]
    assert health.refresh == "full" and "features_engine rebuilt in full" in health.message
    assert "features_avionics" not in changed  # nothing new for the other types
    _assert_same_gold(settings, expected)
    (fired,) = query(
        Lakehouse.from_settings(settings),
        "SELECT count(*) FILTER (WHERE rules_fired LIKE '%fuel_efficiency_low%') AS n, "
        "count(*) AS readings FROM component_health_engine",
        ["component_health_engine"],
    ).to_pylist()
    assert fired["n"] == fired["readings"] > 0


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _rows(folder: Path) -> list[dict[str, str]]:
    return [r for f in sorted(folder.glob("date=*/*.csv")) for r in _csv(f)]


def _export_components(landing: Path, as_of: str) -> dict[str, str]:
    """Rewrite components.csv as an airline exporting it at the start of `as_of` would: the
    serial fitted by then, its install date and its age. Returns {component: replacement
    time} of the replacements before `as_of`, whose earlier readings are of the part removed."""
    path = landing / "reference" / "components.csv"
    components = _csv(path)
    flown: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for f in _rows(landing / "flights"):
        flown[f["aircraft_id"]].append((f["arrival_ts"], float(f["block_hours"])))
    fitted = {}  # each component's latest replacement before as_of (ISO text sorts by time)
    for m in sorted(_rows(landing / "maintenance_events"), key=lambda m: m["event_ts"]):
        if m["event_type"] == "replacement" and m["event_ts"] < as_of:
            fitted[m["component_id"]] = m
    for c in components:
        event = fitted.get(c["component_id"])
        since = event["event_ts"] if event else ""
        usage = [h for ts, h in flown[c["aircraft_id"]] if since < ts < as_of]
        if event:  # a new part: its age counts from zero at the replacement
            c.update(serial=event["new_serial"], install_date=event["event_date"])
            c.update(hours_since_new="0", cycles_since_new="0")
        c["hours_since_new"] = repr(float(c["hours_since_new"]) + sum(usage))
        c["cycles_since_new"] = str(int(c["cycles_since_new"]) + len(usage))
        c["as_of_date"] = as_of
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(components[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(components)
    return {cid: m["event_ts"] for cid, m in fitted.items()}


def test_a_reference_exported_later_with_history_landing_late(
    small_fleet_landing: tuple[Settings, SimSummary], gold_fleet: Settings, tmp_path: Path
) -> None:
    """Today's reference over backfilled history: the same ages as the simulator's reference;
    flights before its as_of_date and the replacement that fitted a listed serial landing
    late redo the earlier readings they age, as a one-shot build does."""
    as_of = "2026-01-15"
    expected = _copy(small_fleet_landing[0], tmp_path / "expected")
    replaced = _export_components(expected.landing_dir, as_of)
    assert replaced  # a replacement before as_of: its serial is the one listed
    run_pipeline(expected)
    settings = _copy(small_fleet_landing[0], tmp_path / "data")
    _export_components(settings.landing_dir, as_of)
    parked = tmp_path / "parked"
    _move(settings.landing_dir, parked, ("flights",), "2026-01-10")
    (day,) = {replaced[c][:10] for c in replaced}
    _move(settings.landing_dir, parked, ("maintenance_events",), day)
    run_pipeline(settings)
    _move(parked, settings.landing_dir, ("flights",), "2026-01-10")
    _move(parked, settings.landing_dir, ("maintenance_events",), day)
    run_pipeline(settings)
    _assert_same_gold(settings, expected)

    ours, theirs = Lakehouse.from_settings(expected), Lakehouse.from_settings(gold_fleet)
    usage = "component_age_hours, cycles_since_maint, days_since_maint"
    for table in load_tables(layers=("gold",)):
        if not table.name.startswith("features_"):
            continue
        sql = f"SELECT component_id, reading_ts, {usage} FROM {table.name} ORDER BY ALL"
        got = query(ours, sql, [table.name]).to_pylist()
        want = query(theirs, sql, [table.name]).to_pylist()
        assert len(got) == len(want) > 0, table.name
        for g, w in zip(got, want, strict=True):
            when = replaced.get(g["component_id"])
            if when and g["reading_ts"] < dt.datetime.fromisoformat(when):
                # The removed part, aged from the replacement's hours_since_new_before (the
                # simulator writes it to 0.1 h); its install date is not in the reference.
                age = (g["component_age_hours"], w["component_age_hours"])
                assert math.isclose(*age, abs_tol=0.05)
                assert g["cycles_since_maint"] == w["cycles_since_maint"]
                assert g["days_since_maint"] in (None, w["days_since_maint"])
            else:
                for column in ("component_age_hours", "cycles_since_maint", "days_since_maint"):
                    assert _same(g[column], w[column]), (table.name, g, w)
