"""The DuckDB engine over lakehouse tables, the catalog, and SQL transpiled for Spark."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import sqlglot

from aerotwin.config import Settings
from aerotwin.lakehouse.catalog import entries, query
from aerotwin.lakehouse.delta import Lakehouse
from aerotwin.lakehouse.duckdb_engine import connect_utc
from aerotwin.lakehouse.engine import open_engine
from aerotwin.lakehouse.maintenance import compact
from aerotwin.lakehouse.spark_engine import to_spark_sql
from aerotwin.pipeline.silver_telemetry import telemetry_sql


def test_duckdb_engine_filters_materializes_writes_and_merges(tmp_path: Path) -> None:
    lakehouse = Lakehouse(str(tmp_path))
    lakehouse.write("src", pa.table({"k": [1, 2, 3], "_batch_id": [0, 0, 1]}), "append")
    engine = open_engine("duckdb", lakehouse)
    engine.register_table("src", "src", after_batch=0)
    engine.materialize("m", "SELECT k, k * 10 AS v FROM src")
    assert engine.rows("SELECT k, v FROM m") == [(3, 30)]
    assert engine.columns("m") == ["k", "v"]
    assert engine.write("out", "m", "overwrite", metadata={"w": 1}) == 0
    engine.materialize("m2", "SELECT 3 AS k, 31 AS v UNION ALL SELECT 4, 40")
    engine.merge("out", "m2", ["k"], update_when="s.v > t.v")
    engine.close()
    assert query(lakehouse, "SELECT k, v FROM out ORDER BY k").to_pylist() == [
        {"k": 3, "v": 31},
        {"k": 4, "v": 40},
    ]


def test_duckdb_engine_names_columns_per_connection_and_drops_in_one_call(
    tmp_path: Path,
) -> None:
    engine = open_engine("duckdb", Lakehouse(str(tmp_path)))
    engine.register_arrow("src", pa.table({"a": [1], "b": ["x"]}))
    engine.view("v", 'SELECT b AS z, a, a + 1 AS "Odd Name" FROM src')
    engine.materialize("t", "SELECT * FROM v")
    fork = engine.fork()  # type: ignore[attr-defined]
    fork.view("v", "SELECT 1 AS only")  # a fork's views are its own
    assert engine.columns("v") == engine.columns("t") == ["z", "a", "Odd Name"]
    assert fork.columns("v") == ["only"] and engine.columns("src") == ["a", "b"]
    engine.drop("v", "t", "src")
    for name in ("v", "t", "src"):
        with pytest.raises(duckdb.CatalogException):
            engine.rows(f"SELECT * FROM {name}")
    assert fork.rows("SELECT * FROM v") == [(1,)]
    engine.close()


def test_connect_utc_renders_timestamps_in_utc_whatever_the_process_time_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sql = "SELECT TIMESTAMPTZ '2026-01-01 12:00:00+02'::VARCHAR"
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        with duckdb.connect() as plain:
            assert plain.sql(sql).fetchall() == [("2026-01-01 19:00:00+09",)]  # DuckDB follows TZ
        with connect_utc() as con, connect_utc(con) as cursor:  # a cursor does not inherit it
            assert con.sql(sql).fetchall() == cursor.sql(sql).fetchall()
            assert con.sql(sql).fetchall() == [("2026-01-01 10:00:00+00",)]
    finally:
        monkeypatch.undo()
        time.tzset()  # the rest of the run back in the real zone


def test_unknown_engine_is_named_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown engine 'flink'"):
        open_engine("flink", Lakehouse(str(tmp_path)))


def test_catalog_lists_layers_versions_rows_and_schema(settings: Settings) -> None:
    lakehouse = Lakehouse.from_settings(settings)
    lakehouse.write("b", pa.table({"x": [1, 2]}), "append")
    lakehouse.write("b", pa.table({"x": [3]}), "append")
    lakehouse.write("s", pa.table({"y": ["a"]}), "append")
    listed = entries(lakehouse, {"b": "bronze", "s": "silver"})
    assert [(e.name, e.layer, e.version, e.rows) for e in listed] == [
        ("b", "bronze", 1, 3),
        ("s", "silver", 0, 1),
    ]
    assert listed[0].columns == (("x", "int64"),) and listed[0].last_update is not None
    assert query(lakehouse, "SELECT sum(x) AS n FROM b").to_pylist() == [{"n": 6}]


def test_a_query_that_fails_while_naming_its_tables_closes_its_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[duckdb.DuckDBPyConnection] = []
    connect = duckdb.connect

    def recorded(*args: Any, **kwargs: Any) -> duckdb.DuckDBPyConnection:
        opened.append(connect(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(duckdb, "connect", recorded)
    with pytest.raises(KeyError, match="table 'nope' does not exist"):
        query(Lakehouse(str(tmp_path)), "SELECT 1", ["nope"])
    assert len(opened) == 1
    with pytest.raises(duckdb.ConnectionException):
        opened[0].execute("SELECT 1")  # closed, not left to the garbage collector


def test_silver_sql_transpiles_to_valid_spark_sql() -> None:
    spark_sql = to_spark_sql(telemetry_sql("avionics"))
    sqlglot.parse_one(spark_sql, read="spark")  # parses as Spark SQL
    assert "TIMESTAMPTZ" not in spark_sql.upper()
    windowed = to_spark_sql(
        "SELECT k FROM t WHERE a QUALIFY row_number() OVER (PARTITION BY k ORDER BY v DESC) = 1"
    )
    # Spark has no QUALIFY: SQLGlot moves the window into a subquery filtered outside.
    assert "QUALIFY" not in windowed.upper()
    assert "ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS _w" in windowed
    assert windowed.endswith("WHERE _w = 1")


def _sorted(lakehouse: Lakehouse, name: str) -> list[dict[str, object]]:
    return query(lakehouse, f"SELECT * FROM {name} ORDER BY ALL", [name]).to_pylist()


def test_duckdb_merge_equals_deltalake_merge_and_rewrites_only_matched_files(
    tmp_path: Path,
) -> None:
    ts = pa.array(
        [dt.datetime(2026, m, 1, tzinfo=dt.UTC) for m in (1, 2, 3)], pa.timestamp("us", "UTC")
    )
    first = pa.table({"k": ["a", "b", "c"], "ts": ts, "v": [1, 2, 3], "g": ["x", "x", "y"]})
    late = pa.table(
        {"k": ["c", "c", "d"], "ts": ts.take([2, 2, 2]), "v": [9, 0, 4], "g": ["y", "y", "y"]}
    )
    update = "s.v > t.v"
    by_duckdb, by_deltalake = Lakehouse(str(tmp_path / "d")), Lakehouse(str(tmp_path / "r"))
    by_deltalake.write("t", first, "append")
    by_deltalake.merge("t", late.slice(0, 1), ["k", "ts"], update_when=update)
    by_deltalake.merge("t", late.slice(1), ["k", "ts"], update_when=update)
    engine = open_engine("duckdb", by_duckdb)
    engine.register_arrow("first", first)
    engine.write("t", "first", "overwrite", keys=("ts", "k"))
    months = set(by_duckdb.plain_parquet_files("t") or [])
    assert len(months) == 3  # one file per month of `ts`
    for i, part in enumerate((late.slice(0, 1), late.slice(1))):
        engine.register_arrow(f"late{i}", part)
        engine.merge("t", f"late{i}", ["k", "ts"], update_when=update)
    assert by_duckdb.last_write_counts("t") == (1, 0)  # d inserted; c=0 is older than c=9
    assert _sorted(by_duckdb, "t") == _sorted(by_deltalake, "t")
    # Only March's file (the one holding c) was rewritten; January's and February's stand.
    assert len(months & set(by_duckdb.plain_parquet_files("t") or [])) == 2

    # Insert-only with delete-unmatched: group y replaced by the source's rows only.
    engine.register_arrow("y", pa.table({"k": ["e"], "ts": ts.take([0]), "v": [5], "g": ["y"]}))
    engine.merge("t", "y", ["k", "ts"], insert_only=True, delete_unmatched_where="t.g = 'y'")
    engine.close()
    assert [r["k"] for r in _sorted(by_duckdb, "t")] == ["a", "b", "e"]


def test_duckdb_insert_only_merge_adds_only_new_keys_like_deltalake(tmp_path: Path) -> None:
    first = pa.table({"k": ["a", "b"], "v": [1, 2]})
    again = pa.table({"k": ["b", "c", None], "v": [20, 3, 4]})  # b exists; a NULL key never matches
    by_duckdb, by_deltalake = Lakehouse(str(tmp_path / "d")), Lakehouse(str(tmp_path / "r"))
    by_deltalake.write("t", first, "append")
    by_deltalake.merge("t", again, ["k"], insert_only=True)
    engine = open_engine("duckdb", by_duckdb)
    engine.register_arrow("first", first)
    engine.write("t", "first", "append")
    engine.register_arrow("again", again)
    engine.merge("t", "again", ["k"], insert_only=True)
    assert by_duckdb.last_write_counts("t") == (2, 0)
    engine.merge("t", "again", ["k"], insert_only=True)  # idempotent but for the NULL key
    engine.close()
    assert by_duckdb.last_write_counts("t") == (1, 0)
    rows = _sorted(by_duckdb, "t")
    assert [(r["k"], r["v"]) for r in rows] == [("a", 1), ("b", 2), ("c", 3), (None, 4), (None, 4)]
    assert [r for r in rows if r["k"] is not None] == [
        r for r in _sorted(by_deltalake, "t") if r["k"] is not None
    ]


def _gains_a_column(lakehouse: Lakehouse) -> Any:
    """Table t: two writes to January (two files in its month folder) and one to February
    that adds column `extra`; its DuckDB engine."""
    engine = open_engine("duckdb", lakehouse)
    for day, k in ((1, "a"), (2, "b")):
        engine.materialize(
            "w", f"SELECT '{k}' AS k, TIMESTAMPTZ '2026-01-0{day} 00:00Z' AS ts, 1 AS v"
        )
        engine.write("t", "w", "append", keys=("ts",))
    engine.materialize(
        "w", "SELECT 'c' AS k, TIMESTAMPTZ '2026-02-01 00:00Z' AS ts, 1 AS v, 'x' AS extra"
    )
    engine.write("t", "w", "append", keys=("ts",))
    assert lakehouse.arrow_schema("t").names == ["k", "ts", "v", "extra"]
    return engine


def test_a_merge_rewriting_only_files_older_than_a_column_reads_it_as_null(
    tmp_path: Path,
) -> None:
    by_duckdb = Lakehouse(str(tmp_path / "d"))
    engine = _gains_a_column(by_duckdb)
    shutil.copytree(tmp_path / "d", tmp_path / "r")
    by_deltalake = Lakehouse(str(tmp_path / "r"))  # the same table, merged by deltalake
    files = set(by_duckdb.plain_parquet_files("t") or [])
    # a's row replaced: only January's files (written before `extra`) are read and rewritten.
    replace = "SELECT 'a' AS k, TIMESTAMPTZ '2026-01-01 00:00Z' AS ts, 2 AS v, 'y' AS extra"
    # d inserted; no row where extra is 'z' to delete (old rows read it as NULL).
    insert = "SELECT 'd' AS k, TIMESTAMPTZ '2026-01-03 00:00Z' AS ts, 1 AS v, NULL AS extra"
    merges: list[tuple[str, dict[str, Any]]] = [
        (replace, {"update_when": "t.extra IS NULL"}),
        (insert, {"insert_only": True, "delete_unmatched_where": "t.extra = 'z'"}),
    ]
    for i, (source, options) in enumerate(merges):
        engine.materialize(f"s{i}", source)
        engine.merge("t", f"s{i}", ["k"], **options)
        by_deltalake.merge("t", engine.to_arrow(f"SELECT * FROM s{i}"), ["k"], **options)
        if i == 0:
            assert by_duckdb.last_write_counts("t") == (0, 1)
            gone = files - set(by_duckdb.plain_parquet_files("t") or [])
            assert len(gone) == 1 and "__month=202601" in gone.pop()
    engine.close()
    assert [(r["k"], r["v"], r["extra"]) for r in _sorted(by_duckdb, "t")] == [
        ("a", 2, "y"),
        ("b", 1, None),
        ("c", 1, "x"),
        ("d", 1, None),
    ]
    assert _sorted(by_duckdb, "t") == _sorted(by_deltalake, "t")


def test_compacting_files_older_than_a_column_gives_it_null_in_their_rows(
    tmp_path: Path,
) -> None:
    lakehouse = Lakehouse(str(tmp_path))
    _gains_a_column(lakehouse).close()
    before = _sorted(lakehouse, "t")
    con = duckdb.connect()
    # January's two files, both older than `extra`, make the only group: one file.
    assert compact(lakehouse, con, "t")[:2] == (3, 2)
    lakehouse = Lakehouse(str(tmp_path))
    assert _sorted(lakehouse, "t") == before
    january = next(f for f in lakehouse.plain_parquet_files("t") or [] if "__month=202601" in f)
    # The new file has every column of the table, `extra` as its own type.
    assert con.execute(f"DESCRIBE FROM '{january}'").fetchall()[3][:2] == ("extra", "VARCHAR")
    assert [r["extra"] for r in before] == [None, None, "x"]


def test_an_incremental_read_of_files_lacking_a_column_has_it_as_null(tmp_path: Path) -> None:
    lakehouse = Lakehouse(str(tmp_path))
    engine = open_engine("duckdb", lakehouse)
    engine.materialize("w", "SELECT 1 AS k, 0 AS _batch_id, 'x' AS extra")
    engine.write("t", "w", "append")
    # A later batch without the column (a CSV without the extra column it once had).
    engine.materialize("w", "SELECT 2 AS k, 1 AS _batch_id")
    engine.write("t", "w", "append")
    engine.register_table("new", "t", after_batch=0)
    assert engine.rows("SELECT k, extra FROM new") == [(2, None)]
    assert engine.columns("new") == ["k", "_batch_id", "extra"]
    engine.close()


@pytest.mark.parametrize("partition_by", [(), ("g",)])
def test_each_commit_counts_the_rows_it_inserted_and_updated(
    tmp_path: Path, write_counts_of: Callable[..., list[tuple[int, int]]], partition_by: tuple
) -> None:
    # Unpartitioned, DuckDB writes the files (merges committed as writes); else deltalake.
    engine = open_engine("duckdb", Lakehouse(str(tmp_path)))
    assert write_counts_of(engine, partition_by) == [(48, 0), (0, 12), (12, 8), (48, 0)]
    engine.close()
