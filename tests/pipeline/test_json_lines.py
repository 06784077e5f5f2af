"""Typing JSON lines in bronze: one parse, typed values, missing and mistyped fields named."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from aerotwin.lakehouse.duckdb_engine import connect_utc
from aerotwin.pipeline.json_lines import field_type, typed_sql

FIELDS = ("component_id", "reading_ts", "egt_c", "error_count")


def _typed(lines: list[str]) -> list[dict[str, object]]:
    con = connect_utc()
    con.register("lines", pa.table({"_raw": lines, "_line": list(range(1, len(lines) + 1))}))
    rows = con.sql(f"SELECT * FROM ({typed_sql('lines', FIELDS)}) ORDER BY _line").to_arrow_table()
    con.close()
    return rows.to_pylist()


def test_field_types_follow_the_contract_naming() -> None:
    assert [field_type(f) for f in FIELDS] == ["VARCHAR", "TIMESTAMPTZ", "DOUBLE", "DOUBLE"]


def test_values_are_typed_and_every_fault_is_named() -> None:
    good = (
        '{"component_id":"E-1","reading_ts":"2026-01-01T06:00:00Z","egt_c":612.5,"error_count":3}'
    )
    rows = _typed(
        [
            good,
            '{"component_id":"E-1","reading_ts":"2026-01-01T06:00:00Z","egt_c":"612.5","error_count":3}',
            '{"component_id":7,"reading_ts":"not a time","egt_c":true,"error_count":3}',
            '{"component_id":"E-\\"2\\"", "reading_ts":"2026-01-01T06:00:00Z", "egt_c":null}',
            '{"component_id":"E-1","reading_ts":"2026-01-01T06:0',
            "[1, 2]",
        ]
    )
    first = rows[0]
    assert (first["_parse_ok"], first["_missing"], first["_mistyped"]) == (True, None, None)
    assert first["component_id"] == "E-1" and first["egt_c"] == 612.5
    assert first["reading_ts"] == dt.datetime(2026, 1, 1, 6, tzinfo=dt.UTC)
    assert first["error_count"] == 3.0  # an integer token is a number
    # A number given as a string is the wrong type, even though it would cast.
    assert (rows[1]["egt_c"], rows[1]["_mistyped"]) == (None, "egt_c")
    assert rows[2]["_mistyped"] == "component_id,reading_ts,egt_c"
    assert rows[2]["component_id"] is None and rows[2]["reading_ts"] is None
    # Escapes are decoded; a null or absent field is missing, not mistyped.
    assert rows[3]["component_id"] == 'E-"2"'
    assert (rows[3]["_missing"], rows[3]["_mistyped"]) == ("egt_c,error_count", None)
    for bad in rows[4:]:  # truncated, and valid JSON that is not an object
        assert bad["_parse_ok"] is False and bad["component_id"] is None
        assert bad["_missing"] is None and bad["_mistyped"] is None


def test_a_timestamp_outside_the_contracts_years_is_mistyped() -> None:
    # DuckDB reads years 10000 and 1 BC (0001-01-01T00:30+01:00 in UTC); Python cannot.
    stamps = {
        "10000-01-01T00:00:00Z": "reading_ts",
        "0001-01-01T00:30:00+01:00": "reading_ts",
        "1900-01-01T00:30:00+01:00": "reading_ts",  # 1899 in UTC
        "1900-01-01T00:00:00Z": None,
        "2199-12-31T23:59:59.999999Z": None,
        "2200-01-01T00:00:00Z": "reading_ts",
    }
    rows = _typed(
        [
            f'{{"component_id":"E-1","reading_ts":"{ts}","egt_c":1.0,"error_count":0}}'
            for ts in stamps
        ]
    )
    assert [r["_mistyped"] for r in rows] == list(stamps.values())
    assert rows[3]["reading_ts"] == dt.datetime(1900, 1, 1, tzinfo=dt.UTC)


def test_a_timestamp_is_an_iso_date_and_time_of_day() -> None:
    # The shape silver's CSV timestamps take too (both engines): DuckDB reads hour 24 as the
    # next midnight and a zone after a time without seconds; Spark reads a time alone as
    # today, a signed year, a zone glued on.
    stamps = {
        "2026-01-05T06:49:50Z": dt.datetime(2026, 1, 5, 6, 49, 50, tzinfo=dt.UTC),
        "2026-01-05 06:49": dt.datetime(2026, 1, 5, 6, 49, tzinfo=dt.UTC),
        "2026-01-05 06:49:00+02": dt.datetime(2026, 1, 5, 4, 49, tzinfo=dt.UTC),
        "2026-01-05 06:49+02:00": None,
        "2026-01-05T06:49Z": None,
        "2026-01-05T06:49:50.5-0130": dt.datetime(2026, 1, 5, 8, 19, 50, 500000, tzinfo=dt.UTC),
        "2026-01-05T24:00:00Z": None,
        "06:49:50": None,
        "+2026-01-05T06:49:50Z": None,
        "2026-01-05T06:49:50UTC": None,
        "2026-01-05T06:49:50 Europe/Paris": None,
    }
    rows = _typed(
        [
            f'{{"component_id":"E-1","reading_ts":"{ts}","egt_c":1.0,"error_count":0}}'
            for ts in stamps
        ]
    )
    assert [r["reading_ts"] for r in rows] == list(stamps.values())
    assert [r["_mistyped"] for r in rows] == [None if v else "reading_ts" for v in stamps.values()]
