"""Nothing lost: bronze = silver + quarantine + duplicates, and every bad record ends right."""

from __future__ import annotations

import csv

import pytest

from aerotwin.config import Settings
from aerotwin.lakehouse.catalog import query
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.pipeline.registry import load_tables
from aerotwin.pipeline.runner import RunResult, run_pipeline
from aerotwin.pipeline.silver_telemetry import PARSE_RULE, bronze_name, silver_name
from aerotwin.schemas import BAD_RECORD_KINDS, COMPONENT_TYPES

from .conftest import plant_bad_event_rows, plant_implausible_rows, plant_mistyped_rows

QUARANTINED_AS = {
    "truncated_line": PARSE_RULE,
    "missing_field": "missing_field",
    "wrong_type": "wrong_type",
    "out_of_range": "out_of_range",
    "unknown_aircraft": "unknown_aircraft",
    "unknown_component": "unknown_component",
}
KEPT = ("late_arrival", "out_of_order", "exact_duplicate", "near_duplicate")


def _manifest(settings: Settings) -> list[dict[str, str]]:
    with (settings.landing_dir / "_manifest" / "bad_records.csv").open() as f:
        return list(csv.DictReader(f))


def test_every_bad_kind_is_exercised(first_run: tuple[Settings, RunResult]) -> None:
    kinds = {row["kind"] for row in _manifest(first_run[0])}
    assert kinds == set(BAD_RECORD_KINDS)


@pytest.mark.parametrize("component_type", COMPONENT_TYPES)
def test_bronze_rows_equal_silver_plus_quarantine_plus_duplicates(
    first_run: tuple[Settings, RunResult], component_type: str
) -> None:
    settings, result = first_run
    lakehouse = Lakehouse.from_settings(settings)
    bronze, silver = bronze_name(component_type), silver_name(component_type)
    counts = query(
        lakehouse,
        f"""
        WITH q AS (SELECT source_file, line FROM quarantine WHERE table_name = '{silver}'),
             kept AS (SELECT b.* FROM {bronze} b
                      ANTI JOIN q ON q.source_file = b._source_file AND q.line = b._line)
        SELECT (SELECT count(*) FROM {bronze}) AS bronze,
               (SELECT count(*) FROM {silver}) AS silver,
               (SELECT count(*) FROM q) AS quarantined,
               (SELECT count(*) - count(DISTINCT (json_extract_string(_raw, '$.component_id'),
                                                  json_extract_string(_raw, '$.reading_ts')))
                FROM kept) AS duplicates,
               (SELECT count(*) - count(DISTINCT (component_id, reading_ts)) FROM {silver})
                 AS silver_duplicate_keys
        """,
        [bronze, silver, "quarantine"],
    ).to_pylist()[0]
    assert counts["bronze"] > 0 and counts["silver"] > 0
    assert counts["silver_duplicate_keys"] == 0
    assert counts["bronze"] == counts["silver"] + counts["quarantined"] + counts["duplicates"]
    event = next(t for t in result.tables if t.table_name == silver)
    assert (event.rows_in, event.rows_out) == (counts["bronze"], counts["silver"])
    assert (event.quarantined, event.duplicates) == (counts["quarantined"], counts["duplicates"])


def test_each_manifest_record_ends_where_its_kind_says(
    first_run: tuple[Settings, RunResult],
) -> None:
    settings, _ = first_run
    lakehouse = Lakehouse.from_settings(settings)
    quarantined = {
        (r["source_file"], r["line"]): r["rule"]
        for r in query(lakehouse, "SELECT source_file, line, rule FROM quarantine").to_pylist()
    }
    in_silver: dict[tuple[str, int], tuple[str, str]] = {}
    for ct in COMPONENT_TYPES:
        rows = query(
            lakehouse,
            f"SELECT _source_file, _line, component_id, strftime(reading_ts, "
            f"'%Y-%m-%dT%H:%M:%SZ') AS ts FROM {silver_name(ct)}",
        ).to_pylist()
        in_silver.update(
            {(r["_source_file"], r["_line"]): (r["component_id"], r["ts"]) for r in rows}
        )
    for bad in _manifest(settings):
        where = (bad["file"], int(bad["line"]))
        if bad["kind"] in QUARANTINED_AS:
            assert quarantined.get(where) == QUARANTINED_AS[bad["kind"]], bad
            assert where not in in_silver, bad
        else:
            assert bad["kind"] in KEPT
            # Kept, and for duplicates the listed (later) line is the one that survives.
            assert in_silver.get(where) == (bad["component_id"], bad["reading_ts"]), bad
            assert where not in quarantined, bad
    # Nothing is quarantined that the manifest does not list (the simulator's good data is good).
    listed = {(b["file"], int(b["line"])) for b in _manifest(settings)}
    assert set(quarantined) <= listed


def test_quarantine_keeps_the_raw_record(first_run: tuple[Settings, RunResult]) -> None:
    settings, _ = first_run
    lakehouse = Lakehouse.from_settings(settings)
    rows = query(lakehouse, "SELECT source_file, line, raw_record FROM quarantine").to_pylist()
    assert rows
    for row in rows[:20]:
        lines = (settings.landing_dir / row["source_file"]).read_text().splitlines()
        assert lines[row["line"] - 1] == row["raw_record"]


def test_event_rows_naming_unknown_aircraft_airports_or_components_are_quarantined(
    fresh_landing: Settings,
) -> None:
    bad, kept = plant_bad_event_rows(fresh_landing.landing_dir)
    run_pipeline(fresh_landing, tables=load_tables(layers=("bronze", "silver")))
    lakehouse = Lakehouse.from_settings(fresh_landing)
    sql = "SELECT table_name, rule, raw_record FROM quarantine WHERE rule LIKE 'unknown_%'"
    rows = query(lakehouse, sql, ["quarantine"]).to_pylist()
    found = {(r["table_name"], r["rule"]): r["raw_record"] for r in rows}
    events = ("flights", "weather", "maintenance_events")
    assert {k: v for k, v in found.items() if k[0] in events} == bad
    sql = "SELECT event_id FROM maintenance_events"
    ids = query(lakehouse, sql, ["maintenance_events"]).column(0).to_pylist()
    assert "X-5" in ids and "X-4" not in ids and kept.startswith("X-5")


def test_values_that_only_look_typed_are_quarantined_as_wrong_type(
    fresh_landing: Settings,
) -> None:
    # 2.5 cycles, 1e30 cycles (past BIGINT), nan hours, an `inf` date, a date for a time,
    # years outside 1900..2199, a date with a time of day, 1_000 hours, a time alone,
    # 7.41d / 1.5F hours and 2f cycles, hour 24, a signed year, a zone glued on or spaced.
    wrong, kept = plant_mistyped_rows(fresh_landing.landing_dir)
    result = run_pipeline(fresh_landing, tables=load_tables(layers=("bronze", "silver")))
    assert {t.status for t in result.tables} == {"ok"}
    lakehouse = Lakehouse.from_settings(fresh_landing)
    sql = "SELECT raw_record FROM quarantine WHERE rule = 'wrong_type' ORDER BY ALL"
    found = query(lakehouse, sql, ["quarantine"]).column(0).to_pylist()
    assert set(wrong) <= set(found)
    sql = "SELECT cycles, block_hours FROM flights WHERE flight_id = 'T-6'"
    assert query(lakehouse, sql, ["flights"]).to_pylist() == [{"cycles": 2, "block_hours": 10.0}]
    assert kept[0].startswith("T-6")


def test_event_values_out_of_physical_range_or_order_are_quarantined(
    fresh_landing: Settings,
) -> None:
    # Negative block hours, turbulence 7 (0..1), -1 cycles, arrival before departure,
    # -300 °C, 170 % humidity, negative rain, a negative component age.
    planted, kept = plant_implausible_rows(fresh_landing.landing_dir)
    result = run_pipeline(fresh_landing, tables=load_tables(layers=("bronze", "silver")))
    assert {t.status for t in result.tables} == {"ok"}
    lakehouse = Lakehouse.from_settings(fresh_landing)
    sql = "SELECT table_name, rule, raw_record FROM quarantine"
    found = {tuple(r.values()) for r in query(lakehouse, sql, ["quarantine"]).to_pylist()}
    assert set(planted) <= found
    sql = "SELECT block_hours, cycles, turbulence_experienced FROM flights WHERE flight_id = 'R-9'"
    assert query(lakehouse, sql, ["flights"]).to_pylist() == [
        {"block_hours": 0.0, "cycles": 0, "turbulence_experienced": 1.0}
    ]
    assert kept[0].startswith("R-9")
