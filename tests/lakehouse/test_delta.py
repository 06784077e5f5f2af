"""Delta I/O through deltalake: one commit per write, metadata as watermark, merges."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs
import pytest
from deltalake import DeltaTable

from aerotwin.lakehouse.catalog import query
from aerotwin.lakehouse.delta import (
    ConcurrentCommit,
    Lakehouse,
    TableUnreadable,
    key_range,
    store_error_reason,
)
from aerotwin.lakehouse.files import write_query


def _rows(lakehouse: Lakehouse, name: str) -> list[dict[str, object]]:
    return sorted(lakehouse.dataset(name).to_table().to_pylist(), key=lambda r: str(r["k"]))


def test_write_append_overwrite_and_versions(tmp_path: Path) -> None:
    lakehouse = Lakehouse(str(tmp_path))
    assert not lakehouse.exists("t") and lakehouse.version("t") is None
    assert lakehouse.write("t", pa.table({"k": [1, 2]}), "append") == 0
    assert lakehouse.write("t", pa.table({"k": [3]}), "append") == 1
    assert lakehouse.state("t").rows == 3
    assert lakehouse.write("t", pa.table({"k": ["a"]}), "overwrite") == 2  # schema may change
    assert _rows(lakehouse, "t") == [{"k": "a"}]
    assert lakehouse.dataset("t", version=1).count_rows() == 3  # time travel
    assert lakehouse.names() == ["t"]


def test_read_gives_the_columns_and_version_asked_of_a_partitioned_table(tmp_path: Path) -> None:
    lakehouse = Lakehouse(str(tmp_path))
    odd = ["x y", "a/b=c%", "é"]  # partition folders whose names are escaped
    lakehouse.write("t", pa.table({"k": [1, 2, 3], "p": odd}), "append", partition_by=["p"])
    lakehouse.write("t", pa.table({"k": [4], "p": ["x y"]}), "append")
    assert sorted(lakehouse.read("t").to_pylist(), key=lambda r: r["k"]) == [
        {"k": 1, "p": "x y"},
        {"k": 2, "p": "a/b=c%"},
        {"k": 3, "p": "é"},
        {"k": 4, "p": "x y"},
    ]
    first = lakehouse.read("t", ["k"], version=0)
    assert first.column_names == ["k"] and sorted(first.column("k").to_pylist()) == [1, 2, 3]


def test_a_process_reading_a_local_table_exits_cleanly(
    tmp_path: Path, read_and_exit: Callable[..., list[tuple[int, str]]]
) -> None:
    lakehouse = Lakehouse(str(tmp_path))
    for day in range(8):
        lakehouse.write("t", pa.table({"k": list(range(day * 100, day * 100 + 100))}), "append")
    # Arrow's own filesystem: through deltalake's Python one, 4 of 50 such processes aborted.
    filesystem = lakehouse.dataset("t").filesystem
    assert isinstance(filesystem, pafs.SubTreeFileSystem)
    assert isinstance(filesystem.base_fs, pafs.LocalFileSystem)
    assert read_and_exit(str(tmp_path), {}, "t", 8) == [(0, "800")] * 8


def test_a_folder_with_a_space_or_an_accent_holds_tables_sql_can_read(tmp_path: Path) -> None:
    lakehouse = Lakehouse(str(tmp_path / "fleet data é"))
    lakehouse.write("t", pa.table({"k": [1, 2]}), "append")
    lakehouse.write("t", pa.table({"k": [3]}), "append", metadata={"run_id": "r"})
    files = lakehouse.plain_parquet_files("t")
    assert files and all(Path(f).is_file() for f in files)
    assert query(lakehouse, "SELECT sum(k) AS s FROM t", ["t"]).to_pylist() == [{"s": 6}]
    assert lakehouse.commit_metadata("t") == {"run_id": "r"}


def test_missing_table_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="'nope' does not exist"):
        Lakehouse(str(tmp_path)).table("nope")


def test_commit_metadata_is_the_latest_one_written(tmp_path: Path) -> None:
    lakehouse = Lakehouse(str(tmp_path))
    assert lakehouse.commit_metadata("t") is None
    lakehouse.write("t", pa.table({"k": [1]}), "append", metadata={"inputs": {"b": 3}})
    lakehouse.write("t", pa.table({"k": [2]}), "append")  # no metadata: the older one stands
    assert lakehouse.commit_metadata("t") == {"inputs": {"b": 3}}


def test_merge_updates_only_newer_rows_and_counts_them(tmp_path: Path) -> None:
    lakehouse = Lakehouse(str(tmp_path))
    lakehouse.write("t", pa.table({"k": [1, 2], "v": [10, 20]}), "append")
    incoming = pa.table({"k": [2, 2, 3], "v": [5, 25, 30]}).slice(1)  # k=2 newer, k=3 new
    lakehouse.merge("t", incoming, ["k"], update_when="s.v > t.v")
    assert _rows(lakehouse, "t") == [{"k": 1, "v": 10}, {"k": 2, "v": 25}, {"k": 3, "v": 30}]
    assert lakehouse.last_write_counts("t") == (1, 1)
    lakehouse.merge("t", pa.table({"k": [1], "v": [0]}), ["k"], update_when="s.v > t.v")
    assert _rows(lakehouse, "t")[0] == {"k": 1, "v": 10}  # older arrival does not win


def test_a_merge_that_changes_no_row_still_commits_its_metadata_and_zero_counts(
    tmp_path: Path,
) -> None:
    # A batch whose rows were all quarantined: the watermark must move on all the same.
    lakehouse = Lakehouse(str(tmp_path))
    lakehouse.write("t", pa.table({"k": [1, 2], "v": [10, 20]}), "append", metadata={"w": 1})
    empty = pa.table({"k": pa.array([], pa.int64()), "v": pa.array([], pa.int64())})
    version = lakehouse.merge("t", empty, ["k"], metadata={"w": 2})
    assert version == 1 == lakehouse.version("t")
    assert lakehouse.commit_metadata("t") == {"w": 2}
    assert lakehouse.last_write_counts("t") == (0, 0)  # not the first write's 2 rows
    # Rows matched but not newer change nothing either.
    older = pa.table({"k": [1], "v": [0]})
    assert lakehouse.merge("t", older, ["k"], update_when="s.v > t.v", metadata={"w": 3}) == 2
    assert lakehouse.commit_metadata("t") == {"w": 3}
    assert _rows(lakehouse, "t") == [{"k": 1, "v": 10}, {"k": 2, "v": 20}]


def test_insert_only_merge_is_idempotent_and_can_replace_a_slice(tmp_path: Path) -> None:
    lakehouse = Lakehouse(str(tmp_path))
    rows = pa.table({"k": [1, 2], "g": ["a", "b"]})
    lakehouse.merge("t", rows, ["k"], insert_only=True)
    lakehouse.merge("t", rows, ["k"], insert_only=True)
    assert lakehouse.state("t").rows == 2
    # Replace group "a" only: its rows the source lacks are deleted in the same commit.
    lakehouse.merge(
        "t",
        pa.table({"k": [5], "g": ["a"]}),
        ["k"],
        insert_only=True,
        delete_unmatched_where="t.g = 'a'",
    )
    assert _rows(lakehouse, "t") == [{"k": 2, "g": "b"}, {"k": 5, "g": "a"}]


def _bytes_read() -> int:
    """Bytes this process has read through system calls so far (Linux)."""
    lines = Path("/proc/self/io").read_text().splitlines()
    return next(int(line.split()[1]) for line in lines if line.startswith("rchar:"))


def test_a_merge_reads_only_the_files_the_source_keys_can_match(tmp_path: Path) -> None:
    lakehouse = Lakehouse(str(tmp_path))
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for month in range(12):  # one file a month, as silver's daily merges leave them
        first = start + dt.timedelta(days=31 * month)
        stamps = [first + dt.timedelta(minutes=m) for m in range(20_000)]
        sensor = [float(m) for m in range(20_000)]
        table = pa.table({"component_id": ["ENG1"] * 20_000, "reading_ts": stamps, "v": sensor})
        lakehouse.write("t", table, "append")
    newest = start + dt.timedelta(days=31 * 11, minutes=19_999)
    incoming = pa.table(
        {
            "component_id": ["ENG1", "ENG1"],
            "reading_ts": [newest, newest + dt.timedelta(minutes=1)],  # one update, one insert
            "v": [-1.0, -2.0],
        }
    )
    size = sum(p.stat().st_size for p in tmp_path.glob("t/**/*.parquet"))
    before = _bytes_read()
    lakehouse.merge("t", incoming, ["component_id", "reading_ts"])
    assert _bytes_read() - before < size / 4  # without the keys' range: all of it
    assert lakehouse.last_write_counts("t") == (1, 1)
    assert lakehouse.state("t").rows == 12 * 20_000 + 1
    values = lakehouse.dataset("t").to_table(columns=["v"]).column("v").to_pylist()
    assert sorted(v for v in values if v < 0) == [-2.0, -1.0]


def test_a_merge_bounded_on_date_integer_and_quoted_text_keys_matches_them(
    tmp_path: Path,
) -> None:
    lakehouse = Lakehouse(str(tmp_path))
    days = [dt.date(2026, 1, d) for d in range(1, 6)]
    texts = ["a", "b'x", "c", "d", "e"]
    lakehouse.write("t", pa.table({"d": days, "n": [1, 2, 3, 4, 5], "s": texts}), "append")
    incoming = pa.table({"d": [days[1], dt.date(2026, 1, 9)], "n": [2, 9], "s": ["b'x", "z"]})
    lakehouse.merge("t", incoming, ["d", "n", "s"])
    assert lakehouse.last_write_counts("t") == (1, 1)  # b'x matched, z inserted
    assert lakehouse.state("t").rows == 6


def test_text_filters_read_tables_whose_merges_wrote_string_views(tmp_path: Path) -> None:
    # Partitioned: deltalake merges it (as every table on an object store), and its merge
    # writes text as string_view, next to the string files of plain writes.
    lakehouse = Lakehouse(str(tmp_path))
    rows = pa.table({"k": ["a", "b"], "g": ["x", "y"], "n": [1, 2]})
    lakehouse.write("t", rows, "append", partition_by=["g"])
    incoming = pa.table({"k": ["b", "c"], "g": ["y", "y"], "n": [5, 6]})
    lakehouse.merge("t", incoming, ["k"], partition_by=["g"])
    kinds = {str(f.physical_schema.field("k").type) for f in lakehouse.dataset("t").get_fragments()}
    assert kinds == {"string", "string_view"}  # the mix Arrow cannot compare
    found = query(lakehouse, "SELECT n FROM t WHERE k = 'c' OR k = 'a' ORDER BY n", ["t"])
    assert found.to_pylist() == [{"n": 1}, {"n": 6}]
    # A plain local table is merged by deltalake too when it is called directly (C-MAPSS).
    lakehouse.write("p", rows, "append")
    lakehouse.merge("p", incoming, ["k"], delete_unmatched_where="t.n < 0")
    assert lakehouse.plain_parquet_files("p") is not None
    found = query(lakehouse, "SELECT n FROM p WHERE k = 'c' OR k = 'a' ORDER BY n", ["p"])
    assert found.to_pylist() == [{"n": 1}, {"n": 6}]


def test_key_range_gives_typed_literals_for_the_keys_statistics_bound() -> None:
    data = pa.table(
        {
            "id": ["b'x", "a", None],
            "n": [3, 1, 2],
            "day": [dt.date(2026, 1, 2), dt.date(2026, 1, 1), None],
            "ts": pa.array([1_000_000, 2_000_000, None], pa.timestamp("us", tz="UTC")),
            "nanos": pa.array([1, 2, 3], pa.timestamp("ns")),
            "x": [0.5, 1.5, 2.5],
            "none": pa.array([None, None, None], pa.string()),
        }
    )
    assert key_range(data, list(data.column_names), "t") == [
        "t.id >= 'a'",
        "t.id <= 'b''x'",
        "t.n >= 1",
        "t.n <= 3",
        "t.day >= '2026-01-01'",
        "t.day <= '2026-01-02'",
        "t.ts >= '1970-01-01T00:00:01+00:00'",
        "t.ts <= '1970-01-01T00:00:02+00:00'",
    ]


def test_object_store_root_passes_storage_options(tmp_path: Path) -> None:
    lakehouse = Lakehouse("s3://bucket/lake/", {"AWS_REGION": "eu-west-1"})
    assert lakehouse.uri("t") == "s3://bucket/lake/t"
    assert lakehouse.storage_options == {"AWS_REGION": "eu-west-1"}
    assert not lakehouse.is_local and lakehouse.names() == []


def test_store_errors_read_as_one_line_with_their_innermost_cause() -> None:
    arrow = "\x1b[31m↳\x1b[0m"
    refused = OSError(
        f"Generic S3 error\n  {arrow} Error performing list request\n"
        f"    {arrow} tcp connect error\n      {arrow} Connection refused (os error 111)\n"
    )
    assert store_error_reason(refused) == "Generic S3 error: Connection refused (os error 111)"
    no_bucket = OSError(
        "Generic S3 error: <Error><Code>NoSuchBucket</Code>\n"
        "<Message>The specified bucket does not exist</Message></Error>"
    )
    assert store_error_reason(no_bucket) == "NoSuchBucket: The specified bucket does not exist"
    assert store_error_reason(OSError("timed out")) == "timed out"
    # RUST_BACKTRACE=1 appends the frames to deltalake's message.
    framed = OSError(
        "Kernel error: Json error\n   0: <unknown>\n  13: clone3\n     at ./c.S:81:0\n"
    )
    assert store_error_reason(framed) == "Kernel error: Json error"


def test_a_table_whose_log_is_damaged_is_named_with_the_way_back(tmp_path: Path) -> None:
    lakehouse = Lakehouse(str(tmp_path))
    lakehouse.write("flights", pa.table({"k": [1]}), "append")
    (tmp_path / "flights" / "_delta_log" / "00000000000000000000.json").write_text("garbage{")
    reader = Lakehouse(str(tmp_path))
    with pytest.raises(TableUnreadable, match=r"^table flights under .*: its Delta log cannot "):
        reader.table("flights")
    stop = threading.Event()
    reader.prefetch(["flights"], stop).join()  # reading ahead meets it quietly


def test_a_damaged_commit_behind_a_checkpoint_is_named_when_the_history_reaches_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lakehouse = Lakehouse(str(tmp_path))
    lakehouse.write("flights", pa.table({"k": [0]}), "append", metadata={"w": 1})
    for k in range(1, 12):  # a checkpoint at version 9: loading reads no commit before it
        lakehouse.write("flights", pa.table({"k": [k]}), "append")
    (tmp_path / "flights" / "_delta_log" / "00000000000000000003.json").write_text("garbage{")
    reader = Lakehouse(str(tmp_path))
    assert reader.version("flights") == 11
    # The newest commit with pipeline metadata is version 0: the history reads back to it.
    with pytest.raises(TableUnreadable, match=r"^table flights under .*: its Delta log cannot "):
        reader.commit_metadata("flights")
    failed: list[object] = []  # what killed the prefetch thread (deltalake's error did)
    monkeypatch.setattr(threading, "excepthook", lambda args: failed.append(args.exc_value))
    reader.prefetch(["flights"], threading.Event()).join()  # reading ahead meets it quietly
    assert failed == []


def test_snapshot_lakehouse_moves_on_by_its_own_commits_or_when_told(tmp_path: Path) -> None:
    run = Lakehouse(str(tmp_path), snapshot=True)
    other = Lakehouse(str(tmp_path))  # another writer (another process, or Spark)
    run.write("t", pa.table({"k": [1]}), "append", metadata={"n": 1})
    assert run.version("t") == 0 and run.commit_metadata("t") == {"n": 1}
    other.write("t", pa.table({"k": [2]}), "append", metadata={"n": 2})
    # The run reads the lakehouse as it first saw it: the other writer's commit is not seen...
    assert run.version("t") == 0 and run.commit_metadata("t") == {"n": 1}
    assert len(run.plain_parquet_files("t") or []) == 1
    # ...until announced, and its own commits are always seen.
    run.advanced("t")
    assert run.version("t") == 1 and run.commit_metadata("t") == {"n": 2}
    assert run.write("t", pa.table({"k": [3]}), "append", metadata={"n": 3}) == 2
    assert run.commit_metadata("t") == {"n": 3} and len(run.plain_parquet_files("t") or []) == 3
    # Without snapshot, every look-up reads the log afresh: the run's commit is seen at once.
    assert other.version("t") == 2 and other.commit_metadata("t") == {"n": 3}


def test_a_commit_on_top_of_another_writers_commit_fails_and_commits_nothing(
    tmp_path: Path,
) -> None:
    run = Lakehouse(str(tmp_path), snapshot=True)
    other = Lakehouse(str(tmp_path))  # e.g. a second pipeline run on an object store
    run.write("t", pa.table({"k": [1]}), "append")
    assert run.version("t") == 0  # the run has read the table (as a run reads its watermark)
    other.write("t", pa.table({"k": [2]}), "append")
    con = duckdb.connect()
    with pytest.raises(ConcurrentCommit, match="table t: another writer committed to it"):
        write_query(run, con, "SELECT 3 AS k", "t", "append")  # DuckDB's files, our commit
    with pytest.raises(ConcurrentCommit):
        run.write("t", pa.table({"k": [4]}), "append")  # deltalake's writer
    with pytest.raises(ConcurrentCommit):
        run.merge("t", pa.table({"k": [5]}), ["k"])  # deltalake's merge
    assert sorted(other.dataset("t").to_table().column("k").to_pylist()) == [1, 2]
    run.advanced("t")  # told of the other commit: writes on top of it
    assert run.write("t", pa.table({"k": [6]}), "append") == 2


def test_a_log_folder_without_a_commit_is_not_a_table(tmp_path: Path) -> None:
    lakehouse = Lakehouse(str(tmp_path))
    lakehouse.write("t", pa.table({"k": [1]}), "append")
    (tmp_path / "half" / "_delta_log").mkdir(parents=True)  # a run killed before the commit
    assert lakehouse.names() == ["t"]


def test_a_table_is_found_by_its_commits_or_its_checkpoint_alone(tmp_path: Path) -> None:
    lakehouse = Lakehouse(str(tmp_path))
    assert not lakehouse.exists("t")
    for i in range(11):
        lakehouse.write("t", pa.table({"k": [i]}), "append")
    # Delta's log clean-up deletes the commits a checkpoint covers: still a table.
    for commit in (tmp_path / "t" / "_delta_log").glob("*.json"):
        commit.unlink()
    fresh = Lakehouse(str(tmp_path))
    assert fresh.exists("t") and fresh.names() == ["t"] and fresh.version("t") == 9


def test_own_commits_read_back_as_history_has_them(tmp_path: Path) -> None:
    # The newest commit's metadata and counts are kept from the commit itself, not read back.
    run = Lakehouse(str(tmp_path), snapshot=True)
    con = duckdb.connect()
    write_query(run, con, "SELECT 1 AS k", "t", "append", metadata={"n": 1})
    con.execute("CREATE TABLE s AS SELECT 2 AS k UNION ALL SELECT 3")
    assert write_query(run, con, "SELECT * FROM s", "t", "append", metadata={"n": 2}) == 1
    fresh = Lakehouse(str(tmp_path))
    for lakehouse in (run, fresh):
        assert lakehouse.commit_metadata("t") == {"n": 2}
        assert lakehouse.last_write_counts("t") == (2, 0)
        assert lakehouse.data_version("t") == 1
    stamp, read = run.state("t").last_update_ms, fresh.state("t").last_update_ms
    assert stamp is not None and read is not None and abs(stamp - read) < 5_000


def test_own_commit_is_read_back_only_when_the_table_is_used_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = Lakehouse(str(tmp_path), snapshot=True)
    con = duckdb.connect()
    write_query(run, con, "SELECT 1 AS k", "t", "append", metadata={"n": 1})
    assert run.version("t") == 0
    reads: list[int] = []
    update = DeltaTable.update_incremental
    monkeypatch.setattr(DeltaTable, "update_incremental", lambda t: (reads.append(1), update(t))[1])
    # The version comes from the log's listing; metadata and counts from the commit itself.
    assert write_query(run, con, "SELECT 2 AS k", "t", "append", metadata={"n": 2}) == 1
    assert (run.commit_metadata("t"), run.last_write_counts("t")) == ({"n": 2}, (1, 0))
    assert reads == []
    # Used again: the commit is read, once, and the table holds both rows.
    assert run.version("t") == 1 and run.version("t") == 1
    assert sorted(run.dataset("t").to_table().column("k").to_pylist()) == [1, 2]
    assert reads == [1]


def test_prefetch_reads_existing_tables_and_stops_when_told(tmp_path: Path) -> None:
    Lakehouse(str(tmp_path)).write("a", pa.table({"k": [1]}), "append", metadata={"n": 1})
    run = Lakehouse(str(tmp_path), snapshot=True)
    stop = threading.Event()
    prefetcher = run.prefetch(["a", "missing"], stop)
    prefetcher.join(timeout=30)
    assert not prefetcher.is_alive()
    stopped = Lakehouse(str(tmp_path), snapshot=True)
    stop.set()
    told = stopped.prefetch(["a"], stop)
    told.join(timeout=30)
    assert not told.is_alive()
    # Both prefetchers are done before another writer commits: only what they read is pinned.
    Lakehouse(str(tmp_path)).write("a", pa.table({"k": [2]}), "append", metadata={"n": 2})
    # Read ahead: the later commit is not seen, as if the run had read the table before it.
    assert run.version("a") == 0 and run.commit_metadata("a") == {"n": 1}
    assert not run.exists("missing")
    # Told to stop: nothing read ahead, so the table is read when first asked, commit 2 included.
    assert stopped.version("a") == 1 and stopped.commit_metadata("a") == {"n": 2}


def test_tables_checkpoint_every_ten_commits(tmp_path: Path) -> None:
    # A daily run adds a commit a day: reading the log replays the commits since the last
    # checkpoint, so checkpoints come every 10 commits, not Delta's default 100. Both ways
    # of creating a table: deltalake's writer, and DuckDB's files committed.
    lakehouse = Lakehouse(str(tmp_path))
    con = duckdb.connect()
    for i in range(11):
        lakehouse.write("a", pa.table({"k": [i]}), "append")
        write_query(lakehouse, con, f"SELECT {i} AS k", "b", "append")
    for name in ("a", "b"):
        log = tmp_path / name / "_delta_log"
        assert [p.name for p in log.glob("*.checkpoint.parquet")] == [
            "00000000000000000009.checkpoint.parquet"
        ]
        assert lakehouse.state(name).rows == 11
