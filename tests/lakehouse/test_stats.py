"""Per-file statistics: recorded in Delta's format, true bounds, and what they let readers skip."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
import pytest

from aerotwin.lakehouse.catalog import query
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.lakehouse.duckdb_engine import connect_utc
from aerotwin.lakehouse.files import files_overlapping, write_query
from aerotwin.lakehouse.stats import WrittenFile, delta_stats

UTC = dt.UTC
LONG = "telemetry_engine/date=2026-01-03/part-00000.jsonl"  # longer than Delta's 32 chars


def _batch(first: int, last: int) -> pa.Table:
    n = last - first + 1
    return pa.table(
        {
            "k": pa.array(range(first, last + 1), pa.int64()),
            "name": [f"N{i:03d}" for i in range(first, last + 1)],
            "file": pa.array([LONG] * n).dictionary_encode(),
            # Sub-millisecond times: Delta keeps milliseconds, the max must still bound.
            "ts": [dt.datetime(2026, 3, first, 6, 0, 0, 123456, UTC) for _ in range(n)],
            "day": [dt.date(2026, 3, first)] * n,
            "x": [float(i) / 3 for i in range(first, last + 1)],
            "ok": [True] * n,
            "gone": pa.nulls(n, pa.string()),
        }
    )


def _write(lakehouse: Lakehouse, batches: list[pa.Table]) -> duckdb.DuckDBPyConnection:
    con = connect_utc()
    for batch in batches:
        con.register("batch", batch)
        write_query(lakehouse, con, "SELECT * FROM batch", "t", "append")
        con.unregister("batch")
    return con


def _stats(lakehouse: Lakehouse) -> list[dict[str, object]]:
    adds = lakehouse.file_stats("t")
    return sorted(adds.to_pylist(), key=lambda r: r["min.k"] or 0)


def test_duckdb_statistics_become_delta_stats() -> None:
    schema = pa.schema(
        [("k", pa.int64()), ("ts", pa.timestamp("us", tz="UTC")), ("d", pa.date32()),
         ("x", pa.float64()), ("s", pa.string()), ("b", pa.bool_()), ("z", pa.string())]
    )  # fmt: skip
    columns = {
        '"k"': {"min": "3", "max": "7", "null_count": "0"},
        '"ts"': {"min": "2026-03-01 06:33:08.123456+00", "max": "2026-03-02 00:00:00.0005+00",
                 "null_count": "1"},
        '"d"': {"min": "2026-03-01", "max": "2026-03-02", "null_count": "0"},
        '"x"': {"min": "-2.0", "max": "1.5", "null_count": "0"},
        # text cut to a prefix by DuckDB: still a lower and an upper bound
        '"s"': {"min": "a" * 256, "max": "b" * 255 + "c", "min_is_exact": "false",
                "max_is_exact": "false", "null_count": "0"},
        '"b"': {"min": "0", "max": "1", "null_count": "0"},
        '"z"': {"null_count": "4"},
    }  # fmt: skip
    stats = json.loads(delta_stats(WrittenFile("f.parquet", 10, 4, columns), schema))
    assert stats == {
        "numRecords": 4,
        # min truncated to milliseconds, max rounded up: both still bound the column
        "minValues": {"k": 3, "ts": "2026-03-01T06:33:08.123Z", "d": "2026-03-01", "x": -2.0,
                      "s": "a" * 256, "b": False},
        "maxValues": {"k": 7, "ts": "2026-03-02T00:00:00.001Z", "d": "2026-03-02", "x": 1.5,
                      "s": "b" * 255 + "c", "b": True},
        "nullCount": {"k": 0, "ts": 1, "d": 0, "x": 0, "s": 0, "b": 0, "z": 4},  # z: all NULL
    }  # fmt: skip
    # One column without bounds (NaN sorts outside them): no column gets any, since
    # deltalake reads a column missing from the bounds as "skip this file".
    columns['"x"'] = {**columns['"x"'], "has_nan": "true"}
    assert json.loads(delta_stats(WrittenFile("f.parquet", 10, 4, columns), schema)) == {
        "numRecords": 4
    }


def test_written_files_carry_bounds_that_hold(tmp_path: Path) -> None:
    lakehouse = Lakehouse(str(tmp_path))
    _write(lakehouse, [_batch(1, 5), _batch(6, 9)])
    first, second = _stats(lakehouse)
    assert (first["num_records"], first["min.k"], first["max.k"]) == (5, 1, 5)
    assert (second["min.name"], second["max.name"]) == ("N006", "N009")
    assert second["max.ts"] >= dt.datetime(2026, 3, 6, 6, 0, 0, 123456, UTC)
    assert first["min.day"] == dt.date(2026, 3, 1) and first["null_count.gone"] == 5
    assert first["max.x"] == pytest.approx(5 / 3)


def test_every_reader_still_finds_every_row(tmp_path: Path) -> None:
    # deltalake's Arrow dataset turns the stats into guarantees and skips files by them:
    # a wrong bound would hide rows. Filter on every column for every value written.
    lakehouse = Lakehouse(str(tmp_path))
    data = pa.concat_tables([_batch(1, 5), _batch(6, 9)])
    _write(lakehouse, [_batch(1, 5), _batch(6, 9)])
    dataset = lakehouse.dataset("t")
    for row in data.to_pylist():
        for column in ("k", "name", "file", "ts", "day", "x"):
            found = dataset.to_table(filter=pads.field(column) == row[column])
            assert row["k"] in found.column("k").to_pylist(), (column, row[column])
    assert dataset.to_table(filter=pads.field("gone").is_null()).num_rows == 9
    assert query(
        lakehouse, f"SELECT count(*) AS n FROM t WHERE file = '{LONG}'", ["t"]
    ).to_pylist() == [{"n": 9}]


def test_files_overlapping_keeps_only_files_that_may_match(tmp_path: Path) -> None:
    lakehouse = Lakehouse(str(tmp_path))
    con = _write(lakehouse, [_batch(1, 5), _batch(6, 9), _batch(10, 12)])
    files = lakehouse.plain_parquet_files("t") or []
    assert len(files) == 3

    def overlapping(ranges: dict[str, tuple[object, object]]) -> list[int]:
        kept = files_overlapping(lakehouse, "t", files, ranges)
        return sorted(
            r["min.k"] for r in _stats(lakehouse) if str(tmp_path / "t" / r["path"]) in kept
        )

    assert overlapping({"k": (6, None)}) == [6, 10]
    assert overlapping({"k": (5, 6)}) == [1, 6]
    assert overlapping({"k": (13, None)}) == []
    # A timestamp bound in the last millisecond still overlaps (max is rounded up).
    late = dt.datetime(2026, 3, 10, 6, 0, 0, 123456, UTC)
    assert overlapping({"ts": (late, late)}) == [10]
    assert overlapping({"file": (LONG, LONG)}) == [1, 6, 10]
    assert overlapping({"file": (LONG + "~", None)}) == []
    # A file committed without statistics (as tables written before them): may hold anything.
    folder = tmp_path / "t"
    con.execute(f"COPY (SELECT * FROM range(0)) TO '{folder}/bare.parquet' (FORMAT parquet)")
    lakehouse.commit_files("t", [WrittenFile("bare.parquet", 1, 0)], None, "append")
    files = lakehouse.plain_parquet_files("t") or []
    assert files_overlapping(lakehouse, "t", files, {"k": (13, None)}) == [
        str(folder / "bare.parquet")
    ]


def test_a_relative_root_still_prunes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # deltalake names files by absolute path whatever the root: a relative root must match.
    monkeypatch.chdir(tmp_path)
    lakehouse = Lakehouse("lake")
    _write(lakehouse, [_batch(1, 5), _batch(6, 9)])
    files = lakehouse.plain_parquet_files("t") or []
    kept = files_overlapping(lakehouse, "t", files, {"k": (6, None)})
    assert len(files) == 2 and len(kept) == 1 and kept[0].startswith(str(tmp_path))


def test_a_value_python_cannot_hold_leaves_the_file_without_bounds(tmp_path: Path) -> None:
    # DuckDB holds years Python's datetime cannot (10000, 1 BC) and a max that rounds up
    # past year 9999: the commit must not fail on them, and the file, with no bound for
    # one column, gets none for any.
    lakehouse = Lakehouse(str(tmp_path))
    con = connect_utc()
    for ts, day in [("10000-01-01 00:00:00+00", "2026-03-01"),
                    ("2026-03-01 00:00:00+00", "0000-11-20"),
                    ("0001-01-01 00:30:00+01", "2026-03-01"),
                    ("9999-12-31 23:59:59.9995+00", "2026-03-01")]:  # fmt: skip
        sql = f"SELECT 1 AS k, TIMESTAMPTZ '{ts}' AS ts, DATE '{day}' AS day"
        write_query(lakehouse, con, sql, "t", "append")
    files = lakehouse.file_stats("t").to_pylist()
    assert [(f["num_records"], f.get("min.k"), f.get("max.ts")) for f in files] == [
        (1, None, None)
    ] * 4
    assert query(lakehouse, "SELECT count(*) AS n FROM t", ["t"]).to_pylist() == [{"n": 4}]
